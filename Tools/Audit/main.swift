// meridian-audit: the regulator's tool. Audit trails, cross-border transfer reports by country
// pair and legal basis, break-glass uses per organisation, denied attempts. Table, CSV or JSON;
// every row names its block and transaction.
import ArgumentParser
import Foundation
import MeridianCore
import MeridianClient

@main
struct AuditTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-audit", abstract: "Regulators' audit queries and reports.",
        subcommands: [Trail.self, Transfers.self, BreakGlass.self, Denied.self])
}

enum Format: String, ExpressibleByArgument { case table, csv, json }

struct Entry: Codable {
    let patient: String, sequence: UInt64, kind: String, action: String, actor: String, organization: String
    let record: String?, category: String, purpose: String, breakGlass: Bool, height: UInt64, time: String, transaction: String, hash: String
    let decision: Decision
    struct Decision: Codable { let allowed: Bool; let reason: String; let transferBasis: String?; let legalBasis: String?; let sourceCountry: String?; let destinationCountry: String? }
}
struct Page: Decodable { let entries: [Entry]; let next: UInt64? }

struct Filters: ParsableArguments {
    @Option(help: "Node API address.") var node: String?
    @Option(help: "A patient's address.") var patient: String?
    @Option(help: "An organisation id.") var organization: String?
    @Option(help: "From (YYYY-MM-DD or ISO time).") var from: String?
    @Option(help: "Until, exclusive.") var until: String?
    @Option(help: "Output: table, csv or json.") var format: Format = .table

    /// Every matching entry, following pages. Without patient or organisation: every organisation's entries.
    func entries() async throws -> [Entry] {
        let client = try NodeClient.resolve(node)
        var query = ""
        if let from { _ = try Parse.date(from, "--from"); query += "&from=\(from)" }
        if let until { _ = try Parse.date(until, "--until"); query += "&until=\(until)" }
        var targets: [String] = []
        if let patient { targets = ["patient=\(Address(try Parse.address(patient, "--patient")))" + (organization.map { "&organization=\($0)" } ?? "")] }
        else if let organization { targets = ["organization=\(organization)"] }
        else {
            struct O: Decodable { let id: String }
            targets = try await client.get("/v1/organizations", as: [O].self).map { "organization=\($0.id)" }
        }
        var out: [Entry] = []
        for t in targets {
            var start: UInt64? = 0
            while let s = start {
                let page = try await client.get("/v1/audit?\(t)\(query)&start=\(s)&limit=1000", as: Page.self)
                out += page.entries; start = page.next
            }
        }
        return out.sorted { ($0.height, $0.patient, $0.sequence) < ($1.height, $1.patient, $1.sequence) }
    }

    func print(_ header: [String], _ rows: [[String]], json: Data) {
        switch format {
        case .table: Swift.print(Output.table(header, rows))
        case .csv: Swift.print(Output.csv(header, rows))
        case .json: Swift.print(String(decoding: json, as: UTF8.self))
        }
    }
}

func jsonData(_ v: some Encodable) throws -> Data {
    let e = JSONEncoder(); e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]; return try e.encode(v)
}

struct Trail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Audit entries by patient, organisation and time range.")
    @OptionGroup var filters: Filters
    func run() async throws {
        guard filters.patient != nil || filters.organization != nil else { throw ValidationError("give --patient or --organization") }
        let entries = try await filters.entries()
        let rows = entries.map { e in [e.time, e.patient, String(e.sequence), e.organization, e.kind, e.action, e.purpose, e.category,
                                       e.decision.allowed ? "allowed" : "denied", e.decision.reason, e.decision.transferBasis ?? "", e.breakGlass ? "yes" : "",
                                       String(e.height), e.transaction] }
        filters.print(["time", "patient", "seq", "organisation", "kind", "action", "purpose", "category", "decision", "reason", "basis", "break-glass", "block", "transaction"],
                      rows, json: try jsonData(entries))
    }
}

struct Transfers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cross-border transfers (allowed accesses whose copy left the custodian's country) by country pair and legal basis.")
    @OptionGroup var filters: Filters
    @Flag(help: "List each transfer with its block and transaction instead of totals.") var detail = false
    func run() async throws {
        let transfers = try await filters.entries().filter { $0.decision.allowed && $0.decision.sourceCountry != nil && $0.decision.sourceCountry != $0.decision.destinationCountry }
        if detail {
            let rows = transfers.map { [($0.decision.sourceCountry ?? "?") + "→" + ($0.decision.destinationCountry ?? "?"), $0.decision.legalBasis ?? "", $0.organization, $0.time, String($0.height), $0.transaction] }
            filters.print(["route", "legal basis", "organisation", "time", "block", "transaction"], rows, json: try jsonData(transfers)); return
        }
        struct Row: Encodable { let source: String; let destination: String; let basis: String; let legalBasis: String; let count: Int; let blocks: [UInt64] }
        var groups: [String: (Entry, [UInt64])] = [:]
        for t in transfers {
            let k = "\(t.decision.sourceCountry ?? "")|\(t.decision.destinationCountry ?? "")|\(t.decision.transferBasis ?? "")"
            groups[k, default: (t, [])].1.append(t.height)
        }
        let rows = groups.keys.sorted().map { k -> Row in
            let (e, blocks) = groups[k]!
            return Row(source: e.decision.sourceCountry ?? "", destination: e.decision.destinationCountry ?? "", basis: e.decision.transferBasis ?? "",
                       legalBasis: e.decision.legalBasis ?? "", count: blocks.count, blocks: blocks)
        }
        filters.print(["from", "to", "basis", "legal basis", "transfers", "blocks"],
                      rows.map { [$0.source, $0.destination, $0.basis, $0.legalBasis, String($0.count), $0.blocks.map(String.init).joined(separator: " ")] },
                      json: try jsonData(rows))
    }
}

struct BreakGlass: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "break-glass", abstract: "Break-glass uses per organisation, each with its block and transaction.")
    @OptionGroup var filters: Filters
    func run() async throws {
        let uses = try await filters.entries().filter(\.breakGlass)
        var perOrg: [String: Int] = [:]
        for u in uses { perOrg[u.organization, default: 0] += 1 }
        let rows = uses.map { [$0.organization, $0.time, $0.patient, $0.purpose, $0.category, $0.decision.transferBasis ?? "", String($0.height), $0.transaction] }
        filters.print(["organisation", "time", "patient", "purpose", "category", "basis", "block", "transaction"], rows, json: try jsonData(uses))
        if filters.format == .table {
            Swift.print("\n" + Output.table(["organisation", "break-glass uses"], perOrg.keys.sorted().map { [$0, String(perOrg[$0]!)] }))
        }
    }
}

struct Denied: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Denied access attempts with their reasons.")
    @OptionGroup var filters: Filters
    func run() async throws {
        let denied = try await filters.entries().filter { !$0.decision.allowed }
        let rows = denied.map { [$0.time, $0.organization, $0.patient, $0.purpose, $0.category, $0.decision.reason,
                                 ($0.decision.sourceCountry ?? "?") + "→" + ($0.decision.destinationCountry ?? "?"), String($0.height), $0.transaction] }
        filters.print(["time", "organisation", "patient", "purpose", "category", "reason", "route", "block", "transaction"], rows, json: try jsonData(denied))
    }
}
