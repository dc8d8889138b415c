import Foundation
import Logging
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianNode
import MeridianDemo

/// Disk per million transactions, with and without pruning (issue 24, item 3): a node's whole
/// database (blocks, receipts, commits, indexes, audit log, state) after `count` access requests —
/// the chain's everyday transaction, each an audit entry — in blocks of 1,000 committed through the
/// node's own `ChainService` write path, compacted before each measurement:
/// - kept whole;
/// - with old state versions pruned (the last 100 kept), the block bodies kept for the audit retention;
/// - and, once the head is past the audit retention (a block eleven years on), with the bodies pruned too.
struct DiskFigures {
    var transactions = 0
    var fullBytes = 0.0, statePrunedBytes = 0.0, bodiesPrunedBytes = 0.0
    var pruneSeconds = 0.0, recordsDeleted = 0
    var buildSeconds = 0.0
}

/// A chain of access requests committed through the node's own `ChainService` write path, as the
/// disk and indexer benchmarks build it: 1,000 patients, each with a record at Hospital Ribeira (PT)
/// and a consent to Sakura General (JP), then blocks of 1,000 access requests.
final class AccessRequestChain {
    let store: BlockStore
    let chain: ChainService
    var time: Timestamp
    var nonces: [PublicKey: UInt64] = [:]
    var records: [Bytes32] = []
    let sakura = DemoCast.staff("sakura-general", "clinician")

    /// The genesis the chain needs: the demo's, with 1,000 transactions per account per block.
    static func genesisSpec() -> GenesisSpec {
        var spec = DemoCast.genesisSpec()
        var params = ChainParameters()
        params.maxTransactionsPerAccountPerBlock = 1000
        spec.parameters = params
        return spec
    }

    /// On `store`, whose genesis is `genesisSpec()` (stored here unless `storeGenesis` is false: a
    /// node's `init` already did).
    init(store: BlockStore, storeGenesis: Bool) throws {
        self.store = store
        if storeGenesis {
            try store.storeGenesis(try Genesis.initialize(Self.genesisSpec(), into: try AuthenticatedState(storage: store.stateStorage)).header)
        }
        guard let genesis = try store.genesisHeader() else { throw BenchError("bench chain: the store has no genesis") }
        var config = NodeConfig()
        config.maxBlockTransactions = 1000
        config.mempool.maxPerAccount = 5000
        var logger = Logger(label: "bench-chain"); logger.logLevel = .error
        let validators = DemoCast.hospitals.filter(\.validator).map { DemoCast.staff($0.id, "validator") }
        chain = try ChainService(store: store, signers: validators, config: config, logger: logger, metrics: NodeMetrics())
        time = genesis.time
    }

    func tx(_ k: PrivateKey, _ call: Call) throws -> SignedTransaction {
        let n = nonces[k.publicKey, default: 0]; nonces[k.publicKey] = n + 1
        return try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: k.publicKey, nonce: n, call: call), with: k)
    }

    func block(_ txs: [SignedTransaction], minutes: UInt64 = 1) async throws {
        for t in txs { try chain.mempool.admit(t, size: t.canonicalBytes.count, accounts: chain.query) }
        time = time.adding(milliseconds: minutes * 60_000)
        guard let b = try await chain.produceBlock(now: time) else { throw BenchError("bench chain: no block") }
        guard let receipts = try store.receipts(at: b.header.height), receipts.count == txs.count else { throw BenchError("bench chain: block \(b.header.height) lacks transactions") }
        chain.mempool.removeIncluded(txs.map(\.hash))
    }

    /// 1,000 patients with a record each at Hospital Ribeira and a consent to Sakura General.
    func preparePatients() async throws {
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let patients = (0..<1000).map { DemoCast.key("bench/disk-patient/\($0)") }
        try await block(try patients.map { p in
            try tx(p, .registerPatient(.init(attestor: clinician.publicKey, attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: p.publicKey)))))
        })
        records = patients.map { RecordEntry.commitment(salt: SHA256.hash($0.publicKey.bytes32.bytes), bodyHash: SHA256.hash([1])) }
        try await block(try patients.indices.map { i in try tx(clinician, .registerRecord(.init(commitment: records[i], patient: patients[i].publicKey, category: .summary))) })
        try await block(try patients.map { p in
            try tx(p, .grantConsent(ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.summary], purposes: [.treat], countries: [CountryCode("JP")!],
                                                 validFrom: Timestamp(iso8601: "2026-01-01")!, validUntil: Timestamp(iso8601: "2036-12-31")!, emergencyAccess: false)))
        })
    }

    /// `count` access requests in blocks of 1,000. With `mixed`, a regulator's everyday mix: of each
    /// 1,000, 800 by Sakura General under consent (allowed, PT→JP on an adequacy decision), 150 by
    /// Klinikum Spree without one (denied) and 50 break-glass attempts by Chao Phraya (denied: no
    /// emergency access granted); otherwise all by Sakura General.
    func accessRequests(_ count: Int, mixed: Bool = false) async throws {
        let spree = DemoCast.staff("klinikum-spree", "clinician"), chao = DemoCast.staff("chao-phraya", "clinician")
        var done = 0
        while done < count {
            let n = min(1000, count - done)
            try await block(try (0..<n).map { i in
                let record = records[(done + i) % records.count]
                guard mixed else { return try tx(sakura, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))) }
                switch i % 20 {
                case 0: return try tx(chao, .requestAccess(.init(record: record, purpose: .emergencyTreatment, breakGlass: true)))
                case 1, 2, 3: return try tx(spree, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
                default: return try tx(sakura, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
                }
            })
            done += n
        }
        try await chain.awaitDurable()
    }
}

func diskBench(transactions count: Int) async throws -> DiskFigures {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-bench-disk-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try BlockStore(path: dir.appendingPathComponent("db").path, additionalColumns: DataDirectory.databaseColumns)
    let built = try AccessRequestChain(store: store, storeGenesis: true)
    try await built.preparePatients()
    let chain = built.chain, records = built.records, sakura = built.sakura
    let baseline = directoryBytes(dir)
    let started = now()
    try await built.accessRequests(count)
    try await chain.awaitDurable()
    var f = DiskFigures()
    f.transactions = count
    f.buildSeconds = Double(now() - started) / 1e9
    func compactedBytes() -> Double {
        for c in RocksDBStateStorage.columns + BlockStore.columns { store.db.compact(c) }
        return directoryBytes(dir) - baseline
    }
    f.fullBytes = compactedBytes()
    let t0 = now()
    // The last 100 versions (fewer on a short --quick chain).
    let keep = max(1, min(100, try store.headHeight() / 4))
    guard let o = try await Pruning.run(chain: chain, keepRecentHeights: keep) else { throw BenchError("disk bench: nothing pruned") }
    f.pruneSeconds = Double(now() - t0) / 1e9
    f.recordsDeleted = o.recordsDeleted
    f.statePrunedBytes = compactedBytes()
    // Eleven years on: every block of the run is past the audit retention (ten years by default).
    try await built.block(try [built.tx(sakura, .requestAccess(.init(record: records[0], purpose: .treat, breakGlass: false)))], minutes: 11 * 366 * 24 * 60)
    try await chain.awaitDurable()
    guard try await Pruning.run(chain: chain, keepRecentHeights: 1) != nil else { throw BenchError("disk bench: bodies not pruned") }
    f.bodiesPrunedBytes = compactedBytes()
    return f
}
