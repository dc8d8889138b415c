// meridian-audit: the regulator's tool. Audit trails, cross-border transfer reports by country
// pair and legal basis, break-glass uses per organisation, denied attempts. Table, CSV or JSON;
// every row names its block and transaction.
import ArgumentParser
import Foundation
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianLightClient
import MeridianTransparency
import MeridianClient
import MeridianRecordMessages
import MeridianVitals
import MeridianRisk

@main
struct AuditTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-audit", abstract: "Regulators' audit queries and reports.",
        subcommands: [Trail.self, Transfers.self, BreakGlass.self, Denied.self, EvidenceCommand.self, Verify.self, Monitor.self, ConsoleSignInCommand.self])
}

enum Format: String, ExpressibleByArgument { case table, csv, json }

struct Entry: Codable {
    let patient: String, sequence: UInt64, kind: String, action: String, actor: String, organization: String
    let record: String?, category: String, purpose: String, breakGlass: Bool, height: UInt64, time: String, transaction: String, hash: String
    let bytes: String?
    let decision: Decision
    struct Decision: Codable {
        let allowed: Bool; let reason: String; let transferBasis: String?; let legalBasis: String?; let sourceCountry: String?; let destinationCountry: String?
        let contract: NodeClient.ContractView?; let coSigner: String?
    }
}
extension Entry: ServedAuditEntry { var allowed: Bool { decision.allowed } }
struct Page: Decodable { let entries: [Entry]; let next: String? }

struct Filters: ParsableArguments {
    /// The regulator's (or operator's) key: every request is signed; the node answers what its
    /// standing on chain allows (a regulator its jurisdiction, an operator its organisation).
    @OptionGroup var key: KeyOptions
    @Option(help: "A patient's address.") var patient: String?
    @Option(help: "An organisation id.") var organization: String?
    @Option(help: "From (YYYY-MM-DD or ISO time).") var from: String?
    @Option(help: "Until, exclusive.") var until: String?
    @Option(help: "Output: table, csv or json.") var format: Format = .table
    @Option(help: "A witness policy (c2sp.org/tlog-policy): every entry of the report must be included in a checkpoint of the audit log cosigned by its quorum, whose commit verifies from --genesis; otherwise the report is refused (exit 2) naming what is missing.")
    var policy: String?
    @Option(help: "With --policy: the genesis spec you trust.") var genesis: String = "Genesis/demo.json"
    @Option(help: "With --policy: seconds to wait for a checkpoint with the quorum that covers the report (cosignatures follow each block) before refusing it.")
    var wait: Int = 30

    /// The report's entries and, with `--policy`, the statement of the witnessed checkpoint that
    /// includes every one of them (each entry's bytes checked against its fields and its inclusion
    /// proven); a report that cannot be so proven is refused: exit 2 with the reason.
    func report() async throws -> (entries: [Entry], witnessed: String?) {
        let list = try await entries()
        guard let policy else { return (list, nil) }
        do {
            let log = try WitnessedLog(policyFile: policy, genesisFile: genesis, api: try key.client())
            let checkpoint = try await log.witnessed(height: list.map(\.height).max() ?? 0, wait: .seconds(max(0, wait)))
            for e in list { _ = try await log.proveServed(e, in: checkpoint) }
            return (list, "witnessed: all \(list.count) entries included in the audit log's checkpoint of \(checkpoint.size) entries at block \(checkpoint.height) "
                    + "(commit verified from genesis), cosigned by \(checkpoint.cosigners.joined(separator: ", ")): quorum '\(log.policy.quorum)' met")
        } catch let e as WitnessedLogError {
            FileHandle.standardError.write(Data("REPORT REFUSED: \(e)\n".utf8))
            for note in e.evidence { FileHandle.standardError.write(Data("--- signed checkpoint (evidence)\n".utf8) + Data(note.bytes)) }
            Foundation.exit(2)
        }
    }

