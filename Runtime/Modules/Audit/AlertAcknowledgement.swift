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

    /// The acknowledgement of `alert` by `org`, if any.
    public static func acknowledgement(of alert: Bytes32, by org: OrganizationID, in s: some StateReader) throws(RuntimeError) -> AlertAcknowledgementRecord? {
        try s.read(AlertAcknowledgementRecord.self, acknowledgedKey(alert, org))
    }

    /// A clinician (provider) of an organisation the alert was delivered to acknowledges it: once
    /// per organisation; the entry names the clinician, and carries the delivery's decision.
    public static func acknowledgeAlert(_ a: AlertAcknowledgement, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        let member = try Identity.requireMember(ctx, role: .provider)
        guard let delivered = try ctx.read(AlertDeliveryRecord.self, deliveredKey(a.alert, member.organization)), delivered.patient == a.patient else {
            throw RuntimeError("alert.not_delivered", "alert \(a.alert.hex.prefix(16))… was not delivered to \(member.organization.value) for this patient")
        }
        guard try ctx.read(AlertAcknowledgementRecord.self, acknowledgedKey(a.alert, member.organization)) == nil else {
            throw RuntimeError("alert.already_acknowledged", "alert \(a.alert.hex.prefix(16))… is already acknowledged for \(member.organization.value)")
        }
        ctx.write(acknowledgedKey(a.alert, member.organization), AlertAcknowledgementRecord(clinician: ctx.signer, height: ctx.height, time: ctx.time))
        try record(kind: .alertAcknowledgement, action: .update, actor: ctx.signer, organization: member.organization, patient: a.patient,
                   record: a.alert, category: AlertRecipients.category, purpose: delivered.purpose, decision: delivered.decision, breakGlass: false, ctx)
        return delivered.decision
    }
}
