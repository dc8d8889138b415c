public import MeridianCore

/// A record known on chain only by its salted commitment: SHA-256 over a random salt and the
/// hash of the encrypted body. The body lives off chain at the custodian; without the salt the
/// commitment reveals nothing, and deleting body, salt and keys erases the record (GDPR Art. 17)
/// while every proof stays valid.
public struct RecordEntry: Hashable, Sendable, Canonical {
    public let commitment: Bytes32
    public let patient: PublicKey
    public let category: DataCategory
    public let custodian: OrganizationID
    public let registeredAt: Timestamp
    public let erased: Bool

    public init(commitment: Bytes32, patient: PublicKey, category: DataCategory, custodian: OrganizationID, registeredAt: Timestamp, erased: Bool) {
        self.commitment = commitment; self.patient = patient; self.category = category; self.custodian = custodian
        self.registeredAt = registeredAt; self.erased = erased
    }

    /// The commitment to a body with this hash under this salt (salt: 32 random bytes, kept off chain).
    public static func commitment(salt: Bytes32, bodyHash: Bytes32) -> Bytes32 {
        SHA256.tagged("meridian/record-commitment", salt.bytes + bodyHash.bytes)
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(commitment); w.write(patient); w.write(category); w.write(custodian); w.write(registeredAt); w.write(erased)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        commitment = try r.readBytes32("record.commitment"); patient = try r.read(PublicKey.self); category = try r.read(DataCategory.self)
        custodian = try r.read(OrganizationID.self); registeredAt = try r.read(Timestamp.self); erased = try r.readBool("record.erased")
    }
}

/// A disclosure of a record to another organisation, with the record key wrapped for the recipient.
public struct ShareEntry: Hashable, Sendable, Canonical {
    public let record: Bytes32
    public let recipient: PublicKey
    public let recipientOrganization: OrganizationID
    public let purpose: PurposeOfUse
    public let decision: AccessDecision
    public let envelope: KeyEnvelope
    public let sharedAt: Timestamp
    public let auditSequence: UInt64

    public func encode(to w: inout CanonicalWriter) {
        w.write(record); w.write(recipient); w.write(recipientOrganization); w.write(purpose); w.write(decision)
        w.write(envelope); w.write(sharedAt); w.write(varint: auditSequence)
    }
    public init(record: Bytes32, recipient: PublicKey, recipientOrganization: OrganizationID, purpose: PurposeOfUse,
                decision: AccessDecision, envelope: KeyEnvelope, sharedAt: Timestamp, auditSequence: UInt64) {
        self.record = record; self.recipient = recipient; self.recipientOrganization = recipientOrganization; self.purpose = purpose
        self.decision = decision; self.envelope = envelope; self.sharedAt = sharedAt; self.auditSequence = auditSequence
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        record = try r.readBytes32("share.record"); recipient = try r.read(PublicKey.self)
        recipientOrganization = try r.read(OrganizationID.self); purpose = try r.read(PurposeOfUse.self)
        decision = try r.read(AccessDecision.self); envelope = try r.read(KeyEnvelope.self); sharedAt = try r.read(Timestamp.self)
        auditSequence = try r.readVarint("share.audit_sequence")
    }
}

/// Records, access requests and disclosures. Each writes its audit entry in the same
/// transaction; a denied request or share still succeeds as a transaction, so the denial is on chain.
public enum Sharing {
    public static func recordKey(_ commitment: Bytes32) -> StateKey { StateKey("sharing/record").appending(commitment) }
    static func patientRecordIndexKey(_ patient: PublicKey, _ commitment: Bytes32) -> StateKey { StateKey("sharing/patient_records").appending(patient).appending(commitment) }
    public static func shareKey(_ record: Bytes32, _ org: OrganizationID) -> StateKey { StateKey("sharing/share").appending(record).appending(org.value) }

    public static func recordsPrefix(of patient: PublicKey) -> [UInt8] { StateKey("sharing/patient_records").appending(patient).bytes }
    public static func sharesPrefix(of record: Bytes32) -> [UInt8] { StateKey("sharing/share").appending(record).bytes }

    public static func record(_ commitment: Bytes32, in s: some StateReader) throws(RuntimeError) -> RecordEntry? {
        try s.read(RecordEntry.self, recordKey(commitment))
    }
    public static func share(_ record: Bytes32, to org: OrganizationID, in s: some StateReader) throws(RuntimeError) -> ShareEntry? {
        try s.read(ShareEntry.self, shareKey(record, org))
    }

