// meridian-scenario: the demo network's story (../shared/SCENARIO.md) executed by the runtime on
// RocksDB files under a data directory. Until the node exists (next issue) this is how a new user
// sees Meridian decide, record and prove accesses.
//
// Usage: meridian-scenario [--data-dir DIR]
import Foundation
import ArgumentParser
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianDemo

struct ScenarioArguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meridian-scenario")
    @Option(help: "Where the scenario's RocksDB files go.") var dataDir = FileManager.default.currentDirectoryPath + "/data"
    @Option(help: "Print a demo patient's recovery phrase (maria, hans or jean; public, demo only) and exit.") var phrase: String?
    func validate() throws {
        if let phrase, !DemoCast.patients.contains(phrase) { throw ValidationError("--phrase maria|hans|jean") }
    }
}
let arguments = ScenarioArguments.parseOrExit()
if let name = arguments.phrase { print(DemoCast.patientPhrase(name).joined(separator: " ")); exit(0) }
let dataDir = arguments.dataDir

@MainActor func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("meridian-scenario: \(message)\n".utf8)); exit(1)
}

let dbPath = dataDir + "/scenario-state"
try? FileManager.default.removeItem(atPath: dbPath)
do { try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true) } catch { fail("cannot create \(dataDir): \(error)") }

let genesisURL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Genesis/demo.json")
let spec: GenesisSpec
do { spec = try GenesisSpec.parse(Array(try Data(contentsOf: genesisURL))) } catch { fail("\(genesisURL.path): \(error)") }

let state: AuthenticatedState
let executor: BlockExecutor
do {
    state = try AuthenticatedState(storage: try RocksDBStateStorage(path: dbPath))
    let g = try Genesis.initialize(spec, into: state)
    executor = try BlockExecutor(state: state, tip: g.tip)
    print("genesis  chain \(spec.chainID), \(spec.organizations.count) organisations, \(spec.validators.count) validators, state root \(state.root.hex.prefix(16))…")
} catch { fail("\(error)") }

var nonces: [PublicKey: UInt64] = [:]
var clock = executor.tip.time
let proposer = DemoCast.staff("hospital-ribeira", "validator").publicKey

@MainActor func submit(_ key: PrivateKey, _ call: Call, at time: Timestamp? = nil) -> Receipt {
    let n = nonces[key.publicKey, default: 0]; nonces[key.publicKey] = n + 1
    clock = max(clock.adding(milliseconds: 1000), time ?? .zero)
    do {
        let tx = try SignedTransaction(signing: Transaction(chainID: spec.chainID, signer: key.publicKey, nonce: n, call: call), with: key)
        let executed = try executor.propose(time: clock, proposer: proposer, transactions: [tx], lastCommit: nil)
        try executor.commit(executed)
        return executed.receipts[0]
    } catch { fail("\(error)") }
}

@MainActor func describe(_ r: Receipt) -> String {
    if let e = r.error { return "refused: \(e)" }
    guard let d = r.decision else { return "ok" }
    let basis = d.transferBasis.map { " on \($0.legalReference)" } ?? ""
    return "\(d.allowed ? "ALLOWED" : "DENIED") (\(d.reason.code))\(basis) \(d.sourceCountry?.code ?? "?")→\(d.destinationCountry?.code ?? "?")"
}

@MainActor func date(_ s: String) -> Timestamp { Timestamp(iso8601: s)! }
@MainActor func org(_ s: String) -> OrganizationID { OrganizationID(s)! }
@MainActor func cc(_ s: String) -> CountryCode { CountryCode(s)! }

@MainActor func enrol(_ name: String, at hospital: String) -> PrivateKey {
    let patient = DemoCast.patient(name), clinician = DemoCast.staff(hospital, "clinician")
    let att = try! clinician.sign(Identity.enrolmentMessage(chainID: spec.chainID, patient: patient.publicKey))
    let r = submit(patient, .registerPatient(.init(attestor: clinician.publicKey, attestation: att)))
    print("enrol    \(name) at \(hospital): \(describe(r))  \(Address(patient.publicKey))")
    return patient
}

@MainActor func record(_ patient: PrivateKey, _ category: DataCategory, at hospital: String) -> Bytes32 {
    let salt = try! SecureRandom.bytes32()
    let commitment = RecordEntry.commitment(salt: salt, bodyHash: SHA256.hash(Array("IPS \(category.name)".utf8)))
    _ = submit(DemoCast.staff(hospital, "clinician"), .registerRecord(.init(commitment: commitment, patient: patient.publicKey, category: category)))
    return commitment
}

print("\n— 1. Maria (Porto) grants Sakura General, Tokyo, TREAT/ETREAT for her spring trip")
let maria = enrol("maria", at: "hospital-ribeira")
let mariaProblems = record(maria, .problems, at: "hospital-ribeira")
let g1 = submit(maria, .grantConsent(ConsentTerms(grantees: [org("sakura-general")], categories: [.problems, .medications, .allergies],
                                                  purposes: [.treat, .emergencyTreatment], countries: [cc("JP")],
                                                  validFrom: date("2027-03-01"), validUntil: date("2027-06-30"), emergencyAccess: true)))
