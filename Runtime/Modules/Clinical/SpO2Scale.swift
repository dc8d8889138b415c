public import MeridianCore

/// A clinician's decision that a patient's NEWS2 uses SpO2 scale 2 (hypercapnic respiratory
/// failure with a prescribed 88–92 % target, RCP 2017), or back to scale 1. Kept on chain so every
/// node that scores the patient uses it, recorded on the patient's trail as a clinical decision
/// (who, which organisation, when), and allowed only to a clinician of a hospital the patient's
/// consent covers for vital signs and treatment now.
public enum Clinical {
    static func spo2ScaleKey(_ patient: PublicKey) -> StateKey { StateKey("clinical/spo2_scale").appending(patient) }

    public struct SetSpO2Scale: Hashable, Sendable, Canonical {
        public let patient: PublicKey
        /// 1 or 2.
        public let scale: UInt8
        public init(patient: PublicKey, scale: UInt8) { self.patient = patient; self.scale = scale }
        public func encode(to w: inout CanonicalWriter) { w.write(patient); w.write(scale) }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            patient = try r.read(PublicKey.self); scale = try r.readUInt8("spo2.scale")
        }
    }

    /// The decision in force for a patient.
    public struct SpO2ScaleDecision: Hashable, Sendable, Canonical {
        public let scale: UInt8
        public let clinician: PublicKey
        public let organization: OrganizationID
        public let height: UInt64
        public let time: Timestamp
        public func encode(to w: inout CanonicalWriter) { w.write(scale); w.write(clinician); w.write(organization); w.write(varint: height); w.write(time) }
        public init(scale: UInt8, clinician: PublicKey, organization: OrganizationID, height: UInt64, time: Timestamp) {
            self.scale = scale; self.clinician = clinician; self.organization = organization; self.height = height; self.time = time
        }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            scale = try r.readUInt8("spo2.scale"); clinician = try r.read(PublicKey.self); organization = try r.read(OrganizationID.self)
            height = try r.readVarint("spo2.height"); time = try r.read(Timestamp.self)
        }
    }

    /// The patient's SpO2 scale decision (nil: scale 1, the default for everyone).
    public static func spo2Scale(of patient: PublicKey, in s: some StateReader) throws(RuntimeError) -> SpO2ScaleDecision? {
        try s.read(SpO2ScaleDecision.self, spo2ScaleKey(patient))
    }

    public static func setSpO2Scale(_ c: SetSpO2Scale, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        let member = try Identity.requireMember(ctx, role: .provider)
        guard c.scale == 1 || c.scale == 2 else { throw RuntimeError("spo2.scale", "the SpO2 scale is 1 or 2, not \(c.scale)") }
        guard try Identity.patient(c.patient, in: ctx.view) != nil else { throw RuntimeError("spo2.unknown_patient", "no patient \(Address(c.patient))") }
        // The clinician's organisation must be allowed the patient's vital signs for treatment now
        // (its own data: the custodian is the clinician's organisation).
        let decision = try Authorization.authorize(
            AccessRequest(requester: ctx.signer, patient: c.patient, category: .vitalSigns, purpose: .treat, custodian: member.organization),
            at: ctx.time, height: ctx.height, in: ctx.view)
        try Audit.record(kind: .clinicalDecision, action: .update, actor: ctx.signer, organization: member.organization, patient: c.patient,
                         record: nil, category: .vitalSigns, purpose: .treat, decision: decision, breakGlass: false, ctx)
        guard decision.allowed else { return decision }   // the attempt is on the trail; nothing changes
        ctx.write(spo2ScaleKey(c.patient), SpO2ScaleDecision(scale: c.scale, clinician: ctx.signer, organization: member.organization,
                                                              height: ctx.height, time: ctx.time))
        return decision
    }
}