    public struct RegisterRecord: Hashable, Sendable, Canonical {
        public let commitment: Bytes32
        public let patient: PublicKey
        public let category: DataCategory
        public init(commitment: Bytes32, patient: PublicKey, category: DataCategory) { self.commitment = commitment; self.patient = patient; self.category = category }
        public func encode(to w: inout CanonicalWriter) { w.write(commitment); w.write(patient); w.write(category) }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            commitment = try r.readBytes32("commitment"); patient = try r.read(PublicKey.self); category = try r.read(DataCategory.self)
        }
    }

    public static func registerRecord(_ call: RegisterRecord, _ ctx: ExecutionContext) throws(RuntimeError) {
        let member = try Identity.requireMember(ctx, role: .provider)
        guard try Identity.patient(call.patient, in: ctx.view) != nil else {
            throw RuntimeError("sharing.unknown_patient", "\(Address(call.patient)) is not a registered patient")
        }
        guard try record(call.commitment, in: ctx.view) == nil else {
            throw RuntimeError("sharing.duplicate_record", "record \(call.commitment) is already registered")
        }
        let entry = RecordEntry(commitment: call.commitment, patient: call.patient, category: call.category,
                                custodian: member.organization, registeredAt: ctx.time, erased: false)
        ctx.write(recordKey(call.commitment), entry)
        ctx.write(patientRecordIndexKey(call.patient, call.commitment), entry)
        let org = try Identity.organization(member.organization, in: ctx.view)
        try Audit.record(kind: .recordRegistration, action: .create, actor: ctx.signer, organization: member.organization,
                         patient: call.patient, record: call.commitment, category: call.category, purpose: .treat,
                         decision: AccessDecision(reason: .allowedAsCustodian, requesterOrganization: member.organization,
                                                  sourceCountry: org?.country, destinationCountry: org?.country),
                         breakGlass: false, ctx)
        ctx.emit(.recordRegistered(record: call.commitment, patient: call.patient, custodian: member.organization))
    }

    public struct RequestAccess: Hashable, Sendable, Canonical {
        public let record: Bytes32
        public let purpose: PurposeOfUse
        public let breakGlass: Bool
        /// A second clinician's signature on this request (a two-person break-glass policy asks for one).
        public let coSignature: CoSignature?
        /// What the request shows the consent's policy contract (e.g. the opening of the travel
        /// stay the patient gave the hospital; at most `ContractRequest.maxEvidenceBytes`).
        public let evidence: [UInt8]
        public init(record: Bytes32, purpose: PurposeOfUse, breakGlass: Bool, coSignature: CoSignature? = nil, evidence: [UInt8] = []) {
            self.record = record; self.purpose = purpose; self.breakGlass = breakGlass; self.coSignature = coSignature; self.evidence = evidence
        }
        public func encode(to w: inout CanonicalWriter) { w.write(record); w.write(purpose); w.write(breakGlass); w.write(coSignature); w.write(bytes: evidence) }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            record = try r.readBytes32("record"); purpose = try r.read(PurposeOfUse.self); breakGlass = try r.readBool("break_glass")
            coSignature = try r.readOptional(CoSignature.self, "co_signature")
            evidence = try r.readByteString("evidence", max: ContractRequest.maxEvidenceBytes)
        }
    }

    /// Decides a request for a record. Contract storage writes and events of the deciding policy
    /// are applied here: the caller writes the decision on the patient's trail in the same transaction.
    ///
    /// - Parameter followsRequest: a verdict the consent's policy already gave for this access (the
    ///   clinician's request that this disclosure follows); the policy does not run a second time.
    static func decide(record commitment: Bytes32, requester: PublicKey, purpose: PurposeOfUse, breakGlass: Bool,
                       evidence: [UInt8] = [], followsRequest: ContractVerdict? = nil,
                       _ ctx: ExecutionContext) throws(RuntimeError) -> (RecordEntry, OrganizationDecision) {
        guard let rec = try record(commitment, in: ctx.view) else {
            throw RuntimeError("sharing.unknown_record", "no record \(commitment)")
        }
        guard let requesterMember = try Identity.member(requester, in: ctx.view) else {
            throw RuntimeError("identity.not_a_member", "\(Address(requester)) is not a member of any organisation")
        }
        let coSigned = try ctx.read(CoSignatureRecord.self, coSignatureKey(commitment, requester))
        if rec.erased {
            // An erased record is never disclosed: nothing is decided (no consent read, no policy
            // run); the trail names where the copy would have come from and gone.
            let erased = AccessDecision(reason: .recordErased, requesterOrganization: requesterMember.organization,
                                        sourceCountry: try Identity.organization(rec.custodian, in: ctx.view)?.country,
                                        destinationCountry: try Identity.organization(requesterMember.organization, in: ctx.view)?.country)
            return (rec, OrganizationDecision(decision: erased, org: requesterMember.organization))
        }
        let authorized = try Authorization.evaluate(
            AccessRequest(requester: requester, patient: rec.patient, category: rec.category, purpose: purpose,
                          custodian: rec.custodian, breakGlass: breakGlass, evidence: evidence),
            at: ctx.time, height: ctx.height, coSignedAt: coSigned?.signedAt,
            parameters: ctx.parameters, decided: followsRequest, in: ctx.view)
        if let effects = authorized.effects { Policies.apply(effects, ctx) }
        return (rec, OrganizationDecision(decision: authorized.decision.coSigned(by: coSigned?.coSigner), org: requesterMember.organization))
    }

    public static func requestAccess(_ call: RequestAccess, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        _ = try Identity.requireMember(ctx, role: .provider)
        if let co = call.coSignature { try recordCoSignature(co, on: call, ctx) }
        let (rec, decision) = try decide(record: call.record, requester: ctx.signer, purpose: call.purpose, breakGlass: call.breakGlass,
                                         evidence: call.evidence, ctx)
        if decision.decision.allowed, let verdict = decision.decision.contract {
            // The custodian's disclosure of this access reuses the verdict (one access, one contract decision).
            ctx.write(policyVerdictKey(call.record, ctx.signer),
                      PolicyVerdictRecord(verdict: verdict, purpose: call.purpose, breakGlass: call.breakGlass, time: ctx.time))
        }
        try Audit.record(kind: .accessRequest, action: .read, actor: ctx.signer, organization: decision.org, patient: rec.patient,
                         record: rec.commitment, category: rec.category, purpose: call.purpose, decision: decision.decision,
                         breakGlass: call.breakGlass, ctx)   // a denied attempt to break the glass is marked too
        return decision.decision
    }

    public struct ShareRecord: Hashable, Sendable, Canonical {
        public let record: Bytes32
        /// The staff key at the receiving organisation that asked, and for whom the key is wrapped.
        public let recipient: PublicKey
        public let purpose: PurposeOfUse
        public let breakGlass: Bool
        public let envelope: KeyEnvelope
        public init(record: Bytes32, recipient: PublicKey, purpose: PurposeOfUse, breakGlass: Bool, envelope: KeyEnvelope) {
            self.record = record; self.recipient = recipient; self.purpose = purpose; self.breakGlass = breakGlass; self.envelope = envelope
        }
        public func encode(to w: inout CanonicalWriter) { w.write(record); w.write(recipient); w.write(purpose); w.write(breakGlass); w.write(envelope) }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            record = try r.readBytes32("record"); recipient = try r.read(PublicKey.self); purpose = try r.read(PurposeOfUse.self)
            breakGlass = try r.readBool("break_glass"); envelope = try r.read(KeyEnvelope.self)
        }
    }

    /// The custodian (a provider, or its node's worker key) discloses a record to the recipient's
    /// organisation if the recipient may read it. The key envelope is addressed either to the
    /// recipient or to a node of the recipient's organisation (a member key with the worker role),
    /// which fetches the body from the custodian's node and serves it to the recipient.
    public static func shareRecord(_ call: ShareRecord, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        guard let custodianMember = try Identity.member(ctx.signer, in: ctx.view) else {
            throw RuntimeError("identity.not_a_member", "\(Address(ctx.signer)) is not a member of any organisation")
        }
        guard custodianMember.has(.provider) || custodianMember.has(.worker) else {
            throw RuntimeError("identity.missing_role", "\(Address(ctx.signer)) lacks the provider or worker role")
        }
        guard let rec = try record(call.record, in: ctx.view) else { throw RuntimeError("sharing.unknown_record", "no record \(call.record)") }
        guard rec.custodian == custodianMember.organization else {
            throw RuntimeError("sharing.not_custodian", "\(custodianMember.organization) does not hold record \(call.record)")
        }
        if call.envelope.recipient != call.recipient {
            let node = try Identity.member(call.envelope.recipient, in: ctx.view)
            let recipient = try Identity.member(call.recipient, in: ctx.view)
            guard let node, let recipient, node.has(.worker), node.organization == recipient.organization else {
                throw RuntimeError("sharing.envelope_recipient", "the key envelope is addressed neither to the recipient nor to a node of the recipient's organisation")
            }
        }
        // A disclosure that follows the recipient's allowed request (same purpose and break-glass, within
        // ten minutes) takes that request's policy verdict instead of running the policy again, so
        // a counting policy counts the access once. The verdict is used up by this disclosure.
        var follows: ContractVerdict?
        if let prior = try ctx.read(PolicyVerdictRecord.self, policyVerdictKey(call.record, call.recipient)) {
            ctx.delete(policyVerdictKey(call.record, call.recipient))
            if prior.purpose == call.purpose, prior.breakGlass == call.breakGlass,
               ctx.time.unixMilliseconds <= prior.time.unixMilliseconds + PolicyVerdictRecord.validMilliseconds {
                follows = prior.verdict
            }
        }
        let (_, d) = try decide(record: call.record, requester: call.recipient, purpose: call.purpose, breakGlass: call.breakGlass,
                                followsRequest: follows, ctx)
        let entry = try Audit.record(kind: .disclosure, action: .read, actor: call.recipient, organization: d.org, patient: rec.patient,
                                     record: rec.commitment, category: rec.category, purpose: call.purpose, decision: d.decision,
                                     breakGlass: call.breakGlass && d.decision.allowed, ctx)
        if d.decision.allowed {
            let share = ShareEntry(record: rec.commitment, recipient: call.recipient, recipientOrganization: d.org, purpose: call.purpose,
                                   decision: d.decision, envelope: call.envelope, sharedAt: ctx.time, auditSequence: entry.sequence)
            ctx.write(shareKey(rec.commitment, d.org), share)
            ctx.emit(.recordShared(record: rec.commitment, recipientOrganization: d.org))
        }
        return d.decision
    }
}

