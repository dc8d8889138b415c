import Foundation
import MeridianTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianRecords
import MeridianRecordMessages
import MeridianDemo

/// The seeded generator of the simulator (SplitMix64), so that a failing run replays with `MERIDIAN_SEED`.
typealias SeededGenerator = SeededRandom

extension SeededRandom {
    static func fromEnvironment() -> (SeededRandom, UInt64) {
        let seed = ProcessInfo.processInfo.environment["MERIDIAN_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        return (SeededRandom(seed: seed), seed)
    }
}

/// Raw HTTP to a node: status and body, whatever the status.
/// Signed when the client has a signer (`client.signed(by:)`).
func http(_ client: NodeClient, _ method: String, _ path: String, body: Data? = nil, contentType: String? = nil) async throws -> (Int, [String: Any]) {
    let (status, data) = try await client.exchange(method, path, body: body, contentType: contentType ?? "application/json",
                                                   headers: try await client.signatureHeaders(method, path, body: body))
    return (status, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
}

/// A hospital operator of the demo network (Hospital Ribeira's admin): network data (blocks, every
/// transaction's status, custody) is read as an operator.
let demoOperator = DemoCast.staff("hospital-ribeira", "admin")

/// Polls until every transaction is committed (bounded by the test's time limit); read as the
/// client's signer, else as the demo operator.
func waitCommitted(_ client: NodeClient, _ hashes: [String]) async throws {
    let client = client.signer == nil ? client.signed(by: demoOperator) : client
    var pending = Set(hashes)
    while !pending.isEmpty {
        try stillWaiting("not committed: \(pending.sorted())")
        for h in pending where try await http(client, "GET", "/v1/transactions/\(h)").1["status"] as? String == "committed" { pending.remove(h) }
        if !pending.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
    }
}

func errorCode(_ object: [String: Any]) -> String? { (object["error"] as? [String: Any])?["code"] as? String }

/// Signs a transaction for the demo chain.
func signed(_ key: PrivateKey, _ call: Call, nonce: UInt64, chainID: String = DemoCast.chainID) throws -> SignedTransaction {
    try SignedTransaction(signing: Transaction(chainID: chainID, signer: key.publicKey, nonce: nonce, call: call), with: key)
}

/// A fresh patient's registration, attested by a demo clinician (a transaction any load can make).
func registration(of patient: PrivateKey) throws -> SignedTransaction {
    let clinician = DemoCast.staff("hospital-ribeira", "clinician")
    let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: patient.publicKey))
    return try signed(patient, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)), nonce: 0)
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct NodeProcessTests {
    /// The failure policy for the signing guard: when its file cannot be written, the validator
    /// stops before the vote it was about to sign leaves it, naming the file and the operation;
    /// with the file writable again it restarts from what is durable.
    @Test func aValidatorWhoseGuardCannotBeWrittenStopsBeforeSigning() async throws {
        let port = try freeLoopbackPorts(1)[0]
        let node = try await NodeProcess("guard-fault", initArguments: DemoKeys.validator("hospital-ribeira") + ["--p2p-port", String(port)])
        // Alone of four validators it never decides, but it signs its first vote within a round.
        let config = node.dataDir + "/node.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        json["consensus"] = ["proposeMilliseconds": 200, "proposeDeltaMilliseconds": 50, "prevoteMilliseconds": 200,
                             "prevoteDeltaMilliseconds": 50, "precommitMilliseconds": 200, "precommitDeltaMilliseconds": 50]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
        // The guard writes a temporary file and renames it over its record: a directory in the
        // temporary file's place makes every write fail, from the first signature on.
        let guardFile = node.dataDir + "/signing-guard.json"
        try FileManager.default.createDirectory(atPath: guardFile + ".tmp", withIntermediateDirectories: false)
        // It may stop before its API first answers (start then reports the exit) or after.
        do { try await node.start() } catch let e as HarnessError where e.description.contains("exited") {}
        let status = await node.waitForExit()
        #expect(status != 0, "the node went on after its guard failed")
        #expect(node.logText.contains("guard.write") && node.logText.contains("signing-guard.json"), "\(node.logText)")
        #expect(!FileManager.default.fileExists(atPath: guardFile), "a signature was recorded")
        try FileManager.default.removeItem(atPath: guardFile + ".tmp")
        try await node.start()
        defer { node.terminate() }
        #expect(try await http(try node.api(), "GET", "/v1/status").0 == 200)
    }

    /// What an operator does to a running node: ask whether it is ready (`meridian-node ready`),
    /// change its log level with the CLI (an operator of its organisation; another hospital's is
    /// refused) and with node.json plus SIGHUP, and let Prometheus scrape it with a bearer token.
    @Test func anOperatorReadsReadinessAndChangesTheLogLevelWhileTheNodeRuns() async throws {
        let token = "scrape-\(UUID().uuidString)"
        let node = try await NodeProcess("operations", initArguments: try DemoKeys.allValidators() + ["--metrics-token-sha256", SHA256.hash(Array(token.utf8)).hex])
        try await node.start()   // at --log-level warning
        defer { node.terminate() }
        let url = try node.api().base.absoluteString
        let ready = try await run("meridian-node", ["ready", "--node", url], in: node.dir)
        #expect(ready.status == 0 && ready.stdout.contains("storage    ok") && ready.stdout.contains("disk       ok") && ready.stdout.contains("node       ready"), "\(ready)")
        let env = ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase]
        let operatorKey = ["--node", url, "--keystore", try DemoKeys.keystore("hospital-ribeira/admin")]
        let shown = try await run("meridian-node", ["log-level"] + operatorKey, environment: env, in: node.dir)
        #expect(shown.status == 0 && shown.stdout.contains("log level warning"), "\(shown)")
        let changed = try await run("meridian-node", ["log-level", "notice"] + operatorKey, environment: env, in: node.dir)
        #expect(changed.status == 0 && changed.stdout.contains("log level notice (was warning)"), "\(changed)")
        // Logged at notice after the change: at warning it would not show.
        let log = try String(contentsOfFile: node.dir.path("node.log"), encoding: .utf8)
        #expect(log.contains("log level changed") && log.contains("operator="), "\(node.logText)")
        let refused = try await run("meridian-node", ["log-level", "trace", "--node", url, "--keystore", try DemoKeys.keystore("klinikum-spree/admin")], environment: env, in: node.dir)
        #expect(refused.status != 0 && refused.stderr.contains("access.forbidden"), "\(refused)")
        let bad = try await run("meridian-node", ["log-level", "loud"] + operatorKey, environment: env, in: node.dir)
        #expect(bad.status != 0 && bad.stderr.contains("not a level"), "\(bad)")
        // node.json's level, re-read on SIGHUP.
        let config = node.dataDir + "/node.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        json["logLevel"] = "error"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
        node.send(SIGHUP)
        while true {
            try stillWaiting("the node to re-read node.json's log level after SIGHUP: \(node.logText)")
            if try await http(try node.api(), "GET", "/v1/node/log-level").1["level"] as? String == "error" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Prometheus's bearer token; any other is refused.
        let scrape = try await node.api().exchange("GET", "/metrics", headers: ["Authorization": "Bearer \(token)"])
        let text = String(decoding: scrape.body, as: UTF8.self)
        #expect(scrape.status == 200 && text.contains("meridian_ready 1") && text.contains("meridian_data_dir_free_bytes"), "\(scrape.status) \(text.prefix(300))")
        #expect(try await node.api().exchange("GET", "/metrics", headers: ["Authorization": "Bearer \(token)-not"]).status == 401)
    }

    /// A running node prunes itself (`pruning` in node.json): old state versions answer 410 while a
    /// light client still verifies every header from genesis; stopped, `meridian-node prune` prunes
    /// what became old since and compacts.
    @Test func aRunningNodePrunesItselfAndTheLightClientStillVerifies() async throws {
        let node = try await NodeProcess("pruning")
        let config = node.dataDir + "/node.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        json["emptyBlocks"] = true
        json["pruning"] = ["keepRecentHeights": 3, "intervalSeconds": 1]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
        try await node.start(blockIntervalMilliseconds: 50)
        defer { node.terminate() }
        let key = Hex.encode(Array("chain/id".utf8))
        while true {
            try stillWaiting("the node to prune state version 1: \(node.logText)")
            let (status, body) = try await http(try node.api(), "GET", "/v1/state/\(key)?height=1")
            if status == 410 { #expect(errorCode(body) == "state.pruned"); break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let verified = try await run("meridian-audit", ["verify", "--node", try node.api().base.absoluteString, "--keystore", DemoKeys.keystore("dpa-pt/officer")],
                                     environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], in: node.dir)
        #expect(verified.status == 0 && verified.stdout.contains("verified"), "\(verified)")
        #expect(await node.stop() == 0)
        let pruned = try await run("meridian-node", ["prune", "--data-dir", node.dataDir, "--keep-recent", "2"], in: node.dir)
        #expect(pruned.status == 0 && pruned.stdout.contains("state kept from height") && pruned.stdout.contains("MiB after compaction"), "\(pruned)")
    }

    /// Once the node holds a sealed record body, a missing `keys/records.json` stops it at start
    /// with a message naming the file (a new key would silently make every body unreadable); with
    /// the keystore restored it starts and serves the body's custody again.
    @Test func aMissingRecordsKeyIsRefusedNeverRegenerated() async throws {
        let node = try await NodeProcess("records-key")
        try await node.start()
        let api = try node.api().signed(by: demoOperator)
        let body = Array("{\"resourceType\":\"Bundle\",\"type\":\"document\"}".utf8)
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let stored = try await api.signed(by: clinician).request("POST", "/v1/records", body: Data(body))
        let commitment = try #require((try JSONSerialization.jsonObject(with: stored) as? [String: Any])?["commitment"] as? String)
        #expect(await node.stop() == 0)
        let keystore = node.dataDir + "/keys/records.json", aside = node.dir.path("records.json.backup")
        try FileManager.default.moveItem(atPath: keystore, toPath: aside)
        await #expect(throws: HarnessError.self) { try await node.start() }
        #expect(node.logText.contains("restore this keystore"), "\(node.logText)")
        #expect(!FileManager.default.fileExists(atPath: keystore), "the node created a new records key")
        try FileManager.default.moveItem(atPath: aside, toPath: keystore)
        try await node.start()
        defer { node.terminate() }
        let (status, _) = try await http(try node.api().signed(by: demoOperator), "GET", "/v1/records/\(commitment)/custody")
        #expect(status != 500 && status != 0, "custody after the restore: \(status)")
    }

    /// Hostile input to the real process: each is refused with a 4xx and a stable code, and the node
    /// keeps serving (and committing) afterwards.
    @Test func badInputGets4xxNeverACrash() async throws {
        let node = try await NodeProcess("bad-input")
        try await node.start()
        defer { node.terminate() }
        let api = try node.api().signed(by: demoOperator)
        let octet = "application/octet-stream"
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let call = Call.registerRecord(.init(commitment: SHA256.hash([1]), patient: DemoCast.patient("maria").publicKey, category: .problems))

        var (status, body) = try await http(api, "POST", "/v1/transactions", body: Data([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]), contentType: octet)
        #expect(status == 400 && errorCode(body) != nil, "garbage bytes: \(status) \(body)")

        (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(try signed(clinician, call, nonce: 0, chainID: "other-chain").canonicalBytes), contentType: octet)
        #expect(status == 400 && errorCode(body) == "tx.wrong_chain", "wrong chain: \(status) \(body)")

        let good = try signed(clinician, call, nonce: 0)
        var forged = good.canonicalBytes
        forged[forged.count - 1] ^= 0x01   // the signature is the last field
        (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(forged), contentType: octet)
        #expect(status == 400 && errorCode(body) == "tx.bad_signature", "forged signature: \(status) \(body)")

        let stranger = try PrivateKey.generate()
        (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(try signed(stranger, call, nonce: 0).canonicalBytes), contentType: octet)
        #expect(status == 400 && errorCode(body) == "tx.unregistered_signer", "unregistered sender: \(status) \(body)")

        (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(good.canonicalBytes), contentType: octet)
        #expect(status == 202, "a good transaction is admitted: \(status) \(body)")
        let hash = try #require(body["hash"] as? String)
        try await waitCommitted(api, [hash])
        (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(good.canonicalBytes), contentType: octet)
        #expect(status == 400 && errorCode(body) == "tx.replayed_nonce", "replayed nonce: \(status) \(body)")

        (status, body) = try await http(api, "POST", "/v1/transactions", body: Data("{\"transaction\": ".utf8), contentType: "application/json")
        #expect(status == 400 && errorCode(body) == "json.invalid", "malformed JSON: \(status) \(body)")
        (status, body) = try await http(api.signed(by: clinician), "POST", "/v1/authorize", body: Data("[1,2,3]".utf8), contentType: "application/json")
        #expect(status == 400 && errorCode(body) == "json.invalid", "malformed JSON: \(status) \(body)")

        (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(count: (1 << 20) + 10), contentType: octet)
        #expect(status == 413, "oversize body: \(status) \(body)")

        (status, body) = try await http(api, "GET", "/v1/no/such/route")
        #expect(status == 404 && errorCode(body) == "not_found", "unknown route: \(status) \(body)")
        (status, body) = try await http(api, "DELETE", "/v1/status")
        #expect((400..<500).contains(status), "wrong method: \(status) \(body)")

        // Still alive, still committing.
        let after = try await http(api, "GET", "/v1/status")
        #expect(after.0 == 200 && (after.1["height"] as? Int ?? 0) >= 1)
    }

    /// kill -9 at random moments under load, 20 times: after each restart the head, block hashes and
    /// state roots match what was committed before, no committed transaction is lost, and the node
    /// commits new transactions. The kill moment is the k-th admitted transaction (k random, seeded).
    @Test func killNineUnderLoadLosesNothingCommitted() async throws {
        var (rng, seed) = SeededGenerator.fromEnvironment()
        print("killNineUnderLoadLosesNothingCommitted: MERIDIAN_SEED=\(seed)")
        let node = try await NodeProcess("kill9")
        var committedBlocks: [Int: (hash: String, stateRoot: String)] = [:]
        var committedTransactions: [String: Int] = [:]
        let cycles = 20
        for cycle in 0..<cycles {
            try await node.start(blockIntervalMilliseconds: 20)
            let api = try node.api().signed(by: demoOperator)

            // Everything committed before the last kill is still there, unchanged.
            let status = try await http(api, "GET", "/v1/status").1
            let head = status["height"] as? Int ?? -1
            #expect(head >= (committedBlocks.keys.max() ?? 0), "cycle \(cycle) seed \(seed): head \(head) is behind what was committed")
            for (height, seen) in committedBlocks {
                let header = try await http(api, "GET", "/v1/blocks/\(height)").1["header"] as? [String: Any] ?? [:]
                #expect(header["hash"] as? String == seen.hash && header["stateRoot"] as? String == seen.stateRoot,
                        "cycle \(cycle) seed \(seed): block \(height) changed after kill -9")
            }
            for (tx, height) in committedTransactions {
                let view = try await http(api, "GET", "/v1/transactions/\(tx)").1
                #expect(view["status"] as? String == "committed" && view["height"] as? Int == height,
                        "cycle \(cycle) seed \(seed): committed transaction \(tx) lost or moved: \(view)")
            }

            // Load: fresh patients register; kill at the k-th admission.
            let killAt = Int.random(in: 5...120, using: &rng)
            var admitted: [String] = []
            while admitted.count < killAt {
                let stx = try registration(of: try PrivateKey.generate())
                let (code, body) = try await http(api, "POST", "/v1/transactions", body: Data(stx.canonicalBytes), contentType: "application/octet-stream")
                #expect(code == 202, "cycle \(cycle): \(code) \(body)")
                if let h = body["hash"] as? String { admitted.append(h) }
            }
            // What the node says is committed right before the kill is what must survive it.
            for h in admitted {
                let view = try await http(api, "GET", "/v1/transactions/\(h)").1
                if view["status"] as? String == "committed", let height = view["height"] as? Int { committedTransactions[h] = height }
            }
            let tip = try await http(api, "GET", "/v1/status").1["height"] as? Int ?? 0
            for height in Swift.max(1, tip - 5)...Swift.max(1, tip) where tip >= 1 {
                let header = try await http(api, "GET", "/v1/blocks/\(height)").1["header"] as? [String: Any] ?? [:]
                if let h = header["hash"] as? String, let r = header["stateRoot"] as? String { committedBlocks[height] = (h, r) }
            }
            await node.kill9()
        }
        // After the last kill: the node carries on and commits new work.
        try await node.start(blockIntervalMilliseconds: 20)
        defer { node.terminate() }
        let api = try node.api().signed(by: demoOperator)
        let stx = try registration(of: try PrivateKey.generate())
        let (code, body) = try await http(api, "POST", "/v1/transactions", body: Data(stx.canonicalBytes), contentType: "application/octet-stream")
        #expect(code == 202)
        let hash = try #require(body["hash"] as? String)
        try await waitCommitted(api, [hash])   // the node carries on after the kills
        #expect(committedTransactions.count > 0 && committedBlocks.count > 0)
        print("killNineUnderLoadLosesNothingCommitted: \(cycles) kills, \(committedBlocks.count) blocks and \(committedTransactions.count) transactions checked across restarts")
    }
}
