import Testing
import MeridianCore
import MeridianState
@testable import MeridianModules
@testable import MeridianRuntime
import MeridianDemo

@Suite(.timeLimit(.minutes(5))) struct BlockExecutionTests {
    @Test func envelopeChecksRejectWithoutStateChange() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let terms = chain.terms(to: ["sakura-general"], countries: ["JP"])
        let rootBefore = chain.state.root

        // Wrong chain id.
        let wrongChain = try chain.tx(maria, .grantConsent(terms), nonce: 1, chainID: "other-chain")
        // Forged signature: a valid transaction with one signature bit flipped.
        let good = try chain.tx(maria, .grantConsent(terms), nonce: 1)
        var sig = good.signature.bytes; sig[5] ^= 1
        let forged = SignedTransaction(transaction: good.transaction, signature: Bytes64(sig)!)
        // Signed by someone else than the stated signer.
        let impostor = try DemoCast.patient("hans").sign(good.transaction.signingHash)
        let wrongSigner = SignedTransaction(transaction: good.transaction, signature: impostor)
        // Replay of the registration (nonce 0 is spent) and a nonce from the future.
        let replay = try chain.tx(maria, .grantConsent(terms), nonce: 0)
        let future = try chain.tx(maria, .grantConsent(terms), nonce: 7)
        // An unregistered key.
        let stranger = try PrivateKey.generate()
        let unregistered = try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: stranger.publicKey, nonce: 0, call: .grantConsent(terms)), with: stranger)

        let receipts = try chain.block([wrongChain, forged, wrongSigner, replay, future, unregistered])
        #expect(receipts.map { $0.error?.code } == ["tx.wrong_chain", "tx.bad_signature", "tx.bad_signature", "tx.replayed_nonce", "tx.future_nonce", "tx.unregistered_signer"])
        for r in receipts { if case .rejected = r.outcome {} else { Issue.record("expected rejection, got \(r.outcome)") } }
        #expect(try Accounts.nonce(of: maria.publicKey, in: chain.reader) == 1)
        #expect(try Consent.activeConsents(of: maria.publicKey, in: chain.reader).isEmpty)
        #expect(chain.state.root == rootBefore, "rejected transactions must change nothing")
    }

    @Test func aFailingCallLeavesNoPartialWritesButSpendsItsNonce() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let ok = chain.terms(to: ["sakura-general"], countries: ["JP"])
        let bad = chain.terms(to: ["sakura-general", "no-such-org"], countries: ["JP"])
        let receipts = try chain.block([try chain.tx(maria, .grantConsent(bad)), try chain.tx(maria, .grantConsent(ok))])
        #expect(receipts[0].error?.code == "consent.unknown_grantee")
        if case .failed = receipts[0].outcome {} else { Issue.record("expected a failed call") }
        #expect(receipts[0].events.isEmpty && receipts[0].createdID == nil)
        #expect(receipts[1].succeeded)
        #expect(try Consent.activeConsents(of: maria.publicKey, in: chain.reader).map(\.id) == [receipts[1].createdID!])
        #expect(try Accounts.nonce(of: maria.publicKey, in: chain.reader) == 3)
        // The failed transaction cannot be replayed.
        let replay = try chain.block([try chain.tx(maria, .grantConsent(ok), nonce: 1)])
        #expect(replay[0].error?.code == "tx.replayed_nonce")
    }

    @Test func perAccountQuotaBoundsABlock() throws {
        var spec = DemoCast.genesisSpec()
        var params = ChainParameters(); params.maxTransactionsPerAccountPerBlock = 3
        spec.parameters = params
        let chain = try TestChain(spec: spec)
        let maria = try chain.registerPatient("maria")
        let terms = chain.terms(to: ["sakura-general"], countries: ["JP"])
        let receipts = try chain.block(try (0..<5).map { _ in try chain.tx(maria, .grantConsent(terms)) })
        #expect(receipts.map(\.succeeded) == [true, true, true, false, false])
        #expect(receipts[3].error?.code == "tx.account_quota")
    }

    @Test func validatorsRejectBlocksWhoseHeaderDisagreesWithReexecution() throws {
        let proposerChain = try TestChain()
        let validatorChain = try TestChain()
        let maria = DemoCast.patient("maria")
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))
        let tx = try proposerChain.tx(maria, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)))
        let executed = try proposerChain.executor.propose(time: proposerChain.time.adding(milliseconds: 1000), proposer: proposerChain.proposer,
                                                          transactions: [tx], lastCommit: nil)
        let h = executed.block.header
        func tampered(_ edit: (inout BlockHeader) -> Void) -> Block {
            var header = h; edit(&header)
            return Block(header: header, transactions: executed.block.transactions, lastCommit: nil)
        }
        let cases: [(Block, String)] = [
            (tampered { $0.stateRoot = SHA256.hash([1]) }, "block.state_root"),
            (tampered { $0.receiptsRoot = SHA256.hash([2]) }, "block.receipts_root"),
            (tampered { $0.transactionsRoot = SHA256.hash([3]) }, "block.transactions_root"),
            (tampered { $0.parentHash = SHA256.hash([4]) }, "block.parent"),
            (tampered { $0.height = 5 }, "block.height"),
            (tampered { $0.time = Timestamp(unixMilliseconds: 0) }, "block.time"),
            (tampered { $0.chainID = "other" }, "block.chain_id"),
            (tampered { $0.proposer = maria.publicKey }, "block.proposer"),
            (tampered { $0.validatorsHash = SHA256.hash([5]) }, "block.validators_hash"),
            (tampered { $0.lastCommitHash = SHA256.hash([6]) }, "block.last_commit_hash"),
        ]
        for (block, code) in cases {
            #expect(throws: BlockError(code, "")) { try validatorChain.executor.execute(block) }
        }
        // The untampered block re-executes to the same result and commits.
        let reexecuted = try validatorChain.executor.execute(executed.block)
        #expect(reexecuted.prepared.root == h.stateRoot)
        try validatorChain.executor.commit(reexecuted)
        try proposerChain.executor.commit(executed)
        #expect(validatorChain.state.root == proposerChain.state.root)
    }

    /// Two independent runtimes fed the same random blocks agree on every receipt and root.
    @Test func executionIsDeterministic() throws {
        var rng = SeededGenerator(seed: testSeed(0xb10c))
        let a = try TestChain(), b = try TestChain()
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let patients = ["maria", "hans", "jean"].map(DemoCast.patient)
        let registrations = try patients.map { p in
            try a.tx(p, .registerPatient(.init(attestor: clinician.publicKey,
                                               attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: p.publicKey)))))
        }
        #expect(try a.block(registrations) == b.block(registrations))
        let orgs = DemoCast.hospitals.map(\.id)
        for _ in 0..<20 {
            var txs: [SignedTransaction] = []
            for _ in 0..<Int.random(in: 1...30, using: &rng) {
                let p = patients.randomElement(using: &rng)!
                let terms = a.terms(to: [orgs.randomElement(using: &rng)!], countries: ["JP", "ES", "TH"].shuffled(using: &rng).prefix(2).map { $0 })
                txs.append(try a.tx(p, .grantConsent(terms)))
            }
            let ra = try a.block(txs), rb = try b.block(txs)
            #expect(ra == rb)
            #expect(a.state.root == b.state.root)
            #expect(a.executor.tip.hash == b.executor.tip.hash)
        }
    }

    @Test func transactionsRoundTripAndRefuseTrailingOrOversizedBytes() throws {
        let chain = try TestChain()
        let tx = try chain.tx(DemoCast.patient("maria"), .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"])))
        let bytes = tx.canonicalBytes
        #expect(try SignedTransaction.decodeSubmitted(bytes) == tx)
        #expect(throws: CodecError(.trailingBytes, field: "", offset: 0)) { try SignedTransaction.decodeSubmitted(bytes + [0]) }
        #expect(throws: CodecError(.lengthTooLarge, field: "", offset: 0)) { try SignedTransaction.decodeSubmitted([UInt8](repeating: 1, count: SignedTransaction.maxEncodedBytes + 1)) }
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: CodecError.self) { try SignedTransaction.decodeSubmitted(Array(bytes[0..<cut])) }
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct SignatureCheckingTests {
    /// Signatures checked by helper threads while execution runs give the same receipts as one
    /// thread, whatever the number of helpers and wherever the forged signatures are.
    @Test(arguments: [1, 2, 3, 5])
    func overlappedSignatureChecksMatchSequentialOnes(threads: Int) throws {
        var rng = SeededGenerator(seed: testSeed(0x51c))
        let reference = try TestChain()
        let chain = try TestChain()
        chain.executor.verificationThreads = threads
        reference.executor.verificationThreads = 1
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let patients = (0..<300).map { DemoCast.key("sig/\($0)") }
        var txs = try patients.map { p in
            try reference.tx(p, .registerPatient(.init(attestor: clinician.publicKey,
                attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: p.publicKey)))))
        }
        for _ in 0..<25 {
            let i = Int.random(in: 0..<txs.count, using: &rng)
            var sig = txs[i].signature.bytes; sig[Int.random(in: 0..<64, using: &rng)] ^= 0x10
            txs[i] = SignedTransaction(transaction: txs[i].transaction, signature: Bytes64(sig)!)
        }
        let expected = try reference.block(txs)
        let got = try chain.block(txs)
        #expect(got == expected)
        #expect(got.contains { $0.error?.code == "tx.bad_signature" })
        #expect(chain.state.root == reference.state.root)
    }

    /// Transactions whose signature the caller already checked (the mempool's) are not checked
    /// again, anywhere in the block, and the receipts and root are those of a full check; a forged
    /// signature the caller did not vouch for is still caught.
    @Test(arguments: [1, 2, 3])
    func preverifiedSignaturesGiveTheSameResult(threads: Int) throws {
        var rng = SeededGenerator(seed: testSeed(0x5ca))
        let reference = try TestChain()
        let chain = try TestChain()
        chain.executor.verificationThreads = threads
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let patients = (0..<200).map { DemoCast.key("pre/\($0)") }
        var txs = try patients.map { p in
            try reference.tx(p, .registerPatient(.init(attestor: clinician.publicKey,
                attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: p.publicKey)))))
        }
        var forged: Set<Int> = []
        for _ in 0..<10 {
            let i = Int.random(in: 0..<txs.count, using: &rng)
            var sig = txs[i].signature.bytes; sig[Int.random(in: 0..<64, using: &rng)] ^= 0x04
            txs[i] = SignedTransaction(transaction: txs[i].transaction, signature: Bytes64(sig)!)
            forged.insert(i)
        }
        // The caller vouches for a random half of the valid ones.
        let vouched = Set(txs.indices.filter { !forged.contains($0) && Bool.random(using: &rng) }.map { txs[$0].hash })
        let expected = try reference.block(txs)
        let executed = try chain.executor.propose(time: reference.time, proposer: chain.proposer, transactions: txs, lastCommit: nil,
                                                  preverified: { vouched.contains($0) })
        #expect(executed.receipts == expected)
        #expect(executed.receipts.filter { $0.error?.code == "tx.bad_signature" }.count == forged.count)
        #expect(executed.prepared.root == reference.state.root)
    }
}
