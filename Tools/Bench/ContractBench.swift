// Policy contracts: `Authorization.authorize` deciding a request through Maria's TravelWindow
// consent beside the same request decided by a plain grant, on the same state; where a contract
// decision's time goes (a one-instruction contract through the same runner); and block execution of 1,000-transaction blocks of access requests where a
// third go through a contract, beside the same blocks with plain grants only, measured in one run.
import Foundation
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

struct ContractBenchResult {
    let contractP50: Double, contractP99: Double, plainP50: Double, plainP99: Double
    let fuel: UInt64, calls: Int
    /// Medians, µs: a trivial contract through the runner (store, instance, request written, call), and TravelWindow alone.
    let emptyContractP50: Double, runnerP50: Double
    let blockWithContracts: Double, blockPlain: Double, blocks: Int
}

/// A chain with `patients` patients, each with a summary at Hospital Ribeira and a consent to
/// Sakura General; every third one's consent goes through TravelWindow (itinerary stored).
final class ContractBenchChain {
    let state: AuthenticatedState
    let executor: BlockExecutor
    var time: Timestamp
    let proposer = DemoCast.staff("hospital-ribeira", "validator").publicKey
    let patients: [PrivateKey]
    var records: [Bytes32] = []
    let travelWindow: [UInt8]
    /// The stay every TravelWindow patient committed to (a fixed salt: the bench is reproducible);
    /// Sakura General's requests carry its opening.
    static let stay = TravelItinerary.Opening(stay: .init(country: CountryCode("JP")!, from: Timestamp(iso8601: "2026-01-01")!,
                                                          until: Timestamp(iso8601: "2027-12-31")!), salt: [UInt8](repeating: 1, count: 16))

    init(patients count: Int, storage: any StateStorage) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        travelWindow = [UInt8](try Data(contentsOf: root.appendingPathComponent("Contracts/build/TravelWindow.wasm")))
        var spec = DemoCast.genesisSpec()
        var params = ChainParameters()
        params.maxTransactionsPerAccountPerBlock = 1000   // one clinician sends a whole block of requests
        spec.parameters = params
        state = try AuthenticatedState(storage: storage)
        let g = try Genesis.initialize(spec, into: state)
        executor = try BlockExecutor(state: state, tip: g.tip, verificationThreads: 2)
        time = g.tip.time
        patients = (0..<count).map { DemoCast.key("bench/contract-patient/\($0)") }
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        func tx(_ k: PrivateKey, _ nonce: UInt64, _ call: Call) throws -> SignedTransaction {
            try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: k.publicKey, nonce: nonce, call: call), with: k)
        }
        try block(try patients.map { p in
            try tx(p, 0, .registerPatient(.init(attestor: clinician.publicKey,
                                                attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: p.publicKey)))))
        } + [try tx(patients[0], 1, .deployContract(travelWindow))])
        records = patients.map { RecordEntry.commitment(salt: SHA256.hash($0.publicKey.bytes32.bytes), bodyHash: SHA256.hash([1])) }
        try block(try patients.indices.map { i in
            try tx(clinician, UInt64(i), .registerRecord(.init(commitment: records[i], patient: patients[i].publicKey, category: .summary)))
        })
        let hash = SHA256.hash(travelWindow)
        try block(try patients.enumerated().map { (i, p) in
            try tx(p, i == 0 ? 2 : 1, .grantConsent(ConsentTerms(
                grantees: [OrganizationID("sakura-general")!], categories: [.summary], purposes: [.treat, .emergencyTreatment], countries: [CountryCode("JP")!],
                validFrom: Timestamp(iso8601: "2026-01-01")!, validUntil: Timestamp(iso8601: "2027-12-31")!, emergencyAccess: false,
                policy: i % 3 == 0 ? ConsentPolicy(contract: hash, parameters: [PolicyParameter(key: "grace-days", value: "2")]) : nil)))
        })
        let consents = try patients.map { p -> Bytes32 in
            guard let id = try Consent.activeConsents(of: p.publicKey, in: CommittedStateReader(state)).first?.id else { fatalError("bench setup: no consent") }
            return id
        }
        let itinerary = TravelItinerary.message([Self.stay])
        try block(try patients.indices.filter { $0 % 3 == 0 }.map { i in
            try tx(patients[i], i == 0 ? 3 : 2, .updatePolicy(.init(consent: consents[i], message: itinerary)))
        })
    }

    @discardableResult
    func block(_ txs: [SignedTransaction]) throws -> ExecutedBlock {
        time = time.adding(milliseconds: 1000)
        let executed = try executor.propose(time: time, proposer: proposer, transactions: txs, lastCommit: nil)
        guard executed.receipts.allSatisfy(\.succeeded) else { throw BenchError("\(String(describing: executed.receipts.first { !$0.succeeded }?.error))") }
        try executor.commit(executed)
        return executed
    }

    /// `count` access requests by Sakura General's clinician, round-robin over the patients, or
    /// only over those whose consent is plain.
    func requests(count: Int, nonce: inout UInt64, plainOnly: Bool) throws -> [SignedTransaction] {
        let clinician = DemoCast.staff("sakura-general", "clinician")
        let targets = plainOnly ? patients.indices.filter { $0 % 3 != 0 } : Array(patients.indices)
        return try (0..<count).map { i in
            let r = records[targets[i % targets.count]]
            defer { nonce += 1 }
            return try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: clinician.publicKey, nonce: nonce,
                                                              call: .requestAccess(.init(record: r, purpose: .treat, breakGlass: false,
                                                                                        evidence: Self.stay.bytes))), with: clinician)
        }
    }
}


