public import MeridianCore

/// A patient grants, amends and revokes consents. The current version lives under the consent's
/// id; each version it supersedes moves to the history (so a grant costs one record write, and the
/// full history is the history entries plus the current record); the patient's active consents
/// are one bounded list that `authorize` reads.
public enum Consent {
    public static func recordKey(_ patient: PublicKey, _ id: Bytes32) -> StateKey { StateKey("consent/record").appending(patient).appending(id) }
    static func historyKey(_ id: Bytes32, _ version: UInt32) -> StateKey { StateKey("consent/history").appending(id).appending(UInt64(version)) }
    static func activeKey(_ patient: PublicKey) -> StateKey { StateKey("consent/active").appending(patient) }

    /// Prefix of all of a patient's consents, current versions (for listings).
    public static func recordsPrefix(of patient: PublicKey) -> [UInt8] { StateKey("consent/record").appending(patient).bytes }
    /// Prefix of a consent's superseded versions (its history; the current version is the record).
    public static func historyPrefix(of id: Bytes32) -> [UInt8] { StateKey("consent/history").appending(id).bytes }

    public static func consent(_ id: Bytes32, patient: PublicKey, in s: some StateReader) throws(RuntimeError) -> ConsentRecord? {
        try s.read(ConsentRecord.self, recordKey(patient, id))
    }

    /// The patient's active (not revoked) consents, whatever their period.
    public static func activeConsents(of patient: PublicKey, in s: some StateReader) throws(RuntimeError) -> [ConsentRecord] {
        let ids = try s.read(CanonicalList<Bytes32>.self, activeKey(patient))?.items ?? []
        var out: [ConsentRecord] = []
        for id in ids {
            guard let c = try consent(id, patient: patient, in: s) else { throw RuntimeError.corrupt("consent \(id)") }
            out.append(c)
        }
        return out
    }

    static func checkGrantees(_ terms: ConsentTerms, _ ctx: ExecutionContext) throws(RuntimeError) {
        try terms.validate()
        for g in terms.grantees {
            guard let org = try Identity.organization(g, in: ctx.view) else {
                throw RuntimeError("consent.unknown_grantee", "no organisation '\(g)'")
            }
            guard org.kind == .hospital else { throw RuntimeError("consent.grantee_not_provider", "'\(g)' is not a care provider") }
        }
        if let policy = terms.policy, try Contracts.contract(policy.contract, in: ctx.view) == nil {
            throw RuntimeError("consent.unknown_contract", "no contract \(policy.contract.hex) is deployed (meridian-wallet contract deploy FILE)")
        }
    }

    public static func grant(_ terms: ConsentTerms, _ ctx: ExecutionContext) throws(RuntimeError) -> Bytes32 {
        _ = try Identity.requirePatient(ctx)
        try checkGrantees(terms, ctx)
        var active = try ctx.read(CanonicalList<Bytes32>.self, activeKey(ctx.signer)) ?? CanonicalList()
        guard active.items.count < Int(ctx.parameters.maxActiveConsentsPerPatient) else {
            throw RuntimeError("consent.too_many", "at most \(ctx.parameters.maxActiveConsentsPerPatient) active consents; revoke one first")
        }
        let id = ctx.transactionHash
        let record = ConsentRecord(id: id, patient: ctx.signer, terms: terms, status: .active, version: 1, grantedAt: ctx.time, updatedAt: ctx.time)
        ctx.write(recordKey(ctx.signer, id), record)
        active.items.append(id)
        ctx.write(activeKey(ctx.signer), active)
        ctx.emit(.consentChanged(patient: ctx.signer, consent: id, version: 1, status: .active))
        return id
    }

    public struct Amend: Hashable, Sendable, Canonical {
        public let consent: Bytes32
        public let terms: ConsentTerms
        public init(consent: Bytes32, terms: ConsentTerms) { self.consent = consent; self.terms = terms }
        public func encode(to w: inout CanonicalWriter) { w.write(consent); w.write(terms) }
        public init(from r: inout CanonicalReader) throws(CodecError) { consent = try r.readBytes32("consent"); terms = try r.read(ConsentTerms.self) }
    }

    public static func amend(_ call: Amend, _ ctx: ExecutionContext) throws(RuntimeError) {
        _ = try Identity.requirePatient(ctx)
        guard let current = try consent(call.consent, patient: ctx.signer, in: ctx.view) else {
            throw RuntimeError("consent.not_found", "you have no consent \(call.consent)")
        }
        guard current.status == .active else { throw RuntimeError("consent.revoked", "consent \(call.consent) was revoked") }
        try checkGrantees(call.terms, ctx)
        let next = ConsentRecord(id: current.id, patient: ctx.signer, terms: call.terms, status: .active,
                                 version: current.version + 1, grantedAt: current.grantedAt, updatedAt: ctx.time)
        ctx.write(historyKey(current.id, current.version), current)
        ctx.write(recordKey(ctx.signer, current.id), next)
        ctx.emit(.consentChanged(patient: ctx.signer, consent: current.id, version: next.version, status: .active))
    }

    public static func revoke(_ id: Bytes32, _ ctx: ExecutionContext) throws(RuntimeError) {
        _ = try Identity.requirePatient(ctx)
        guard let current = try consent(id, patient: ctx.signer, in: ctx.view) else {
            throw RuntimeError("consent.not_found", "you have no consent \(id)")
        }
        guard current.status == .active else { throw RuntimeError("consent.revoked", "consent \(id) is already revoked") }
        let next = ConsentRecord(id: id, patient: ctx.signer, terms: current.terms, status: .revoked,
                                 version: current.version + 1, grantedAt: current.grantedAt, updatedAt: ctx.time)
        ctx.write(historyKey(id, current.version), current)
        ctx.write(recordKey(ctx.signer, id), next)
        var active = try ctx.read(CanonicalList<Bytes32>.self, activeKey(ctx.signer)) ?? CanonicalList()
        active.items.removeAll { $0 == id }
        ctx.write(activeKey(ctx.signer), active)
        ctx.emit(.consentChanged(patient: ctx.signer, consent: id, version: next.version, status: .revoked))
    }
}
