import Testing
import Foundation
import MeridianCore
import MeridianClient
import MeridianTransparency
import MeridianTestSupport
import MeridianRuntime
import MeridianDemo

/// `meridian-witness` as a data-protection authority runs it: a real process on a loopback port,
/// its key made by `keygen`, its one checkpoint per log kept across a SIGKILL.
/// (10 minutes, as the other suites that start nodes: the limit also counts the wait for one of the
/// suite's node slots, which a localnet test holds all of for its whole run.)
@Suite(.timeLimit(.minutes(10))) struct WitnessProcessTests {
    static let origin = "meridian.example/audit-log"

    struct Log {
        let signer = try! NoteSigner(name: WitnessProcessTests.origin, seed: Array(SHA256.hash(Array("e2e log".utf8)).bytes))
        let leaves = (0..<64).map { MerkleTree.leafHash(Array("entry \($0)".utf8)) }
        func request(old: Int, new: Int) -> Data {
            let cp = Checkpoint(origin: WitnessProcessTests.origin, size: UInt64(new), root: MerkleTree.root(leafHashes: Array(leaves.prefix(new))))
            let note = SignedNote(text: cp.text, signatures: [try! signer.sign(cp.text)])
            let proof = old == 0 || old == new ? [] : MerkleTree.consistencyProof(oldSize: old, leafHashes: Array(leaves.prefix(new)))
            return Data(AddCheckpointRequest(oldSize: UInt64(old), proof: proof, checkpoint: note.bytes).body)
        }
    }

    final class Witness: @unchecked Sendable {
        // @unchecked: used from the owning test's task only.
        let dir: TemporaryDirectory
        var process: BackgroundProcess?
        var client: NodeClient?
        init(_ dir: TemporaryDirectory) { self.dir = dir }

        func start(logKey: String) async throws { try await start(["--log", logKey]) }

        func start(_ logs: [String]) async throws {
            let addressFile = dir.path("witness.address")
            try? FileManager.default.removeItem(atPath: addressFile)
            let p = try await BackgroundProcess(try Binaries.path("meridian-witness"),
                                                ["serve", "--key", dir.path("witness.key")] + logs + ["--data-dir", dir.path("data"),
                                                 "--port", "0", "--address-file", addressFile, "--log-level", "warning"],
                                                logFile: dir.path("witness.log"))
            process = p
            while true {
                try stillWaiting("meridian-witness to listen")
                guard p.isRunning else { throw HarnessError("meridian-witness exited: \(String(decoding: FileManager.default.contents(atPath: dir.path("witness.log")) ?? Data(), as: UTF8.self))") }
                if let data = FileManager.default.contents(atPath: addressFile), !data.isEmpty {
                    client = try NodeClient(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                    return
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        func add(_ body: Data) async throws -> (status: Int, body: String) {
            let r = try await client!.exchange("POST", "/add-checkpoint", body: body, contentType: "text/plain")
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }

        func kill9() async {
            process?.send(SIGKILL)
            await process?.waitForExit()
            process = nil
        }
    }

    @Test func aWitnessCosignsConsistentCheckpointsAndKeepsItsLastAcrossSIGKILL() async throws {
        let dir = try TemporaryDirectory("witness")
        let keygen = try await run("meridian-witness", ["keygen", "--name", "dpa.pt.example/witness", "--out", dir.path("witness.key")], in: dir)
        try #require(keygen.status == 0, "\(keygen)")
        let vkey = try CosignerKey(parsing: keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let mode = try FileManager.default.attributesOfItem(atPath: dir.path("witness.key"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // A key is never overwritten.
        #expect(try await run("meridian-witness", ["keygen", "--name", "x.example/w", "--out", dir.path("witness.key")], in: dir).status != 0)
        let shown = try await run("meridian-witness", ["vkey", "--key", dir.path("witness.key")], in: dir)
        #expect(shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == vkey.encoded)

        let log = Log()
        let witness = Witness(dir)
        try await witness.start(logKey: log.signer.verifierKey.encoded)
        let first = try await witness.add(log.request(old: 0, new: 5))
        #expect(first.status == 200, "\(first.body)")
        let cosigned = try SignedNote(parsing: Array(log.request(old: 0, new: 5).split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)[2]) + Array(first.body.utf8))
        #expect(try cosigned.cosigners(among: [vkey]).count == 1)
        #expect(try await witness.add(log.request(old: 5, new: 9)).status == 200)

        // Killed without warning and restarted: it still knows size 9.
        await witness.kill9()
        try await witness.start(logKey: log.signer.verifierKey.encoded)
        let stale = try await witness.add(log.request(old: 5, new: 12))
        #expect(stale.status == 409 && stale.body == "9\n")
        let served = try await witness.client!.exchange("GET", "/\(SHA256.hash(Array(Self.origin.utf8)).hex)/checkpoint")
        #expect(served.status == 200)
        let note = try SignedNote(parsing: Array(served.body))
        #expect(try Checkpoint(parsing: note.text).size == 9)
        #expect(try note.cosigners(among: [vkey]).count == 1 && (try note.verified(by: [log.signer.verifierKey])).count == 1)
        // It catches up through a consistency proof; hostile requests are answered, not crashed on.
        #expect(try await witness.add(log.request(old: 9, new: 40)).status == 200)
        #expect(try await witness.add(Data("old 01\n\n".utf8)).status == 400)
        #expect(try await witness.add(Data(repeating: 0x41, count: 3 << 20)).status == 413)
        let strangerCheckpoint = Checkpoint(origin: "other.example/log", size: 1, root: log.leaves[0])
        let stranger = try NoteSigner(name: "other.example/log", seed: [UInt8](repeating: 1, count: 32))
        let foreign = SignedNote(text: strangerCheckpoint.text, signatures: [try stranger.sign(strangerCheckpoint.text)])
        #expect(try await witness.add(Data(AddCheckpointRequest(oldSize: 0, proof: [], checkpoint: foreign.bytes).body)).status == 404)
        #expect(try await witness.add(log.request(old: 40, new: 41)).status == 200)
        await witness.kill9()

        // Refusals of the command line name what is wrong.
        let noLog = try await run("meridian-witness", ["serve", "--key", dir.path("witness.key"), "--data-dir", dir.path("data")], in: dir)
        #expect(noLog.status != 0 && noLog.stderr.contains("--log"))
        let badKey = try await run("meridian-witness", ["serve", "--key", dir.path("missing.key"), "--log", log.signer.verifierKey.encoded, "--data-dir", dir.path("data")], in: dir)
        #expect(badKey.status != 0 && badKey.stderr.contains("missing.key"))
    }

    static func genesisHash(_ api: NodeClient) async throws -> Bytes32 {
        let page = try await api.lightHeaders(from: 0, limit: 1)
        guard let first = page.headers.first, let bytes = Hex.decode(first.header) else { throw HarnessError("no genesis header") }
        return try BlockHeader(canonicalBytes: bytes).hash
    }

    /// A witness of a running chain (`--chain` with its genesis spec, `--node` to fetch headers from):
    /// the node's own checkpoint, many blocks past genesis, is cosigned once the witness's light
    /// client has verified every header up to it; a checkpoint whose commit does not verify is not.
    @Test func aChainWitnessVerifiesTheNodesCheckpointsFromGenesis() async throws {
        let node = try await NodeProcess("witness-chain")
        try await node.start()
        defer { node.terminate() }
        let api = try node.api()
        // Blocks with transactions (a revocation of a grant that does not exist: included, failed).
        let staff = DemoCast.staff("hospital-ribeira", "clinician")
        func blocks(_ n: Int) async throws {
            for _ in 0..<n { _ = try await api.submit(.revokeConsent(SHA256.hash(Array(UUID().uuidString.utf8))), as: staff) }
        }
        try await blocks(4)
        let dir = try TemporaryDirectory("witness-chain")
        let keygen = try await run("meridian-witness", ["keygen", "--name", "dpa.pt.example/witness", "--out", dir.path("witness.key")], in: dir)
        try #require(keygen.status == 0, "\(keygen)")
        let vkey = try CosignerKey(parsing: keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let witness = Witness(dir)
        try await witness.start(["--chain", Binaries.repository.appendingPathComponent("Genesis/demo.json").path, "--node", api.base.absoluteString])
        defer { Task { await witness.kill9() } }

        let served = try await api.exchange("GET", "/v1/audit-log/checkpoint")
        try #require(served.status == 200)
        let note = try SignedNote(parsing: Array(served.body))
        let checkpoint = try Checkpoint(parsing: note.text)
        #expect(checkpoint.origin == "meridian/\(DemoCast.chainID)/audit-log")
        let first = try await witness.add(Data(AddCheckpointRequest(oldSize: 0, proof: [], checkpoint: Array(served.body)).body))
        #expect(first.status == 200, "\(first.body)")
        let cosigned = try SignedNote(parsing: Array(served.body) + Array(first.body.utf8))
        #expect(try cosigned.cosigners(among: [vkey]).count == 1)

        // A later checkpoint whose commit carries one signature of four: the witness brings its light
        // client up to the block before, and refuses it (not signed by more than 2/3 of the power);
        // the node's own checkpoint of that block is cosigned.
        let seen = try ChainCheckpoint(opening: note, chainID: DemoCast.chainID, genesis: try await Self.genesisHash(api)).header.height
        try await blocks(3)
        let genesis = try await Self.genesisHash(api)
        let later = try ChainCheckpoint(opening: Array(try await api.exchange("GET", "/v1/audit-log/checkpoint").body), chainID: DemoCast.chainID, genesis: genesis)
        #expect(later.header.height >= seen + 2)
        let weak = ChainCheckpoint(header: later.header, commit: CommitCertificate(height: later.commit.height, round: later.commit.round,
                                                                                  blockHash: later.commit.blockHash, signatures: Array(later.commit.signatures.prefix(1))))
        struct Proof: Decodable { let proof: [String] }
        let size = later.checkpoint.size
        let proof = size == checkpoint.size ? [] : try await api.get("/v1/audit-log/proof/consistency?old=\(checkpoint.size)&size=\(size)", as: Proof.self)
            .proof.compactMap { Bytes32(hex: $0) }
        let refused = try await witness.add(Data(AddCheckpointRequest(oldSize: checkpoint.size, proof: proof, checkpoint: weak.note(genesis: genesis).bytes).body))
        #expect(refused.status == 403 && refused.body.contains("light.commit"), "\(refused.status) \(refused.body)")
        let accepted = try await witness.add(Data(AddCheckpointRequest(oldSize: checkpoint.size, proof: proof, checkpoint: later.note(genesis: genesis).bytes).body))
        #expect(accepted.status == 200, "\(accepted.body)")
    }
}
