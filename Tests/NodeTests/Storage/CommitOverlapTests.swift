import Testing
import Foundation
import Logging
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianNode
import MeridianConsensusDriver
import MeridianDemo
import MeridianMempool

/// Consensus commits block h and goes on to execute h + 1 while h's synced write runs on the writer
/// thread (`ChainService.commit`). Held here with `holdWritesForTesting`, so the window is wide and
/// deterministic: nothing of h is visible to the API or the mempool's admission before it is on
/// disk, h + 1 executes on h's state from memory and gives the same roots as on a written state,
/// and a failed write stops every later commit.
@Suite(.timeLimit(.minutes(5))) struct CommitOverlapTests {
    static let validators = BlockStoreFaultTests.validators

    static func certificate(_ block: Block, chainID: String) throws -> CommitCertificate {
        let message = CommitCertificate.precommitMessage(chainID: chainID, height: block.header.height, round: 0, blockHash: block.hash)
        return CommitCertificate(height: block.header.height, round: 0, blockHash: block.hash,
                                 signatures: try validators.map { CommitSignature(validator: $0.publicKey, signature: try $0.sign(message)) })
    }

    static func admit(_ stx: SignedTransaction, to chain: ChainService) throws {
        try chain.mempool.admit(stx, size: stx.canonicalBytes.count, accounts: chain.query)
    }

    /// A patient's registration, then a consent at the next nonce (so a signer has a transaction in
    /// the block being written and its next one waiting).
    static func patientTransactions(_ chainID: String) throws -> (PrivateKey, SignedTransaction, (UInt64) throws -> SignedTransaction) {
        let patient = try PrivateKey.generate()
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: chainID, patient: patient.publicKey))
        let register = try SignedTransaction(signing: Transaction(chainID: chainID, signer: patient.publicKey, nonce: 0,
                                                                  call: .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation))), with: patient)
        let revoke: (UInt64) throws -> SignedTransaction = { nonce in
            try SignedTransaction(signing: Transaction(chainID: chainID, signer: patient.publicKey, nonce: nonce,
                                                       call: .revokeConsent(SHA256.hash(Array("no such grant \(nonce)".utf8)))), with: patient)
        }
        return (patient, register, revoke)
    }

    @Test func theNextBlockExecutesWhileTheLastIsWrittenAndNothingShowsBeforeItIsOnDisk() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("db")
        try BlockStoreFaultTests.initialise(path)
        let chain = try BlockStoreFaultTests.open(path, faults: nil)
        let chainID = chain.chainID
        let proposer = Self.validators[0].publicKey

        let (patient, register, next) = try Self.patientTransactions(chainID)
        try Self.admit(register, to: chain)
        let h1 = try await chain.buildBlock(proposer: proposer, selection: .excluding([]))
        try await chain.commit(h1, certificate: try Self.certificate(h1, chainID: chainID))
        try await chain.awaitDurable()

        let first = try next(1)
        try Self.admit(first, to: chain)
        let h2 = try await chain.buildBlock(proposer: proposer, selection: .excluding([]))
        #expect(h2.transactions.map(\.hash) == [first.hash])
        await chain.holdWritesForTesting()
        try await chain.commit(h2, certificate: try Self.certificate(h2, chainID: chainID))
        // Consensus moves on; the API, the store and admission still see the block before.
        #expect(await chain.committedHeight() == 2)
        #expect(await chain.tip.height == 1, "the API's tip moved before the block was on disk")
        #expect(try chain.store.headHeight() == 1)
        #expect(try chain.store.location(ofTransaction: first.hash) == nil)
        // The written block's transaction is neither pending for the next block nor admitted again;
        // its signer's next one is admitted (its nonce follows the one in the mempool).
        #expect(chain.pendingTransactions() == 0)
        #expect(throws: AdmissionError.self) { try Self.admit(first, to: chain) }
        let second = try next(2)
        try Self.admit(second, to: chain)
        #expect(chain.pendingTransactions() == 1)

        // Block 3 is built on block 2's state, read from memory (nonce 2 is the expected one there),
        // and a re-execution agrees.
        let h3 = try await chain.buildBlock(proposer: proposer, selection: .excluding([]))
        #expect(h3.header.height == 3 && h3.transactions.map(\.hash) == [second.hash])
        #expect(try await chain.validate(h3))

        await chain.releaseWritesForTesting()
        try await chain.awaitDurable()
        #expect(await chain.tip.height == 2)
        #expect(try chain.store.location(ofTransaction: first.hash)?.height == 2)
        #expect(chain.mempool.contains(first.hash) == false, "the written block's transaction is still pending")

        try await chain.commit(h3, certificate: try Self.certificate(h3, chainID: chainID))
        try await chain.awaitDurable()
        #expect(try chain.store.headHeight() == 3)
        // Executed on block 2's state, nonce 2 was the expected one: the revocation of a grant that
        // does not exist fails as a call (nonce spent); on block 1's it would be refused for its nonce.
        let receipts = try #require(try chain.store.receipts(at: 3))
        #expect(receipts.count == 1)
        if case .failed = receipts.first?.outcome {} else { Issue.record("block 3's transaction: \(String(describing: receipts.first?.outcome))") }

        // Reopened from disk, the state is block 3's root, and the patient's nonce is 3.
        let reopened = try AuthenticatedState(storage: chain.store.stateStorage)
        #expect(reopened.root == h3.header.stateRoot && reopened.version == 3)
        #expect(try Accounts.nonce(of: patient.publicKey, in: CommittedStateReader(reopened)) == 3)
    }

    @Test func aBlockWrittenAfterTheNextExecutedGivesTheSameRootsAsOneWrittenFirst() async throws {
        // The same three blocks on two nodes: one writes each block before it builds the next, the
        // other builds each next block while the last is held unwritten. Roots must be equal.
        let dirA = try TemporaryDirectory(), dirB = try TemporaryDirectory()
        try BlockStoreFaultTests.initialise(dirA.path("db"))
        try BlockStoreFaultTests.initialise(dirB.path("db"))
        let a = try BlockStoreFaultTests.open(dirA.path("db"), faults: nil)
        let b = try BlockStoreFaultTests.open(dirB.path("db"), faults: nil)
        let chainID = a.chainID
        let proposer = Self.validators[1].publicKey
        for height in 1...3 {
            var txs: [SignedTransaction] = []
            for _ in 0..<20 { txs.append(try BlockStoreFaultTests.registration(chainID)) }
            for stx in txs { try Self.admit(stx, to: a) }
            let block = try await a.buildBlock(proposer: proposer, selection: .excluding([]))
            let certificate = try Self.certificate(block, chainID: chainID)
            try await a.commit(block, certificate: certificate)
            try await a.awaitDurable()
            // b validates it with the block before still unwritten.
            #expect(try await b.validate(block), "height \(height): a block built on written state does not re-execute on unwritten state")
            await b.holdWritesForTesting()
            try await b.commit(block, certificate: certificate)
            #expect(try b.store.headHeight() == UInt64(height - 1))
            await b.releaseWritesForTesting()
        }
        try await b.awaitDurable()
        for h in 1...3 {
            #expect(try a.store.header(at: UInt64(h))?.hash == b.store.header(at: UInt64(h))?.hash)
        }
        let key = Array("any".utf8)
        #expect(try a.query.proof(key, at: nil).root == b.query.proof(key, at: nil).root)
    }

    @Test func aFailedWriteFailsTheWaitAndEveryLaterCommit() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("db")
        try BlockStoreFaultTests.initialise(path)
        let chain = try BlockStoreFaultTests.open(path, faults: StorageFaultPlan(kind: .sync, failAt: 1))
        let chainID = chain.chainID
        let stx = try BlockStoreFaultTests.registration(chainID)
        try Self.admit(stx, to: chain)
        let h1 = try await chain.buildBlock(proposer: Self.validators[0].publicKey, selection: .excluding([]))
        try await chain.commit(h1, certificate: try Self.certificate(h1, chainID: chainID))
        let waited = await #expect(throws: (any Error).self) { try await chain.awaitDurable() }
        #expect("\(waited.map { "\($0)" } ?? "")".contains("injected"))
        // Nothing of the block reached the API or the store, and the node refuses to go on.
        #expect(await chain.tip.height == 0)
        #expect(try chain.store.headHeight() == 0)
        let h2 = try await chain.buildBlock(proposer: Self.validators[0].publicKey, selection: .excluding([]))
        await #expect(throws: (any Error).self) { try await chain.commit(h2, certificate: try Self.certificate(h2, chainID: chainID)) }
    }
}
