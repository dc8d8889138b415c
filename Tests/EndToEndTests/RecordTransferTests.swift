import Foundation
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianTestSupport
import MeridianDemo
import MeridianRecords
import MeridianRecordMessages
import MeridianSummary

/// Maria's summary from Lisbon to Tokyo across real node processes (`meridian-localnet`: Hospital
/// Ribeira, the custodian, with two more validators, and the full node of Sakura General, Tokyo): fetched by the requesting hospital's node after the chain allows and audits it,
/// checked against its commitment and translated; refused to a hospital the consent does not
/// cover, which gets nothing but the denial; never openable by a node that is not the addressee;
/// and erased at the custodian and at every node it was shared with, by signed notices that are
/// acknowledged, while the audit trail still proves.
@Suite(.serialized, .timeLimit(.minutes(10))) struct RecordTransferTests {
    final class Network: @unchecked Sendable {
        // @unchecked: driven by one test task.
        let dir: TemporaryDirectory
        let layout: [String: String]
        let env: [String: String]
        /// The localnet's CA (its nodes serve HTTPS; the CLIs get it as MERIDIAN_CA).
        let ca: String
        /// Node slots for the localnet's four nodes (three validators and the full node).
        let slots: NodeSlots.Reservation
        init() async throws {
            slots = try await NodeSlots.shared.reserve(4)
            dir = try TemporaryDirectory("records")
            let net = dir.path("net")
            ca = net + "/ca.pem"
            env = ["MERIDIAN_PASSPHRASE": "test-passphrase-not-secret", "MERIDIAN_CA": ca]
            let i = try await run("meridian-localnet", ["init", "--dir", net, "--validators", "3", "--full-node", "sakura-general",
                                                  "--block-interval-ms", "200"], environment: env, in: dir)
            guard i.status == 0 else { throw HarnessError("localnet init: \(i)") }
            let s = try await run("meridian-localnet", ["start", "--dir", net], environment: env, in: dir)
            guard s.status == 0 else { throw HarnessError("localnet start: \(s)") }
            struct L: Decodable { let nodes: [N]; struct N: Decodable { let name: String; let apiPort: Int } }
            let l = try JSONDecoder().decode(L.self, from: Data(contentsOf: URL(fileURLWithPath: net + "/localnet.json")))
            layout = Dictionary(uniqueKeysWithValues: l.nodes.map { ($0.name, "https://127.0.0.1:\($0.apiPort)") })
        }
        func node(_ org: String) -> String { layout[org]! }
        func cli(_ name: String, _ args: [String]) async throws -> CommandResult { try await run(name, args, environment: env, in: dir) }
        /// The localnet's nodes are killed at the end whatever happened (a deinit cannot await
        /// `meridian-localnet stop`; its pids file names them).
        deinit {
            let pids = ((try? String(contentsOfFile: dir.path("net") + "/pids", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
            for pid in pids { kill(pid, SIGKILL) }
        }
    }

    /// Polls `check` until it holds, returning its value (bounded by the test's time limit).
    func eventually<T>(_ what: String, _ check: () async throws -> T?) async throws -> T {
        while true {
            if let v = try await check() { return v }
            try stillWaiting(what)
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test func aSummaryTravelsLisbonToTokyoIsRefusedToBangkokAndIsErasedEverywhere() async throws {
        let net = try await Network()
        let ribeira = net.node("hospital-ribeira"), sakura = net.node("sakura-general")
        let wallet = net.dir.path("maria.json")
        #expect(try await net.cli("meridian-wallet", ["restore", "--keystore", wallet, "--mnemonic", DemoCast.patientPhrase("maria").joined(separator: " ")]).status == 0)
        let maria = Address(DemoCast.patient("maria").publicKey).description
        let att = try await net.cli("meridian-provider", ["enrol", "--keystore", DemoKeys.keystore("hospital-ribeira/clinician"), "--node", ribeira, maria])
        let reg = try await net.cli("meridian-wallet", ["register", "--keystore", wallet, "--node", ribeira] + att.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(reg.status == 0, "\(reg)")
        let ips = net.dir.path("maria-ips.json")
        #expect(try await net.cli("meridian-demo", ["summary", "maria", "--key", maria, "--out", ips, "--terminology", "/nonexistent"]).status != 0,
                "a missing terminology file is refused")
        // The ward's monitor posts Maria's heart rate to Ribeira's workers; the summary carries the latest.
        let token = try String(contentsOfFile: net.dir.path("net/ward-feed.token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let observation = """
            {"resourceType":"Observation","id":"hr-1","status":"final",\
            "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],\
            "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/\(DemoCast.patient("maria").publicKey.hex)"},\
            "effectiveDateTime":"2026-11-24T10:15:00Z","valueQuantity":{"value":118,"system":"http://unitsofmeasure.org","code":"/min"}}
            """
        let (posted, _) = try await NodeClient(ribeira, ca: net.ca).exchange("POST", "/v1/vitals/fhir", body: Data(observation.utf8), contentType: "application/fhir+json",
                                                                           headers: ["Authorization": "Bearer \(token)"])
        #expect(posted == 200)
        // Without a terminology file the document names problems in English (the custodian's own export).
        // Maria's own vital signs, read as Maria (signed): nobody else is allowed them here.
        let demo = try await net.cli("meridian-demo", ["summary", "maria", "--key", maria, "--out", ips, "--vitals-from", ribeira, "--keystore", wallet,
                                                      "--terminology", try Self.emptyTerminology(net.dir)])
        #expect(demo.stdout.contains("1 vital signs"), "\(demo)")
        #expect(demo.status == 0, "\(demo)")
        let registered = try await net.cli("meridian-provider", ["register-record", "--keystore", DemoKeys.keystore("hospital-ribeira/clinician"), "--node", ribeira, "--patient", maria,
                                                            "--category", "summary", "--body", ips, "--json"])
        #expect(registered.status == 0, "\(registered)")
        let record = try #require(registered.stdout.split(separator: "\"").dropFirst(3).first.map(String.init).flatMap { Bytes32(hex: $0) })
        let grant = try await net.cli("meridian-wallet", ["consent", "grant", "--keystore", wallet, "--node", ribeira, "--to", "sakura-general",
                                                     "--categories", "summary", "--purpose", "TREAT,ETREAT", "--countries", "JP", "--until", "2027-12-31", "--emergency", "allow"])
        #expect(grant.status == 0, "\(grant)")

        // Tokyo: allowed, fetched from Ribeira's node, checked, translated, anchored.
        let fhir = net.dir.path("maria-ja.json")
        let tokyo = try await net.cli("meridian-provider", ["summary", maria, "--keystore", DemoKeys.keystore("sakura-general/clinician"), "--node", sakura, "--lang", "ja",
                                                       "--purpose", "ETREAT", "--fhir", fhir])
        #expect(tokyo.status == 0, "\(tokyo)")
        #expect(tokyo.stdout.contains("ALLOWED (allowed.consent) on adequacy-decision PT→JP"), "\(tokyo.stdout)")
        #expect(tokyo.stdout.contains("国際患者サマリー") && tokyo.stdout.contains("問題リスト") && tokyo.stdout.contains("(未翻訳)"), "\(tokyo.stdout)")
        #expect(tokyo.stdout.contains("バイタルサイン") && tokyo.stdout.contains("心拍数: 118 /min"), "the workers' vital signs, in Japanese: \(tokyo.stdout)")
        #expect(tokyo.stdout.contains("ja: 5/9 codes translated") && tokyo.stdout.contains("I10 (未翻訳)"), "no terminology: the catalogue's codes are translated, every ICD-10 name falls back, marked")
        let served = try Data(contentsOf: URL(fileURLWithPath: fhir))
        try await Self.validateWithFhirResources(served)
        let custodyAtSakura = try await http(try NodeClient(sakura, ca: net.ca).signed(by: demoOperator), "GET", "/v1/records/\(record.hex)/custody").1
        #expect(custodyAtSakura["held"] as? String == "copy" && custodyAtSakura["from"] as? String == "hospital-ribeira")
        // What was served is anchored: the leaf names the record, the language and the output's hash.
        let leaf = try await eventually("the served summary's anchor") { () -> [String: Any]? in
            let (_, body) = try await httpArray(try NodeClient(sakura, ca: net.ca).signed(by: demoOperator), "/v1/records/\(record.hex)/served")
            return body.first.flatMap { ($0["anchored"] as? Bool) == true ? $0 : nil }
        }
        #expect(leaf["output"] as? String == SHA256.hash([UInt8](served)).hex)
        #expect(leaf["language"] as? String == "ja" && leaf["servedTo"] as? String == "sakura-general")
        let root = try #require((leaf["root"] as? String).flatMap { Bytes32(hex: $0) })
        let anchor = try await http(try NodeClient(sakura, ca: net.ca).signed(by: demoOperator), "GET", "/v1/state/\(Hex.encode(Anchoring.rootKey(root).bytes))").1
        #expect(anchor["value"] is String, "the anchor of the served summaries is on chain")
        // The regulator's light client proves it from genesis and names the Bundle the clinician read.
        let proof = try await net.cli("meridian-audit", ["verify", "--node", sakura, "--genesis", "Genesis/demo.json", "--served", record.hex, "--bundle", fhir, "--keystore", DemoKeys.keystore("dpa-pt/officer")])
        #expect(proof.status == 0 && proof.stdout.contains("is what sakura-general read") && proof.stdout.contains("1 summary(ies)"), "\(proof)")
        let other = net.dir.path("not-served.json")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: other))
        #expect(try await net.cli("meridian-audit", ["verify", "--node", sakura, "--genesis", "Genesis/demo.json", "--served", record.hex, "--bundle", other, "--keystore", DemoKeys.keystore("dpa-pt/officer")]).status == 2)

        // The share addresses the record key to Sakura General's node alone.
        let shareState = try await http(try NodeClient(ribeira, ca: net.ca).signed(by: demoOperator), "GET", "/v1/state/\(Hex.encode(Sharing.shareKey(record, OrganizationID("sakura-general")!).bytes))").1
        let share = try ShareEntry(canonicalBytes: try #require((shareState["value"] as? String).flatMap { Hex.decode($0) }))
        #expect(try share.envelope.open(with: DemoCast.staff("sakura-general", "worker"), context: record.bytes) != .zero)
        #expect(throws: (any Error).self) { try share.envelope.open(with: DemoCast.staff("chao-phraya", "worker"), context: record.bytes) }
        #expect(throws: (any Error).self) { try share.envelope.open(with: DemoCast.staff("hospital-ribeira", "worker"), context: record.bytes) }

        // Bangkok: not covered, no transfer basis. The clinician gets the denial and nothing else.
        // Bangkok's clinician cannot even list Maria's records (no consent covers Chao Phraya)...
        let unlisted = try await net.cli("meridian-provider", ["summary", maria, "--keystore", DemoKeys.keystore("chao-phraya/clinician"), "--node", ribeira, "--lang", "en"])
        #expect(unlisted.status != 0 && unlisted.stderr.contains("access.forbidden") && !unlisted.stdout.contains(record.hex), "\(unlisted)")
        // ...and asking for the record by its commitment is decided on chain, denied and audited.
        let bangkok = try await net.cli("meridian-provider", ["summary", maria, "--keystore", DemoKeys.keystore("chao-phraya/clinician"), "--node", ribeira, "--lang", "en",
                                                         "--record", record.hex])
        #expect(bangkok.status == 3 && bangkok.stdout.contains("DENIED") && !bangkok.stdout.contains("Patient summary"), "\(bangkok)")
        // A node asking the custodian directly is answered with the chain's denial and nothing else.
        let now = Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
        let hostile = try TransferRequest(chainID: DemoCast.chainID, record: record, node: DemoCast.staff("chao-phraya", "worker"),
                                          requester: DemoCast.staff("chao-phraya", "clinician").publicKey, purpose: .treat, breakGlass: false, time: now)
        let chao = DemoCast.staff("chao-phraya", "worker")
        let (status, body) = try await Self.post(ribeira, "/v1/records/\(record.hex)/transfer", hostile.canonicalBytes, ca: net.ca, as: chao)
        #expect(status == 403, "\(status)")
        #expect(String(decoding: body, as: UTF8.self).contains("\"code\":\"records.denied\""))
        #expect((try? TransferPayload(canonicalBytes: [UInt8](body))) == nil)
        // A request signed by a key that is no registered node is refused before the chain is asked;
        // an unsigned one, or one whose message another node signed, too.
        let strangerKey = try PrivateKey.generate()
        let stranger = try TransferRequest(chainID: DemoCast.chainID, record: record, node: strangerKey,
                                           requester: DemoCast.staff("sakura-general", "clinician").publicKey, purpose: .treat, breakGlass: false, time: now)
        #expect(try await Self.post(ribeira, "/v1/records/\(record.hex)/transfer", stranger.canonicalBytes, ca: net.ca, as: strangerKey).0 == 403)
        #expect(try await Self.post(ribeira, "/v1/records/\(record.hex)/transfer", hostile.canonicalBytes, ca: net.ca).0 == 401, "unsigned")
        #expect(try await Self.post(ribeira, "/v1/records/\(record.hex)/transfer", hostile.canonicalBytes, ca: net.ca, as: DemoCast.staff("sakura-general", "worker")).0 == 403,
                "a message of Chao Phraya's node sent by Sakura General's")
        #expect(try await Self.post(ribeira, "/v1/records/\(record.hex)/transfer", [1, 2, 3], ca: net.ca, as: chao).0 == 400)

        // Maria erases it: Ribeira's and Sakura General's nodes delete body and keys; Sakura General's
        // node acknowledges the custodian's signed notice.
        let erase = try await net.cli("meridian-wallet", ["records", "erase", "--keystore", wallet, "--node", ribeira, record.hex])
        #expect(erase.status == 0, "\(erase)")
        let acks = try await eventually("the erasure acknowledgement") { () -> [[String: Any]]? in
            let c = try await http(try NodeClient(ribeira, ca: net.ca).signed(by: demoOperator), "GET", "/v1/records/\(record.hex)/custody").1
            guard c["held"] as? String == "erased", let a = c["acknowledgements"] as? [[String: Any]], !a.isEmpty else { return nil }
            return a
        }
        #expect(acks.map { $0["organization"] as? String } == ["sakura-general"])
        #expect(acks.first?["node"] as? String == Address(DemoCast.staff("sakura-general", "worker").publicKey).description)
        #expect(try await http(try NodeClient(sakura, ca: net.ca).signed(by: demoOperator), "GET", "/v1/records/\(record.hex)/custody").1["held"] as? String == "erased")
        // A later access finds "erased", and it is audited.
        let later = try await net.cli("meridian-provider", ["summary", maria, "--keystore", DemoKeys.keystore("sakura-general/clinician"), "--node", sakura, "--lang", "ja", "--record", record.hex])
        #expect(later.status == 3 && later.stdout.contains("denied.record_erased"), "\(later)")
        // Every proof stays valid: the erasure entry itself proves against a verified header.
        let trail = try await net.cli("meridian-audit", ["trail", "--node", ribeira, "--patient", maria, "--format", "json", "--keystore", DemoKeys.keystore("dpa-pt/officer")])
        #expect(trail.status == 0, "\(trail)")
        let entries = (try? JSONSerialization.jsonObject(with: Data(trail.stdout.utf8))) as? [[String: Any]] ?? []
        let kinds = entries.map { $0["kind"] as? String ?? "" }
        // The API reads of the clinicians and the regulator are on the trail too (api-read, recorded
        // through the disclosure log, so their place among the others depends on the blocks).
        #expect(kinds.filter { $0 != "api-read" } == ["record-registration", "access-request", "disclosure", "access-request", "disclosure", "erasure", "access-request"], "\(kinds)")
        #expect(entries.contains { $0["kind"] as? String == "api-read" && $0["organization"] as? String == "sakura-general" }, "\(kinds)")
        let erasure = try #require(entries.first { $0["kind"] as? String == "erasure" }?["sequence"] as? Int)
        let verify = try await net.cli("meridian-audit", ["verify", "--node", ribeira, "--genesis", "Genesis/demo.json", "--patient", maria, "--sequence", String(erasure), "--record", record.hex, "--keystore", DemoKeys.keystore("dpa-pt/officer")])
        #expect(verify.status == 0, "\(verify)")

        // The custodian erases a record of its own: its node deletes the body.
        let second = try await net.cli("meridian-provider", ["register-record", "--keystore", DemoKeys.keystore("hospital-ribeira/clinician"), "--node", ribeira, "--patient", maria,
                                                        "--category", "problems", "--body", ips, "--json"])
        let secondRecord = try #require(second.stdout.split(separator: "\"").dropFirst(3).first.map(String.init))
        #expect(try await net.cli("meridian-provider", ["erase-record", "--keystore", DemoKeys.keystore("klinikum-spree/clinician"), "--node", ribeira, "--record", secondRecord]).status != 0,
                "only the custodian's providers (or the patient) may erase")
        let erased = try await net.cli("meridian-provider", ["erase-record", "--keystore", DemoKeys.keystore("hospital-ribeira/clinician"), "--node", ribeira, "--record", secondRecord])
        #expect(erased.status == 0, "\(erased)")
        _ = try await eventually("the custodian's own erasure") { () -> Bool? in
            try await http(try NodeClient(ribeira, ca: net.ca).signed(by: demoOperator), "GET", "/v1/records/\(secondRecord)/custody").1["held"] as? String == "erased" ? true : nil
        }

    }

    /// A terminology file with no translations (so the test needs no GPL package).
    static func emptyTerminology(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.path("empty.mterm")
        try Data(Terminology(system: "http://hl7.org/fhir/sid/icd-10", languages: [], entries: []).canonicalBytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A node-to-node POST, signed as `signer` (a node's worker key) when one is given.
    static func post(_ base: String, _ path: String, _ body: [UInt8], ca: String?, as signer: PrivateKey? = nil) async throws -> (Int, Data) {
        let client = try NodeClient(base, ca: ca)
        var headers: [String: String] = [:]
        if let signer { headers = try await client.signed(by: signer).signatureHeaders("POST", path, body: Data(body)) }
        let (status, data) = try await client.exchange("POST", path, body: Data(body), contentType: RecordMessages.contentType, headers: headers)
        return (status, data)
    }

    /// The served Bundle is valid FHIR R4B as `fhir.resources` reads it.
    static func validateWithFhirResources(_ bundle: Data) async throws {
        let r = try await ChildProcess.run("python3", ["-c", """
            import sys
            from fhir.resources.R4B.bundle import Bundle
            raw = sys.stdin.read()
            b = Bundle.model_validate_json(raw) if hasattr(Bundle, 'model_validate_json') else Bundle.parse_raw(raw)
            print(b.type, b.entry[0].resource.language, len(b.entry))
            """], input: [UInt8](bundle))
        let text = r.stdout + r.stderr
        guard r.status == 0, text.hasPrefix("document ja ") else { throw HarnessError("fhir.resources refused the served Bundle: \(text)") }
    }
}

func httpArray(_ client: NodeClient, _ path: String) async throws -> (Int, [[String: Any]]) {
    let (status, data) = try await client.exchange("GET", path, headers: try await client.signatureHeaders("GET", path, body: nil))
    return (status, (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? [])
}
