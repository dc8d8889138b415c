// Policy contracts (issue 8, in progress): one decision by the TravelWindow contract under WasmKit
// (a fresh store and instance, the request written, evaluate run with its host calls) beside the
// same request decided by a plain grant (`Authorization.authorize` on an in-memory state). The
// contract is not yet called inside `authorize`; this measures what that call will add.
import Foundation
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

struct ContractBenchResult { let contractP50: Double; let contractP99: Double; let plainP50: Double; let plainP99: Double; let fuel: UInt64; let calls: Int }

func contractBench(quick: Bool) throws -> ContractBenchResult {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let code = [UInt8](try Data(contentsOf: root.appendingPathComponent("Contracts/build/TravelWindow.wasm")))
    let runner = try ContractRunner(code: code, limits: ChainParameters().contractLimits)
    func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
    let itinerary = Array("JP".utf8) + le(Timestamp(iso8601: "2027-04-01")!.unixMilliseconds) + le(Timestamp(iso8601: "2027-04-20")!.unixMilliseconds)
    let storage: [[UInt8]: [UInt8]] = [Array("itinerary".utf8): itinerary]
    // The plain grant: Maria's consent to Sakura General, asked for from Tokyo.
    let state = try AuthenticatedState(storage: InMemoryStateStorage())
    let g = try Genesis.initialize(DemoCast.genesisSpec(), into: state)
    let executor = try BlockExecutor(state: state, tip: g.tip)
    let maria = DemoCast.patient("maria"), clinician = DemoCast.staff("hospital-ribeira", "clinician")
    let txs = [
        try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: maria.publicKey, nonce: 0, call: .registerPatient(
            .init(attestor: clinician.publicKey, attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))))), with: maria),
        try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: maria.publicKey, nonce: 1, call: .grantConsent(
            ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.summary], purposes: [.treat], countries: [CountryCode("JP")!],
                         validFrom: Timestamp(iso8601: "2027-01-01")!, validUntil: Timestamp(iso8601: "2027-12-31")!, emergencyAccess: false))), with: maria),
    ]
    try executor.commit(try executor.propose(time: g.tip.time.adding(milliseconds: 1000), proposer: DemoCast.staff("hospital-ribeira", "validator").publicKey,
                                             transactions: txs, lastCommit: nil))
    let reader = CommittedStateReader(state)
    let access = AccessRequest(requester: DemoCast.staff("sakura-general", "clinician").publicKey, patient: maria.publicKey, category: .summary,
                               purpose: .treat, custodian: OrganizationID("hospital-ribeira")!)
    let at = Timestamp(iso8601: "2027-04-10")!
    precondition((try? Authorization.authorize(access, at: at, in: reader))?.allowed == true)
    let request = ContractRequest(purpose: .treat, category: .summary, breakGlass: false, requesterCountry: CountryCode("JP"), custodianCountry: CountryCode("PT"),
                                  time: at, height: 2, organization: OrganizationID("sakura-general")!, coSignedAt: nil,
                                  requester: access.requester, patient: maria.publicKey)
    let calls = quick ? 2_000 : 20_000
    var contract: [Double] = [], plain: [Double] = []
    var fuel: UInt64 = 0
    for _ in 0..<(calls + 200) {
        let t0 = now()
        let o = runner.evaluate(request, parameters: [:], storage: { storage[$0] }, fuel: 200_000)
        let t1 = now()
        _ = try Authorization.authorize(access, at: at, in: reader)
        let t2 = now()
        precondition(o.result == .allowed)
        fuel = o.fuelUsed
        contract.append(Double(t1 - t0) / 1000); plain.append(Double(t2 - t1) / 1000)
    }
    contract.removeFirst(200); plain.removeFirst(200)   // warm-up
    return ContractBenchResult(contractP50: percentile(contract, 0.5), contractP99: percentile(contract, 0.99),
                               plainP50: percentile(plain, 0.5), plainP99: percentile(plain, 0.99), fuel: fuel, calls: calls)
}