print("consent  \(describe(g1))  id \(g1.createdID!.hex.prefix(16))…")
let sakura = DemoCast.staff("sakura-general", "clinician")
print("request  Sakura General reads her problems (TREAT): \(describe(submit(sakura, .requestAccess(.init(record: mariaProblems, purpose: .treat, breakGlass: false)), at: date("2027-03-02"))))")

print("\n— 2. Hans (Berlin) lets Clínica Sol, Málaga, read his medications, then revokes")
let hans = enrol("hans", at: "klinikum-spree")
let hansMeds = record(hans, .medications, at: "klinikum-spree")
let g2 = submit(hans, .grantConsent(ConsentTerms(grantees: [org("clinica-sol")], categories: [.medications], purposes: [.treat], countries: [cc("ES")],
                                                 validFrom: date("2027-01-01"), validUntil: date("2027-03-31"), emergencyAccess: false)))
let sol = DemoCast.staff("clinica-sol", "clinician")
print("request  Clínica Sol reads his medications: \(describe(submit(sol, .requestAccess(.init(record: hansMeds, purpose: .treat, breakGlass: false)))))")
print("revoke   \(describe(submit(hans, .revokeConsent(g2.createdID!))))")
print("request  Clínica Sol again: \(describe(submit(sol, .requestAccess(.init(record: hansMeds, purpose: .treat, breakGlass: false)))))")

print("\n— 3. Jean (Lyon) and Chao Phraya Hospital, Bangkok (no adequacy decision)")
let jean = enrol("jean", at: "hopital-rhone")
let jeanProblems = record(jean, .problems, at: "hopital-rhone")
let g3 = submit(jean, .grantConsent(ConsentTerms(grantees: [org("chao-phraya")], categories: [.problems], purposes: [.treat], countries: [cc("TH")],
                                                 validFrom: date("2027-01-01"), validUntil: date("2027-12-31"), emergencyAccess: false)))
let chao = DemoCast.staff("chao-phraya", "clinician")
print("request  Chao Phraya reads his problems: \(describe(submit(chao, .requestAccess(.init(record: jeanProblems, purpose: .treat, breakGlass: false)))))")
_ = submit(jean, .amendConsent(.init(consent: g3.createdID!, terms: ConsentTerms(grantees: [org("chao-phraya")], categories: [.problems], purposes: [.treat],
                                                                                 countries: [cc("TH")], explicitTransferCountries: [cc("TH")],
                                                                                 validFrom: date("2027-01-01"), validUntil: date("2027-12-31"), emergencyAccess: false))))
print("amend    Jean gives explicit consent to transfers to TH")
print("request  Chao Phraya again: \(describe(submit(chao, .requestAccess(.init(record: jeanProblems, purpose: .treat, breakGlass: false)))))")

print("\n— 4. Maria collapses in Tokyo: a clinician of another hospital breaks the glass (ETREAT)")
print("request  Chao Phraya, break-glass: \(describe(submit(chao, .requestAccess(.init(record: mariaProblems, purpose: .emergencyTreatment, breakGlass: true)), at: date("2027-04-10"))))")

print("\n— 5. An emergency access to Hans, who allowed none")
print("request  Chao Phraya, break-glass: \(describe(submit(chao, .requestAccess(.init(record: hansMeds, purpose: .emergencyTreatment, breakGlass: true)))))")

print("\n— 6. The Portuguese regulator's view: audit entries proven against the state root")
let reader = CommittedStateReader(state)
do {
    for name in ["maria", "hans", "jean"] {
        let key = DemoCast.patient(name).publicKey
        let trail = try Audit.byPatient(key, in: reader).entries
        let chainOK = try Audit.verifyChain(of: key, in: reader) == nil
        var proven = 0
        for e in trail {
            let k = Audit.entryKey(key, e.sequence).bytes
            let (value, proof, root) = try state.proof(k)
            if proof.verify(root: root, key: k, value: value) && value == e.canonicalBytes { proven += 1 }
        }
        print("audit    \(name): \(trail.count) entries, hash chain \(chainOK ? "intact" : "BROKEN"), \(proven)/\(trail.count) proven at height \(state.version!)")
    }
    for h in DemoCast.hospitals {
        let o = org(h.id)
        let n = try Audit.entryCount(o, in: reader), bg = try Audit.breakGlassCount(o, in: reader), d = try Audit.deniedCount(o, in: reader)
        if n > 0 { print("report   \(h.id): \(n) entries, \(bg) break-glass, \(d) denied") }
    }

    print("\n— 7. Maria's wallet: who accessed my data")
    for e in try Audit.byPatient(maria.publicKey, in: reader).entries {
        let where_ = "\(e.decision.sourceCountry?.code ?? "?")→\(e.decision.destinationCountry?.code ?? "?")"
        print("  \(e.time.iso8601)  \(e.organization.value.padding(toLength: 17, withPad: " ", startingAt: 0)) \(where_)  \(e.purpose.code.padding(toLength: 6, withPad: " ", startingAt: 0)) \(e.kind.name.padding(toLength: 19, withPad: " ", startingAt: 0)) \(e.allowed ? "allowed" : "denied ")\(e.breakGlass ? "  BREAK-GLASS" : "")")
    }
} catch { fail("\(error)") }
print("\nstate    height \(state.version!), root \(state.root.hex), RocksDB files in \(dbPath)")
