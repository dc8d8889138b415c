import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianLightClient
import MeridianDemo
import MeridianTestSupport

/// Joining in minutes (issue 24 item 2): a new full node restores the state from a snapshot its
/// peers serve in chunks, each checked against the state root of a header its light client verified
/// from genesis, then syncs blocks to the tip; a server that stalls is passed over for the next; and
/// a node offered no snapshot syncs every block from genesis on its own.
@Suite(.serialized, .timeLimit(.minutes(10))) struct StateSyncTests {
    /// A TCP port that accepts connections (the kernel completes them) and never answers: a stalled server.
    final class StalledServer {
        let fd: Int32
        let port: Int
        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET); a.sin_addr.s_addr = inet_addr("127.0.0.1"); a.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            guard withUnsafePointer(to: &a, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }) == 0, listen(fd, 16) == 0,
                  withUnsafeMutablePointer(to: &a, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }) == 0 else {
                throw HarnessError("stalled server: \(String(cString: strerror(errno)))")
            }
            self.port = Int(UInt16(bigEndian: a.sin_port))
        }
        deinit { close(fd) }
    }

    @Test func aNewNodeRestoresASnapshotVerifiedFromGenesisAndFollowsTheTip() async throws {
        let net = try await Localnet(label: "statesync")
        defer { for n in net.nodes { n.terminate() } }
        // Snapshots every 10 heights, except on the last validator (it offers none).
        for (i, n) in net.nodes.enumerated() {
            let path = n.dataDir + "/node.json"
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            json["snapshotIntervalHeights"] = i == 3 ? 0 : 10
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        }
        try await net.start()
        // Audit entries before the snapshot: Maria enrolled, a record of hers, and three accesses refused.
        let api = try net.nodes[0].api()
        let maria = DemoCast.patient("maria"), clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))
        _ = try await api.submit(.registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)), as: maria)
        let record = SHA256.hash(Array("state-sync record".utf8))
        _ = try await api.submit(.registerRecord(.init(commitment: record, patient: maria.publicKey, category: .problems)), as: clinician)
        for _ in 0..<3 { _ = try await api.submit(.requestAccess(.init(record: record, purpose: .treat, breakGlass: false)), as: DemoCast.staff("sakura-general", "clinician")) }
        let start = try await net.height(0)
        let snapshotHeight = (start / 10 + 1) * 10
        try await net.waitHeight(snapshotHeight + 2, nodes: [0, 1, 2, 3])

        // Sakura General's full node joins by state sync: a stalled server first, then two that serve.
        let stalled = try StalledServer()
        let apis = try (0..<4).map { try net.nodes[$0].api().base.absoluteString }
        let p2p = try freeLoopbackPorts(2)
        let peers = net.p2pPorts.flatMap { ["--peer", "127.0.0.1:\($0)"] }
        let joining = try await NodeProcess("statesync-full", initArguments: ["--full-node", "--worker-keystore", try DemoKeys.keystore("sakura-general/worker"),
            "--p2p-port", String(p2p[0]), "--block-interval-ms", "200", "--state-sync", "http://127.0.0.1:\(stalled.port)",
            "--state-sync", apis[1], "--state-sync", apis[2]] + peers, ownerHoldsSlot: true)
        defer { joining.terminate() }
        let config = joining.dataDir + "/node.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        var sync = json["stateSync"] as! [String: Any]
        sync["requestTimeoutSeconds"] = 2
        json["stateSync"] = sync
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
        try await joining.start(blockIntervalMilliseconds: 200, logLevel: "notice")
        let log = joining.fullLog
        #expect(log.contains("state sync: restoring the snapshot of height"), "\(log.suffix(3000))")
        #expect(log.contains("state sync: a server failed; asking the next") || log.contains("no snapshot list from a server"), "the stalled server was not passed over: \(log.suffix(3000))")
        let restored = try #require(log.firstMatch(of: /height=(\d+) [^\n]*state sync: restored/).map { Int($0.output.1)! }, "\(log.suffix(3000))")
        #expect(restored >= snapshotHeight && restored % 10 == 0)

        // It follows the tip; below the snapshot it holds headers and certificates, not bodies.
        let tip = try await net.height(1) + 3
        while (try await http(try joining.api(), "GET", "/v1/status").1["height"] as? Int ?? 0) < tip {
            try stillWaiting("the state-synced node to reach height \(tip)"); try await Task.sleep(for: .milliseconds(100))
        }
        let operatorView = try joining.api().signed(by: demoOperator)
        let (old, oldBody) = try await http(operatorView, "GET", "/v1/blocks/\(restored - 1)")
        #expect(old == 410 && (oldBody["error"] as? [String: Any])?["code"] as? String == "block.pruned", "\(old) \(oldBody)")
        for h in [restored + 1, tip] {
            let mine = try await http(operatorView, "GET", "/v1/blocks/\(h)").1["header"] as? [String: Any] ?? [:]
            let theirs = try await http(try net.nodes[1].api().signed(by: demoOperator), "GET", "/v1/blocks/\(h)").1["header"] as? [String: Any] ?? [:]
            #expect(mine["hash"] != nil && "\(mine["hash"]!)" == "\(theirs["hash"] ?? "")" && "\(mine["stateRoot"] ?? "")" == "\(theirs["stateRoot"] ?? "")", "height \(h)")
        }
        // Its light headers from genesis are the network's, and so is its audit log.
        let page = try await operatorView.get("/v1/light/headers?from=1&limit=\(restored)", as: LightHeadersPage.self)
        let reference = try await net.nodes[1].api().get("/v1/light/headers?from=1&limit=\(restored)", as: LightHeadersPage.self)
        #expect(page.headers.map(\.header) == reference.headers.map(\.header) && page.headers.count == restored)
        struct LogHead: Decodable { let height: UInt64; let size: UInt64; let root: String }
        let myLog = try await operatorView.get("/v1/audit-log", as: LogHead.self)
        #expect(myLog.size >= 4, "the audit entries made before the snapshot: \(myLog)")
        // Node 1's header at that height (verified by the light client above, for heights up to the snapshot) names the same log.
        let theirs = try await net.nodes[1].api().get("/v1/light/headers?from=\(myLog.height)&limit=1", as: LightHeadersPage.self)
        let item = try #require(theirs.headers.first)
        let header = try BlockHeader(canonicalBytes: try #require(Hex.decode(item.header)))
        #expect(header.auditLogSize == myLog.size && header.auditLogRoot.hex == myLog.root, "\(header) \(myLog)")

        // Offered no snapshot (the last validator serves none), a node syncs every block.
        let fallback = try await NodeProcess("statesync-fallback", initArguments: ["--full-node", "--worker-keystore", try DemoKeys.keystore("chao-phraya/worker"),
            "--p2p-port", String(p2p[1]), "--block-interval-ms", "200", "--state-sync", apis[3]] + peers, ownerHoldsSlot: true)
        defer { fallback.terminate() }
        try await fallback.start(blockIntervalMilliseconds: 200, logLevel: "notice")
        let target = try await net.height(1)
        while (try await http(try fallback.api(), "GET", "/v1/status").1["height"] as? Int ?? 0) < target {
            try stillWaiting("the node without a snapshot to reach height \(target)"); try await Task.sleep(for: .milliseconds(100))
        }
        #expect(fallback.fullLog.contains("no server offered a snapshot; syncing every block from genesis instead"), "\(fallback.logText.suffix(2000))")
        let (first, _) = try await http(try fallback.api().signed(by: demoOperator), "GET", "/v1/blocks/1")
        #expect(first == 200, "a block-synced node holds every body")
    }
}
