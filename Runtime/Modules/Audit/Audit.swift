public import MeridianCore

/// The audit trail: every access request, disclosure, registration and erasure, allowed or
/// denied, appended in the same transaction as the act it records.
public enum Audit {
    public static func entryKey(_ patient: PublicKey, _ sequence: UInt64) -> StateKey { StateKey("audit/entry").appending(patient).appending(sequence) }
    /// Prefix of every patient's entries (a full scan, in patient then sequence order).
    public static let entriesPrefix = StateKey("audit/entry").bytes
    static func headKey(_ patient: PublicKey) -> StateKey { StateKey("audit/head").appending(patient) }
    static func orgIndexKey(_ org: OrganizationID, _ n: UInt64) -> StateKey { StateKey("audit/org").appending(org.value).appending(n) }
    static func orgCountKey(_ org: OrganizationID) -> StateKey { StateKey("audit/org_count").appending(org.value) }
    static func breakGlassCountKey(_ org: OrganizationID) -> StateKey { StateKey("audit/break_glass_count").appending(org.value) }
    static func deniedCountKey(_ org: OrganizationID) -> StateKey { StateKey("audit/denied_count").appending(org.value) }

    /// Appends an entry for the current transaction and returns it.
    @discardableResult
    static func record(kind: AuditEventKind, action: AuditAction, actor: PublicKey, organization: OrganizationID,
                       patient: PublicKey, record: Bytes32?, category: DataCategory, purpose: PurposeOfUse,
                       decision: AccessDecision, breakGlass: Bool, _ ctx: ExecutionContext) throws(RuntimeError) -> AuditEntry {
        let head = try ctx.read(AuditHead.self, headKey(patient)) ?? AuditHead(count: 0, lastHash: .zero)
        // The hash chain: the head names the last entry's hash. A trail whose head and last entry
        // disagree would chain new entries to nothing anyone can verify: the node stops instead.
        if head.count > 0 {
            let last = try ctx.read(AuditEntry.self, entryKey(patient, head.count - 1))
            do {
                try invariant(last?.hash == head.lastHash && last?.sequence == head.count - 1, "audit.hash_chain",
                              "patient \(Address(patient)) head count \(head.count) last hash \(head.lastHash.hex.prefix(16)), entry \(head.count - 1) hash \(last.map { String($0.hash.hex.prefix(16)) } ?? "missing")")
            } catch { throw .invariant(error) }
        }
        let entry = AuditEntry(patient: patient, sequence: head.count, kind: kind, action: action, actor: actor, organization: organization,
                               record: record, category: category, purpose: purpose, decision: decision, breakGlass: breakGlass,
                               height: ctx.height, time: ctx.time, transaction: ctx.transactionHash, previousHash: head.lastHash)
        ctx.write(entryKey(patient, entry.sequence), entry)
        ctx.write(headKey(patient), AuditHead(count: head.count + 1, lastHash: entry.hash))
        let orgCount = try ctx.read(Counter.self, orgCountKey(organization)) ?? Counter()
        ctx.write(orgIndexKey(organization, orgCount.value), AuditPointer(patient: patient, sequence: entry.sequence))
        ctx.write(orgCountKey(organization), Counter(orgCount.value + 1))
        if breakGlass {
            let c = try ctx.read(Counter.self, breakGlassCountKey(organization)) ?? Counter()
            ctx.write(breakGlassCountKey(organization), Counter(c.value + 1))
        }
        if !decision.allowed {
            let c = try ctx.read(Counter.self, deniedCountKey(organization)) ?? Counter()
            ctx.write(deniedCountKey(organization), Counter(c.value + 1))
        }
        ctx.emit(.accessRecorded(patient: patient, sequence: entry.sequence, organization: organization,
                                 allowed: decision.allowed, breakGlass: breakGlass))
        return entry
    }

    // MARK: Queries

    public static func head(of patient: PublicKey, in s: some StateReader) throws(RuntimeError) -> AuditHead {
        try s.read(AuditHead.self, headKey(patient)) ?? AuditHead(count: 0, lastHash: .zero)
    }

