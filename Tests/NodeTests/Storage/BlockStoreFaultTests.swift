import Testing
import Foundation
import Logging
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianNode
import MeridianDemo

/// The failure policy at the RocksDB layer: a write or sync of the node's database that fails
/// fails the commit with a message naming the database and the operation, leaves nothing of that
/// block behind, and a node reopened on the same files resumes from the last durable block.
@Suite(.timeLimit(.minutes(5))) struct BlockStoreFaultTests {
    static let validators = DemoCast.hospitals.filter(\.validator).map { DemoCast.staff($0.id, "validator") }

    /// A chain in `path` from the demo genesis (one synced write: the genesis header).
    static func initialise(_ path: String) throws {
        let store = try BlockStore(path: path)
        let state = try AuthenticatedState(storage: store.stateStorage)
        let result = try Genesis.initialize(DemoCast.genesisSpec(), into: state)
        try store.storeGenesis(result.header)
    }

    static func open(_ path: String, faults: StorageFaultPlan?) throws -> ChainService {
        var config = NodeConfig()
        config.emptyBlocks = true
        var logger = Logger(label: "fault-test"); logger.logLevel = .critical
        let store = try BlockStore(path: path, faults: faults)
        return try ChainService(store: store, signers: validators, config: config, logger: logger, metrics: NodeMetrics())
    }

    static func registration(_ chainID: String) throws -> SignedTransaction {
        let patient = try PrivateKey.generate()
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: chainID, patient: patient.publicKey))
        let call = Call.registerPatient(.init(attestor: clinician.publicKey, attestation: attestation))
        return try SignedTransaction(signing: Transaction(chainID: chainID, signer: patient.publicKey, nonce: 0, call: call), with: patient)
    }

    @Test(arguments: [StorageFaultPlan.Kind.sync, .write])
    func aFailedWriteFailsTheCommitAndTheReopenedNodeResumesFromWhatIsDurable(kind: StorageFaultPlan.Kind) async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("db")
        try Self.initialise(path)
        let failAt = Int.random(in: 1...5)
        var hashes: [UInt64: Bytes32] = [:]
        var lost: SignedTransaction?
        var failure = ""
        do {
            let chain = try Self.open(path, faults: StorageFaultPlan(kind: kind, failAt: failAt))
            for _ in 0..<20 {
                let stx = try Self.registration(chain.chainID)
                try chain.mempool.admit(stx, size: stx.canonicalBytes.count, accounts: chain.query)
                let tip = await chain.tip
                do {
                    guard let block = try await chain.produceBlock(now: tip.time.adding(milliseconds: 1000)) else { throw TestFailure("no block") }
                    hashes[block.header.height] = block.hash
                } catch {
                    failure = "\(error)"; lost = stx
                    break
                }
            }
            // The failed block is not in the store: the head is the last block that committed.
            #expect(try chain.store.headHeight() == UInt64(hashes.count))
        }
        #expect(!failure.isEmpty, "no write failed")
        #expect(failure.contains(kind == .sync ? "rocksdb.write.sync" : "rocksdb.write") && failure.contains(path) && failure.contains("injected"),
                "the error must name the operation and the database: \(failure)")
        // Each block is one synced write (the count starts when the database is opened).
        #expect(hashes.count == failAt - 1, "\(hashes.count) blocks committed before write \(failAt) failed")

        // Reopened without the fault: same blocks, state at the head's root, nothing of the lost block.
        let chain = try Self.open(path, faults: nil)
        let head = try chain.store.headHeight()
        #expect(head == UInt64(hashes.count))
        for (h, hash) in hashes { #expect(try chain.store.block(at: h)?.hash == hash, "block \(h) changed across the failure") }
        let lostTransaction = try #require(lost)
        #expect(try chain.store.location(ofTransaction: lostTransaction.hash) == nil, "a transaction of the failed block is in the store")
        let headRoot = try #require(try chain.store.header(at: head)).stateRoot
        let latest = try chain.query.proof(Array("any".utf8), at: nil)
        #expect(latest.height == head && latest.root == headRoot, "the state is not the head block's")
        // And it goes on: the lost transaction, sent again, commits in the next block.
        try chain.mempool.admit(lostTransaction, size: lostTransaction.canonicalBytes.count, accounts: chain.query)
        let tip = await chain.tip
        let next = try #require(try await chain.produceBlock(now: tip.time.adding(milliseconds: 1000)))
        #expect(next.header.height == head + 1)
        #expect(try chain.store.location(ofTransaction: lostTransaction.hash)?.height == head + 1)
    }

    @Test func aFaultPlanIsParsedOrRefusedWithItsReason() {
        if case .success(let p) = StorageFaultPlan.parse("sync:12") { #expect(p.kind == .sync && p.failAt == 12) } else { Issue.record("sync:12 refused") }
        for bad in ["", "sync", "sync:0", "sync:-1", "flush:3", "write:x", "write:3:4"] {
            guard case .failure(let e) = StorageFaultPlan.parse(bad) else { Issue.record("'\(bad)' accepted"); continue }
            #expect(e.message.contains("write:N or sync:N"))
        }
    }

    /// The store's append invariants name what broke: a height out of sequence, a parent that is not
    /// the tip, a certificate for another block, a receipt count that is not the transaction count.
    @Test func appendInvariantsNameWhatBroke() throws {
        let parent = SHA256.hash([1])
        func block(height: UInt64, parent: Bytes32) -> Block {
            Block(header: BlockHeader(chainID: "c", height: height, time: .zero, parentHash: parent, lastCommitHash: .zero,
                                      transactionsRoot: Block.transactionsRoot([]), receiptsRoot: .zero, stateRoot: .zero,
                                      validatorsHash: .zero, proposer: Self.validators[0].publicKey), transactions: [], lastCommit: nil)
        }
        func name(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let e as InvariantViolation { return e.name } catch { return "\(error)" }
        }
        let good = block(height: 8, parent: parent)
        let certificate = CommitCertificate(height: 8, round: 0, blockHash: good.hash, signatures: [])
        #expect(name { try BlockStore.checkAppend(good, receipts: 0, commit: certificate, head: 7, parentHash: parent) } == nil)
        #expect(name { try BlockStore.checkAppend(good, receipts: 0, commit: certificate, head: 8, parentHash: parent) } == "blocks.height_sequence")
        #expect(name { try BlockStore.checkAppend(good, receipts: 0, commit: certificate, head: 7, parentHash: SHA256.hash([2])) } == "blocks.parent_hash")
        let other = CommitCertificate(height: 8, round: 0, blockHash: parent, signatures: [])
        #expect(name { try BlockStore.checkAppend(good, receipts: 0, commit: other, head: 7, parentHash: parent) } == "blocks.certificate_matches")
        #expect(name { try BlockStore.checkAppend(good, receipts: 1, commit: certificate, head: 7, parentHash: parent) } == "blocks.one_receipt_per_transaction")
    }
}
