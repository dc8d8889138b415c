import Foundation
import Hummingbird
import MeridianCore
import MeridianModules

/// The audit pages: search with paging, exports, reports. A regulator sees its jurisdiction, a
/// hospital operator its organisation; every page that shows entries records the view first.
extension NodeConsole {
    func scope(of viewer: Viewer) throws(ConsoleError) -> (AuditScope, ConsoleView.Standing, String) {
        if let r = viewer.regulator { return (.jurisdiction(r.country), .regulator, "jurisdiction \(r.country.code)") }
        if let o = viewer.operatorOrganization { return (.organization(o), .hospitalOperator, "organisation \(o.value)") }
        throw ConsoleError(.forbidden, "Not for your role", "The audit trail is for regulators and hospital operators.")
    }

    /// The search a request asks for, run in the viewer's scope; `cursor` is where this page began.
    func search(_ viewer: Viewer, _ request: Request) throws -> (search: AuditSearch, page: AuditResultPage, standing: ConsoleView.Standing, label: String, cursor: String?) {
        let q = try api.queryDictionary(request)
        let s = try AuditSearch(q)
        let (scope, standing, label) = try scope(of: viewer)
        let limit: Int
        if let l = q["limit"] {
            guard let v = Int(l), (1...500).contains(v) else { throw ConsoleError(.badRequest, "Bad search", "limit: expected 1…500") }
            limit = v
        } else { limit = Self.pageSize }
        let cursor = q["cursor"].flatMap { $0.isEmpty ? nil : $0 }
        let page = try s.page(scope: scope, cursor: cursor, limit: limit, reader: query.reader,
                              scan: query.auditEntries, organizations: try organizations())
        return (s, page, standing, label, cursor)
    }

    func auditPage(_ viewer: Viewer, _ request: Request) async throws -> Response {
        let (s, page, standing, label, cursor) = try search(viewer, request)
        try await recordView(viewer, standing: standing, patients: Set(page.entries.map(\.patient)))
        proofs?.catchUp()
        let rows = page.entries.map { e in auditRow(e) }
        let params = s.parameters
        let thisPage = HTML.query(params + (cursor.map { [("cursor", $0)] } ?? []))
        var links: [String] = []
        if let next = page.next { links.append(HTML.link("/console/audit?" + HTML.query(params + [("cursor", next)]), "Next page")) }
        links.append(HTML.link("/console/audit/export.csv?" + thisPage, "Export this page as CSV"))
        links.append(HTML.link("/console/audit/export.fhir.json?" + thisPage, "Export this page as a FHIR AuditEvent Bundle"))
        let body = "<p>Entries of \(HTML.escape(label)). Each row's entry is proven by this node's light client against the state root of a finalised header.</p>"
            + searchForm(s)
            + HTML.table(caption: "Audit entries, oldest first", headers: ["Time", "Patient", "Event", "Organisation", "Purpose", "Decision", "Break-glass", "Transfer", "Legal basis", "Block", "Proof"],
                         rows: rows, empty: "No entry on this page matches.")
            + "<p class=\"pager\">" + links.joined(separator: " · ") + "</p>"
            + witnessStatement(coveringHeight: page.entries.map(\.height).max() ?? 0)
        return ConsoleHeaders.html(layout(title: "Audit", viewer: viewer, body: body, current: "/console/audit"))
    }

