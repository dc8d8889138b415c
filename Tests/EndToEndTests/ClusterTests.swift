import Foundation
import Testing
import MeridianTestSupport

/// Separate hosts (issue 24 item 1): 4 validators and a full node, each in its own network namespace
/// with its own address on a bridge, configured only by `meridian-node init` with those addresses and
/// TLS (`Tools/Cluster/cluster.sh`, also `make cluster`). The same checks as the localnet's: they
/// agree; a validator cut off by iptables stops while the other three go on, and catches up when the
/// cut heals; two cut off, no side has a quorum and nothing is finalised until it heals; a validator
/// killed -9 is not missed, and restarted catches up; the full node follows.
/// Every request goes over HTTPS to the node's own address, checked against the cluster's CA.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ClusterTests {
    static let names = ["hospital-ribeira", "klinikum-spree", "hopital-rhone", "clinique-leman", "sakura-general"]

    /// The script, as root (or through `sudo -n` for a user allowed to).
    static func cluster(_ arguments: [String]) async throws -> CommandResult {
        let script = Binaries.repository.appendingPathComponent("Tools/Cluster/cluster.sh").path
        let environment = ["BIN": Binaries.directory.path, "MERIDIAN_PASSPHRASE": NodeProcess.passphrase]
        if getuid() == 0 { return try await ChildProcess.run(script, arguments, environment: environment) }
        return try await ChildProcess.run("/usr/bin/sudo", ["-n", "--preserve-env=BIN,MERIDIAN_PASSPHRASE", script] + arguments, environment: environment)
    }

    @Test func fiveNodesOnTheirOwnAddressesAgreeSurviveAPartitionAndAKill() async throws {
        let dir = try TemporaryDirectory("cluster")
        let slots = try await NodeSlots.shared.reserve(4)
        defer { _ = slots }
        let up = try await Self.cluster(["up", dir.path("net")])
        // Whatever happens below, the namespaces, the host's interface and the nodes go.
        var failure: (any Error)?
        do {
            #expect(up.status == 0, "\(up)")
            if up.status == 0 { try await Self.checks(dir, up) }
        } catch { failure = error }
        let down = try await Self.cluster(["down", dir.path("net")])
        #expect(down.status == 0, "\(down)")
        if let failure { throw failure }
    }

    static func checks(_ dir: TemporaryDirectory, _ up: CommandResult) async throws {
        // "<name>: https://<address>:26657 (namespace …)", one line per node.
        let addresses = names.map { name in
            up.stdout.split(separator: "\n").first { $0.hasPrefix(name + ": https://") }
                .map { String($0.dropFirst(name.count + 10).prefix { $0 != ":" }) } ?? ""
        }
        #expect(addresses.allSatisfy { $0.hasPrefix("10.") } && Set(addresses).count == 5, "\(up.stdout)")
        let ca = dir.path("net/tls/ca.pem")

        func get(_ i: Int, _ path: String) async throws -> [String: Any]? {
            let r = try await ChildProcess.run("/usr/bin/curl", ["-sf", "--max-time", "5", "--cacert", ca, "https://\(addresses[i]):26657\(path)"])
            guard r.status == 0 else { return nil }
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        }
        func height(_ i: Int) async throws -> Int { (try await get(i, "/v1/status")?["height"] as? Int) ?? -1 }
        func waitHeight(_ target: Int, _ nodes: [Int]) async throws {
            while true {
                var heights: [Int] = []
                for i in nodes { heights.append(try await height(i)) }
                if heights.allSatisfy({ $0 >= target }) { return }
                try stillWaiting("heights \(heights) of nodes \(nodes) did not reach \(target)")
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        func agree(upTo top: Int) async throws {
            for h in 1...top {
                var seen: Set<String> = []
                for i in 0..<5 {
                    let header = try await get(i, "/v1/blocks/\(h)")?["header"] as? [String: Any] ?? [:]
                    seen.insert("\(header["hash"] ?? "missing") \(header["stateRoot"] ?? "missing")")
                }
                #expect(seen.count == 1, "height \(h): the nodes disagree: \(seen)")
            }
        }

        // Each node listens on its own address, reached over HTTPS with the CA; plain HTTP is not served.
        try await waitHeight(3, Array(0..<5))
        for i in 0..<5 {
            let p2p = try String(contentsOfFile: dir.path("net/node-\(i)/p2p.address"), encoding: .utf8)
            #expect(p2p.hasPrefix(addresses[i] + ":"), "node \(i) P2P on \(p2p)")
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path("net/node-\(i)/node.json")))) as? [String: Any] ?? [:]
            #expect(config["apiHost"] as? String == addresses[i] && config["tls"] != nil, "node \(i)'s node.json: \(config)")
        }
        let plain = try await ChildProcess.run("/usr/bin/curl", ["-sf", "--max-time", "5", "http://\(addresses[0]):26657/v1/status"])
        #expect(plain.status != 0, "plain HTTP was answered: \(plain)")
        let status = try await get(0, "/v1/status")
        #expect(((status?["consensus"] as? [String: Any])?["peers"] as? Int ?? 0) >= 3, "\(String(describing: status))")
        try await agree(upTo: 3)

        // A validator cut off by iptables: the other three and the full node go on; it does not.
        let cut = try await cluster(["partition", dir.path("net"), "0"])
        #expect(cut.status == 0, "\(cut)")
        let atCut = try await height(1)
        try await waitHeight(atCut + 5, [1, 2, 3, 4])
        #expect(try await height(0) <= atCut + 1, "a validator alone finalised blocks")
        var healed = try await cluster(["heal", dir.path("net")])
        #expect(healed.status == 0, "\(healed)")
        var tip = try await height(1)
        try await waitHeight(tip + 1, Array(0..<5))

        // Two validators of four cut off: no quorum anywhere. Validators 0 and 1 get stuck at one
        // height (in prevote or precommit, waiting for votes that cannot come) and finalise nothing.
        let split = try await cluster(["partition", dir.path("net"), "2", "3"])
        #expect(split.status == 0, "\(split)")
        let atSplit = try await height(0)
        var stuckAt = 0
        while true {
            var consensus: [[String: Any]] = []
            for i in [0, 1] { consensus.append(try await get(i, "/v1/status")?["consensus"] as? [String: Any] ?? [:]) }
            let steps = consensus.map { $0["step"] as? String ?? "" }, heights = consensus.map { $0["height"] as? Int ?? 0 }
            if steps.allSatisfy({ $0 == "prevote" || $0 == "precommit" }), heights[0] == heights[1] { stuckAt = heights[0]; break }
            try stillWaiting("validators 0 and 1 never got stuck without a quorum: \(consensus)")
            try await Task.sleep(for: .milliseconds(100))
        }
        let stalled = try await height(0)
        #expect(stalled == stuckAt - 1 && stalled <= atSplit + 1, "a block was finalised without 2/3: committed \(stalled), working on \(stuckAt)")
        let (other, cutOff) = (try await height(1), try await height(2))
        #expect(other == stalled && cutOff <= stalled + 1, "validator 1 at \(other), validator 2 at \(cutOff), stalled at \(stalled)")
        healed = try await cluster(["heal", dir.path("net")])
        #expect(healed.status == 0, "\(healed)")
        tip = try await height(1)
        try await waitHeight(max(tip, stalled) + 2, Array(0..<5))

        // A validator killed -9: not missed; restarted on its data, it catches up.
        let killed = try await cluster(["kill", dir.path("net"), "2"])
        #expect(killed.status == 0, "\(killed)")
        let atKill = try await height(1)
        try await waitHeight(atKill + 4, [0, 1, 3, 4])
        let started = try await cluster(["start", dir.path("net"), "2"])
        #expect(started.status == 0, "\(started)")
        let last = try await height(1) + 1
        try await waitHeight(last, Array(0..<5))
        try await agree(upTo: last)
    }
}
