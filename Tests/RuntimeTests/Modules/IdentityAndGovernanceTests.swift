import Testing
import MeridianCore
@testable import MeridianModules
import MeridianRuntime
import MeridianDemo

@Suite(.timeLimit(.minutes(5))) struct IdentityAndGovernanceTests {
    @Test func patientsNeedAProviderAttestation() throws {
        let chain = try TestChain()
        let mallory = try PrivateKey.generate()
        let admin = DemoCast.staff("hospital-ribeira", "admin")
        let byAdmin = try admin.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: mallory.publicKey))
        // A failed registration of an unknown key (a proposer let it in; the mempool refuses it) is
        // rejected: it leaves no state at all, not even a spent nonce.
        let first = try chain.block([try chain.tx(mallory, .registerPatient(.init(attestor: admin.publicKey, attestation: byAdmin)), nonce: 0)])[0]
        #expect(first.error?.code == "identity.bad_attestor")
        guard case .rejected = first.outcome else { Issue.record("a failed registration of an unknown key was \(first.outcome)"); return }
        #expect(try Accounts.nonce(of: mallory.publicKey, in: chain.reader) == 0)
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let forOther = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: DemoCast.patient("maria").publicKey))
        let second = try chain.block([try chain.tx(mallory, .registerPatient(.init(attestor: clinician.publicKey, attestation: forOther)), nonce: 0)])[0]
        #expect(second.error?.code == "identity.bad_attestation")
        #expect(try Accounts.nonce(of: mallory.publicKey, in: chain.reader) == 0 && !Identity.isRegistered(mallory.publicKey, in: chain.reader))
        let maria = try chain.registerPatient("maria")
        #expect(try Identity.patient(maria.publicKey, in: chain.reader)?.enrolledBy.value == "hospital-ribeira")
    }

    @Test func patientsPairAndUnpairTheirDevices() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let hans = try chain.registerPatient("hans")
        let oximeter = DemoCast.key("device/maria-oximeter").publicKey
        #expect(try chain.submit(maria, .pairDevice(.init(device: oximeter, kind: .pulseOximeter))).succeeded)
        #expect(try Identity.device(oximeter, in: chain.reader)?.patient == maria.publicKey)
        #expect(try chain.submit(hans, .pairDevice(.init(device: oximeter, kind: .pulseOximeter))).error?.code == "identity.device_paired")
        #expect(try chain.submit(hans, .unpairDevice(oximeter)).error?.code == "identity.device_not_paired")
        #expect(try chain.submit(maria, .unpairDevice(oximeter)).succeeded)
        #expect(try Identity.device(oximeter, in: chain.reader) == nil)
    }

    @Test func adminsManageTheirOwnOrganisationsStaff() throws {
        let chain = try TestChain()
        let admin = DemoCast.staff("clinica-sol", "admin")
        let nurse = DemoCast.key("clinica-sol/nurse").publicKey
        #expect(try chain.submit(admin, .addMember(.init(key: nurse, roles: [.provider]))).succeeded)
        #expect(try Identity.member(nurse, in: chain.reader)?.organization.value == "clinica-sol")
        #expect(try chain.submit(admin, .addMember(.init(key: nurse, roles: [.validator]))).error?.code == "identity.validator_by_governance")
        #expect(try chain.submit(admin, .addMember(.init(key: nurse, roles: [.regulator]))).error?.code == "identity.role_not_allowed")
        #expect(try chain.submit(DemoCast.staff("clinica-sol", "clinician"), .addMember(.init(key: nurse, roles: [.provider]))).error?.code == "identity.missing_role")
        #expect(try chain.submit(DemoCast.staff("sakura-general", "admin"), .removeMember(nurse)).error?.code == "identity.not_a_member")
        #expect(try chain.submit(admin, .removeMember(nurse)).succeeded)
        #expect(try Identity.member(nurse, in: chain.reader) == nil)
    }

    /// A new validator passes by > 2/3 of power and joins the set at the activation height.
    @Test func validatorSetChangesAtTheActivationHeight() throws {
        let chain = try TestChain()
        let newKey = DemoCast.key("clinica-sol/validator").publicKey
        let ribeira = DemoCast.staff("hospital-ribeira", "validator")
        let proposal = try chain.submit(ribeira, .propose(.addValidator(Validator(key: newKey, organization: OrganizationID("clinica-sol")!, power: 10))))
        let id = try #require(proposal.createdID)
        // Two of four equal validators are not more than 2/3.
        try chain.block([try chain.tx(ribeira, .vote(.init(proposal: id, approve: true))),
                         try chain.tx(DemoCast.staff("klinikum-spree", "validator"), .vote(.init(proposal: id, approve: true)))])
        #expect(try Governance.proposal(id, in: chain.reader)?.status == .open)
        #expect(try chain.submit(ribeira, .vote(.init(proposal: id, approve: true))).error?.code == "governance.already_voted")
        try chain.submit(DemoCast.staff("hopital-rhone", "validator"), .vote(.init(proposal: id, approve: true)))
        let passed = try #require(try Governance.proposal(id, in: chain.reader))
        #expect(passed.status == .passed)
        #expect(try Validators.current(in: chain.reader).count == 4)
        while chain.executor.tip.height < passed.effectiveHeight! - 1 { try chain.block([]) }
        #expect(try Validators.current(in: chain.reader).count == 4)
        try chain.block([])
        #expect(try Validators.current(in: chain.reader).count == 5)
        #expect(try Identity.member(newKey, in: chain.reader)?.has(.validator) == true)
    }

    @Test func proposalsFailWhenAThirdOrMoreVotesNo() throws {
        let chain = try TestChain()
        let ribeira = DemoCast.staff("hospital-ribeira", "validator")
        let id = try #require(try chain.submit(ribeira, .propose(.removeValidator(DemoCast.staff("clinique-leman", "validator").publicKey))).createdID)
        try chain.submit(DemoCast.staff("klinikum-spree", "validator"), .vote(.init(proposal: id, approve: false)))
        #expect(try Governance.proposal(id, in: chain.reader)?.status == .open)
        try chain.submit(DemoCast.staff("hopital-rhone", "validator"), .vote(.init(proposal: id, approve: false)))
        #expect(try Governance.proposal(id, in: chain.reader)?.status == .failed)
        #expect(try Validators.current(in: chain.reader).count == 4)
    }
}