extension Sharing {
    /// Erases a record (GDPR Art. 17): the patient or a provider of the custodian marks it erased;
    /// the custodian's node then deletes body and keys and tells every node it was shared with,
    /// which do the same. The commitment, its shares and every audit entry stay, so every proof
    /// stays valid; later requests are denied as `denied.record_erased` and audited.
    public static func eraseRecord(_ commitment: Bytes32, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard let rec = try record(commitment, in: ctx.view) else { throw RuntimeError("sharing.unknown_record", "no record \(commitment)") }
        guard !rec.erased else { throw RuntimeError("sharing.already_erased", "record \(commitment) is already erased") }
        let reason: DecisionReason
        let organization: OrganizationID
        if ctx.signer == rec.patient {
            reason = .allowedAsPatient; organization = rec.custodian
        } else if let m = try Identity.member(ctx.signer, in: ctx.view), m.organization == rec.custodian, m.has(.provider) {
            reason = .allowedAsCustodian; organization = m.organization
        } else {
            throw RuntimeError("sharing.not_allowed_to_erase", "only the patient or a provider of \(rec.custodian) may erase record \(commitment)")
        }
        let erased = RecordEntry(commitment: rec.commitment, patient: rec.patient, category: rec.category, custodian: rec.custodian,
                                 registeredAt: rec.registeredAt, erased: true)
        ctx.write(recordKey(commitment), erased)
        ctx.write(patientRecordIndexKey(rec.patient, commitment), erased)
        let country = try Identity.organization(rec.custodian, in: ctx.view)?.country
        try Audit.record(kind: .erasure, action: .delete, actor: ctx.signer, organization: organization, patient: rec.patient,
                         record: commitment, category: rec.category, purpose: .operations,
                         decision: AccessDecision(reason: reason, requesterOrganization: organization, sourceCountry: country, destinationCountry: country),
                         breakGlass: false, ctx)
        ctx.emit(.recordErased(record: commitment, patient: rec.patient, custodian: rec.custodian))
    }
}