    /// Every matching entry, following pages. Without patient or organisation: every organisation's entries.
    func entries() async throws -> [Entry] {
        let client = try key.client()
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
            var cursor: String? = ""
            while let c = cursor {   // opaque cursors, each page checked like the first
                let page = try await client.get("/v1/audit?\(t)\(query)&limit=1000" + (c.isEmpty ? "" : "&cursor=\(c)"), as: Page.self)
                out += page.entries; cursor = page.next
            }
        }
        return out.sorted { ($0.height, $0.patient, $0.sequence) < ($1.height, $1.patient, $1.sequence) }
    }

    /// Prints the report; the witness statement follows a table, and goes to standard error beside CSV or JSON.
    func print(_ header: [String], _ rows: [[String]], json: Data, witnessed: String? = nil) {
        switch format {
        case .table: Swift.print(Output.table(header, rows))
        case .csv: Swift.print(Output.csv(header, rows), terminator: "")
        case .json: Swift.print(String(decoding: json, as: UTF8.self))
        }
        if let witnessed {
            if format == .table { Swift.print("\n" + witnessed) } else { FileHandle.standardError.write(Data((witnessed + "\n").utf8)) }
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
        let (entries, witnessed) = try await filters.report()
        let rows = entries.map { e in [e.time, e.patient, String(e.sequence), e.organization, e.kind, e.action, e.purpose, e.category,
                                       e.decision.allowed ? "allowed" : "denied", e.decision.reason, e.decision.transferBasis ?? "", e.breakGlass ? "yes" : "",
                                       e.decision.contract.map { "\($0.hash.prefix(12))… \(describe($0))" } ?? "", String(e.height), e.transaction] }
        filters.print(["time", "patient", "seq", "organisation", "kind", "action", "purpose", "category", "decision", "reason", "basis", "break-glass",
                       "policy contract", "block", "transaction"],
                      rows, json: try jsonData(entries), witnessed: witnessed)
    }
}

struct Transfers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cross-border transfers (allowed accesses whose copy left the custodian's country) by country pair and legal basis.")
    @OptionGroup var filters: Filters
    @Flag(help: "List each transfer with its block and transaction instead of totals.") var detail = false
    func run() async throws {
        let (all, witnessed) = try await filters.report()
        let transfers = all.filter { $0.decision.allowed && $0.decision.sourceCountry != nil && $0.decision.sourceCountry != $0.decision.destinationCountry }
        if detail {
            let rows = transfers.map { [($0.decision.sourceCountry ?? "?") + "→" + ($0.decision.destinationCountry ?? "?"), $0.decision.legalBasis ?? "", $0.organization, $0.time, String($0.height), $0.transaction] }
            filters.print(["route", "legal basis", "organisation", "time", "block", "transaction"], rows, json: try jsonData(transfers), witnessed: witnessed); return
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
                      json: try jsonData(rows), witnessed: witnessed)
    }
}

struct BreakGlass: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "break-glass", abstract: "Break-glass attempts per organisation, allowed or denied, each with its block and transaction.")
    @OptionGroup var filters: Filters
    func run() async throws {
        let (all, witnessed) = try await filters.report()
        let uses = all.filter(\.breakGlass)
        var perOrg: [String: (allowed: Int, denied: Int)] = [:]
        for u in uses {
            if u.decision.allowed { perOrg[u.organization, default: (0, 0)].allowed += 1 } else { perOrg[u.organization, default: (0, 0)].denied += 1 }
        }
        let rows = uses.map { [$0.organization, $0.time, $0.patient, $0.purpose, $0.category, $0.decision.allowed ? "allowed" : "denied", $0.decision.reason,
                               $0.decision.transferBasis ?? "", String($0.height), $0.transaction] }
        filters.print(["organisation", "time", "patient", "purpose", "category", "decision", "reason", "basis", "block", "transaction"], rows, json: try jsonData(uses))
        if filters.format == .table {
            Swift.print("\n" + Output.table(["organisation", "break-glass allowed", "break-glass denied"],
                                            perOrg.keys.sorted().map { [$0, String(perOrg[$0]!.allowed), String(perOrg[$0]!.denied)] }))
        }
        if let witnessed { filters.format == .table ? Swift.print("\n" + witnessed) : FileHandle.standardError.write(Data((witnessed + "\n").utf8)) }
    }
}

struct Denied: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Denied access attempts with their reasons.")
    @OptionGroup var filters: Filters
    func run() async throws {
        let (all, witnessed) = try await filters.report()
        let denied = all.filter { !$0.decision.allowed }
        let rows = denied.map { [$0.time, $0.organization, $0.patient, $0.purpose, $0.category, $0.decision.reason,
                                 ($0.decision.sourceCountry ?? "?") + "→" + ($0.decision.destinationCountry ?? "?"), String($0.height), $0.transaction] }
        filters.print(["time", "organisation", "patient", "purpose", "category", "reason", "route", "block", "transaction"], rows, json: try jsonData(denied), witnessed: witnessed)
    }
}

