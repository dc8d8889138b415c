import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import NIOCore
import NIOPosix
import MeridianCore
import MeridianTransparency
import MeridianLightClient
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianTestSupport
import MeridianDemo
import MeridianP2P
import MeridianConsensus
import MeridianConsensusDriver

/// A network of real `meridian-node` validator processes on loopback, each with its own data
/// directory and OS-chosen ports.
final class Localnet: @unchecked Sendable {
    // @unchecked: driven by one test task.
    static let hospitals = ["hospital-ribeira", "klinikum-spree", "hopital-rhone", "clinique-leman"]
    var nodes: [NodeProcess] = []
    var p2pPorts: [Int] = []
    /// With `proxied`, every link i→j goes through `proxies[i][j]`, which a test can cut.
    var proxies: [[FaultProxy?]] = []
    /// The suite's node slots for all four nodes, reserved at once.
    let slots: NodeSlots.Reservation

    /// `signerSockets`: nodes whose validator key is in a `meridian-signer` at that socket (their
    /// data directories then hold no validator keystore; the test runs the signer).
    init(label: String, proxied: Bool = false, signerSockets: [Int: String] = [:]) async throws {
        slots = try await NodeSlots.shared.reserve(4)
        p2pPorts = try freeLoopbackPorts(4)
        for i in 0..<4 {
            var row: [FaultProxy?] = []
            for j in 0..<4 { row.append(proxied && i != j ? try await FaultProxy(target: p2pPorts[j]) : nil) }
            proxies.append(row)
        }
        for (i, hospital) in Self.hospitals.enumerated() {
            let peers = p2pPorts.indices.filter { $0 != i }.flatMap { j in ["--peer", "127.0.0.1:\(proxies[i][j]?.port ?? p2pPorts[j])"] }
            let keys = try signerSockets[i].map { socket in
                ["--signer-socket", socket, "--signer-validator", DemoCast.staff(hospital, "validator").publicKey.hex,
                 "--worker-keystore", try DemoKeys.keystore("\(hospital)/worker")]
            } ?? DemoKeys.validator(hospital)
            let node = try await NodeProcess("\(label)-\(i)", initArguments: keys + ["--p2p-port", String(p2pPorts[i]), "--block-interval-ms", "200"] + peers,
                                             ownerHoldsSlot: true)
            // Short round timeouts for tests.
            let config = node.dataDir + "/node.json"
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
            json["consensus"] = ["proposeMilliseconds": 1000, "proposeDeltaMilliseconds": 200, "prevoteMilliseconds": 300,
                                 "prevoteDeltaMilliseconds": 100, "precommitMilliseconds": 300, "precommitDeltaMilliseconds": 100]
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
            nodes.append(node)
        }
    }

    func start(environment: [String: String] = [:]) async throws {
        for n in nodes { try await n.start(blockIntervalMilliseconds: 200, environment: environment) }
    }

    func consensusStatus(_ i: Int) async throws -> [String: Any] {
        try await http(try nodes[i].api(), "GET", "/v1/status").1["consensus"] as? [String: Any] ?? [:]
    }

    /// Cuts every link between `side` and the rest (both directions), or heals all links.
    func partition(_ side: Set<Int>) {
        for i in 0..<4 { for j in 0..<4 { proxies[i][j]?.setCut(side.contains(i) != side.contains(j)) } }
    }

    deinit { for row in proxies { for p in row { p?.close() } } }

    func height(_ i: Int) async throws -> Int {
        (try await http(try nodes[i].api(), "GET", "/v1/status").1["height"] as? Int) ?? -1
    }

