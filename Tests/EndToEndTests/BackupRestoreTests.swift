import Foundation
import Testing
import MeridianCore
import MeridianDemo
import MeridianTestSupport

/// Backup and restore of a validator in a running network (issue 24): the backup is taken while the
/// node runs and holds no private key in the clear, nor the validator's keystore or signing guard; a
/// corrupted, extended or keyless restore is refused naming why; the restored validator catches up
/// and holds every transaction committed before and after the backup.
@Suite(.serialized, .timeLimit(.minutes(10))) struct BackupRestoreTests {
    @Test func aValidatorBackedUpWhileRunningIsRestoredAndCatchesUp() async throws {
        let net = try await Localnet(label: "backup")
        try await net.start()
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(2, nodes: [0, 1, 2, 3])
        let env = ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase]
        func load(_ count: Int) async throws -> [String] {
            var hashes: [String] = []
            for _ in 0..<count {
                let stx = try registration(of: try PrivateKey.generate())
                let (code, body) = try await http(try net.nodes[0].api(), "POST", "/v1/transactions", body: Data(stx.canonicalBytes), contentType: "application/octet-stream")
                #expect(code == 202, "\(body)")
                if let h = body["hash"] as? String { hashes.append(h) }
            }
            try await waitCommitted(try net.nodes[1].api(), hashes)
            return hashes
        }
        let before = try await load(10)

        // Klinikum Spree's validator, backed up while it runs, by its own operator.
        let node = net.nodes[1]
        let scratch = try TemporaryDirectory("backup-out")
        let out = scratch.path("backup")
        let operatorKey = ["--node", try node.api().base.absoluteString, "--keystore", try DemoKeys.keystore("klinikum-spree/admin")]
        let refused = try await run("meridian-node", ["backup", "--data-dir", node.dataDir, "--out", out, "--node", try node.api().base.absoluteString,
                                                      "--keystore", try DemoKeys.keystore("hospital-ribeira/admin")], environment: env, in: scratch)
        #expect(refused.status != 0 && refused.stderr.contains("access.forbidden"), "another hospital's operator: \(refused)")
        let backup = try await run("meridian-node", ["backup", "--data-dir", node.dataDir, "--out", out] + operatorKey, environment: env, in: scratch)
        #expect(backup.status == 0 && backup.stdout.contains("backup of \(DemoCast.chainID) at height"), "\(backup)")
        #expect(backup.stdout.contains("listed only") && backup.stdout.contains("keystore included (encrypted)"), "\(backup)")
        let validatorKey = DemoCast.staff("klinikum-spree", "validator"), workerKey = DemoCast.staff("klinikum-spree", "worker")
        try Self.expectNoSecret([validatorKey, workerKey], under: out)
        let files = try FileManager.default.subpathsOfDirectory(atPath: out)
        #expect(!files.contains { $0.hasPrefix("keys/validator") } && !files.contains("signing-guard.json") && !files.contains("consensus.wal"), "\(files)")
        #expect(files.contains("keys/worker.json") && files.contains("keys/records.json") && files.contains("db/CURRENT") && files.contains("manifest.json"))
        let leftBehind = (try? FileManager.default.contentsOfDirectory(atPath: node.dataDir + "/backups")) ?? []
        #expect(leftBehind.isEmpty, "the checkpoint stays behind in the data directory: \(leftBehind)")

        let after = try await load(10)
        // The host is lost: the node killed, its data directory gone. The operator kept the
        // validator's keystore and its latest signing guard with the key.
        await node.kill9()
        let keptGuard = scratch.path("signing-guard.json")
        try FileManager.default.copyItem(atPath: node.dataDir + "/signing-guard.json", toPath: keptGuard)
        // A stopped node is backed up by opening its database directly.
        let offline = try await run("meridian-node", ["backup", "--data-dir", node.dataDir, "--out", scratch.path("offline")], environment: env, in: scratch)
        #expect(offline.status == 0 && offline.stdout.contains("backup of"), "\(offline)")
        try FileManager.default.removeItem(atPath: node.dataDir)

        // Refused: without the validator's key and guard; a changed file; a file added.
        let keyless = try await run("meridian-node", ["restore", "--from", out, "--data-dir", node.dataDir], environment: env, in: scratch)
        #expect(keyless.status != 0 && keyless.stderr.contains("restore.validator_key"), "\(keyless)")
        let corrupt = scratch.path("corrupt")
        try FileManager.default.copyItem(atPath: out, toPath: corrupt)
        let sst = try #require(files.filter { $0.hasSuffix(".sst") }.sorted().first, "the checkpoint holds no table file: \(files)")
        let handle = try #require(FileHandle(forUpdatingAtPath: corrupt + "/" + sst))
        try handle.seek(toOffset: 100)
        let byte = try #require(try handle.read(upToCount: 1)).first ?? 0
        try handle.seek(toOffset: 100)
        try handle.write(contentsOf: Data([byte ^ 0x01]))
        try handle.close()
        let restoreArguments = ["--validator-keystore", try DemoKeys.keystore("klinikum-spree/validator"), "--signing-guard", keptGuard]
        let damaged = try await run("meridian-node", ["restore", "--from", corrupt, "--data-dir", scratch.path("never")] + restoreArguments, environment: env, in: scratch)
        #expect(damaged.status != 0 && damaged.stderr.contains("restore.corrupt_file") && damaged.stderr.contains(sst), "\(damaged)")
        let extended = scratch.path("extended")
        try FileManager.default.copyItem(atPath: out, toPath: extended)
        try Data("x".utf8).write(to: URL(fileURLWithPath: extended + "/db/000999.sst"))
        let added = try await run("meridian-node", ["restore", "--from", extended, "--data-dir", scratch.path("never")] + restoreArguments, environment: env, in: scratch)
        #expect(added.status != 0 && added.stderr.contains("restore.unlisted_file") && added.stderr.contains("db/000999.sst"), "\(added)")
        let wrongKey = try await run("meridian-node", ["restore", "--from", out, "--data-dir", scratch.path("never"), "--validator-keystore",
                                                       try DemoKeys.keystore("hospital-ribeira/validator"), "--signing-guard", keptGuard], environment: env, in: scratch)
        #expect(wrongKey.status != 0 && wrongKey.stderr.contains("restore.wrong_validator"), "\(wrongKey)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("never") + "/db"))

        let restored = try await run("meridian-node", ["restore", "--from", out, "--data-dir", node.dataDir] + restoreArguments, environment: env, in: scratch)
        #expect(restored.status == 0 && restored.stdout.contains("restored"), "\(restored)")
        try await node.start(blockIntervalMilliseconds: 200)
        let target = try await net.height(0) + 2
        try await net.waitHeight(target, nodes: [0, 1, 2, 3])
        try await net.checkAgreement(upTo: target, nodes: [0, 1, 2, 3])
        for h in before + after {
            let view = try await http(try node.api(), "GET", "/v1/transactions/\(h)").1
            #expect(view["status"] as? String == "committed", "the restored node lacks \(h)")
        }
        // It votes again: a block after its restart carries its precommit.
        let spree = Address(validatorKey.publicKey).description
        while true {
            try stillWaiting("a certificate with the restored validator's precommit")
            let latest = try await http(try net.nodes[0].api(), "GET", "/v1/blocks/latest").1
            if "\(latest)".contains(spree) && (latest["header"] as? [String: Any])?["height"] as? Int ?? 0 > target { break }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// No file under `dir` holds any of `keys`' secrets, raw or as hex.
    static func expectNoSecret(_ keys: [PrivateKey], under dir: String) throws {
        for file in try FileManager.default.subpathsOfDirectory(atPath: dir) {
            guard let data = FileManager.default.contents(atPath: dir + "/" + file) else { continue }
            let bytes = [UInt8](data)
            for key in keys {
                let secret = key.secretBytes.bytes
                let hex = Array(Hex.encode(secret).utf8)
                #expect(bytes.firstRange(of: secret) == nil && bytes.firstRange(of: hex) == nil, "\(file) holds a private key in the clear")
            }
        }
    }
}
