import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Equivocation evidence on chain: checked, recorded once, visible in state.
@Suite(.timeLimit(.minutes(5))) struct EvidenceTests {
    let doubleSigner = DemoCast.staff("klinikum-spree", "validator")
    let reporter = DemoCast.staff("hospital-ribeira", "validator")

    func vote(_ value: Bytes32?, kind: UInt8 = 1, by key: PrivateKey, height: UInt64 = 7, round: UInt32 = 0, chainID: String = DemoCast.chainID) throws -> SignedConsensusVote {
        let digest = SignedConsensusVote.signingHash(chainID: chainID, kind: kind, height: height, round: round, value: value)
        return SignedConsensusVote(kind: kind, height: height, round: round, value: value, validator: key.publicKey, signature: try key.sign(digest))
    }

    @Test func aDoubleSignIsRecordedOnceAndFakesAreRefused() throws {
        let chain = try TestChain()
        let a = SHA256.hash([1]), b = SHA256.hash([2])
        let good = EquivocationEvidence(first: try vote(a, by: doubleSigner), second: try vote(b, by: doubleSigner))
        let r = try chain.submit(reporter, .submitEvidence(good))
        #expect(r.succeeded, "\(String(describing: r.error))")
        #expect(r.events.contains(.evidenceRecorded(validator: doubleSigner.publicKey, height: 7)))
        let stored = try #require(try chain.reader.read(EvidenceRecord.self, Evidence.key(good.first)))
        #expect(stored.reportedBy == reporter.publicKey)
        #expect(try chain.submit(reporter, .submitEvidence(good)).error?.code == "evidence.duplicate")

        let cases: [(EquivocationEvidence, String)] = [
            (EquivocationEvidence(first: try vote(a, by: doubleSigner, height: 8), second: try vote(a, by: doubleSigner, height: 8)), "evidence.same_vote"),
            (EquivocationEvidence(first: try vote(a, by: doubleSigner, height: 9), second: try vote(b, by: doubleSigner, height: 9, round: 1)), "evidence.different_steps"),
            (EquivocationEvidence(first: try vote(a, by: doubleSigner, height: 10), second: try vote(b, by: doubleSigner, height: 10, chainID: "other")), "evidence.bad_signature"),
            (EquivocationEvidence(first: try vote(a, by: DemoCast.key("nobody"), height: 11), second: try vote(b, by: DemoCast.key("nobody"), height: 11)), "evidence.unknown_validator"),
        ]
        for (e, code) in cases { #expect(try chain.submit(reporter, .submitEvidence(e)).error?.code == code) }
        // Only validators report.
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let fresh = EquivocationEvidence(first: try vote(a, by: doubleSigner, height: 12), second: try vote(nil, by: doubleSigner, height: 12))
        #expect(try chain.submit(clinician, .submitEvidence(fresh)).error?.code == "evidence.not_a_validator")
    }

    /// Evidence committed suspends the double-signer's voting power at a fixed later height (the
    /// governance delay), on every node at once; only a governance vote readmits it, with its power.
    @Test func evidenceSuspendsTheValidatorUntilGovernanceReadmitsIt() throws {
        let chain = try TestChain()
        let before = try Validators.current(in: chain.reader)
        let power = try #require(before.first { $0.key == doubleSigner.publicKey }).power
        let e = EquivocationEvidence(first: try vote(SHA256.hash([1]), by: doubleSigner), second: try vote(SHA256.hash([2]), by: doubleSigner))
        #expect(try chain.submit(reporter, .submitEvidence(e)).succeeded)
        let recorded = chain.executor.tip.height
        let scheduled = try #require(try Suspensions.suspension(of: doubleSigner.publicKey, in: chain.reader))
        let delay = ChainParameters().governanceActivationDelayBlocks
        #expect(scheduled.effectiveHeight == recorded + delay && !scheduled.inEffect)
        // Not before its height...
        while chain.executor.tip.height + 1 < scheduled.effectiveHeight {
            try chain.block([])
            #expect(try Validators.current(in: chain.reader).contains { $0.key == doubleSigner.publicKey })
        }
        // ...and from it on, everywhere: the set, its hash in the next header, the record.
        try chain.block([])
        #expect(chain.executor.tip.height == scheduled.effectiveHeight)
        #expect(try !Validators.current(in: chain.reader).contains { $0.key == doubleSigner.publicKey })
        #expect(try Suspensions.suspension(of: doubleSigner.publicKey, in: chain.reader)?.inEffect == true)
        try chain.block([])
        #expect(chain.blocks.last?.header.validatorsHash == ValidatorPower.setHash(try Validators.powers(in: chain.reader)))
        // The remaining validators readmit it by a governance vote.
        let proposal = try #require(try chain.submit(reporter, .propose(.readmitValidator(doubleSigner.publicKey))).createdID)
        for voter in ["hospital-ribeira", "hopital-rhone", "clinique-leman"] {
            #expect(try chain.submit(DemoCast.staff(voter, "validator"), .vote(.init(proposal: proposal, approve: true))).succeeded)
        }
        for _ in 0..<Int(delay) { try chain.block([]) }
        #expect(try Validators.current(in: chain.reader).first { $0.key == doubleSigner.publicKey }?.power == power)
        #expect(try Suspensions.suspension(of: doubleSigner.publicKey, in: chain.reader) == nil)
        #expect(try chain.submit(reporter, .propose(.readmitValidator(doubleSigner.publicKey))).error?.code == "governance.not_suspended")
    }
}