    /// Waits until every running node listed reached `target`.
    func waitHeight(_ target: Int, nodes indices: [Int]) async throws {
        while true {
            var heights: [Int] = []
            for i in indices { heights.append(try await height(i)) }
            if heights.allSatisfy({ $0 >= target }) { return }
            try stillWaiting("heights \(heights) did not reach \(target)")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Every node listed holds the same block hash and state root at every height up to `upTo`.
    func checkAgreement(upTo: Int, nodes indices: [Int]) async throws {
        for h in 1...upTo {
            var seen: Set<String> = []
            for i in indices {
                let header = try await http(try nodes[i].api(), "GET", "/v1/blocks/\(h)").1["header"] as? [String: Any] ?? [:]
                seen.insert("\(header["hash"] ?? "missing") \(header["stateRoot"] ?? "missing")")
            }
            #expect(seen.count == 1, "height \(h): nodes disagree: \(seen)")
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct LocalnetTests {
    /// Four validators finalise blocks under load; one is killed (the chain continues with 3 of 4)
    /// and restarted (it recovers from its WAL and catches up); all agree on every block and state
    /// root, and every transaction acknowledged as committed is in every node's chain.
    @Test func fourValidatorsAgreeSurviveAKilledValidatorAndCatchUp() async throws {
        let net = try await Localnet(label: "localnet")
        try await net.start()
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(3, nodes: [0, 1, 2, 3])

        // Load through two different nodes (gossip carries the transactions to the proposers).
        var committed: [String] = []
        for round in 0..<3 {
            var hashes: [String] = []
            for k in 0..<20 {
                let stx = try registration(of: try PrivateKey.generate())
                let (code, body) = try await http(try net.nodes[(round + k) % 2].api(), "POST", "/v1/transactions", body: Data(stx.canonicalBytes),
                                                  contentType: "application/octet-stream")
                #expect(code == 202, "\(body)")
                if let h = body["hash"] as? String { hashes.append(h) }
            }
            try await waitCommitted(try net.nodes[3].api(), hashes)
            committed += hashes
            if round == 0 { await net.nodes[2].kill9() }   // one validator down: 3 of 4 are a quorum
        }
        let before = try await net.height(0)
        try await net.waitHeight(before + 3, nodes: [0, 1, 3])
        try await net.nodes[2].start(blockIntervalMilliseconds: 200)
        let target = try await net.height(0) + 2
        try await net.waitHeight(target, nodes: [0, 1, 2, 3])
        try await net.checkAgreement(upTo: target, nodes: [0, 1, 2, 3])
        for i in 0..<4 {
            for h in committed {
                let view = try await http(try net.nodes[i].api(), "GET", "/v1/transactions/\(h)").1
                #expect(view["status"] as? String == "committed", "node \(i) lacks committed transaction \(h)")
            }
        }
        // The light client verifies the consensus certificates from genesis against any one validator.
        let dir = try TemporaryDirectory("localnet-verify")
        let verified = try await run("meridian-audit", ["verify", "--node", try net.nodes[1].api().base.absoluteString, "--keystore", DemoKeys.keystore("dpa-pt/officer")], environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], in: dir)
        #expect(verified.status == 0 && verified.stdout.contains("verified"), "\(verified)")
        // With a witness policy (two of the four DPAs) and no witness cosigning yet, the log's
        // checkpoint is refused, naming what it lacks.
        let dpas = try ["pt", "de", "fr", "ch"].map { try Cosigner.generate(name: "dpa.\($0).example/witness").0.key.encoded }
        let policyFile = dir.path("witnesses.policy")
        try Data("witness PT \(dpas[0])\nwitness DE \(dpas[1])\nwitness FR \(dpas[2])\nwitness CH \(dpas[3])\ngroup DPAs 2 PT DE FR CH\nquorum DPAs\n".utf8)
            .write(to: URL(fileURLWithPath: policyFile))
        let unwitnessed = try await run("meridian-audit", ["verify", "--node", try net.nodes[1].api().base.absoluteString, "--policy", policyFile, "--wait", "1",
                                                           "--keystore", DemoKeys.keystore("dpa-pt/officer")], environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], in: dir)
        #expect(unwitnessed.status == 2 && unwitnessed.stderr.contains("policy.no_quorum") && unwitnessed.stderr.contains("2 of 4 in DPAs (have 0)"), "\(unwitnessed)")
        // Consensus metrics for Prometheus.
        let metricsText = String(decoding: try await net.nodes[0].api().request("GET", "/metrics"), as: UTF8.self)   // as an operator
        for series in ["meridian_consensus_round", "meridian_consensus_step", "meridian_p2p_peers 3", "meridian_consensus_rounds_per_height",
                       "meridian_consensus_step_seconds{step=\"prevote\"}", "meridian_consensus_missed_precommits{validator=", "meridian_consensus_evidence"] {
            #expect(metricsText.contains(series), "metrics lack \(series)")
        }
        // Every series the deployed alert rules and dashboard name is one a validator serves.
        for name in try DeployedMonitoring.metricNames().sorted() {
            #expect(metricsText.contains("\n\(name){") || metricsText.contains("\n\(name) "), "Tools/Deploy names \(name), which the node does not serve")
        }
        // Ready: storage, chain, three peers of four validators, caught up, workers, disk.
        let (readyStatus, readyData) = try await net.nodes[0].api().exchange("GET", "/readyz")
        let ready = try JSONSerialization.jsonObject(with: readyData) as? [String: Any] ?? [:]
        #expect(readyStatus == 200 && ready["status"] as? String == "ready", "\(String(decoding: readyData, as: UTF8.self))")
        #expect(((ready["checks"] as? [[String: Any]]) ?? []).compactMap { $0["component"] as? String } == ["storage", "chain", "workers", "peers", "sync", "disk"])
        let status = try await http(try net.nodes[2].api(), "GET", "/v1/status").1
        #expect(status["mode"] as? String == "consensus")
        #expect((status["consensus"] as? [String: Any])?["peers"] as? Int == 3)
    }

    /// The failure policy in consensus: a validator whose database fails a synced write (injected
    /// at the RocksDB layer) stops with a message naming the database and the operation instead of
    /// voting on; restarted on the same files it resumes from its last durable block, catches up
    /// and agrees with the others on every block and state root, and was never caught signing two
    /// votes for one step (no equivocation evidence names it).
    @Test func aValidatorWhoseDatabaseFailsAWriteStopsAndRejoins() async throws {
        let net = try await Localnet(label: "storage-fault")
        for i in [0, 1, 3] { try await net.nodes[i].start(blockIntervalMilliseconds: 200) }
        defer { for n in net.nodes { n.terminate() } }
        // Write 1 is at start; the fault hits a block commit a few heights in.
        let failAt = Int.random(in: 4...8)
        do { try await net.nodes[2].start(blockIntervalMilliseconds: 200, environment: ["MERIDIAN_INJECT_STORAGE_FAULT": "sync:\(failAt)"]) }
        catch let e as HarnessError where e.description.contains("exited") {}
        let status = await net.nodes[2].waitForExit()
        let log = net.nodes[2].logText
        #expect(status != 0, "the validator went on after its database failed")
        #expect(log.contains("rocksdb.write.sync") && log.contains(net.nodes[2].dataDir + "/") && log.contains("injected"),
                "the stop message must name the operation and the database: \(log)")
        try await net.nodes[2].start(blockIntervalMilliseconds: 200)
        let target = try await net.height(0) + 3
        try await net.waitHeight(target, nodes: [0, 1, 2, 3])
        try await net.checkAgreement(upTo: target, nodes: [0, 1, 2, 3])
        for i in 0..<4 {
            let consensus = try await http(try net.nodes[i].api(), "GET", "/v1/status").1["consensus"] as? [String: Any]
            #expect(consensus?["evidence"] as? Int == 0, "node \(i) saw an equivocation: \(consensus ?? [:])")
        }
    }

    /// A transaction whose result differs on every validator (injected: each node refuses another
    /// proposer's block that carries it, while its own proposal is valid to it) never holds the
    /// chain: a round that carried it fails, the next round leaves it out and decides; probes of
    /// the suspects (halving) commit the transactions that shared its first proposal, and the poison,
    /// failing alone twice, is evicted from every mempool and refused if sent again. The chain
    /// goes on and every node agrees.
    @Test func aPoisonTransactionIsIsolatedAndEvictedWhileTheOthersCommit() async throws {
        let net = try await Localnet(label: "poison")
        let poison = try PrivateKey.generate()
        try await net.start(environment: ["MERIDIAN_INJECT_DISAGREEMENT": Address(poison.publicKey).description])
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(2, nodes: [0, 1, 2, 3])
        let poisonTx = try registration(of: poison)
        var innocent: [String] = []
        for k in 0..<8 {
            let stx = k == 3 ? poisonTx : try registration(of: try PrivateKey.generate())
            let (code, body) = try await http(try net.nodes[0].api(), "POST", "/v1/transactions", body: Data(stx.canonicalBytes),
                                              contentType: "application/octet-stream")
            #expect(code == 202, "\(body)")
            if k != 3, let h = body["hash"] as? String { innocent.append(h) }
        }
        // Every transaction that shared a proposal with the poison commits, on every node.
        for i in 0..<4 { try await waitCommitted(try net.nodes[i].api(), innocent) }
        while true {
            var evicted: [Int] = []
            for i in 0..<4 { evicted.append(try await net.consensusStatus(i)["evictedTransactions"] as? Int ?? -1) }
            if evicted.allSatisfy({ $0 >= 1 }) {
                #expect(evicted.allSatisfy { $0 == 1 }, "only the poison is evicted: \(evicted)")
                break
            }
            try stillWaiting("the poison was not evicted everywhere: \(evicted)")
            try await Task.sleep(for: .milliseconds(50))
        }
        let poisonHash = poisonTx.hash.hex
        for i in 0..<4 {
            let status = try await http(try net.nodes[i].api(), "GET", "/v1/transactions/\(poisonHash)").1["status"] as? String
            #expect(status != "committed" && status != "pending", "node \(i): the poison is \(status ?? "missing")")
        }
        let (code, body) = try await http(try net.nodes[1].api(), "POST", "/v1/transactions", body: Data(poisonTx.canonicalBytes),
                                          contentType: "application/octet-stream")
        #expect(code >= 400 && code < 500 && errorCode(body) == "tx.quarantined", "sent again: \(code) \(body)")
        let target = try await net.height(0) + 3
        try await net.waitHeight(target, nodes: [0, 1, 2, 3])
        try await net.checkAgreement(upTo: target, nodes: [0, 1, 2, 3])
    }

    /// A node whose key is not on the chain's allowlist cannot connect to a validator.
    @Test func anUnlistedNodeCannotConnect() async throws {
        let net = try await Localnet(label: "allowlist")
        try await net.nodes[0].start(blockIntervalMilliseconds: 200)
        defer { net.nodes[0].terminate() }
        let outsider = P2PNetwork(nodeKey: try PrivateKey.generate(), chainID: DemoCast.chainID) { _ in true }
        let dial = Task { await outsider.maintain(host: "127.0.0.1", port: net.p2pPorts[0]) }
        defer { dial.cancel() }
        // The validator refuses the outsider's key (its consensus status counts refusals by reason) and
        // never lists it as a peer.
        var refusals: [String: Int] = [:]
        while (refusals["p2p.not_allowed"] ?? 0) < 2 {
            try stillWaiting("no refusal: \(refusals)")
            try await Task.sleep(for: .milliseconds(20))
            let consensus = try await http(try net.nodes[0].api(), "GET", "/v1/status").1["consensus"] as? [String: Any]
            refusals = consensus?["connectionRefusals"] as? [String: Int] ?? [:]
            #expect((consensus?["peers"] as? Int ?? 0) == 0, "the outsider is never a peer")
        }
        #expect(outsider.refusalCounts["p2p.unreachable"] == nil, "the validator was reachable; it refused the handshake")
    }

    /// A copy of a validator's key signing two different votes for one step (double signing) is
    /// caught by the honest validators, put on chain, and listed for regulators.
    @Test func aDoubleSigningKeyIsCaughtAndPutOnChain() async throws {
        let net = try await Localnet(label: "double-sign")
        for i in 0..<3 { try await net.nodes[i].start(blockIntervalMilliseconds: 200) }   // 3 of 4: a quorum
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(2, nodes: [0, 1, 2])
        let stolen = DemoCast.staff("clinique-leman", "validator")
        let copy = P2PNetwork(nodeKey: stolen, chainID: DemoCast.chainID) { _ in true }
        let dial = Task { await copy.maintain(host: "127.0.0.1", port: net.p2pPorts[0]) }
        defer { dial.cancel() }
        let dir = try TemporaryDirectory("double-sign")
        var listed = ""
        while !listed.contains(Address(stolen.publicKey).description) {
            try stillWaiting("no evidence on chain")
            let ribeira = DemoCast.staff("hospital-ribeira", "validator").publicKey
            if copy.peers.contains(ribeira) {
                let c = try await http(try net.nodes[0].api(), "GET", "/v1/status").1["consensus"] as? [String: Any] ?? [:]
                let height = UInt64(c["height"] as? Int ?? 0), round = UInt32(c["round"] as? Int ?? 0) + 1
                for value in [SHA256.hash(Array("one".utf8)), SHA256.hash(Array("two".utf8))] {
                    let v = Vote(kind: .prevote, height: height, round: round, value: value, validator: stolen.publicKey)
                    copy.send(WireMessage.vote(SignedVote(vote: v, signature: try stolen.sign(voteSigningHash(v, chainID: DemoCast.chainID)))).canonicalBytes,
                              to: ribeira)
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            listed = try await run("meridian-audit", ["evidence", "--node", try net.nodes[1].api().base.absoluteString, "--keystore", DemoKeys.keystore("dpa-pt/officer")], environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], in: dir).stdout
        }
        let detector = try await http(try net.nodes[0].api(), "GET", "/v1/status").1["consensus"] as? [String: Any]
        #expect((detector?["evidence"] as? Int ?? 0) >= 1, "the validator that saw both votes keeps the evidence")
        #expect(listed.contains("prevote"), "\(listed)")
        // At the governance delay after the evidence block its voting power is suspended on every
        // node; the three honest validators go on, and the audit tool shows the suspension.
        struct V: Decodable { let address: String }
        while try await net.nodes[1].api().get("/v1/validators", as: [V].self).contains(where: { $0.address == Address(stolen.publicKey).description }) {
            try stillWaiting("the double-signer's suspension"); try await Task.sleep(for: .milliseconds(100))
        }
        let suspendedAt = try await net.height(1)
        try await net.waitHeight(suspendedAt + 2, nodes: [0, 1, 2])
        try await net.checkAgreement(upTo: suspendedAt + 2, nodes: [0, 1, 2])
        let shown = try await run("meridian-audit", ["evidence", "--node", try net.nodes[2].api().base.absoluteString, "--keystore", DemoKeys.keystore("dpa-pt/officer")], environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], in: dir).stdout
        #expect(shown.contains("suspended since block"), "\(shown)")
    }

    /// Partitions through fault-injecting proxies between the validators: one cut off, the chain
    /// goes on; two cut off, it halts (rounds advance, heights do not) with no fork; healed, it
    /// resumes and the lagging validators catch up to identical blocks and state roots.
    @Test func partitionsHaltWithoutForkAndHeal() async throws {
        let net = try await Localnet(label: "partition", proxied: true)
        try await net.start()
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(3, nodes: [0, 1, 2, 3])

        net.partition([3])                                           // one of four cut off
        // The highest height anyone had reached at the cut (read after it, so never lower). A slow
        // validator may still hold messages of heights it had not processed when it was cut off
        // (a full-suite run once saw it finish two such heights), so the bound is the others'
        // height then, plus a decision in flight; the others then go well past it.
        var reachedAtCut = 0
        for i in 0..<4 { reachedAtCut = max(reachedAtCut, try await net.height(i)) }
        try await net.waitHeight(reachedAtCut + 4, nodes: [0, 1, 2])  // 3 of 4 carry on
        #expect(try await net.height(3) <= reachedAtCut + 1, "the isolated validator cannot finalise alone")

        net.partition([2, 3])                                        // two of four: no quorum anywhere
        let cutAt2 = try await net.height(0)
        // Validators 0 and 1 get stuck at one height: they reach prevote or precommit and wait for a
        // quorum that cannot come (a prevote timeout needs 2/3 of the prevotes first: line 34).
        var stuckAt = 0
        while true {
            let views = try await [0, 1].asyncMap { i in try await http(try net.nodes[i].api(), "GET", "/v1/status").1 }
            let consensus = views.map { $0["consensus"] as? [String: Any] ?? [:] }
            let steps = consensus.map { $0["step"] as? String ?? "" }, heights = consensus.map { $0["height"] as? Int ?? 0 }
            if steps.allSatisfy({ $0 == "prevote" || $0 == "precommit" }), heights[0] == heights[1] { stuckAt = heights[0]; break }
            try stillWaiting("validators 0 and 1 never got stuck: \(consensus)")
            try await Task.sleep(for: .milliseconds(50))
        }
        let stalled = try await net.height(0)
        #expect(stalled == stuckAt - 1 && stalled <= cutAt2 + 1, "no block finalised without 2/3: committed \(stalled), working on \(stuckAt)")
        // While stuck, peers keep re-gossiping the same proposal and votes: the WAL holds each
        // message once however often it arrived (it once logged and synced one proposal hundreds
        // of times per round).
        for i in [0, 1] {
            // The WAL is two logs used in turn; the stuck height's records are in one of them.
            let records = try ConsensusWAL.read(path: net.nodes[i].dataDir + "/consensus.wal").records
                + ConsensusWAL.read(path: net.nodes[i].dataDir + "/consensus.wal.2").records
            #expect(!records.isEmpty && Set(records.map { Data($0) }).count == records.count,
                    "node \(i)'s WAL holds a message twice: \(records.count) records, \(Set(records.map { Data($0) }).count) distinct")
        }
        #expect(try await net.height(1) == stalled)

        net.partition([])                                            // heal
        try await net.waitHeight(stalled + 3, nodes: [0, 1, 2, 3])
        try await net.checkAgreement(upTo: stalled + 3, nodes: [0, 1, 2, 3])
    }

    /// A validator removed by governance stops counting at the activation height on every node: the
    /// others agree on the new set, certificates from then on carry no signature of it, and they drop
    /// it from their peers (it is off the allowlist).
    @Test func aValidatorRemovedByGovernanceStopsCountingEverywhere() async throws {
        let net = try await Localnet(label: "governance")
        try await net.start()
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(2, nodes: [0, 1, 2, 3])
        let client = try net.nodes[0].api()
        let removed = DemoCast.staff("clinique-leman", "validator").publicKey
        let proposed = try await client.submit(.propose(.removeValidator(removed)), as: DemoCast.staff("hospital-ribeira", "validator"))
        let proposal = try #require(Bytes32(hex: proposed.receipt?.createdID ?? ""), "\(String(describing: proposed.receipt))")
        for voter in ["hospital-ribeira", "klinikum-spree", "hopital-rhone"] {
            _ = try await client.submit(.vote(.init(proposal: proposal, approve: true)), as: DemoCast.staff(voter, "validator"))
        }
        struct V: Decodable { let address: String }
        while try await client.get("/v1/validators", as: [V].self).count != 3 {
            try stillWaiting("the validator set did not change")
            try await Task.sleep(for: .milliseconds(50))
        }
        let changedAt = try await net.height(0)
        try await net.waitHeight(changedAt + 3, nodes: [0, 1, 2])
        for i in 0..<3 {
            let set = try await net.nodes[i].api().get("/v1/validators", as: [V].self).map(\.address)
            #expect(set.count == 3 && !set.contains(Address(removed).description), "node \(i): \(set)")
        }
        for h in (changedAt + 2)...(changedAt + 3) {
            let commit = (try await http(client, "GET", "/v1/blocks/\(h)").1["commit"] as? [String: Any])?["signatures"] as? [[String: Any]] ?? []
            #expect(!commit.isEmpty && !commit.contains { $0["validator"] as? String == Address(removed).description }, "block \(h) still counts the removed validator")
        }
        try await net.checkAgreement(upTo: changedAt + 3, nodes: [0, 1, 2])
        // A light client follows the chain from genesis across the change over the open route alone:
        // the first header the new set signs carries the set's state entry with its proof.
        var light = try LightClient(genesis: DemoCast.genesisSpec())
        let target = UInt64(changedAt + 3)
        try await client.followHeaders(after: 0, to: target) { page in try light.advance(with: page, upTo: target) }
        #expect(light.head.height == target && light.validatorSetChanges == 1, "light client at \(light.head.height), \(light.validatorSetChanges) set change(s)")
        while (try await http(client, "GET", "/v1/status").1["consensus"] as? [String: Any])?["peers"] as? Int != 2 {
            try stillWaiting("the removed validator is still a peer")
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

extension Array {
    func asyncMap<T>(_ f: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await f(e)) }
        return out
    }
}

/// The kill -9 soak, in a suite of its own: its time limit is `MERIDIAN_SOAK_MINUTES` (10 in CI's
/// short run; `make soak` sets it for its 100 kills).
let soakMinutes = ProcessInfo.processInfo.environment["MERIDIAN_SOAK_MINUTES"].flatMap(Int.init) ?? 10

@Suite(.serialized, .timeLimit(.minutes(soakMinutes))) struct LocalnetSoakTests {
    /// kill -9 a random validator (proposer included) at a random moment under load and restart it,
    /// again and again (3 times in CI; `make soak` does 100 over at least 200 blocks), with a poison
    /// contract run in the blocks: the others carry on, the restarted one recovers what it signed
    /// from its WAL and catches up, and at the end all agree and every committed transaction is
    /// everywhere.
    @Test func killNineRandomValidatorsUnderLoad() async throws {
        let env = ProcessInfo.processInfo.environment
        let kills = env["MERIDIAN_SOAK_KILLS"].flatMap(Int.init) ?? 3
        let minBlocks = env["MERIDIAN_SOAK_BLOCKS"].flatMap(Int.init) ?? 20
        var (rng, seed) = SeededGenerator.fromEnvironment()
        print("killNineRandomValidatorsUnderLoad: MERIDIAN_SEED=\(seed), \(kills) kills, at least \(minBlocks) blocks")
        let net = try await Localnet(label: "soak")
        try await net.start()
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(2, nodes: [0, 1, 2, 3])
        // A poison contract in the load: a patient's consent names a contract that recurses without
        // end, and a clinician's access requests under it run the contract in every block they
        // are in. Every validator must reach the same stable failure and the chain must go on.
        let maria = DemoCast.patient("maria"), ribeira = DemoCast.staff("hospital-ribeira", "clinician")
        let sakura = DemoCast.staff("sakura-general", "clinician")
        var nonces: [PublicKey: UInt64] = [:]
        func next(_ key: PrivateKey, _ call: Call) throws -> SignedTransaction {
            let n = nonces[key.publicKey, default: 0]; nonces[key.publicKey] = n + 1
            return try signed(key, call, nonce: n)
        }
        func post(_ txs: [SignedTransaction], to i: Int) async throws -> [String] {
            var hashes: [String] = []
            for stx in txs {
                let (code, body) = try await http(try net.nodes[i].api(), "POST", "/v1/transactions", body: Data(stx.canonicalBytes), contentType: "application/octet-stream")
                if code == 202, let h = body["hash"] as? String { hashes.append(h) }
            }
            return hashes
        }
        let record = SHA256.hash(Array("soak record".utf8))
        let attestation = try ribeira.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))
        try await waitCommitted(try net.nodes[0].api(), try await post([try next(maria, .registerPatient(.init(attestor: ribeira.publicKey, attestation: attestation)))], to: 0))
        try await waitCommitted(try net.nodes[0].api(), try await post([
            try next(ribeira, .registerRecord(.init(commitment: record, patient: maria.publicKey, category: .problems))),
            try next(maria, .deployContract(Self.recursiveContract))], to: 0))
        let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.problems], purposes: [.treat], countries: [CountryCode("JP")!],
                                 explicitTransferCountries: [], validFrom: Timestamp(iso8601: "2026-01-01")!, validUntil: Timestamp(iso8601: "2030-01-01")!,
                                 emergencyAccess: false, policy: ConsentPolicy(contract: SHA256.hash(Self.recursiveContract)))
        try await waitCommitted(try net.nodes[0].api(), try await post([try next(maria, .grantConsent(terms))], to: 0))
        var poisoned: [String] = []
        var committed: [String] = []
        for _ in 0..<kills {
            let victim = Int.random(in: 0..<4, using: &rng)
            let others = (0..<4).filter { $0 != victim }
            let entry = others[Int.random(in: 0..<3, using: &rng)]
            var hashes = try await post(try (0..<10).map { _ in try registration(of: try PrivateKey.generate()) }, to: entry)
            let poison = try await post([try next(sakura, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))], to: entry)
            poisoned += poison; hashes += poison
            // Killed at a random moment of a height (proposing, voting or committing), proposer included.
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...400, using: &rng)))
            await net.nodes[victim].kill9()
            try await waitCommitted(try net.nodes[entry].api(), hashes)
            committed += hashes
            let reached = try await net.height(others[0])
            try await net.waitHeight(reached + 2, nodes: others)
            try await net.nodes[victim].start(blockIntervalMilliseconds: 200)
            try await net.waitHeight(try await net.height(others[0]), nodes: [victim])
        }
        try await net.waitHeight(minBlocks, nodes: [0, 1, 2, 3])
        try #require(committed.count >= kills * 5, "seed \(seed): the soak confirmed only \(committed.count) committed transactions in \(kills) kills")
        for h in poisoned {
            let receipt = try await http(try net.nodes[0].api(), "GET", "/v1/transactions/\(h)").1["receipt"] as? [String: Any]
            let contract = (receipt?["decision"] as? [String: Any])?["contract"] as? [String: Any]
            #expect(contract?["failure"] as? String == "contract.trap.stack_exhausted", "seed \(seed): the poison request \(h): \(String(describing: receipt))")
        }
        let top = try await [0, 1, 2, 3].asyncMap { try await net.height($0) }.min() ?? 0
        try await net.checkAgreement(upTo: top, nodes: [0, 1, 2, 3])
        for i in 0..<4 {
            for h in committed {
                let view = try await http(try net.nodes[i].api(), "GET", "/v1/transactions/\(h)").1
                #expect(view["status"] as? String == "committed", "seed \(seed): node \(i) lacks committed transaction \(h)")
            }
        }
        print("killNineRandomValidatorsUnderLoad: \(kills) kills, \(top) blocks agreed on 4 validators, \(committed.count) transactions checked on each, \(poisoned.count) runs of the poison contract")
    }

    /// A 65-byte policy contract whose `evaluate` calls itself forever (stopped by the engine's stack).
    static let recursiveContract: [UInt8] = [
        0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0A, 0x02, 0x60, 0x02, 0x7F, 0x7F, 0x01, 0x7F, 0x60, 0x00, 0x00, 0x03, 0x02,
        0x01, 0x00, 0x05, 0x04, 0x01, 0x01, 0x01, 0x02, 0x07, 0x15, 0x02, 0x08, 0x65, 0x76, 0x61, 0x6C, 0x75, 0x61, 0x74, 0x65, 0x00, 0x00,
        0x06, 0x6D, 0x65, 0x6D, 0x6F, 0x72, 0x79, 0x02, 0x00, 0x0A, 0x0A, 0x01, 0x08, 0x00, 0x20, 0x00, 0x20, 0x01, 0x10, 0x00, 0x0B]
}
