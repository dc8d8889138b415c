import Testing
import MeridianCore
@testable import MeridianModules
import MeridianRuntime
import MeridianState
import MeridianTransparency
import MeridianDemo

/// The authorities' witnesses of the audit log on chain (issue 23 item 3): registered at genesis,
/// then rotated or retired by governance, one per regulator organisation.
@Suite(.timeLimit(.minutes(5))) struct WitnessRegistryTests {
    func registration(_ country: String, seed: String? = nil) throws -> WitnessRegistration {
        let cosigner = seed.map { try! Cosigner(name: "\(DemoCast.regulatorID(country)).example/\($0)", seed: SHA256.hash(Array($0.utf8)).bytes) } ?? DemoCast.witness(country)
        return WitnessRegistration(organization: OrganizationID(DemoCast.regulatorID(country))!, name: cosigner.key.name, publicKey: Bytes32(cosigner.key.publicKey)!)
    }

    /// Passes a proposal with three of the four demo validators and runs to its activation height;
    /// returns the proposal as it then stands (applied, or failed with its reason).
    @discardableResult
    func pass(_ chain: TestChain, _ id: Bytes32) throws -> Proposal {
        for v in ["hospital-ribeira", "klinikum-spree", "hopital-rhone"] {
            try chain.submit(DemoCast.staff(v, "validator"), .vote(.init(proposal: id, approve: true)))
        }
        let passed = try #require(try Governance.proposal(id, in: chain.reader))
        #expect(passed.status == .passed)
        while chain.executor.tip.height < passed.effectiveHeight! { try chain.block([]) }
        return try #require(try Governance.proposal(id, in: chain.reader))
    }

    func initialize(_ spec: GenesisSpec) throws(GenesisError) {
        try Genesis.initialize(spec, into: try! AuthenticatedState(storage: InMemoryStateStorage()))
    }

    @Test func theGenesisRegistersTheFourAuthoritiesWitnesses() throws {
        let chain = try TestChain()
        let registered = try Witnesses.all(in: chain.reader)
        #expect(registered.map(\.organization.value) == ["dpa-ch", "dpa-de", "dpa-fr", "dpa-pt"])
        for c in DemoCast.witnessCountries {
            let w = try #require(registered.first { $0.organization.value == DemoCast.regulatorID(c) })
            #expect(try CosignerKey(name: w.name, publicKey: w.publicKey.bytes).encoded == DemoCast.witness(c).key.encoded)
        }
        // The demo policy names exactly these keys.
        let policy = try WitnessPolicy(parsing: DemoCast.witnessPolicy())
        #expect(Set(policy.witnesses.map(\.key.encoded)) == Set(DemoCast.witnessCountries.map { DemoCast.witness($0).key.encoded }))
        #expect(policy.minimumCosigners() == 2)
    }

    @Test func anAuthorityRotatesItsWitnessKeyByGovernance() throws {
        let chain = try TestChain()
        let rotated = try registration("PT", seed: "rotated")
        let id = try #require(try chain.submit(DemoCast.regulator("PT"), .propose(.setWitness(rotated))).createdID)
        #expect(try pass(chain, id).status == .applied)
        #expect(try Witnesses.all(in: chain.reader).first { $0.organization.value == "dpa-pt" } == rotated)
        #expect(try Witnesses.all(in: chain.reader).count == 4)
    }

    @Test func onlyTheAuthorityOrTheValidatorsProposeItsWitness() throws {
        let chain = try TestChain()
        // Another authority's witness: not for DE to propose.
        #expect(try chain.submit(DemoCast.regulator("DE"), .propose(.setWitness(try registration("PT", seed: "x")))).error?.code == "governance.not_allowed")
        #expect(try chain.submit(DemoCast.regulator("DE"), .propose(.removeWitness(OrganizationID("dpa-pt")!))).error?.code == "governance.not_allowed")
        // A hospital's admin: not a proposer at all.
        #expect(try chain.submit(DemoCast.staff("clinica-sol", "admin"), .propose(.setWitness(try registration("ES")))).error?.code == "governance.not_allowed")
        // A validator may propose ES's first witness, and ES its own.
        #expect(try chain.submit(DemoCast.staff("hospital-ribeira", "validator"), .propose(.setWitness(try registration("ES", seed: "es")))).succeeded)
        #expect(try chain.submit(DemoCast.regulator("ES"), .propose(.setWitness(try registration("ES", seed: "es2")))).succeeded)
    }

    @Test func aWitnessIsARegulatorsWithAKeyAndNameOfItsOwn() throws {
        let chain = try TestChain()
        let ribeira = DemoCast.staff("hospital-ribeira", "validator")
        let es = try registration("ES", seed: "es")
        func refused(_ w: WitnessRegistration) throws -> String? { try chain.submit(ribeira, .propose(.setWitness(w))).error?.code }
        #expect(try refused(WitnessRegistration(organization: OrganizationID("clinica-sol")!, name: es.name, publicKey: es.publicKey)) == "governance.not_a_regulator_org")
        #expect(try refused(WitnessRegistration(organization: OrganizationID("dpa-xx")!, name: es.name, publicKey: es.publicKey)) == "governance.unknown_organization")
        let pt = try registration("PT")
        #expect(try refused(WitnessRegistration(organization: es.organization, name: es.name, publicKey: pt.publicKey)) == "witness.duplicate_key")
        #expect(try refused(WitnessRegistration(organization: es.organization, name: pt.name, publicKey: es.publicKey)) == "witness.duplicate_name")
        for bad in ["", "two words", "a+b", "tab\there", "nbsp\u{00A0}x", String(repeating: "n", count: WitnessRegistration.maxNameBytes + 1)] {
            #expect(try refused(WitnessRegistration(organization: es.organization, name: bad, publicKey: es.publicKey)) == "witness.bad_name", "name '\(bad.prefix(20))'")
        }
        #expect(try refused(es) == nil)
    }

    @Test func aRetiredWitnessLeavesTheRegistryAndItsOrganisationMayThenGo() throws {
        let chain = try TestChain()
        let ribeira = DemoCast.staff("hospital-ribeira", "validator")
        let remove = try #require(try chain.submit(ribeira, .propose(.removeOrganization(OrganizationID("dpa-ch")!))).createdID)
        // An authority with a registered witness stays until its witness is retired.
        let refused = try pass(chain, remove)
        #expect(refused.status == .failed && refused.failure?.contains("governance.organization_has_witness") == true, "\(refused.failure ?? "applied")")
        #expect(try Identity.organization(OrganizationID("dpa-ch")!, in: chain.reader) != nil)
        let retire = try #require(try chain.submit(ribeira, .propose(.removeWitness(OrganizationID("dpa-ch")!))).createdID)
        #expect(try pass(chain, retire).status == .applied)
        #expect(try Witnesses.all(in: chain.reader).map(\.organization.value) == ["dpa-de", "dpa-fr", "dpa-pt"])
        #expect(try chain.submit(ribeira, .propose(.removeWitness(OrganizationID("dpa-ch")!))).error?.code == "witness.unknown")
        let again = try #require(try chain.submit(ribeira, .propose(.removeOrganization(OrganizationID("dpa-ch")!))).createdID)
        #expect(try pass(chain, again).status == .applied)
        #expect(try Identity.organization(OrganizationID("dpa-ch")!, in: chain.reader) == nil)
    }

    @Test func theActionsRoundTripAndAHostileOneIsRefused() throws {
        for action in [GovernanceAction.setWitness(try registration("PT")), .removeWitness(OrganizationID("dpa-pt")!)] {
            #expect(try GovernanceAction(canonicalBytes: action.canonicalBytes) == action)
        }
        var bytes = GovernanceAction.setWitness(try registration("PT")).canonicalBytes
        bytes.removeLast()
        #expect(throws: CodecError.self) { try GenesisActionProbe.decode(bytes) }
    }

    @Test func aGenesisWitnessIsCheckedWithTheFieldNamed() throws {
        var spec = DemoCast.genesisSpec()
        spec.witnesses = [.init(organization: OrganizationID("dpa-pt")!, vkey: "not a vkey")]
        do { try initialize(spec); Issue.record("a bad vkey was accepted") } catch { #expect(error.field == "witnesses[0].vkey") }
        spec.witnesses = [.init(organization: OrganizationID("hospital-ribeira")!, vkey: DemoCast.witness("PT").key.encoded)]
        do { try initialize(spec); Issue.record("a hospital's witness was accepted") } catch { #expect(error.field == "witnesses[0]") }
    }
}

enum GenesisActionProbe {
    static func decode(_ bytes: [UInt8]) throws(CodecError) { _ = try GovernanceAction(canonicalBytes: bytes) }
}
