import Testing
import MeridianCore
import MeridianState
@testable import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Policy contracts inside `authorize`, through transactions on the demo chain: each of the three
/// policies narrows a real grant, the audit trail carries the contract hash and fuel, storage
/// writes happen only in committed transactions, hostile contracts deny without stopping the
/// chain, and two independent runtimes agree on every decision, fuel figure and state root.
@Suite(.timeLimit(.minutes(5))) struct PolicyAuthorizationTests {
    static func stay(_ country: String, _ from: String, _ until: String) -> [UInt8] { PolicyContractTests.stay(country, from, until) }

    /// Deploys `name` (from Contracts/build) as Maria and grants Sakura General the summary under it.
    static func grantWithPolicy(_ chain: TestChain, _ patient: PrivateKey, contract name: String, params: [String: String],
                                to grantees: [String] = ["sakura-general"], countries: [String] = ["JP"],
                                purposes: [PurposeOfUse] = [.treat, .emergencyTreatment], emergency: Bool = false) throws -> (contract: Bytes32, consent: Bytes32) {
        let code = try ContractCheckTests.built(name)
        let hash = SHA256.hash(code)
        if try Contracts.contract(hash, in: chain.reader) == nil {
            #expect(try chain.submit(patient, .deployContract(code)).succeeded)
        }
        let policy = ConsentPolicy(contract: hash, parameters: params.map { PolicyParameter(key: $0.key, value: $0.value) })
        let terms = ConsentTerms(grantees: grantees.map { OrganizationID($0)! }, categories: [.summary], purposes: purposes,
                                 countries: countries.map { CountryCode($0)! }, validFrom: chain.date("2026-01-01"), validUntil: chain.date("2027-12-31"),
                                 emergencyAccess: emergency, policy: policy)
        let granted = try chain.submit(patient, .grantConsent(terms))
        #expect(granted.succeeded, "\(String(describing: granted.error))")
        return (hash, try #require(granted.createdID))
    }

    /// Jean's summary at Hôpital Rhône, and a consent to `to` under SecondOpinion: Clinique Léman
    /// may read it twice.
    static func secondOpinion(to grantees: [String], countries: [String]) throws -> (TestChain, PrivateKey, Bytes32, Bytes32) {
        let chain = try TestChain()
        let jean = try chain.registerPatient("jean", enrolledAt: "hopital-rhone")
        let record = try chain.registerRecord(patient: jean.publicKey, category: .summary, custodian: "hopital-rhone")
        let (_, consent) = try grantWithPolicy(chain, jean, contract: "SecondOpinion", params: ["organization": "clinique-leman", "limit": "2"],
                                               to: grantees, countries: countries, purposes: [.treat])
        return (chain, jean, record, consent)
    }

    /// The count SecondOpinion keeps for `consent`, as stored.
    static func storedCount(_ chain: TestChain, _ consent: Bytes32) throws -> [UInt8]? {
        try chain.reader.load(Policies.storageKey(consent, Array("count".utf8)).bytes)
    }

    /// Moves block time to `iso` (forwards only).
    static func at(_ chain: TestChain, _ iso: String) { chain.time = Timestamp(unixMilliseconds: chain.date(iso).unixMilliseconds - 1000) }

    @Test func theTravelWindowAllowsTreatmentDuringTheStayAndDeniesItAfterOnTheTrail() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .summary, custodian: "hospital-ribeira")
        let (contract, consent) = try Self.grantWithPolicy(chain, maria, contract: "TravelWindow", params: ["grace-days": "2"])
        let sakura = DemoCast.staff("sakura-general", "clinician")
        let japan = PolicyContractTests.opening("JP", "2027-04-01", "2027-04-20")
        func ask(_ purpose: PurposeOfUse = .treat, stay: TravelItinerary.Opening? = japan) throws -> AccessDecision {
            try #require(try chain.submit(sakura, .requestAccess(.init(record: record, purpose: purpose, breakGlass: false, evidence: stay?.bytes ?? []))).decision)
        }

        let noItinerary = try ask()
        #expect(noItinerary.reason == .deniedByContract && noItinerary.contract?.answer == -2 && noItinerary.contract?.contract == contract)

        let update = try chain.submit(maria, .updatePolicy(.init(consent: consent, message: Self.stay("JP", "2027-04-01", "2027-04-20"))))
        #expect(update.succeeded && update.createdID == contract)
        #expect(update.events.contains { if case .policyUpdated(maria.publicKey, consent, contract, _) = $0 { true } else { false } })
        #expect(try chain.submit(maria, .updatePolicy(.init(consent: consent, message: [1, 2, 3]))).error?.code == "contract.update_refused")
        #expect(try chain.submit(sakura, .updatePolicy(.init(consent: consent, message: Self.stay("JP", "2027-04-01", "2027-04-20")))).error?.code
                == "identity.not_a_patient", "only the patient configures their policy")

        Self.at(chain, "2027-04-10T09:00:00Z")
        let during = try ask()
        #expect(during.reason == .allowedByConsent && during.consent == consent && during.transferBasis == .adequacyDecision)
        #expect(during.contract?.contract == contract && during.contract?.answer == 1 && (during.contract?.fuelUsed ?? 0) > 0)
        // The itinerary is on chain only as a commitment: the transaction and the contract's
        // storage hold neither the country nor the dates; a request without the stay's token is denied.
        #expect(!Hex.encode(Self.stay("JP", "2027-04-01", "2027-04-20")).contains(Hex.encode(Array("JP".utf8) + [0, 0])))
        #expect(try ask(stay: nil).contract?.answer == -8)

        Self.at(chain, "2027-04-21T12:00:00Z")
        #expect(try ask().allowed, "inside the two days' grace")

        Self.at(chain, "2027-04-23T12:00:00Z")
        let after = try ask()
        #expect(after.reason == .deniedByContract && after.contract?.answer == -1 && after.consent == consent)
        #expect(try ask(.emergencyTreatment).reason == .allowedByConsent, "ETREAT is left to the grant")

        // The trail: every contract-decided access carries the hash and fuel.
        let trail = try Audit.byPatient(maria.publicKey, in: chain.reader).entries.filter { $0.kind == .accessRequest }
        #expect(trail.map(\.decision.reason) == [.deniedByContract, .allowedByConsent, .deniedByContract, .allowedByConsent, .deniedByContract, .allowedByConsent])
        #expect(trail.allSatisfy { $0.decision.contract?.contract == contract && ($0.decision.contract?.fuelUsed ?? 0) > 0 })
        #expect(trail[1].decision.contract?.fuelUsed == during.contract?.fuelUsed)
    }

    @Test func theCountedSecondOpinionCountsOnlyCommittedReads() throws {
        let (chain, jean, record, consent) = try Self.secondOpinion(to: ["clinique-leman", "klinikum-spree"], countries: ["CH", "DE"])
        let leman = DemoCast.staff("clinique-leman", "clinician"), spree = DemoCast.staff("klinikum-spree", "clinician")
        let request = AccessRequest(requester: leman.publicKey, patient: jean.publicKey, category: .summary, purpose: .treat, custodian: OrganizationID("hopital-rhone")!)
        for _ in 0..<3 { #expect(try Authorization.authorize(request, at: chain.time, in: chain.reader).allowed, "a dry run counts nothing") }
        #expect(try Self.storedCount(chain, consent) == nil)

        func read(_ key: PrivateKey) throws -> AccessDecision {
            try #require(try chain.submit(key, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))).decision)
        }
        #expect(try read(leman).allowed)
        #expect(try read(spree).allowed, "another organisation is not counted")
        #expect(try read(leman).allowed)
        let third = try read(leman)
        #expect(third.reason == .deniedByContract && third.contract?.answer == -3)
        #expect(try Self.storedCount(chain, consent) == [2, 0, 0, 0, 0, 0, 0, 0])
        #expect(try Authorization.authorize(request, at: chain.time, in: chain.reader).reason == .deniedByContract)
    }

    /// A summary fetched node to node is the clinician's request, then the custodian's share: the
    /// share takes the request's verdict (once), so the policy counts the access once.
    @Test func aDisclosureFollowingARequestIsCountedOnce() throws {
        let (chain, _, record, consent) = try Self.secondOpinion(to: ["clinique-leman"], countries: ["CH"])
        let leman = DemoCast.staff("clinique-leman", "clinician"), rhoneNode = DemoCast.staff("hopital-rhone", "worker")
        func read() throws -> (AccessDecision, AccessDecision) {
            let asked = try #require(try chain.submit(leman, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))).decision)
            let envelope = try KeyEnvelope.seal(recordKey: SHA256.hash([3]), for: leman.publicKey, context: record.bytes)
            let shared = try #require(try chain.submit(rhoneNode, .shareRecord(.init(record: record, recipient: leman.publicKey, purpose: .treat,
                                                                                     breakGlass: false, envelope: envelope))).decision)
            return (asked, shared)
        }
        for n in 1...2 {
            let (asked, shared) = try read()
            #expect(asked.allowed && shared.allowed, "read \(n): \(asked.reason.code), \(shared.reason.code)")
            #expect(shared.contract == asked.contract, "the share rests on the request's verdict")
        }
        #expect(try Self.storedCount(chain, consent) == [2, 0, 0, 0, 0, 0, 0, 0])
        let (third, thirdShare) = try read()
        #expect(third.reason == .deniedByContract && third.contract?.answer == -3)
        #expect(thirdShare.reason == .deniedByContract, "no allowed request to follow: the policy runs, and the limit is reached")
    }

    @Test func twoPersonBreakGlassNeedsASecondClinicianOfTheSameOrganisationInTime() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .summary, custodian: "hospital-ribeira")
        _ = try Self.grantWithPolicy(chain, maria, contract: "TwoPersonBreakGlass", params: ["window-minutes": "15"],
                                     countries: ["JP"], purposes: [.treat], emergency: true)
        let chao = DemoCast.staff("chao-phraya", "clinician"), second = DemoCast.staff("chao-phraya", "second-clinician")
        func coSign(_ by: PrivateKey, at: Timestamp, requester: PrivateKey = chao) throws -> CoSignature {
            let m = CoSignature.message(chainID: DemoCast.chainID, requester: requester.publicKey, record: record, purpose: .emergencyTreatment,
                                        breakGlass: true, signedAt: at)
            return CoSignature(signer: by.publicKey, signedAt: at, signature: try by.sign(m))
        }
        func breakGlass(_ co: CoSignature?) throws -> Receipt {
            try chain.submit(chao, .requestAccess(.init(record: record, purpose: .emergencyTreatment, breakGlass: true, coSignature: co)))
        }
        let alone = try breakGlass(nil)
        #expect(alone.decision?.reason == .deniedByContract && alone.decision?.contract?.answer == -5)

        Self.at(chain, "2027-04-10T12:00:00Z")
        let next = chain.date("2027-04-10T12:00:00Z")
        #expect(try breakGlass(try coSign(chao, at: next)).error?.code == "sharing.co_signature", "not one's own")
        #expect(try breakGlass(try coSign(DemoCast.staff("sakura-general", "second-clinician"), at: next)).error?.code == "sharing.co_signature",
                "not a clinician of another organisation")
        var forged = try coSign(second, at: chain.date("2027-04-10T11:59:00Z"))
        forged = CoSignature(signer: forged.signer, signedAt: chain.date("2027-04-10T12:00:01Z"), signature: forged.signature)
        #expect(try breakGlass(forged).error?.code == "sharing.co_signature", "a signature over another time does not verify")

        let signedAt = chain.time   // the last block's time; the next block is one second later
        let together = try breakGlass(try coSign(second, at: signedAt))
        #expect(together.decision?.reason == .allowedByBreakGlass && together.decision?.coSigner == second.publicKey)
        #expect(try Audit.byPatient(maria.publicKey, in: chain.reader).entries.last?.breakGlass == true)

        // The custodian's disclosure of the same record to the same clinician sees the co-signature...
        let envelope = try KeyEnvelope.seal(recordKey: SHA256.hash([7]), for: chao.publicKey, context: record.bytes)
        let share = ShareRecord(record: record, recipient: chao.publicKey, purpose: .emergencyTreatment, breakGlass: true, envelope: envelope)
        #expect(try chain.submit(DemoCast.staff("hospital-ribeira", "worker"), .shareRecord(share)).decision?.reason == .allowedByBreakGlass)
        // ...until the window closes.
        Self.at(chain, "2027-04-10T12:30:00Z")
        let late = try chain.submit(DemoCast.staff("hospital-ribeira", "worker"), .shareRecord(share))
        #expect(late.decision?.reason == .deniedByContract && late.decision?.contract?.answer == -6)
    }

    typealias ShareRecord = Sharing.ShareRecord

    /// Hostile contracts are refused at upload or denied with their reason and the whole budget
    /// billed, while the chain keeps committing blocks.
    @Test func hostileContractsDenyWithTheirReasonAndTheChainGoesOn() throws {
        typealias M = ContractCheckTests.Module
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .summary, custodian: "hospital-ribeira")
        let budget = ChainParameters().contractFuelPerCall

        var loop = M(); loop.body = [0x03, 0x40, 0x0C, 0x00, 0x0B, 0x41, 1]
        var recursion = M(); recursion.body = [0x20, 0x00, 0x20, 0x01, 0x10, 0x00]
        var grow = M(); grow.body = [0x03, 0x40, 0x41, 0x01, 0x40, 0x00, 0x1A, 0x0C, 0x00, 0x0B, 0x41, 1]
        var trap = M(); trap.body = [0x00]
        var answer = M(); answer.body = [0x41, 0x07]
        let cases: [(M, ContractFailure)] = [(loop, .outOfFuel), (recursion, .stackExhausted), (grow, .outOfFuel), (trap, .unreachable), (answer, .malformedAnswer)]
        let sakura = DemoCast.staff("sakura-general", "clinician")
        for (module, reason) in cases {
            let hash = SHA256.hash(module.bytes)
            #expect(try chain.submit(maria, .deployContract(module.bytes)).succeeded)
            let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.summary], purposes: [.treat], countries: [CountryCode("JP")!],
                                     validFrom: chain.date("2026-01-01"), validUntil: chain.date("2027-12-31"), emergencyAccess: false,
                                     policy: ConsentPolicy(contract: hash))
            let consent = try #require(try chain.submit(maria, .grantConsent(terms)).createdID)
            let height = chain.executor.tip.height
            let d = try #require(try chain.submit(sakura, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))).decision)
            #expect(d.reason == .contractFailed && d.contract?.contract == hash && d.contract?.answer == nil)
            #expect(d.contract?.failure == reason.rawValue, "\(String(describing: d.contract?.failure))")
            #expect(d.contract?.fuelUsed == budget, "a failure bills the whole budget")
            #expect(chain.executor.tip.height == height + 1, "the block committed")
            #expect(try chain.submit(maria, .revokeConsent(consent)).succeeded)
        }
        // Refused at upload: a start function that loops, floats, SIMD, an unknown import, oversize and truncated modules.
        var start = M(); start.start = true; start.body = [0x03, 0x40, 0x0C, 0x00, 0x0B, 0x41, 1]
        var float = M(); float.body = [0x43, 0, 0, 0x80, 0x3F, 0x1A, 0x41, 1]
        var simd = M(); simd.body = [0x41, 0, 0xFD, 0x0F, 0x1A, 0x41, 1]
        var unknown = M(); unknown.types.append([0x60, 0, 0]); unknown.imports = [M.name("wasi") + M.name("clock") + [0x00, 0x01]]
        let oversize = M().bytes + [UInt8](repeating: 0, count: Int(ChainParameters().maxContractBytes))
        for bytes in [start.bytes, float.bytes, simd.bytes, unknown.bytes, oversize, Array(M().bytes.dropLast(3))] {
            let r = try chain.submit(maria, .deployContract(bytes))
            #expect(!r.succeeded && r.error?.code.hasPrefix("contract.") == true, "\(String(describing: r.error))")
        }
        // A grant may name only deployed code.
        let missing = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.summary], purposes: [.treat], countries: [CountryCode("JP")!],
                                   validFrom: chain.date("2026-01-01"), validUntil: chain.date("2027-12-31"), emergencyAccess: false,
                                   policy: ConsentPolicy(contract: SHA256.hash([9])))
        #expect(try chain.submit(maria, .grantConsent(missing)).error?.code == "consent.unknown_contract")
    }

    /// A contract's `emit` of a code reaches the receipt (and so the event stream) as
    /// `contract.emitted`; raw bytes (here the consent id the contract sees at offset 152 of the
    /// request) are not a code and are not emitted, so nothing but codes reaches the chain.
    @Test func aContractsEventsAreInTheReceiptAndItSeesItsConsent() throws {
        typealias M = ContractCheckTests.Module
        var m = M()
        m.imports = [M.name("env") + M.name("emit") + [0x00, 0x00]]
        m.body = [0x41, 0x00, 0x41, 0xE8, 0xCA, 0xB1, 0xE3, 0x06, 0x36, 0x02, 0x00,     // mem[0..4] = "hell"
                  0x41, 0x04, 0x41, 0xEF, 0x00, 0x3A, 0x00, 0x00,                       // mem[4] = "o"
                  0x41, 0x00, 0x41, 0x05, 0x10, 0x00, 0x1A,                             // emit(0, 5)
                  0x20, 0x00, 0x41, 0x98, 0x01, 0x6A, 0x41, 0x20, 0x10, 0x00, 0x1A,   // emit(request + 152, 32): the consent id
                  0x41, 0x01]
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .summary, custodian: "hospital-ribeira")
        #expect(try chain.submit(maria, .deployContract(m.bytes)).succeeded)
        let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.summary], purposes: [.treat], countries: [CountryCode("JP")!],
                                 validFrom: chain.date("2026-01-01"), validUntil: chain.date("2027-12-31"), emergencyAccess: false,
                                 policy: ConsentPolicy(contract: SHA256.hash(m.bytes)))
        let consent = try #require(try chain.submit(maria, .grantConsent(terms)).createdID)
        let r = try chain.submit(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        #expect(r.decision?.allowed == true)
        let emitted = r.events.compactMap { e -> [UInt8]? in if case .contractEmitted(SHA256.hash(m.bytes), consent, let d) = e { d } else { nil } }
        #expect(emitted == [Array("hello".utf8)])
        #expect(ContractRunner.isEventCode(Array("travel.outside_window".utf8)))
        for text in ["Hello", "maria silva", "", String(repeating: "a", count: 33), "nome:maria"] {
            #expect(!ContractRunner.isEventCode(Array(text.utf8)), "\(text) is not a code")
        }
    }

    /// The blocks one runtime built, re-executed by a second, independent runtime (its own state,
    /// its parsed-contract cache emptied before every block, as a validator that just restarted):
    /// the same decisions, fuel, receipts and state roots, checked by `execute` against the
    /// headers and compared here.
    @Test func twoRuntimesAgreeOnDecisionsFuelAndStateRoots() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .summary, custodian: "hospital-ribeira")
        let travel = try ContractCheckTests.built("TravelWindow"), second = try ContractCheckTests.built("SecondOpinion")
        try chain.block([try chain.tx(maria, .deployContract(travel)), try chain.tx(maria, .deployContract(second))])
        func terms(_ code: [UInt8], _ params: [PolicyParameter], _ grantees: [String], _ countries: [String]) -> ConsentTerms {
            ConsentTerms(grantees: grantees.map { OrganizationID($0)! }, categories: [.summary], purposes: [.treat, .emergencyTreatment],
                         countries: countries.map { CountryCode($0)! }, validFrom: chain.date("2026-01-01"), validUntil: chain.date("2027-12-31"),
                         emergencyAccess: false, policy: ConsentPolicy(contract: SHA256.hash(code), parameters: params))
        }
        let granted = try chain.block([
            try chain.tx(maria, .grantConsent(terms(travel, [PolicyParameter(key: "grace-days", value: "1")], ["sakura-general"], ["JP"]))),
            try chain.tx(maria, .grantConsent(terms(second, [PolicyParameter(key: "organization", value: "clinique-leman"),
                                                             PolicyParameter(key: "limit", value: "3")], ["clinique-leman"], ["CH"])))])
        let travelConsent = try #require(granted[0].createdID)
        let stay = PolicyContractTests.opening("JP", "2026-01-01", "2026-01-02")
        try chain.block([try chain.tx(maria, .updatePolicy(.init(consent: travelConsent, message: TravelItinerary.message([stay]))))])
        let sakura = DemoCast.staff("sakura-general", "clinician"), leman = DemoCast.staff("clinique-leman", "clinician")
        var receipts: [[Receipt]] = []
        for i in 0..<6 {
            chain.time = chain.time.adding(milliseconds: 12 * 3_600_000)   // half a day a block: in the stay, in the grace, then out
            receipts.append(try chain.block([
                try chain.tx(sakura, .requestAccess(.init(record: record, purpose: i % 3 == 2 ? .emergencyTreatment : .treat, breakGlass: false,
                                                          evidence: stay.bytes))),
                try chain.tx(leman, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))]))
        }

        let other = try TestChain()
        var replayed: [[Receipt]] = []
        for block in chain.blocks {
            ContractCache.shared.removeAll()
            let executed = try other.executor.execute(block)   // checks state and receipts roots against the header
            try other.executor.commit(executed)
            replayed.append(executed.receipts)
            #expect(other.state.root == block.header.stateRoot)
        }
        #expect(other.state.root == chain.state.root)
        #expect(Array(replayed.suffix(6)) == receipts)

        let decisions = receipts.flatMap { $0.compactMap(\.decision) }
        #expect(decisions.map(\.reason).contains(.deniedByContract) && decisions.map(\.reason).contains(.allowedByConsent))
        #expect(decisions.allSatisfy { $0.contract != nil })
        // Golden fuel inside authorize: TravelWindow (TREAT reads the itinerary and the grace
        // parameter; ETREAT returns at once) and SecondOpinion (counting, then refusing).
        let fuel = decisions.map { $0.contract!.fuelUsed }
        #expect(fuel == GoldenFuel.inAuthorize, "fuel used: \(fuel)")
    }
}
