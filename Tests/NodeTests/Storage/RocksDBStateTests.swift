import Testing
import Foundation
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianDemo

/// A temporary directory of this test's own, removed afterwards.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

@Suite(.timeLimit(.minutes(5))) struct RocksDBStateTests {
    @Test func reopeningTheDatabaseGivesTheSameRootValuesAndProofs() throws {
        let dir = try TemporaryDirectory()
        var root = Bytes32.zero
        var rng = SystemRandomNumberGenerator()
        var model: [[UInt8]: [UInt8]] = [:]
        do {
            let state = try AuthenticatedState(storage: try RocksDBStateStorage(path: dir.path("db")))
            for version in 0..<20 {
                let view = state.view()
                for _ in 0..<50 {
                    let k = [UInt8]("key-\(Int.random(in: 0..<300, using: &rng))".utf8)
                    if Bool.random(using: &rng) { let v = [UInt8]("v\(version)".utf8); view.set(k, v); model[k] = v } else { view.delete(k); model[k] = nil }
                }
                view.commitTransaction()
                try state.commit(try state.prepare(view, version: UInt64(version)))
            }
            root = state.root
        }
        let reopened = try AuthenticatedState(storage: try RocksDBStateStorage(path: dir.path("db")))
        #expect(reopened.version == 19)
        #expect(reopened.root == root)
        for (k, v) in model.prefix(100) {
            #expect(try reopened.value(k) == v)
            let (value, proof, r) = try reopened.proof(k)
            #expect(value == v && proof.verify(root: r, key: k, value: v))
        }
        // A version can only follow the latest.
        let view = reopened.view(); view.set([1], [1]); view.commitTransaction()
        #expect(throws: StateError(.versionOrder, "")) { try reopened.prepare(view, version: 25) }
    }

    /// The same blocks executed on two fresh RocksDB databases give identical roots, and a
    /// reopened database continues from the same root.
    @Test func sameBlocksOnTwoFreshDatabasesGiveIdenticalRoots() throws {
        let dir = try TemporaryDirectory()
        let (finalRoot, blockCount) = try runBlocks(dir)
        let reopened = try AuthenticatedState(storage: try RocksDBStateStorage(path: dir.path("a")))
        #expect(reopened.root == finalRoot && reopened.version == UInt64(blockCount))
    }

    private func runBlocks(_ dir: TemporaryDirectory) throws -> (Bytes32, Int) {
        func open(_ name: String) throws -> (AuthenticatedState, BlockExecutor) {
            let state = try AuthenticatedState(storage: try RocksDBStateStorage(path: dir.path(name)))
            let g = try Genesis.initialize(DemoCast.genesisSpec(), into: state)
            return (state, try BlockExecutor(state: state, tip: g.tip))
        }
        let (sa, ea) = try open("a"), (sb, eb) = try open("b")
        #expect(sa.root == sb.root)
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let proposer = DemoCast.staff("hospital-ribeira", "validator").publicKey
        var time = ea.tip.time
        var nonces: [PublicKey: UInt64] = [:]
        func tx(_ k: PrivateKey, _ c: Call) throws -> SignedTransaction {
            let n = nonces[k.publicKey, default: 0]; nonces[k.publicKey] = n + 1
            return try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: k.publicKey, nonce: n, call: c), with: k)
        }
        var blocks: [[SignedTransaction]] = []
        let patients = (0..<20).map { DemoCast.key("load/patient-\($0)") }
        blocks.append(try patients.map { p in
            try tx(p, .registerPatient(.init(attestor: clinician.publicKey, attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: p.publicKey)))))
        })
        for i in 0..<10 {
            blocks.append(try patients.map { p in
                try tx(p, .grantConsent(ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.problems], purposes: [.treat],
                                                     countries: [CountryCode("JP")!], validFrom: Timestamp(iso8601: "2027-01-01")!,
                                                     validUntil: Timestamp(iso8601: "2027-0\(1 + i % 9)-28")!.adding(milliseconds: 86_400_000 * 30), emergencyAccess: i % 2 == 0)))
            })
        }
        for txs in blocks {
            time = time.adding(milliseconds: 1000)
            let x = try ea.propose(time: time, proposer: proposer, transactions: txs, lastCommit: nil)
            try ea.commit(x)
            let y = try eb.execute(x.block)
            try eb.commit(y)
            #expect(sa.root == sb.root)
            #expect(x.receipts.allSatisfy { $0.succeeded })
        }
        return (sa.root, blocks.count)
    }

    @Test func aCorruptOrForeignDirectoryIsAnErrorNotACrash() throws {
        let dir = try TemporaryDirectory()
        try Data("not a database".utf8).write(to: dir.url.appendingPathComponent("CURRENT"))
        #expect(throws: StateError.self) { try RocksDBStateStorage(path: dir.url.path) }
    }
}
