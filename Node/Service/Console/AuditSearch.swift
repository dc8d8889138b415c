import Foundation
import MeridianCore
import MeridianModules

/// The console's audit search: filters, a scope (what the viewer may see), and cursor paging.
///
/// Every page re-checks every row against the viewer's scope, and a page says only whether there
/// is more, never how many rows were left out: a regulator cannot learn, by paging, that a
/// patient has entries outside its jurisdiction. A page examines a bounded number of entries, so
/// a search that matches little may return a short page with a "more" link rather than a slow one.
struct AuditSearch: Sendable, Equatable {
    var patient: PublicKey?
    var organization: OrganizationID?
    var source: CountryCode?
    var destination: CountryCode?
    var purpose: PurposeOfUse?
    /// true: allowed only; false: denied only.
    var allowed: Bool?
    var breakGlass: Bool?
    var kind: AuditEventKind?
    var from: Timestamp?
    var until: Timestamp?

    static let parameterNames: Set<String> = ["patient", "organization", "source", "destination", "purpose", "decision", "break-glass",
                                              "kind", "from", "until", "cursor", "limit"]
    static let maxExamined = 5000

    /// Parses the search form's parameters (empty values mean "any"); a bad value is a 400.
    init(_ q: [String: String]) throws(ConsoleError) {
        func value(_ name: String) -> String? { q[name].flatMap { $0.isEmpty ? nil : $0 } }
        func bad(_ name: String, _ expected: String) -> ConsoleError { ConsoleError(.badRequest, "Bad search", "\(name): expected \(expected)") }
        if let p = value("patient") {
            guard case .success(let a) = Address.parse(p) else { throw bad("patient", "a patient's mer1… address") }
            patient = a.publicKey
        }
        if let o = value("organization") {
            guard let id = OrganizationID(o) else { throw bad("organization", "an organisation id") }
            organization = id
        }
        if let s = value("source") { guard let c = CountryCode(s.uppercased()) else { throw bad("source", "an ISO 3166-1 alpha-2 country code") }; source = c }
        if let d = value("destination") { guard let c = CountryCode(d.uppercased()) else { throw bad("destination", "an ISO 3166-1 alpha-2 country code") }; destination = c }
        if let p = value("purpose") { guard let v = PurposeOfUse(code: p) else { throw bad("purpose", "a purpose of use code (TREAT, ETREAT, …)") }; purpose = v }
        if let d = value("decision") {
            switch d { case "allowed": allowed = true; case "denied": allowed = false; default: throw bad("decision", "allowed or denied") }
        }
        if let b = value("break-glass") {
            switch b { case "yes": breakGlass = true; case "no": breakGlass = false; default: throw bad("break-glass", "yes or no") }
        }
        if let k = value("kind") {
            guard let v = AuditEventKind.allCases.first(where: { $0.name == k }) else { throw bad("kind", "an audit event kind") }
            kind = v
        }
        if let f = value("from") { guard let t = Timestamp(iso8601: f) else { throw bad("from", "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ") }; from = t }
        if let u = value("until") { guard let t = Timestamp(iso8601: u) else { throw bad("until", "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ") }; until = t }
        if let from, let until, from >= until { throw bad("until", "a time after from") }
    }

    init() {}

    /// The countries an entry concerns: its organisation's, and the decision's source and destination.
    static func countries(of e: AuditEntry, organizations: [OrganizationID: Organization]) -> Set<CountryCode> {
        var out: Set<CountryCode> = []
        if let c = organizations[e.organization]?.country { out.insert(c) }
        if let s = e.decision.sourceCountry { out.insert(s) }
        if let d = e.decision.destinationCountry { out.insert(d) }
        return out
    }

    func matches(_ e: AuditEntry, organizations: [OrganizationID: Organization]) -> Bool {
        if let patient, e.patient != patient { return false }
        if let organization, e.organization != organization { return false }
        if let source, e.decision.sourceCountry != source && (e.decision.sourceCountry != nil || organizations[e.organization]?.country != source) { return false }
        if let destination, e.decision.destinationCountry != destination { return false }
        if let purpose, e.purpose != purpose { return false }
        if let allowed, e.allowed != allowed { return false }
        if let breakGlass, e.breakGlass != breakGlass { return false }
        if let kind, e.kind != kind { return false }
        if let from, e.time < from { return false }
        if let until, e.time >= until { return false }
        return true
    }

    /// The query string of this search (for paging links and exports).
    var parameters: [(String, String)] {
        var p: [(String, String)] = []
        if let patient { p.append(("patient", Address(patient).description)) }
        if let organization { p.append(("organization", organization.value)) }
        if let source { p.append(("source", source.code)) }
        if let destination { p.append(("destination", destination.code)) }
        if let purpose { p.append(("purpose", purpose.code)) }
        if let allowed { p.append(("decision", allowed ? "allowed" : "denied")) }
        if let breakGlass { p.append(("break-glass", breakGlass ? "yes" : "no")) }
        if let kind { p.append(("kind", kind.name)) }
        if let from { p.append(("from", from.iso8601)) }
        if let until { p.append(("until", until.iso8601)) }
        return p
    }
}