/// A policy's verdict on an allowed request, kept for the custodian's disclosure that follows it.
struct PolicyVerdictRecord: Canonical {
    /// How long after the request a disclosure may reuse its verdict (as long as a signed summary request lives).
    static let validMilliseconds: UInt64 = 10 * 60 * 1000
    let verdict: ContractVerdict
    let purpose: PurposeOfUse
    let breakGlass: Bool
    let time: Timestamp
    init(verdict: ContractVerdict, purpose: PurposeOfUse, breakGlass: Bool, time: Timestamp) {
        self.verdict = verdict; self.purpose = purpose; self.breakGlass = breakGlass; self.time = time
    }
    func encode(to w: inout CanonicalWriter) { w.write(verdict); w.write(purpose); w.write(breakGlass); w.write(time) }
    init(from r: inout CanonicalReader) throws(CodecError) {
        verdict = try r.read(ContractVerdict.self); purpose = try r.read(PurposeOfUse.self)
        breakGlass = try r.readBool("verdict.break_glass"); time = try r.read(Timestamp.self)
    }
}

extension Sharing {
    static func policyVerdictKey(_ record: Bytes32, _ requester: PublicKey) -> StateKey {
        StateKey("sharing/policy_verdict").appending(record).appending(requester)
    }
}

/// A decision with the organisation of the member who asked (known even when the decision is a
/// denial that names no organisation).
struct OrganizationDecision {
    let decision: AccessDecision
    let org: OrganizationID
}