    func auditRow(_ e: AuditEntry) -> [String] {
        let d = e.decision
        let transfer = [d.sourceCountry?.code, d.destinationCountry?.code].compactMap { $0 }.joined(separator: " → ")
        let proof: String
        if let proofs {
            let c = proofs.check(key: Audit.entryKey(e.patient, e.sequence).bytes, value: e.canonicalBytes)
            if c.verified { proof = "<span class=\"ok\" title=\"\(HTML.escape(c.detail))\">✔ proven at \(HTML.link("/console/blocks/\(c.height)", "#\(c.height)"))</span>" }
            else if e.height > c.height { proof = "<span class=\"pending\">awaiting finalisation (verified to #\(c.height))</span>" }
            else { proof = "<span class=\"bad\">✘ \(HTML.escape(c.detail))</span>" }
        } else { proof = "<span class=\"pending\">no genesis to verify from</span>" }
        return [HTML.escape(e.time.iso8601), HTML.short(Address(e.patient).description, 20), HTML.escape(e.kind.name), HTML.escape(e.organization.value),
                HTML.escape(e.purpose.code), e.allowed ? "<span class=\"ok\">allowed</span> \(HTML.escape(d.reason.code))" : "<span class=\"bad\">denied</span> \(HTML.escape(d.reason.code))",
                e.breakGlass ? "<strong>BREAK-GLASS</strong>" : "—", HTML.escape(transfer.isEmpty ? "—" : transfer),
                HTML.escape(d.transferBasis.map { "\($0.name) (\($0.legalReference))" } ?? "—"),
                HTML.link("/console/blocks/\(e.height)", String(e.height)), proof]
    }

    func searchForm(_ s: AuditSearch) -> String {
        func field(_ name: String, _ label: String, _ value: String?, _ hint: String) -> String {
            "<div class=\"field\"><label for=\"f-\(name)\">\(HTML.escape(label))</label><input id=\"f-\(name)\" name=\"\(name)\" value=\"\(HTML.escape(value ?? ""))\" aria-describedby=\"h-\(name)\"><small id=\"h-\(name)\">\(HTML.escape(hint))</small></div>"
        }
        func select(_ name: String, _ label: String, _ options: [(String, String)], _ value: String?) -> String {
            "<div class=\"field\"><label for=\"f-\(name)\">\(HTML.escape(label))</label><select id=\"f-\(name)\" name=\"\(name)\">"
                + ([("", "any")] + options).map { "<option value=\"\(HTML.escape($0.0))\"\($0.0 == (value ?? "") ? " selected" : "")>\(HTML.escape($0.1))</option>" }.joined()
                + "</select></div>"
        }
        let p = Dictionary(s.parameters, uniquingKeysWith: { a, _ in a })
        return "<form class=\"search\" method=\"get\" action=\"/console/audit\" role=\"search\" aria-label=\"Search the audit trail\">"
            + field("patient", "Patient key", p["patient"], "mer1… address")
            + field("organization", "Organisation", p["organization"], "e.g. hospital-ribeira")
            + field("source", "From country", p["source"], "ISO code, e.g. PT")
            + field("destination", "To country", p["destination"], "ISO code, e.g. JP")
            + select("purpose", "Purpose", PurposeOfUse.allCases.map { ($0.code, "\($0.code) — \($0.display)") }, p["purpose"])
            + select("decision", "Decision", [("allowed", "allowed"), ("denied", "denied")], p["decision"])
            + select("break-glass", "Break-glass", [("yes", "yes"), ("no", "no")], p["break-glass"])
            + select("kind", "Event", AuditEventKind.allCases.map { ($0.name, $0.name) }, p["kind"])
            + field("from", "From time", p["from"], "YYYY-MM-DD")
            + field("until", "Until time", p["until"], "YYYY-MM-DD (exclusive)")
            + "<div class=\"field\"><button type=\"submit\">Search</button></div></form>"
    }

    func auditExport(_ viewer: Viewer, _ request: Request, csv: Bool) async throws -> Response {
        let (_, page, standing, _, _) = try search(viewer, request)
        try await recordView(viewer, standing: standing, patients: Set(page.entries.map(\.patient)))
        if csv { return ConsoleHeaders.file(AuditExport.csv(page.entries), contentType: "text/csv; charset=utf-8", download: "meridian-audit.csv") }
        return ConsoleHeaders.file(try AuditExport.fhirBundle(page.entries, time: Timestamp(unixMilliseconds: clock())),
                                   contentType: "application/fhir+json", download: "meridian-audit-bundle.json")
    }

    /// Reports over every entry in scope (bounded): cross-border transfers by country pair and legal
    /// basis, break-glass uses per hospital per day, denied attempts.
    func reportsPage(_ viewer: Viewer) throws -> Response {
        let (scope, _, label) = try scope(of: viewer)
        let orgs = try organizations()
        let maxEntries = 50_000
        var transfers: [String: Int] = [:]
        var breakGlass: [String: Int] = [:]
        var denied: [String: Int] = [:]
        let scanned = try AuditSearch.scanEntries(after: nil, max: maxEntries, scan: query.auditEntries) { e in
            guard let e, scope.permits(e, organizations: orgs) else { return true }
            let d = e.decision
            if e.allowed, e.kind == .accessRequest || e.kind == .disclosure, let s = d.sourceCountry, let t = d.destinationCountry, s != t, let b = d.transferBasis {
                transfers["\(s.code) → \(t.code) · \(b.name)", default: 0] += 1
            }
            if e.breakGlass { breakGlass["\(e.organization.value) · \(String(e.time.iso8601.prefix(10)))", default: 0] += 1 }
            if !e.allowed { denied["\(e.organization.value) · \(d.reason.code)", default: 0] += 1 }
            return true
        }
        func bars(_ d: [String: Int]) -> [SVGChart.Bar] { d.sorted { $0.key < $1.key }.map { SVGChart.Bar(label: $0.key, value: $0.value) } }
        func table(_ caption: String, _ header: String, _ d: [String: Int]) -> String {
            HTML.table(caption: caption, headers: [header, "Count"], rows: d.sorted { $0.key < $1.key }.map { [HTML.escape($0.key), String($0.value)] })
        }
        let capped = !scanned.exhausted ? "<p class=\"error\">Only the first \(maxEntries) entries were read; narrow with the audit search.</p>" : ""
        let body = "<p>Counts over the audit trail of \(HTML.escape(label)). No patient is named on this page; follow a search link to see entries.</p>" + capped
            + "<h2>Cross-border transfers by country pair and legal basis</h2>"
            + SVGChart.bars(title: "Allowed transfers by country pair and legal basis", bars(transfers), unit: "transfers")
            + table("Transfers by country pair and legal basis", "Pair · basis", transfers)
            + "<h2>Break-glass uses per hospital over time</h2>"
            + SVGChart.bars(title: "Break-glass uses per hospital and day", bars(breakGlass), unit: "uses")
            + table("Break-glass uses per hospital and day", "Hospital · day", breakGlass)
            + "<p>\(HTML.link("/console/audit?break-glass=yes", "See the break-glass entries"))</p>"
            + "<h2>Denied attempts</h2>"
            + table("Denied attempts per organisation and reason", "Organisation · reason", denied)
            + "<p>\(HTML.link("/console/audit?decision=denied", "See the denied entries"))</p>"
        return ConsoleHeaders.html(layout(title: "Reports", viewer: viewer, body: body, current: "/console/audit/reports"))
    }
}