/// What a viewer may see of the audit trail.
enum AuditScope: Sendable {
    /// A regulator: entries that concern its country.
    case jurisdiction(CountryCode)
    /// A hospital operator: entries of its organisation.
    case organization(OrganizationID)

    func permits(_ e: AuditEntry, organizations: [OrganizationID: Organization]) -> Bool {
        switch self {
        case .jurisdiction(let c): AuditSearch.countries(of: e, organizations: organizations).contains(c)
        case .organization(let o): e.organization == o
        }
    }
}

/// One page of a scoped search.
struct AuditResultPage: Sendable {
    let entries: [AuditEntry]
    /// Where the next page starts; nil at the end.
    let next: String?
}

/// A typed read of audit entries in key order from a key (`QueryService.auditEntries`).
typealias AuditEntryScan = (_ from: [UInt8]?, _ limit: Int) throws -> [(key: [UInt8], entry: AuditEntry?)]

extension AuditSearch {
    /// Runs the search in `scope` from `cursor`, returning at most `limit` entries. The cursor is
    /// opaque to the viewer: `p<n>` (a patient's sequence), `o<n>` (an organisation's index),
    /// `k<hex>` (the last state key a full scan examined).
    func page(scope: AuditScope, cursor: String?, limit: Int, reader: some StateReader, scan: AuditEntryScan,
              organizations: [OrganizationID: Organization]) throws -> AuditResultPage {
        func visible(_ e: AuditEntry) -> Bool { scope.permits(e, organizations: organizations) && matches(e, organizations: organizations) }
        var out: [AuditEntry] = []
        var examined = 0
        if let patient {
            var n: UInt64 = 0
            if let cursor { guard cursor.hasPrefix("p"), let v = UInt64(cursor.dropFirst()) else { throw badCursor }; n = v }
            let count = try Audit.head(of: patient, in: reader).count
            while n < count && out.count < limit && examined < Self.maxExamined {
                if let e = try Audit.entry(patient, n, in: reader), visible(e) { out.append(e) }
                n += 1; examined += 1
            }
            return AuditResultPage(entries: out, next: n < count ? "p\(n)" : nil)
        }
        let org: OrganizationID? = organization ?? { if case .organization(let o) = scope { return o } else { return nil } }()
        if let org {
            var n: UInt64 = 0
            if let cursor { guard cursor.hasPrefix("o"), let v = UInt64(cursor.dropFirst()) else { throw badCursor }; n = v }
            let count = try Audit.entryCount(org, in: reader)
            batches: while n < count && out.count < limit && examined < Self.maxExamined {
                let batch = try Audit.byOrganization(org, start: n, limit: 100, in: reader).entries
                if batch.isEmpty { break }
                for e in batch {
                    n += 1; examined += 1
                    if visible(e) { out.append(e); if out.count == limit { break batches } }
                }
            }
            return AuditResultPage(entries: out, next: n < count ? "o\(n)" : nil)
        }
        // A full scan of the entries, in key order (patient, then sequence).
        var after: [UInt8]?
        if let cursor {
            guard cursor.hasPrefix("k"), let k = Hex.decode(String(cursor.dropFirst())), k.starts(with: Audit.entriesPrefix) else { throw badCursor }
            after = k
        }
        let scanned = try Self.scanEntries(after: after, max: Self.maxExamined, scan: scan) { e in
            if let e, visible(e) { out.append(e) }
            return out.count < limit
        }
        return AuditResultPage(entries: out, next: scanned.exhausted ? nil : scanned.lastKey.map { "k" + Hex.encode($0) })
    }

    /// Reads every patient's entries in key order (patient, then sequence) after the key `after`,
    /// in batches, at most `max` of them, handing each to `visit` (nil for one that does not decode)
    /// until it answers false. Returns the last key read and whether the entries ran out.
    static func scanEntries(after: [UInt8]?, max: Int, scan: AuditEntryScan,
                            _ visit: (AuditEntry?) -> Bool) throws -> (lastKey: [UInt8]?, exhausted: Bool) {
        let batch = 500
        var start = after.map { $0 + [0] }
        var lastKey: [UInt8]?
        var examined = 0
        while examined < max {
            let wanted = min(batch, max - examined)
            let rows = try scan(start, wanted)
            for row in rows {
                examined += 1
                lastKey = row.key
                if !visit(row.entry) { return (lastKey, false) }
            }
            if rows.count < wanted { return (lastKey, true) }
            start = rows.last!.key + [0]
        }
        return (lastKey, false)
    }

    private var badCursor: ConsoleError { ConsoleError(.badRequest, "Bad cursor", "cursor: not a position this search gave") }
}
