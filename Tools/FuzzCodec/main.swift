// libFuzzer target over every canonical decoder of the runtime.
//
// The first input byte picks a decoder; the rest is its input. A decoder must either refuse the
// bytes with a typed error or accept them; when it accepts, encoding the value again must give
// back exactly the input (one encoding per value). Anything else — a crash, a trap, a
// non-canonical acceptance — stops the fuzzer with the input saved.
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo
import Foundation
import MeridianFuzzing

@inline(never)
func roundTrip<T: Canonical>(_ type: T.Type, _ bytes: [UInt8]) {
    guard let value = try? T(canonicalBytes: bytes) else { return }
    let again = value.canonicalBytes
    if again != bytes {
        fatalError("non-canonical acceptance for \(T.self): \(Hex.encode(bytes)) re-encodes as \(Hex.encode(again))")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch selector % 16 {
    case 0: roundTrip(SignedTransaction.self, bytes)
    case 1: roundTrip(Block.self, bytes)
    case 2: roundTrip(BlockHeader.self, bytes)
    case 3: roundTrip(CommitCertificate.self, bytes)
    case 4: roundTrip(StateProof.self, bytes)
    case 5: roundTrip(KeyEnvelope.self, bytes)
    case 6: roundTrip(Receipt.self, bytes)
    case 7: roundTrip(AuditEntry.self, bytes)
    case 8: roundTrip(ConsentRecord.self, bytes)
    case 9: roundTrip(Proposal.self, bytes)
    case 10: roundTrip(RuntimeEvent.self, bytes)
    case 11: roundTrip(Call.self, bytes)
    case 12: roundTrip(RecordEntry.self, bytes)
    case 13: roundTrip(TransferRule.self, bytes)
    case 14: _ = Address(String(decoding: bytes, as: UTF8.self))
    default: _ = try? GenesisSpec.parse(bytes)
    }
    return 0
}

/// Valid encodings of every decoded type, as seeds: the fuzzer then mutates real structure
/// instead of discovering it byte by byte.
func seedInputs() throws -> [[UInt8]] {
    let state = try AuthenticatedState(storage: InMemoryStateStorage())
    let g = try Genesis.initialize(DemoCast.genesisSpec(), into: state)
    let executor = try BlockExecutor(state: state, tip: g.tip)
    let maria = DemoCast.patient("maria"), clinician = DemoCast.staff("hospital-ribeira", "clinician")
    func tx(_ k: PrivateKey, _ n: UInt64, _ c: Call) throws -> SignedTransaction {
        try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: k.publicKey, nonce: n, call: c), with: k)
    }
    let commitment = RecordEntry.commitment(salt: SHA256.hash([1]), bodyHash: SHA256.hash([2]))
    let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.problems, .allergies], purposes: [.treat, .emergencyTreatment],
                             countries: [CountryCode("JP")!, CountryCode("TH")!], explicitTransferCountries: [CountryCode("TH")!],
                             validFrom: Timestamp(iso8601: "2027-01-01")!, validUntil: Timestamp(iso8601: "2027-12-31")!, emergencyAccess: true)
    let envelope = try KeyEnvelope.seal(recordKey: SHA256.hash([3]), for: clinician.publicKey, context: commitment.bytes)
    let txs = [
        try tx(maria, 0, .registerPatient(.init(attestor: clinician.publicKey, attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))))),
        try tx(clinician, 0, .registerRecord(.init(commitment: commitment, patient: maria.publicKey, category: .problems))),
        try tx(maria, 1, .grantConsent(terms)),
        try tx(clinician, 1, .shareRecord(.init(record: commitment, recipient: clinician.publicKey, purpose: .treat, breakGlass: false, envelope: envelope))),
        try tx(maria, 2, .pairDevice(.init(device: DemoCast.key("device").publicKey, kind: .pulseOximeter))),
        try tx(DemoCast.staff("hospital-ribeira", "validator"), 0, .propose(.setTransferRule(DemoCast.transferRules()[2]))),
        try tx(maria, 3, .eraseRecord(commitment)),
        try tx(maria, 4, .deployContract([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00])),
    ]
    let executed = try executor.propose(time: g.tip.time.adding(milliseconds: 1000), proposer: DemoCast.staff("hospital-ribeira", "validator").publicKey,
                                        transactions: txs, lastCommit: nil)
    try executor.commit(executed)
    let (_, proof, _) = try state.proof(Array("identity/patient/".utf8) + maria.publicKey.bytes32.bytes)
    let commit = CommitCertificate(height: 1, round: 0, blockHash: executed.block.hash,
                                   signatures: [CommitSignature(validator: clinician.publicKey, signature: try clinician.sign(executed.block.hash))])
    var seeds: [[UInt8]] = []
    for t in txs { seeds.append([0] + t.canonicalBytes); seeds.append([11] + t.transaction.call.canonicalBytes) }
    seeds.append([1] + executed.block.canonicalBytes)
    seeds.append([2] + executed.block.header.canonicalBytes)
    seeds.append([3] + commit.canonicalBytes)
    seeds.append([4] + proof.canonicalBytes)
    seeds.append([5] + envelope.canonicalBytes)
    for r in executed.receipts { seeds.append([6] + r.canonicalBytes); for e in r.events { seeds.append([10] + e.canonicalBytes) } }
    for e in try Audit.byPatient(maria.publicKey, in: CommittedStateReader(state)).entries { seeds.append([7] + e.canonicalBytes) }
    if let c = try Consent.activeConsents(of: maria.publicKey, in: CommittedStateReader(state)).first { seeds.append([8] + c.canonicalBytes) }
    seeds.append([12] + (try Sharing.record(commitment, in: CommittedStateReader(state)))!.canonicalBytes)
    seeds.append([13] + DemoCast.transferRules()[0].canonicalBytes)
    seeds.append([14] + Array(Address(maria.publicKey).description.utf8))
    let encoder = JSONEncoder()
    seeds.append([15] + Array(try encoder.encode(DemoCast.genesisSpec())))
    return seeds
}

/// Writes the seeds into `dir` (one file each) when `-meridian_seeds=DIR` is given.
func writeSeedsIfAsked() -> [String] {
    var rest: [String] = []
    for a in CommandLine.arguments {
        guard a.hasPrefix("-meridian_seeds=") else { rest.append(a); continue }
        let dir = String(a.dropFirst("-meridian_seeds=".count))
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (i, s) in try seedInputs().enumerated() { try Data(s).write(to: URL(fileURLWithPath: "\(dir)/seed-\(i)")) }
        } catch { FileHandle.standardError.write(Data("cannot write seeds: \(error)\n".utf8)); exit(1) }
    }
    return rest
}

FuzzDriver.run(arguments: writeSeedsIfAsked(), fuzzOne)
