import Testing
import MeridianCore
@testable import MeridianModules
import MeridianRuntime
import MeridianDemo

/// The transfer rule matrix of the demo genesis: custodian country x destination country x
/// (explicit consent, emergency), each with the expected basis or denial.
@Suite(.timeLimit(.minutes(5))) struct TransferRuleMatrixTests {
    struct Row: CustomTestStringConvertible, Sendable {
        let source: String, destination: String, explicit: Bool, emergency: Bool
        let expected: TransferBasis?
        var testDescription: String { "\(source)->\(destination) explicit=\(explicit) emergency=\(emergency)" }
    }

    static let rows: [Row] = [
        Row(source: "PT", destination: "PT", explicit: false, emergency: false, expected: .domestic),
        Row(source: "PT", destination: "ES", explicit: false, emergency: false, expected: .freeFlowZone),
        Row(source: "DE", destination: "FR", explicit: false, emergency: false, expected: .freeFlowZone),
        Row(source: "FR", destination: "NO", explicit: false, emergency: false, expected: .freeFlowZone),
        Row(source: "PT", destination: "JP", explicit: false, emergency: false, expected: .adequacyDecision),
        Row(source: "DE", destination: "CH", explicit: false, emergency: false, expected: .adequacyDecision),
        Row(source: "FR", destination: "GB", explicit: false, emergency: false, expected: .adequacyDecision),
        Row(source: "FR", destination: "TH", explicit: false, emergency: false, expected: nil),
        Row(source: "FR", destination: "TH", explicit: true, emergency: false, expected: .explicitConsent),
        Row(source: "FR", destination: "TH", explicit: false, emergency: true, expected: .vitalInterests),
        Row(source: "FR", destination: "TH", explicit: true, emergency: true, expected: .explicitConsent),
        Row(source: "DE", destination: "BR", explicit: false, emergency: false, expected: nil),
        Row(source: "CH", destination: "DE", explicit: false, emergency: false, expected: .adequacyDecision),
        Row(source: "CH", destination: "JP", explicit: false, emergency: false, expected: nil),
        Row(source: "JP", destination: "PT", explicit: false, emergency: false, expected: .adequacyDecision),
        Row(source: "JP", destination: "TH", explicit: false, emergency: true, expected: .vitalInterests),
        // A country no rule governs: only domestic, explicit consent or vital interests.
        Row(source: "TH", destination: "PT", explicit: false, emergency: false, expected: nil),
        Row(source: "TH", destination: "TH", explicit: false, emergency: false, expected: .domestic),
    ]

    @Test(arguments: rows)
    func transferBasis(_ row: Row) throws {
        let rules = DemoCast.transferRules()
        let source = CountryCode(row.source)!
        let rule = rules.first { $0.countries.contains(source) }
        let basis = Jurisdictions.transferBasis(from: source, to: CountryCode(row.destination)!, rule: rule,
                                                explicitConsent: row.explicit, emergencyAllowed: row.emergency)
        #expect(basis == row.expected)
    }

    /// Jean (custodian in Lyon): Chao Phraya (TH) is denied for lack of a transfer basis, then
    /// allowed on Art. 49(1)(a) once he names TH for explicit transfer consent.
    @Test func jeanExplicitConsentToThailand() throws {
        let chain = try TestChain()
        let jean = try chain.registerPatient("jean", enrolledAt: "hopital-rhone")
        let record = try chain.registerRecord(patient: jean.publicKey, category: .problems, custodian: "hopital-rhone")
        let chao = DemoCast.staff("chao-phraya", "clinician")
        let first = try chain.submit(jean, .grantConsent(chain.terms(to: ["chao-phraya"], countries: ["TH"])))
        let r1 = try chain.submit(chao, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        #expect(r1.decision?.reason == .noTransferBasis)
        #expect(try chain.submit(jean, .amendConsent(.init(consent: first.createdID!, terms: chain.terms(to: ["chao-phraya"], countries: ["TH"], explicit: ["TH"])))).succeeded)
        let r2 = try chain.submit(chao, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        #expect(r2.decision?.reason == .allowedByConsent)
        #expect(r2.decision?.transferBasis == .explicitConsent)
        #expect(r2.decision?.sourceCountry == CountryCode("FR") && r2.decision?.destinationCountry == CountryCode("TH"))
    }

    /// The rule table is state: a regulator proposes adding Brazil to the EU adequacy list,
    /// validators pass it, and it applies at the activation height, not before.
    @Test func ruleTableChangesByGovernance() throws {
        let chain = try TestChain()
        var rule = DemoCast.transferRules()[0]
        rule = TransferRule(name: rule.name, countries: rule.countries, freeFlow: rule.freeFlow, adequate: rule.adequate + [CountryCode("BR")!])
        let proposal = try chain.submit(DemoCast.regulator("PT"), .propose(.setTransferRule(rule)))
        #expect(proposal.succeeded)
        let id = try #require(proposal.createdID)
        // A regulator may not propose validator changes, and does not vote.
        #expect(try chain.submit(DemoCast.regulator("PT"), .propose(.removeValidator(DemoCast.staff("clinique-leman", "validator").publicKey))).error?.code == "governance.not_allowed")
        #expect(try chain.submit(DemoCast.regulator("PT"), .vote(.init(proposal: id, approve: true))).error?.code == "governance.not_a_validator")
        let validators = ["hospital-ribeira", "klinikum-spree", "hopital-rhone"].map { DemoCast.staff($0, "validator") }
        let receipts = try chain.block(validators.map { try! chain.tx($0, .vote(.init(proposal: id, approve: true))) })
        #expect(receipts.allSatisfy { $0.succeeded })
        let passed = try #require(try Governance.proposal(id, in: chain.reader))
        #expect(passed.status == .passed)
        let effective = try #require(passed.effectiveHeight)
        #expect(try Jurisdictions.rule(governing: CountryCode("DE")!, in: chain.reader)?.adequate.contains(CountryCode("BR")!) == false)
        while chain.executor.tip.height < effective { try chain.block([]) }
        #expect(try Governance.proposal(id, in: chain.reader)?.status == .applied)
        #expect(try Jurisdictions.rule(governing: CountryCode("DE")!, in: chain.reader)?.adequate.contains(CountryCode("BR")!) == true)
    }
}
