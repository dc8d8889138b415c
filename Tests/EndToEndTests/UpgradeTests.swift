import Foundation
import Testing
import MeridianCore
import MeridianDemo
import MeridianTestSupport
import MeridianStorage
import MeridianNode

/// An upgrade by governance on a localnet (issue 24): four validators run an older build; their
/// operators propose and pass an upgrade plan naming this checkout's `meridian-node` (by SHA-256) and
/// a height; at that height every old node stops, naming the plan, without executing it; the release
/// started on the same data directories goes on; a validator that comes back late with the old build
/// is refused at start, and with the release it catches up.
@Suite(.serialized, .timeLimit(.minutes(10))) struct UpgradeTests {
    @Test func everyOldNodeStopsAtThePlansHeightAndTheReleaseGoesOn() async throws {
        let scratch = try TemporaryDirectory("upgrade-binaries")
        let release = try Binaries.path("meridian-node")
        // The "old build": the same program with other bytes (an ELF file ignores what follows its
        // sections), so its SHA-256 is not the release's.
        let old = scratch.path("meridian-node-old")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: release))
        bytes.append(contentsOf: Array("an older build of meridian-node".utf8))
        try bytes.write(to: URL(fileURLWithPath: old))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: old)

        let net = try await Localnet(label: "upgrade")
        for n in net.nodes { n.executable = old }
        try await net.start()
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(2, nodes: [0, 1, 2, 3])
        let env = ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase]
        let url = try net.nodes[0].api().base.absoluteString
        let target = try await net.height(0) + 100
        let proposed = try await run("meridian-node", ["governance", "propose-upgrade", "--name", "meridian-next", "--height", String(target), "--release", release,
                                                       "--node", url, "--keystore", try DemoKeys.keystore("hospital-ribeira/validator")], environment: env, in: scratch)
        #expect(proposed.status == 0 && proposed.stdout.contains("proposed upgrade meridian-next at height \(target)"), "\(proposed)")
        let id = try #require(proposed.stdout.firstMatch(of: /proposal ([0-9a-f]{64})/).map { String($0.output.1) }, "\(proposed)")
        for hospital in ["hospital-ribeira", "klinikum-spree", "hopital-rhone"] {
            let voted = try await run("meridian-node", ["governance", "vote", id, "--node", url, "--keystore", try DemoKeys.keystore("\(hospital)/validator")],
                                      environment: env, in: scratch)
            #expect(voted.status == 0 && voted.stdout.contains("voted yes"), "\(voted)")
        }
        let again = try await run("meridian-node", ["governance", "vote", id, "--node", url, "--keystore", try DemoKeys.keystore("hospital-ribeira/validator")], environment: env, in: scratch)
        #expect(again.status == 65 && again.stderr.contains("governance."), "a second vote: \(again)")
        // The plan is in force on every node, none of which runs its release.
        while true {
            try stillWaiting("the plan in every node's status")
            var seen = 0
            for i in 0..<4 {
                let upgrade = try await http(try net.nodes[i].api(), "GET", "/v1/status").1["upgrade"] as? [String: Any]
                if upgrade?["name"] as? String == "meridian-next", upgrade?["pending"] as? Bool == true, upgrade?["thisExecutableIsTheRelease"] as? Bool == false { seen += 1 }
            }
            if seen == 4 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        // At the plan's height every old node stops by itself, naming the plan.
        for (i, n) in net.nodes.enumerated() {
            let status = await n.waitForExit()
            #expect(status != 0, "node \(i) exited \(status)")
            #expect(n.logText.contains("upgrade.needed") && n.logText.contains("meridian-next") && n.logText.contains("height \(target)"), "node \(i): \(n.logText)")
        }
        // The release on the same data directories goes on past the height (three validators are a quorum).
        for i in 0..<3 {
            net.nodes[i].executable = release
            try await net.nodes[i].start(blockIntervalMilliseconds: 200)
        }
        try await net.waitHeight(target + 3, nodes: [0, 1, 2])
        // The fourth comes back late: with the old build it is refused at start; with the release it catches up.
        do { try await net.nodes[3].start(blockIntervalMilliseconds: 200); Issue.record("the old build started past the plan's height") }
        catch let e as HarnessError where e.description.contains("exited") {}
        #expect(net.nodes[3].logText.contains("upgrade.needed") && net.nodes[3].logText.contains("meridian-next"), "\(net.nodes[3].logText)")
        // Its database as a release before database format 2 left it (no state key preimages): the
        // release migrates it at start, says so, and goes on.
        do {
            let db = try RocksDB(path: DataDirectory(net.nodes[3].dataDir).database,
                                 columnFamilies: RocksDBStateStorage.columns + BlockStore.columns + DataDirectory.databaseColumns)
            let preimages = try db.scan("state.preimages", prefix: [], limit: 1_000_000)
            #expect(!preimages.isEmpty)
            let wb = RocksDB.WriteBatch(for: db)
            for p in preimages { wb.delete("state.preimages", p.key) }
            wb.put("meta", Array("db.format".utf8), withUnsafeBytes(of: UInt64(1).bigEndian) { Array($0) })
            try db.write(wb, sync: true)
        }
        net.nodes[3].executable = release
        try await net.nodes[3].start(blockIntervalMilliseconds: 200, logLevel: "notice")
        #expect(net.nodes[3].fullLog.contains("database migrated") && net.nodes[3].fullLog.contains("format 2"), "\(net.nodes[3].logText)")
        let tip = try await net.height(0) + 2
        try await net.waitHeight(tip, nodes: [0, 1, 2, 3])
        try await net.checkAgreement(upTo: tip, nodes: [0, 1, 2, 3])
        let upgrade = try #require(try await http(try net.nodes[3].api(), "GET", "/v1/status").1["upgrade"] as? [String: Any])
        #expect(upgrade["pending"] as? Bool == false && upgrade["thisExecutableIsTheRelease"] as? Bool == true, "\(upgrade)")
    }
}
