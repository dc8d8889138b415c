import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// The demo network's runtime on an in-memory state, driven block by block.
final class TestChain {
    let state: AuthenticatedState
    let executor: BlockExecutor
    var nonces: [PublicKey: UInt64] = [:]
    var time: Timestamp
    /// Every block committed, in order (another runtime can re-execute them).
    private(set) var blocks: [Block] = []
    let proposer = DemoCast.staff("hospital-ribeira", "validator").publicKey

    init(storage: any StateStorage = InMemoryStateStorage(), spec: GenesisSpec = DemoCast.genesisSpec()) throws {
        state = try AuthenticatedState(storage: storage)
        let g = try Genesis.initialize(spec, into: state)
        executor = try BlockExecutor(state: state, tip: g.tip)
        time = g.tip.time
    }

    var reader: CommittedStateReader { CommittedStateReader(state) }

    func tx(_ key: PrivateKey, _ call: Call, nonce: UInt64? = nil, chainID: String = DemoCast.chainID) throws -> SignedTransaction {
        let n = nonce ?? nonces[key.publicKey, default: 0]
        if nonce == nil { nonces[key.publicKey] = n + 1 }
        return try SignedTransaction(signing: Transaction(chainID: chainID, signer: key.publicKey, nonce: n, call: call), with: key)
    }

    /// Executes and commits one block; `advance` moves block time forward.
    @discardableResult
    func block(_ txs: [SignedTransaction], advance: UInt64 = 1000) throws -> [Receipt] {
        time = time.adding(milliseconds: advance)
        let executed = try executor.propose(time: time, proposer: proposer, transactions: txs, lastCommit: nil)
        try executor.commit(executed)
        blocks.append(executed.block)
        return executed.receipts
    }

    /// One transaction in its own block; returns its receipt.
    @discardableResult
    func submit(_ key: PrivateKey, _ call: Call, advance: UInt64 = 1000) throws -> Receipt {
        try block([tx(key, call)], advance: advance)[0]
    }

    /// Registers a demo patient, enrolled by a clinician of `hospital`.
    func registerPatient(_ name: String, enrolledAt hospital: String = "hospital-ribeira") throws -> PrivateKey {
        let patient = DemoCast.patient(name)
        let clinician = DemoCast.staff(hospital, "clinician")
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: patient.publicKey))
        let r = try submit(patient, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)))
        precondition(r.succeeded, "registration failed: \(String(describing: r.error))")
        return patient
    }

    func org(_ id: String) -> OrganizationID { OrganizationID(id)! }
    func country(_ c: String) -> CountryCode { CountryCode(c)! }
    func date(_ s: String) -> Timestamp { Timestamp(iso8601: s)! }

    func terms(to grantees: [String], categories: [DataCategory] = [.problems, .medications, .allergies],
               purposes: [PurposeOfUse] = [.treat], countries: [String], explicit: [String] = [],
               from: String = "2026-01-01", until: String = "2027-12-31", emergency: Bool = false) -> ConsentTerms {
        ConsentTerms(grantees: grantees.map(org), categories: categories, purposes: purposes, countries: countries.map(country),
                     explicitTransferCountries: explicit.map(country), validFrom: date(from), validUntil: date(until), emergencyAccess: emergency)
    }

    /// Registers a record of `category` for `patient` at `custodian`; returns its commitment.
    func registerRecord(patient: PublicKey, category: DataCategory, custodian: String, salt: UInt8 = 1) throws -> Bytes32 {
        let commitment = RecordEntry.commitment(salt: SHA256.hash([salt]), bodyHash: SHA256.hash(patient.bytes32.bytes + [category.rawValue]))
        let r = try submit(DemoCast.staff(custodian, "clinician"), .registerRecord(.init(commitment: commitment, patient: patient, category: category)))
        precondition(r.succeeded, "record registration failed: \(String(describing: r.error))")
        return commitment
    }
}