struct EvidenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evidence", abstract: "Validators caught double-signing (equivocation evidence on chain).")
    @OptionGroup var key: KeyOptions
    @Option(help: "Output: table, csv or json.") var format: Format = .table
    struct E: Codable { let validator: String; let height: UInt64; let round: UInt32; let reportedBy: String; let recordedAt: UInt64
        let votes: [V]; struct V: Codable { let kind: String; let value: String?; let signature: String }
        let suspension: S?; struct S: Codable { let fromHeight: UInt64; let inEffect: Bool } }
    func run() async throws {
        let rows = try await key.client().get("/v1/evidence", as: [E].self)
        let table = rows.map { [$0.validator, String($0.height), String($0.round), $0.votes.first?.kind ?? "",
                                $0.votes.map { $0.value.map { String($0.prefix(16)) } ?? "nil" }.joined(separator: " vs "), $0.reportedBy, String($0.recordedAt),
                                $0.suspension.map { $0.inEffect ? "suspended since block \($0.fromHeight)" : "suspended from block \($0.fromHeight)" } ?? "readmitted"] }
        let header = ["validator", "height", "round", "vote", "values", "reported by", "recorded at block", "voting power"]
        switch format {
        case .table: print(rows.isEmpty ? "no evidence on chain" : Output.table(header, table))
        case .csv: print(Output.csv(header, table), terminator: "")
        case .json: print(String(decoding: try jsonData(rows), as: UTF8.self))
        }
    }
}

extension Verify {
    /// The newest checkpoint of the audit log that the policy's quorum cosigned and that covers the
    /// verified head (waiting up to --wait for the witnesses' answers to the latest block): its commit
    /// is verified from genesis and must be the header this light client verified at its height. When
    /// none comes, the node's head checkpoint is checked against the policy so that what is missing
    /// is named; the command exits 2.
    func verifyWitnessed(policyFile: String, client: LightClient, api: NodeClient) async throws -> (WitnessedLog, CosignedCheckpoint) {
        let log: WitnessedLog
        do { log = WitnessedLog(policy: try WitnessedLog.policy(file: policyFile), light: client, api: api) }
        catch let e as WitnessedLogError { throw ValidationError(e.message) }
        // The same light client: a checkpoint whose header is not the one it verified is a fork (split_view.fork).
        let checkpoint: CosignedCheckpoint
        do { checkpoint = try await log.witnessed(height: client.head.height, wait: .seconds(max(0, wait))) }
        catch let e as WitnessedLogError where e.code == "policy.no_quorum" || e.code == "checkpoint.behind" {
            // What the node's head lacks, in the policy's words.
            let served = try await api.exchange("GET", "/v1/audit-log/checkpoint", contentType: "text/plain")
            if served.status == 200 {
                do { _ = try log.policy.verify(try SignedNote(parsing: Array(served.body))) } catch { fail(error) }
            }
            fail(e)
        }
        catch let e as WitnessedLogError {
            for note in e.evidence { FileHandle.standardError.write(Data("--- signed checkpoint (evidence)\n".utf8) + Data(note.bytes)) }
            fail(e)
        }
        let h = checkpoint.height
        print("log       checkpoint size \(checkpoint.size), root \(checkpoint.opened.header.auditLogRoot.hex), at height \(h) (its commit verified): "
              + "cosigned by \(checkpoint.cosigners.joined(separator: ", ")); quorum '\(log.policy.quorum)' met")
        return (log, checkpoint)
    }
}