    public static func entry(_ patient: PublicKey, _ sequence: UInt64, in s: some StateReader) throws(RuntimeError) -> AuditEntry? {
        try s.read(AuditEntry.self, entryKey(patient, sequence))
    }

    public static func breakGlassCount(_ org: OrganizationID, in s: some StateReader) throws(RuntimeError) -> UInt64 {
        try s.read(Counter.self, breakGlassCountKey(org))?.value ?? 0
    }

    public static func deniedCount(_ org: OrganizationID, in s: some StateReader) throws(RuntimeError) -> UInt64 {
        try s.read(Counter.self, deniedCountKey(org))?.value ?? 0
    }

    public static func entryCount(_ org: OrganizationID, in s: some StateReader) throws(RuntimeError) -> UInt64 {
        try s.read(Counter.self, orgCountKey(org))?.value ?? 0
    }

    /// A page of results and where the next page starts (nil at the end).
    public struct Page: Sendable {
        public let entries: [AuditEntry]
        public let next: UInt64?
    }

    /// A patient's entries in [from, until), oldest first, from position `after` on.
    public static func byPatient(_ patient: PublicKey, from: Timestamp? = nil, until: Timestamp? = nil,
                                 start: UInt64 = 0, limit: Int = 100, in s: some StateReader) throws(RuntimeError) -> Page {
        let count = try head(of: patient, in: s).count
        return try page(count: count, from: from, until: until, start: start, limit: limit, in: s) { (n) throws(RuntimeError) in
            guard let e = try entry(patient, n, in: s) else { throw RuntimeError.corrupt("audit entry \(n)") }
            return e
        }
    }

    /// An organisation's entries (as actor's organisation) in [from, until), oldest first.
    public static func byOrganization(_ org: OrganizationID, from: Timestamp? = nil, until: Timestamp? = nil,
                                      start: UInt64 = 0, limit: Int = 100, in s: some StateReader) throws(RuntimeError) -> Page {
        let count = try entryCount(org, in: s)
        return try page(count: count, from: from, until: until, start: start, limit: limit, in: s) { (n) throws(RuntimeError) in
            guard let p = try s.read(AuditPointer.self, orgIndexKey(org, n)), let e = try entry(p.patient, p.sequence, in: s) else {
                throw RuntimeError.corrupt("audit index \(org) \(n)")
            }
            return e
        }
    }

    /// Entries are appended in block order, so times are non-decreasing along a sequence: the
    /// start of a time range is found by binary search, then entries are read until the range ends.
    private static func page(count: UInt64, from: Timestamp?, until: Timestamp?, start: UInt64, limit: Int,
                             in s: some StateReader, _ load: (UInt64) throws(RuntimeError) -> AuditEntry) throws(RuntimeError) -> Page {
        var low = start, high = count
        if let from {
            while low < high {
                let mid = low + (high - low) / 2
                if try load(mid).time < from { low = mid + 1 } else { high = mid }
            }
        }
        var out: [AuditEntry] = []
        var n = low
        let cap = max(1, min(limit, 1000))
        while n < count && out.count < cap {
            let e = try load(n)
            if let until, e.time >= until { return Page(entries: out, next: nil) }
            out.append(e)
            n += 1
        }
        return Page(entries: out, next: n < count ? n : nil)
    }

    /// Verifies a patient's hash chain: each entry's `previousHash` is its predecessor's hash and
    /// the last matches the head. Returns the first broken sequence number, or nil if intact.
    public static func verifyChain(of patient: PublicKey, in s: some StateReader) throws(RuntimeError) -> UInt64? {
        let head = try head(of: patient, in: s)
        var previous = Bytes32.zero
        for n in 0..<head.count {
            guard let e = try entry(patient, n, in: s), e.previousHash == previous, e.sequence == n else { return n }
            previous = e.hash
        }
        return previous == head.lastHash ? nil : head.count
    }
}
