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
}