/// The light client: trusts only the genesis spec, verifies every header from it, then proves the
/// entries asked for against a verified state root. Any mismatch is named and exits 2.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify the chain from genesis (commit certificates, validator set changes) and prove audit entries, consents and records against it.")
    /// Headers are public; the entries proven are read as this key (a regulator its jurisdiction's
    /// audit entries and records, a patient their own consents, entries and vital signs).
    @OptionGroup var key: KeyOptions
    @Option(help: "The genesis spec you trust.") var genesis: String = "Genesis/demo.json"
    @Option(help: "Verify up to this height (default: the node's head).") var height: UInt64?
    @Option(help: "A patient's address (with --sequence or --consent).") var patient: String?
    @Option(help: "Audit entry number of --patient to prove.") var sequence: UInt64?
    @Option(help: "Consent id of --patient to prove.") var consent: String?
    @Option(help: "Record commitment to prove (with its shares to --organization).") var record: String?
    @Option(help: "The organisation a --record was shared with.") var organization: String?
    @Option(help: "A patient's address: prove each stored vital-signs batch against the workers' anchor on chain.") var vitals: String?
    @Option(help: "A record: prove each summary the node served of it (record, language, terminology version, output hash) against its anchor on chain.") var served: String?
    @Option(help: "With --served: the Bundle a clinician read (e.g. from provider summary --fhir); names the served leaf whose output it is.") var bundle: String?
    @Option(help: "A witness policy (c2sp.org/tlog-policy: witness lines with cosigner vkeys, groups, one quorum): the audit log's checkpoint must be cosigned by its quorum, and its commit verify from genesis; a proven audit entry must be in it.") var policy: String?
    @Option(help: "With --policy: seconds to wait for a checkpoint with the quorum that covers the verified head.") var wait: Int = 30

    struct Page: Decodable { let head: UInt64; let headers: [H]; struct H: Decodable { let height: UInt64; let header: String; let commit: String? } }
    struct Entry: Decodable { let value: String?; let proof: String; let height: UInt64 }

    func fail(_ e: any Error) -> Never {
        FileHandle.standardError.write(Data("VERIFICATION FAILED: \(e)\n".utf8))
        Foundation.exit(2)
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: genesis) else { throw ValidationError("cannot read \(genesis)") }
        let spec: GenesisSpec
        do { spec = try GenesisSpec.parse([UInt8](data)) } catch { throw ValidationError("\(genesis): \(error)") }
        var client: LightClient
        do { client = try LightClient(genesis: spec) } catch { fail(error) }
        let api = try key.client()
        let first = try await api.get("/v1/light/headers?from=0&limit=1", as: Page.self)
        guard let g = first.headers.first, let gBytes = Hex.decode(g.header), let nodeGenesis = try? BlockHeader(canonicalBytes: gBytes) else {
            fail(LightClientError("light.genesis", "the node sent no genesis header"))
        }
        guard nodeGenesis.hash == client.genesisHash else {
            fail(LightClientError("light.genesis", "the node's genesis \(nodeGenesis.hash.hex.prefix(16)) is not the one \(genesis) gives (\(client.genesisHash.hex.prefix(16)))"))
        }
        print("genesis   \(client.genesisHash.hex) computed from \(genesis) (chain \(spec.chainID)); the node's matches")
        let target = min(height ?? first.head, first.head)
        // Every header from the node's open route, each certificate checked; where the validator set
        // changes, the page carries the new set's entry with its proof against the parent's root.
        do { try await api.followHeaders(after: 0, to: target) { page in try client.advance(with: page, upTo: target) } }
        catch let e as LightClientError { fail(e) }
        print("headers   1...\(client.head.height) verified: each commit signed by more than 2/3 of its validators' power; \(client.validatorSetChanges) validator set change(s) proven from state")
        print("head      height \(client.head.height), block \(client.head.hash.hex), state root \(client.head.stateRoot.hex)")
        let witnessed = try await policy.asyncMap { try await verifyWitnessed(policyFile: $0, client: client, api: api) }

        func prove(_ key: [UInt8], _ what: String) async throws -> [UInt8]? {
            let e = try await api.get("/v1/state/\(Hex.encode(key))?height=\(client.head.height)", as: Entry.self)
            guard let p = Hex.decode(e.proof), let proof = try? StateProof(canonicalBytes: p) else { fail(LightClientError("light.decode", "\(what): the proof does not decode")) }
            let value = e.value.flatMap(Hex.decode)
            do { try client.verifyEntry(key: key, value: value, proof: proof, height: client.head.height) } catch { fail(error) }
            return value
        }
        // Anchored results (vital signs, served summaries): each anchor proven from the verified state
        // once per root, then each result's RFC 9162 inclusion proof against it.
        var anchors: [Bytes32: AnchorRecord] = [:]
        func proveAnchored(_ bytes: [UInt8], root rootHex: String?, index: Int?, treeSize: Int?, path pathHex: [String]?,
                           kind: AnchorKind, _ what: String) async throws -> AnchorRecord {
            guard let rootHex, let root = Bytes32(hex: rootHex), let index, let treeSize,
                  let path = pathHex?.compactMap({ Bytes32(hex: $0) }), path.count == pathHex?.count else {
                fail(LightClientError("light.decode", "\(what): the inclusion proof does not decode"))
            }
            if anchors[root] == nil {
                guard let v = try await prove(Anchoring.rootKey(root).bytes, "anchor"), let record = try? AnchorRecord(trustedCanonicalBytes: v) else {
                    fail(LightClientError("anchor.absent", "\(what): no anchor of root \(root.hex.prefix(16)) is on chain at height \(client.head.height)"))
                }
                guard record.anchor.kind == kind else { fail(LightClientError("anchor.kind", "\(what): root \(root.hex.prefix(16)) anchors \(record.anchor.kind.name), not \(kind.name)")) }
                anchors[root] = record
                print("anchor    \(root.hex) proven at height \(client.head.height): \(record.anchor.count) \(record.anchor.kind.name) by worker \(Address(record.worker)) of \(record.organization.value), block \(record.height), producer \(record.anchor.producer.hex.prefix(16))…")
            }
            do { try AnchoredResult.verify(result: bytes, index: index, treeSize: treeSize, path: path, anchor: anchors[root]!) }
            catch { fail(LightClientError(error.code, "\(what): \(error.message)")) }
            return anchors[root]!
        }
        if let patient {
            let key = try Parse.address(patient, "--patient")
            if let sequence {
                guard let v = try await prove(Audit.entryKey(key, sequence).bytes, "audit entry"), let e = try? AuditEntry(trustedCanonicalBytes: v) else {
                    fail(LightClientError("light.absent", "audit entry \(sequence) of \(patient) is proven absent at height \(client.head.height)"))
                }
                print("audit     entry \(sequence) of \(Address(key)) proven at height \(client.head.height): \(e.organization.value) \(e.purpose.code) \(e.category.name) "
                      + "\(e.decision.allowed ? "allowed" : "denied") (\(e.decision.reason.code))\(e.breakGlass ? " BREAK-GLASS" : ""), block \(e.height), transaction \(e.transaction.hex)"
                      + (e.decision.contract.map { ", policy contract \($0.contract.hex) (\($0.fuelUsed) fuel, \($0.failure ?? "answer \($0.answer ?? 0)"))" } ?? ""))
                if let (log, checkpoint) = witnessed {
                    do {
                        let index = try await log.proveIncluded(e.hash, in: checkpoint)
                        print("audit     entry \(sequence) is leaf #\(index) of the witnessed checkpoint of \(checkpoint.size) entries (inclusion proof verified)")
                    } catch { fail(error) }
                }
            }
            if let consent {
                let id = try Parse.hash(consent, "--consent")
                guard let v = try await prove(Consent.recordKey(key, id).bytes, "consent"), let c = try? ConsentRecord(trustedCanonicalBytes: v) else {
                    fail(LightClientError("light.absent", "consent \(consent) of \(patient) is proven absent at height \(client.head.height)"))
                }
                print("consent   \(id.hex) proven at height \(client.head.height): \(c.status.name), version \(c.version), to \(c.terms.grantees.map(\.value).joined(separator: ","))")
            }
        }
        if let vitals {
            struct VitalsProof: Decodable { let batch: String; let anchored: Bool; let root: String?; let index: Int?; let treeSize: Int?; let path: [String]? }
            let key = try Parse.address(vitals, "--vitals")
            for kind in ["readings", "assessments", "alerts"] {
                let proofs = try await api.get("/v1/vitals/\(Address(key))/proofs?limit=1000&kind=\(kind)", as: [VitalsProof].self)
                var proven = 0, queued = 0
                for (n, p) in proofs.enumerated() {
                    guard let bytes = Hex.decode(p.batch) else { fail(LightClientError("light.decode", "\(kind) \(n) does not decode")) }
                    let owner: PublicKey?, label: String
                    if kind == "readings", let b = try? ReadingBatch(canonicalBytes: bytes) {
                        owner = b.patient
                        switch b.source { case .device(let d, let seq): label = "device \(Address(d)) sequence \(seq)"; case .feed(let f, let m): label = "feed \(f) message \(m)" }
                    } else if kind == "assessments", let a = try? AssessmentRecord(canonicalBytes: bytes) {
                        owner = a.patient; label = "NEWS2 \(a.total) at \(a.time.iso8601) (\(a.scoringVersion))"
                    } else if kind == "alerts", let a = try? AlertRecord(canonicalBytes: bytes) {
                        owner = a.patient; label = "alert at \(a.time.iso8601): \(a.reasons.names.joined(separator: ", ")) to \(a.recipients.map(\.value).joined(separator: ","))"
                    } else { fail(LightClientError("light.decode", "\(kind) \(n) does not decode")) }
                    guard owner == key else { fail(LightClientError("anchor.patient", "\(kind) \(n) is not \(vitals)'s")) }
                    guard p.anchored else { queued += 1; continue }
                    _ = try await proveAnchored(bytes, root: p.root, index: p.index, treeSize: p.treeSize, path: p.path,
                                                kind: AnchorKind(name: kind)!, "\(kind) \(n) (\(label))")
                    proven += 1
                }
                let noun = ["readings": "stored batch(es)", "assessments": "assessment(s)", "alerts": "alert(s)"][kind]!
                print("vitals    \(proven) \(noun) of \(Address(key)) proven against their anchors; \(queued) not anchored yet")
            }
        }
        if let served {
            struct ServedProof: Decodable { let leaf: String; let anchored: Bool; let root: String?; let index: Int?; let treeSize: Int?; let path: [String]? }
            let c = try Parse.hash(served, "--served")
            let read: Bytes32? = try bundle.map { path in
                guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
                return SHA256.hash([UInt8](data))
            }
            var proven = 0, queued = 0, matched: TranslationLeaf?
            for (n, p) in try await api.get("/v1/records/\(c.hex)/served", as: [ServedProof].self).enumerated() {
                guard let bytes = Hex.decode(p.leaf), let leaf = try? TranslationLeaf(canonicalBytes: bytes) else { fail(LightClientError("light.decode", "served summary \(n) does not decode")) }
                guard leaf.record == c else { fail(LightClientError("anchor.record", "served summary \(n) is of another record")) }
                guard p.anchored else { queued += 1; continue }
                let anchor = try await proveAnchored(bytes, root: p.root, index: p.index, treeSize: p.treeSize, path: p.path, kind: .translations, "served summary \(n)")
                guard anchor.organization == leaf.servedTo else {
                    fail(LightClientError("anchor.organization", "served summary \(n) names \(leaf.servedTo.value) but was anchored by \(anchor.organization.value)"))
                }
                print("served    \(leaf.time.iso8601) to \(leaf.servedTo.value): language \(leaf.language), terminology \(leaf.terminology.hex), output \(leaf.output.hex)")
                if leaf.output == read { matched = leaf }
                proven += 1
            }
            print("served    \(proven) summary(ies) of record \(c.hex.prefix(16))… proven against their anchors; \(queued) not anchored yet")
            if let read, let bundle {
                guard let m = matched else { fail(LightClientError("anchor.output", "\(bundle) (SHA-256 \(read.hex.prefix(16))…) is not the output of any proven served summary")) }
                print("bundle    \(bundle) is what \(m.servedTo.value) read at \(m.time.iso8601), in \(m.language), translated with terminology \(m.terminology.hex)")
            }
        }
        if let record {
            let c = try Parse.hash(record, "--record")
            guard let v = try await prove(Sharing.recordKey(c).bytes, "record"), let r = try? RecordEntry(trustedCanonicalBytes: v) else {
                fail(LightClientError("light.absent", "record \(record) is proven absent at height \(client.head.height)"))
            }
            print("record    \(c.hex) proven: custodian \(r.custodian.value), \(r.category.name)\(r.erased ? ", erased" : "")")
            if let organization {
                guard let org = OrganizationID(organization) else { throw ValidationError("--organization: not an organisation id") }
                let shared = try await prove(Sharing.shareKey(c, org).bytes, "share")
                print("share     to \(organization) proven \(shared == nil ? "ABSENT" : "present") at height \(client.head.height)")
            }
        }
    }
}

