public import MeridianCore

/// A clinician's acknowledgement of a clinical alert delivered to their organisation: recorded on
/// the patient's trail (kind `alert-acknowledgement`), once per alert and organisation. It says a
/// person took the alert in charge; an alert without one is still open.
public struct AlertAcknowledgement: Hashable, Sendable, Canonical {
    public let patient: PublicKey
    /// SHA-256 of the alert's canonical bytes (its delivery's audit record).
    public let alert: Bytes32
    public init(patient: PublicKey, alert: Bytes32) { self.patient = patient; self.alert = alert }
    public func encode(to w: inout CanonicalWriter) { w.write(patient); w.write(alert) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        patient = try r.read(PublicKey.self); alert = try r.readBytes32("alert.hash")
    }
}

/// An acknowledgement made in a node's web console: the clinician's sign-in to that node (see
/// `ConsoleSignIn`; it lets the node record the clinician's console views and actions in their
/// name for the session) and what they acknowledged.
public struct ConsoleAlertAcknowledgement: Hashable, Sendable, Canonical {
    public let clinician: PublicKey
    public let signIn: ConsoleSignIn
    public let acknowledgement: AlertAcknowledgement
    public init(clinician: PublicKey, signIn: ConsoleSignIn, acknowledgement: AlertAcknowledgement) {
        self.clinician = clinician; self.signIn = signIn; self.acknowledgement = acknowledgement
    }
    public func encode(to w: inout CanonicalWriter) { w.write(clinician); w.write(signIn); w.write(acknowledgement) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        clinician = try r.read(PublicKey.self); signIn = try r.read(ConsoleSignIn.self); acknowledgement = try r.read(AlertAcknowledgement.self)
    }
}

/// A delivery the chain recorded as allowed (the state an acknowledgement needs).
public struct AlertDeliveryRecord: Hashable, Sendable, Canonical {
    public let patient: PublicKey
    public let purpose: PurposeOfUse
    public let decision: AccessDecision
    public func encode(to w: inout CanonicalWriter) { w.write(patient); w.write(purpose); w.write(decision) }
    public init(patient: PublicKey, purpose: PurposeOfUse, decision: AccessDecision) { self.patient = patient; self.purpose = purpose; self.decision = decision }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        patient = try r.read(PublicKey.self); purpose = try r.read(PurposeOfUse.self); decision = try r.read(AccessDecision.self)
    }
}

/// Who acknowledged an alert for an organisation, and when.
public struct AlertAcknowledgementRecord: Hashable, Sendable, Canonical {
    public let clinician: PublicKey
    public let height: UInt64
    public let time: Timestamp
    public init(clinician: PublicKey, height: UInt64, time: Timestamp) { self.clinician = clinician; self.height = height; self.time = time }
    public func encode(to w: inout CanonicalWriter) { w.write(clinician); w.write(varint: height); w.write(time) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        clinician = try r.read(PublicKey.self); height = try r.readVarint("ack.height"); time = try r.read(Timestamp.self)
    }
}

extension Audit {
    static func deliveredKey(_ alert: Bytes32, _ org: OrganizationID) -> StateKey { StateKey("alerts/delivered").appending(alert).appending(org.value) }
    static func acknowledgedKey(_ alert: Bytes32, _ org: OrganizationID) -> StateKey { StateKey("alerts/acknowledged").appending(alert).appending(org.value) }

    /// The recorded (allowed) delivery of `alert` to `org`, if any.
    public static func delivery(of alert: Bytes32, to org: OrganizationID, in s: some StateReader) throws(RuntimeError) -> AlertDeliveryRecord? {
        try s.read(AlertDeliveryRecord.self, deliveredKey(alert, org))
    }

    /// The acknowledgement of `alert` by `org`, if any.
    public static func acknowledgement(of alert: Bytes32, by org: OrganizationID, in s: some StateReader) throws(RuntimeError) -> AlertAcknowledgementRecord? {
        try s.read(AlertAcknowledgementRecord.self, acknowledgedKey(alert, org))
    }

    /// A clinician (provider) of an organisation the alert was delivered to acknowledges it: once
    /// per organisation; the entry names the clinician, and carries the delivery's decision.
    public static func acknowledgeAlert(_ a: AlertAcknowledgement, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        let member = try Identity.requireMember(ctx, role: .provider)
        return try acknowledge(a, by: ctx.signer, of: member.organization, ctx)
    }

    /// A clinician acknowledges an alert in a node's web console: the node's worker signs the
    /// transaction, and it carries the clinician's own sign-in signature for that node (as a
    /// console view does), so a node cannot acknowledge in the name of someone who never signed in
    /// to it. The entry names the clinician, as if they had signed it themselves.
    public static func acknowledgeAlertInConsole(_ c: ConsoleAlertAcknowledgement, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        guard let node = try Identity.member(ctx.signer, in: ctx.view), node.has(.worker) else {
            throw RuntimeError("console.not_a_worker", "\(Address(ctx.signer)) has no worker role: only a node's worker records console actions")
        }
        guard c.signIn.verify(viewer: c.clinician, chainID: ctx.chainID, audience: ctx.signer) else {
            throw RuntimeError("console.bad_sign_in", "the clinician's sign-in signature does not verify for this node")
        }
        guard ctx.time.unixMilliseconds <= c.signIn.expires.unixMilliseconds &+ ConsoleView.graceMilliseconds else {
            throw RuntimeError("console.session_expired", "the clinician's session ended at \(c.signIn.expires)")
        }
        guard let member = try Identity.member(c.clinician, in: ctx.view), member.has(.provider) else {
            throw RuntimeError("identity.missing_role", "\(Address(c.clinician)) is not a clinician (provider) of any organisation")
        }
        return try acknowledge(c.acknowledgement, by: c.clinician, of: member.organization, ctx)
    }

    static func acknowledge(_ a: AlertAcknowledgement, by clinician: PublicKey, of organization: OrganizationID,
                            _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        guard let delivered = try ctx.read(AlertDeliveryRecord.self, deliveredKey(a.alert, organization)), delivered.patient == a.patient else {
            throw RuntimeError("alert.not_delivered", "alert \(a.alert.hex.prefix(16))… was not delivered to \(organization.value) for this patient")
        }
        guard try ctx.read(AlertAcknowledgementRecord.self, acknowledgedKey(a.alert, organization)) == nil else {
            throw RuntimeError("alert.already_acknowledged", "alert \(a.alert.hex.prefix(16))… is already acknowledged for \(organization.value)")
        }
        ctx.write(acknowledgedKey(a.alert, organization), AlertAcknowledgementRecord(clinician: clinician, height: ctx.height, time: ctx.time))
        try record(kind: .alertAcknowledgement, action: .update, actor: clinician, organization: organization, patient: a.patient,
                   record: a.alert, category: AlertRecipients.category, purpose: delivered.purpose, decision: delivered.decision, breakGlass: false, ctx)
        return delivered.decision
    }
}
