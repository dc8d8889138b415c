import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Key rotation in the runtime (issue 24): only the key's organisation's admin schedules it, with
/// the new key's proof of possession; it applies at the activation height, before any transaction;
/// from then the old key has no role (a validator's vote or certificate signature is a stranger's,
/// a worker's anchor is refused); a rotation that no longer holds at its height is dropped.
@Suite(.timeLimit(.minutes(5))) struct KeyRotationScheduleTests {
    // Klinikum Spree's keys: the test chain's blocks are proposed by Hospital Ribeira's validator.
    let admin = DemoCast.staff("klinikum-spree", "admin")
    let oldValidator = DemoCast.staff("klinikum-spree", "validator")

    func rotation(_ role: KeyRotation.Role, old: PublicKey, new: PrivateKey, signedBy signer: PrivateKey? = nil) throws -> KeyRotation {
        let message = KeyRotations.possessionMessage(chainID: DemoCast.chainID, role: role, old: old, new: new.publicKey)
        return KeyRotation(role: role, old: old, new: new.publicKey, possession: try (signer ?? new).sign(message))
    }

    @Test func aValidatorKeyMovesWithItsPowerAtTheActivationHeight() throws {
        let chain = try TestChain()
        let newKey = DemoCast.key("rotation/spree-validator-2")
        let before = try #require(try Validators.current(in: chain.reader).first { $0.key == oldValidator.publicKey })
        let r = try chain.submit(admin, .rotateKey(try rotation(.validator, old: oldValidator.publicKey, new: newKey)))
        #expect(r.succeeded, "\(String(describing: r.error))")
        let scheduled = try #require(try KeyRotations.pending(of: oldValidator.publicKey, in: chain.reader))
        #expect(scheduled.effectiveHeight == chain.executor.tip.height + ChainParameters().governanceActivationDelayBlocks)
        #expect(r.events.contains(.keyRotation(organization: OrganizationID("klinikum-spree")!, old: oldValidator.publicKey, new: newKey.publicKey,
                                               effectiveHeight: scheduled.effectiveHeight, applied: false)))
        while chain.executor.tip.height < scheduled.effectiveHeight - 1 { try chain.block([]) }
        #expect(try Validators.current(in: chain.reader).contains { $0.key == oldValidator.publicKey }, "not before its height")
        try chain.block([])
        let set = try Validators.current(in: chain.reader)
        #expect(!set.contains { $0.key == oldValidator.publicKey })
        #expect(set.first { $0.key == newKey.publicKey } == Validator(key: newKey.publicKey, organization: before.organization, power: before.power))
        #expect(try Identity.member(newKey.publicKey, in: chain.reader)?.has(.validator) == true)
        #expect(try Identity.member(oldValidator.publicKey, in: chain.reader)?.has(.validator) != true)
        #expect(try KeyRotations.pending(of: oldValidator.publicKey, in: chain.reader) == nil)

        // The old key's vote is a stranger's: in governance and in a commit certificate.
        let proposal = try #require(try chain.submit(DemoCast.staff("hopital-rhone", "validator"),
                                                     .propose(.removeTransferRule("no-such-rule"))).createdID)
        let oldVote = try chain.submit(oldValidator, .vote(.init(proposal: proposal, approve: true)))
        #expect(oldVote.error?.code == "tx.unregistered_signer", "the old key holds no role, so no account: \(String(describing: oldVote.error))")
        #expect(try chain.submit(newKey, .vote(.init(proposal: proposal, approve: true))).succeeded)
        let height = chain.executor.tip.height
        let hash = chain.executor.tip.hash
        let message = CommitCertificate.precommitMessage(chainID: DemoCast.chainID, height: height, round: 0, blockHash: hash)
        let powers = try Validators.powers(in: chain.reader)
        let others = ["hospital-ribeira", "hopital-rhone", "clinique-leman"].map { DemoCast.staff($0, "validator") }
        func certificate(_ keys: [PrivateKey]) throws -> CommitCertificate {
            CommitCertificate(height: height, round: 0, blockHash: hash, signatures: try keys.map { CommitSignature(validator: $0.publicKey, signature: try $0.sign(message)) })
        }
        #expect(throws: Never.self) { try certificate(others + [newKey]).verify(chainID: DemoCast.chainID, validators: powers, blockHash: hash).get() }
        guard case .failure(.unknownValidator(let k)) = try certificate(others + [oldValidator]).verify(chainID: DemoCast.chainID, validators: powers, blockHash: hash) else {
            Issue.record("a certificate with the old key's signature verified"); return
        }
        #expect(k == oldValidator.publicKey)
    }

    @Test func onlyTheOrganisationsAdminRotatesAKeyItCanProveIsHeld() throws {
        let chain = try TestChain()
        let newKey = DemoCast.key("rotation/spree-validator-3")
        let good = try rotation(.validator, old: oldValidator.publicKey, new: newKey)
        #expect(try chain.submit(oldValidator, .rotateKey(good)).error?.code.hasPrefix("identity.") == true, "the validator key itself is not the admin")
        #expect(try chain.submit(DemoCast.staff("hospital-ribeira", "admin"), .rotateKey(good)).error?.code == "rotation.not_a_member")
        #expect(try chain.submit(admin, .rotateKey(try rotation(.validator, old: oldValidator.publicKey, new: newKey, signedBy: admin))).error?.code == "rotation.bad_possession")
        #expect(try chain.submit(admin, .rotateKey(try rotation(.validator, old: oldValidator.publicKey, new: oldValidator))).error?.code == "rotation.same_key")
        #expect(try chain.submit(admin, .rotateKey(try rotation(.validator, old: oldValidator.publicKey, new: DemoCast.staff("klinikum-spree", "clinician")))).error?.code == "identity.key_in_use")
        #expect(try chain.submit(admin, .rotateKey(try rotation(.validator, old: DemoCast.staff("klinikum-spree", "clinician").publicKey, new: newKey))).error?.code == "rotation.not_a_validator")
        #expect(try chain.submit(admin, .rotateKey(try rotation(.worker, old: DemoCast.staff("klinikum-spree", "clinician").publicKey, new: newKey))).error?.code == "rotation.not_a_worker")
        // A rotation signed for another chain does not verify here.
        let otherChain = KeyRotations.possessionMessage(chainID: "another-chain", role: .validator, old: oldValidator.publicKey, new: newKey.publicKey)
        #expect(try chain.submit(admin, .rotateKey(KeyRotation(role: .validator, old: oldValidator.publicKey, new: newKey.publicKey,
                                                                possession: try newKey.sign(otherChain)))).error?.code == "rotation.bad_possession")
        #expect(try chain.submit(admin, .rotateKey(good)).succeeded)
        // In the next block (before the rotation's height): the key is already being rotated, and the new key is claimed.
        let another = DemoCast.key("rotation/spree-worker-9")
        let next = try chain.block([try chain.tx(admin, .rotateKey(good)),
                                    try chain.tx(admin, .rotateKey(try rotation(.worker, old: DemoCast.staff("klinikum-spree", "worker").publicKey, new: newKey)))])
        #expect(next.map { $0.error?.code } == ["rotation.pending", "rotation.pending"], "\(next.map { String(describing: $0.error) })")
        #expect(try chain.submit(admin, .rotateKey(try rotation(.worker, old: DemoCast.staff("klinikum-spree", "worker").publicKey, new: another))).succeeded)
    }

    @Test func aWorkerKeyRotatedOutAnchorsNothingAndADroppedRotationSaysSo() throws {
        let chain = try TestChain()
        let admin = DemoCast.staff("hospital-ribeira", "admin")
        let oldWorker = DemoCast.staff("hospital-ribeira", "worker")
        let newWorker = DemoCast.key("rotation/ribeira-worker-2")
        #expect(try chain.submit(admin, .rotateKey(try rotation(.worker, old: oldWorker.publicKey, new: newWorker))).succeeded)
        let effective = try #require(try KeyRotations.pending(of: oldWorker.publicKey, in: chain.reader)).effectiveHeight
        while chain.executor.tip.height < effective { try chain.block([]) }
        func anchor(_ n: UInt8) -> AnchorSubmission {
            AnchorSubmission(kind: .readings, root: MerkleTree.root(leaves: [[n]]), count: 1, from: chain.time, to: chain.time, producer: SHA256.hash([n]))
        }
        #expect(try chain.submit(oldWorker, .submitAnchor(anchor(1))).succeeded == false)
        #expect(try chain.submit(newWorker, .submitAnchor(anchor(2))).succeeded)
        #expect(try Identity.member(oldWorker.publicKey, in: chain.reader) == nil)

        // Scheduled, then the old key removed before its height: dropped, the new key gets nothing.
        let spreeAdmin = DemoCast.staff("klinikum-spree", "admin")
        let spreeWorker = DemoCast.staff("klinikum-spree", "worker")
        let unused = DemoCast.key("rotation/spree-worker-2")
        #expect(try chain.submit(spreeAdmin, .rotateKey(try rotation(.worker, old: spreeWorker.publicKey, new: unused))).succeeded)
        let due = try #require(try KeyRotations.pending(of: spreeWorker.publicKey, in: chain.reader)).effectiveHeight
        #expect(try chain.submit(spreeAdmin, .removeMember(spreeWorker.publicKey)).succeeded)
        while chain.executor.tip.height < due { try chain.block([]) }
        #expect(try Identity.member(unused.publicKey, in: chain.reader) == nil)
        #expect(try KeyRotations.pending(of: spreeWorker.publicKey, in: chain.reader) == nil)
    }
}