func contractBench(quick: Bool, storage: any StateStorage) throws -> ContractBenchResult {
    let chain = try ContractBenchChain(patients: 300, storage: storage)
    let reader = CommittedStateReader(chain.state)
    let sakura = DemoCast.staff("sakura-general", "clinician").publicKey
    func access(_ i: Int) -> AccessRequest {
        // A TravelWindow patient's TREAT request carries the stay token (the contract checks it).
        AccessRequest(requester: sakura, patient: chain.patients[i].publicKey, category: .summary, purpose: .treat, custodian: OrganizationID("hospital-ribeira")!,
                      evidence: ContractBenchChain.stay.bytes)
    }
    let at = chain.time, height = chain.executor.tip.height
    let withContract = access(0), plain = access(1)
    let decided = try Authorization.authorize(withContract, at: at, height: height, in: reader)
    guard decided.allowed && decided.contract?.answer == 1 else { throw BenchError("\(decided)") }
    let plainDecision = try Authorization.authorize(plain, at: at, height: height, in: reader)
    guard plainDecision.allowed && plainDecision.contract == nil else { throw BenchError("plainDecision.allowed && plainDecision.contract == nil") }

    // authorize, with the contract and by a plain grant, interleaved.
    let calls = quick ? 2_000 : 20_000
    var contract: [Double] = [], plainTimes: [Double] = []
    for _ in 0..<(calls + 200) {
        let t0 = now()
        _ = try Authorization.authorize(withContract, at: at, height: height, in: reader)
        let t1 = now()
        _ = try Authorization.authorize(plain, at: at, height: height, in: reader)
        let t2 = now()
        contract.append(Double(t1 - t0) / 1000); plainTimes.append(Double(t2 - t1) / 1000)
    }
    contract.removeFirst(200); plainTimes.removeFirst(200)   // warm-up

    // Where a contract decision's time goes: the runner's fixed cost (a contract that answers 1
    // at once: store, instance, request written, call) and TravelWindow's whole call.
    let empty: [UInt8] = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7F, 0x7F, 0x01, 0x7F, 0x03, 0x02, 0x01, 0x00,
                          0x05, 0x04, 0x01, 0x01, 0x01, 0x01, 0x07, 0x15, 0x02, 0x08] + Array("evaluate".utf8) + [0x00, 0x00, 0x06] + Array("memory".utf8)
                          + [0x02, 0x00, 0x0A, 0x06, 0x01, 0x04, 0x00, 0x41, 0x01, 0x0B]
    let emptyRunner = try ContractRunner(code: empty, limits: ChainParameters().contractLimits)
    let travelRunner = try ContractRunner(code: chain.travelWindow, limits: ChainParameters().contractLimits)
    let request = ContractRequest(purpose: .treat, category: .summary, breakGlass: false, requesterCountry: CountryCode("JP"), custodianCountry: CountryCode("PT"),
                                  time: at, height: height, organization: OrganizationID("sakura-general")!, coSignedAt: nil,
                                  requester: sakura, patient: chain.patients[0].publicKey, evidence: ContractBenchChain.stay.bytes)
    let consent = decided.consent!
    let storage: ([UInt8]) -> [UInt8]? = { key in try? reader.load(Policies.storageKey(consent, key).bytes) }
    var emptyTimes: [Double] = [], runnerTimes: [Double] = []
    var fuel: UInt64 = 0
    for _ in 0..<(calls / 2 + 100) {
        let t0 = now()
        let e = emptyRunner.evaluate(request, parameters: [:], storage: { _ in nil }, fuel: 200_000)
        let t1 = now()
        let o = travelRunner.evaluate(request, parameters: ["grace-days": Array("2".utf8)], storage: storage, fuel: 200_000)
        let t2 = now()
        guard e.result == .allowed && o.result == .allowed else { throw BenchError("e.result == .allowed && o.result == .allowed") }
        fuel = o.fuelUsed
        emptyTimes.append(Double(t1 - t0) / 1000); runnerTimes.append(Double(t2 - t1) / 1000)
    }
    emptyTimes.removeFirst(100); runnerTimes.removeFirst(100)

    // Blocks of 1,000 access requests: a third through TravelWindow, and the same with plain grants only.
    let blocks = quick ? 3 : 7
    var nonce: UInt64 = 0
    var mixed: [Double] = [], plainOnly: [Double] = []
    for _ in 0..<blocks {
        for plainBlock in [false, true] {
            let txs = try chain.requests(count: 1000, nonce: &nonce, plainOnly: plainBlock)
            let t0 = now()
            let executed = try chain.block(txs)
            let seconds = Double(now() - t0) / 1e9
            let viaContract = executed.receipts.filter { $0.decision?.contract != nil }.count
            guard executed.receipts.allSatisfy({ $0.decision?.allowed == true }) else { throw BenchError("executed.receipts.allSatisfy { $0.decision?.allowed == true }") }
            guard plainBlock ? viaContract == 0 : viaContract == 334 else { throw BenchError("\(viaContract) decisions through the contract") }
            (plainBlock ? { plainOnly.append(1000 / seconds) } : { mixed.append(1000 / seconds) })()
        }
    }
    return ContractBenchResult(contractP50: percentile(contract, 0.5), contractP99: percentile(contract, 0.99),
                               plainP50: percentile(plainTimes, 0.5), plainP99: percentile(plainTimes, 0.99), fuel: fuel, calls: calls,
                               emptyContractP50: percentile(emptyTimes, 0.5), runnerP50: percentile(runnerTimes, 0.5),
                               blockWithContracts: median(mixed), blockPlain: median(plainOnly), blocks: blocks)
}