/// Follows the audit log as a witness policy's quorum cosigns it: each new checkpoint's commit is
/// verified from genesis, its cosignatures against the policy, and its consistency with the last
/// one verified (kept in --state across runs); every entry about the organisation or patient asked
/// for that the new part of the log includes is printed with its index. A checkpoint that does not
/// extend the last one (a split view or a rewrite) stops the monitor with both signed checkpoints
/// as evidence (exit 3); a checkpoint without the quorum is waited for, and reported after --wait.
struct Monitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow the witnessed audit log from its last verified checkpoint and report new entries about an organisation or a patient.")
    @OptionGroup var key: KeyOptions
    @Option(help: "A witness policy (c2sp.org/tlog-policy).") var policy: String
    @Option(help: "The genesis spec you trust.") var genesis: String = "Genesis/demo.json"
    @Option(help: "Report entries about this organisation.") var organization: String?
    @Option(help: "Report entries about this patient (address).") var patient: String?
    @Option(help: "File keeping the last verified checkpoint (created if absent; written atomically after each step).") var state: String
    @Option(help: "Seconds between polls.") var interval: Int = 2
    @Option(help: "Seconds to wait for a checkpoint with the quorum before reporting it missing.") var wait: Int = 30
    @Flag(help: "One step: verify the newest witnessed checkpoint, report, save, exit.") var once = false

    func validate() throws {
        guard (organization == nil) != (patient == nil) else { throw ValidationError("give --organization or --patient") }
        guard interval >= 1, wait >= 1 else { throw ValidationError("--interval and --wait are at least 1 second") }
    }

    func run() async throws {
        let api = try key.client()
        let log = try WitnessedLog(policyFile: policy, genesisFile: genesis, api: api)
        let target: String
        if let patient { target = "patient=\(Address(try Parse.address(patient, "--patient")))" }
        else { guard let o = organization, OrganizationID(o) != nil else { throw ValidationError("--organization: not an organisation id") }; target = "organization=\(o)" }
        do {
            if let saved = FileManager.default.contents(atPath: state) {
                let note = try SignedNote(parsing: Array(saved))
                let resumed = try await log.verify(note)
                print("resumed   from the checkpoint of \(resumed.size) entries at block \(resumed.height) in \(state)")
            }
            while true {
                let before = log.last
                let checkpoint = try await log.witnessed(covering: before?.size ?? 0, height: before?.height ?? 0, wait: .seconds(wait))
                if before == nil || checkpoint.size > before!.size {
                    let old = before?.size ?? 0
                    print("log       checkpoint of \(checkpoint.size) entries at block \(checkpoint.height): commit verified from genesis, "
                          + (before.map { "consistent with the one of \($0.size) entries, " } ?? "")
                          + "cosigned by \(checkpoint.cosigners.joined(separator: ", ")) (quorum '\(log.policy.quorum)')")
                    var query = "/v1/audit?\(target)&limit=1000"
                    if let b = before { query += "&from=\(b.opened.header.time.iso8601)" }
                    var cursor: String? = ""
                    var reported = 0
                    while let c = cursor {
                        let page = try await api.get(query + (c.isEmpty ? "" : "&cursor=\(c)"), as: Page.self)
                        for e in page.entries where e.height <= checkpoint.height && e.height > (before?.height ?? 0) {
                            let index = try await log.proveServed(e, in: checkpoint)
                            guard index >= old else { continue }
                            reported += 1
                            print("entry     #\(index) \(e.time) \(e.organization) \(e.kind) \(e.purpose) \(e.category) \(e.decision.allowed ? "allowed" : "DENIED") "
                                  + "(\(e.decision.reason))\(e.breakGlass ? " BREAK-GLASS" : "") patient \(e.patient) entry \(e.sequence), block \(e.height), transaction \(e.transaction)")
                        }
                        cursor = page.next
                    }
                    print("log       \(reported) new entr\(reported == 1 ? "y" : "ies") about \(organization ?? patient!) in entries \(old)..<\(checkpoint.size), each proven included")
                    try Data(checkpoint.note.bytes).write(to: URL(fileURLWithPath: state), options: .atomic)
                }
                if once { return }
                try await Task.sleep(for: .seconds(interval))
            }
        } catch let e as WitnessedLogError {
            let split = e.code.hasPrefix("split_view")
            FileHandle.standardError.write(Data("\(split ? "SPLIT VIEW" : "MONITOR STOPPED"): \(e)\n".utf8))
            for note in e.evidence { FileHandle.standardError.write(Data("--- signed checkpoint (evidence)\n".utf8) + Data(note.bytes)) }
            Foundation.exit(split ? 3 : 2)
        } catch let e as NoteError {
            FileHandle.standardError.write(Data("MONITOR STOPPED: \(state): \(e)\n".utf8))
            Foundation.exit(2)
        }
    }
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
