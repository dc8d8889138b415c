import Foundation
import ArgumentParser
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// meridian-determinism: the determinism check. `build` executes blocks in which every hostile
/// contract kind is deployed and run inside `authorize` (each failing in its own way), and writes
/// the blocks and what executing them produced; `replay` re-executes those blocks from genesis in
/// another process and writes the same record. The two records must be equal byte for byte:
/// receipts (outcomes, decisions with the contracts' verdicts, events, created ids), state roots
/// and block hashes. The test runs them in separate processes with different address-space
/// layouts, heap contents (MALLOC_PERTURB_) and signature-checking thread counts; the replaying
/// process starts with an empty contract cache.
///
/// Usage: meridian-determinism build --out DIR [--threads N]
///        meridian-determinism replay --blocks FILE --out FILE [--threads N]
/// Exit codes: 0 done, 2 bad arguments, 1 execution refused a block (its reason printed).

struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

/// One block's line of the record: height, hash, state root, then each receipt's canonical bytes.
func recordLine(_ block: Block, _ receipts: [Receipt], root: Bytes32) -> String {
    "\(block.header.height) \(block.hash.hex) \(root.hex) " + receipts.map { Hex.encode($0.canonicalBytes) }.joined(separator: " ")
}

func fresh(threads: Int) throws -> (AuthenticatedState, BlockExecutor) {
    let state = try AuthenticatedState(storage: InMemoryStateStorage())
    let g = try Genesis.initialize(DemoCast.genesisSpec(), into: state)
    return (state, try BlockExecutor(state: state, tip: g.tip, verificationThreads: threads))
}

func build(out: String, threads: Int) throws {
    let (_, executor) = try fresh(threads: threads)
    let proposer = DemoCast.staff("hospital-ribeira", "validator").publicKey
    var nonces: [PublicKey: UInt64] = [:]
    var time = executor.tip.time
    var blocks: [[UInt8]] = [], lines: [String] = []
    func tx(_ key: PrivateKey, _ call: Call) throws -> SignedTransaction {
        let n = nonces[key.publicKey, default: 0]; nonces[key.publicKey] = n + 1
        return try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: key.publicKey, nonce: n, call: call), with: key)
    }
    @discardableResult func block(_ txs: [SignedTransaction]) throws -> [Receipt] {
        time = time.adding(milliseconds: 1000)
        let executed = try executor.propose(time: time, proposer: proposer, transactions: txs, lastCommit: nil)
        try executor.commit(executed)
        blocks.append(executed.block.canonicalBytes)
        lines.append(recordLine(executed.block, executed.receipts, root: executed.block.header.stateRoot))
        return executed.receipts
    }
    let maria = DemoCast.patient("maria")
    let clinician = DemoCast.staff("hospital-ribeira", "clinician"), sakura = DemoCast.staff("sakura-general", "clinician")
    let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))
    try block([try tx(maria, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)))])
    let record = RecordEntry.commitment(salt: SHA256.hash([1]), bodyHash: SHA256.hash(Array("determinism".utf8)))
    try block([try tx(clinician, .registerRecord(.init(commitment: record, patient: maria.publicKey, category: .summary)))])
    let from = Timestamp(iso8601: "2026-01-01")!, until = Timestamp(iso8601: "2027-12-31")!
    for contract in HostileContract.all() {
        let deployed = try block([try tx(maria, .deployContract(contract.bytes))])[0]
        guard deployed.succeeded != contract.refusedAtUpload else {
            throw Failure("\(contract.name): the upload check \(deployed.succeeded ? "accepted" : "refused") it (\(String(describing: deployed.error)))")
        }
        if contract.refusedAtUpload { continue }
        let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.summary], purposes: [.treat, .emergencyTreatment],
                                 countries: [CountryCode("JP")!], explicitTransferCountries: [], validFrom: from, validUntil: until,
                                 emergencyAccess: false, policy: ConsentPolicy(contract: SHA256.hash(contract.bytes)))
        guard let consent = try block([try tx(maria, .grantConsent(terms))])[0].createdID else { throw Failure("\(contract.name): the grant failed") }
        // Two requests in one block (the second runs on the instance the first used or dropped),
        // then the consent is revoked so the next contract's consent is the only one that applies.
        try block([try tx(sakura, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))),
                   try tx(sakura, .requestAccess(.init(record: record, purpose: .emergencyTreatment, breakGlass: false)))])
        try block([try tx(maria, .revokeConsent(consent))])
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    var file: [UInt8] = []
    for b in blocks { file += withUnsafeBytes(of: UInt32(b.count).bigEndian, Array.init) + b }
    try Data(file).write(to: URL(fileURLWithPath: out + "/blocks.bin"))
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: out + "/record.txt"))
    print("built \(blocks.count) blocks with \(HostileContract.all().count) hostile contracts into \(out)")
}

func replay(blocksFile: String, out: String, threads: Int) throws {
    guard let data = FileManager.default.contents(atPath: blocksFile) else { throw Failure("\(blocksFile): unreadable") }
    let bytes = [UInt8](data)
    let (_, executor) = try fresh(threads: threads)
    var lines: [String] = [], at = 0
    while at < bytes.count {
        guard at + 4 <= bytes.count else { throw Failure("\(blocksFile): truncated length at byte \(at)") }
        let n = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        at += 4
        guard n <= bytes.count - at else { throw Failure("\(blocksFile): a block overruns the file at byte \(at)") }
        let block = try Block(canonicalBytes: bytes[at..<(at + n)])
        at += n
        // Checks the header's receipts and state roots against this process's execution.
        let executed = try executor.execute(block)
        try executor.commit(executed)
        lines.append(recordLine(block, executed.receipts, root: executed.prepared.root))
    }
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: out))
    print("replayed \(lines.count) blocks into \(out)")
}

/// The command line (swift-argument-parser, in a top-level script: `parseOrExit`).
struct DeterminismArguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meridian-determinism")
    enum Command: String, ExpressibleByArgument { case build, replay }
    @Argument(help: "build: make blocks with every hostile contract kind; replay: re-execute them.") var command: Command
    @Option(help: "Where to write (build: a directory; replay: a records file).") var out: String
    @Option(help: "The blocks file to replay (replay only).") var blocks: String?
    @Option(help: "Signature threads (1...64).") var threads = 2
    func validate() throws {
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1...64") }
        if command == .replay && blocks == nil { throw ValidationError("replay needs --blocks FILE") }
    }
}
let arguments = DeterminismArguments.parseOrExit()
do {
    switch arguments.command {
    case .build: try build(out: arguments.out, threads: arguments.threads)
    case .replay: try replay(blocksFile: arguments.blocks!, out: arguments.out, threads: arguments.threads)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8)); exit(1)
}
