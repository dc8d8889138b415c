public import MeridianCore
public import MeridianModules
public import MeridianRuntime
import MeridianStorage

/// The range reads of committed state the API, the console and the record custody make, each typed:
/// callers ask for a patient's consents or a record's shares, never for a key prefix, so the key
/// layout stays the modules' business. A value that does not decode is committed state this node
/// wrote itself, so it is a fault and throws (`state.corrupt`) rather than vanishing from a page.
extension QueryService {
    /// Every registered organisation (hospitals and regulators), in key order.
    public func organizations(limit: Int = 10_000) throws -> [Organization] {
        try rows(Identity.organizationsPrefix, limit: limit) { try Organization(trustedCanonicalBytes: $0) }
    }

    /// The organisations by id.
    public func organizationsByID() throws -> [OrganizationID: Organization] {
        Dictionary(try organizations().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// A patient's consents, current terms.
    public func consents(of patient: PublicKey, limit: Int = 1000) throws -> [ConsentRecord] {
        try rows(Consent.recordsPrefix(of: patient), limit: limit) { try ConsentRecord(trustedCanonicalBytes: $0) }
    }

    /// The earlier versions of one consent.
    public func consentHistory(of consent: Bytes32, limit: Int = 100) throws -> [ConsentRecord] {
        try rows(Consent.historyPrefix(of: consent), limit: limit) { try ConsentRecord(trustedCanonicalBytes: $0) }
    }

    /// The records registered about a patient.
    public func records(of patient: PublicKey, limit: Int = 1000) throws -> [RecordEntry] {
        try rows(Sharing.recordsPrefix(of: patient), limit: limit) { try RecordEntry(trustedCanonicalBytes: $0) }
    }

    /// The allowed shares of one record.
    public func shares(of commitment: Bytes32, limit: Int = 1000) throws -> [ShareEntry] {
        try rows(Sharing.sharesPrefix(of: commitment), limit: limit) { try ShareEntry(trustedCanonicalBytes: $0) }
    }

    /// The devices paired to a patient.
    public func devices(of patient: PublicKey, limit: Int = 1000) throws -> [DevicePairing] {
        try rows(Identity.devicesPrefix(of: patient), limit: limit) { try DevicePairing(trustedCanonicalBytes: $0) }
    }

    /// Recorded evidence of double signing.
    public func evidence(limit: Int = 10_000) throws -> [EvidenceRecord] {
        try rows(Evidence.prefix, limit: limit) { try EvidenceRecord(trustedCanonicalBytes: $0) }
    }

    /// Governance proposals, in key order.
    public func proposals(limit: Int = 1000) throws -> [Proposal] {
        try rows(Governance.proposalsPrefix, limit: limit) { try Proposal(trustedCanonicalBytes: $0) }
    }

    /// Audit entries of every patient in key order (patient, then sequence), from the key `start`
    /// (inclusive; nil: the first), each with its key, which is the position a scan resumes after.
    /// An entry that does not decode is handed on as nil so that a full scan can say so and go on.
    public func auditEntries(from start: [UInt8]?, limit: Int) throws -> [(key: [UInt8], entry: AuditEntry?)] {
        try store.stateStorage.scan(prefix: Audit.entriesPrefix, from: start, limit: limit).map { ($0.key, try? AuditEntry(canonicalBytes: $0.value)) }
    }

    private func rows<T>(_ prefix: [UInt8], limit: Int, _ decode: ([UInt8]) throws -> T) throws -> [T] {
        try store.stateStorage.scan(prefix: prefix, from: nil, limit: limit).map { row in
            do { return try decode(row.value) }
            catch { throw NodeError("state.corrupt", "a committed value under key \(Hex.encode(row.key)) does not decode as \(T.self): \(error)") }
        }
    }
}
