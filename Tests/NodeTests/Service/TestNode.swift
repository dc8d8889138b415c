import Foundation
import Logging
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianMempool
import MeridianNode
import MeridianWorkers
import MeridianRecords
import MeridianRecordMessages
import MeridianDemo
import MeridianRequestAuth

/// A node of the demo network in a temporary directory of its own, driven in process: transactions
/// go through the real mempool and blocks through the real `ChainService` (execute, sign, synced
/// commit), exactly as `meridian-node start` does, without the timer.
final class TestNode: @unchecked Sendable {
    // @unchecked: used by one test at a time; `nonces` is only touched from that test's task.
    let directory: URL
    let chain: ChainService
    let metrics = NodeMetrics()
    /// The off-chain workers, wired as `meridian-node start` wires them (the risk worker is driven by the test).
    let workers: NodeWorkers
    /// Hospital Ribeira's record bodies (its worker key is the node's key towards other nodes).
    let records: RecordService
    /// The record bodies' store under `records`, and the storage faults a test can inject into it.
    let recordStore: RecordStore
    let faults = StorageFaults()
    var nonces: [PublicKey: UInt64] = [:]
    /// Where reads by anyone but the patient are recorded before they are answered (signed by `nodeKey`).
    let disclosures: DisclosureLog

    init(config: NodeConfig = NodeConfig()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-node-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try BlockStore(path: directory.appendingPathComponent("db").path, additionalColumns: NodeWorkers.columns + RecordService.columns + DisclosureLog.columns)
        let state = try AuthenticatedState(storage: store.stateStorage)
        let result = try Genesis.initialize(DemoCast.genesisSpec(), into: state)
        try store.storeGenesis(result.header)
        let keys = DemoCast.hospitals.filter(\.validator).map { DemoCast.staff($0.id, "validator") }
        var logger = Logger(label: "test-node"); logger.logLevel = .warning
        chain = try ChainService(store: store, signers: keys, config: config, logger: logger, metrics: metrics)
        disclosures = try DisclosureLog(chain: chain, key: Self.nodeKey)
        workers = try NodeWorkers(chain: chain, config: config.workers, workerKey: DemoCast.staff("hospital-ribeira", "worker"), disclosures: disclosures)
        let chain = self.chain
        recordStore = RecordStore(db: store.db, storageKey: SHA256.hash(Array("test storage key".utf8)), faults: faults)
        records = RecordService(store: recordStore, chain: chain,
                                nodeKey: DemoCast.staff("hospital-ribeira", "worker"), config: config.records, terminology: nil,
                                anchors: workers.anchors, logger: logger) { call in
            guard let bytes = await chain.submit(call, signer: DemoCast.staff("hospital-ribeira", "worker")) else { return nil }
            return try? SignedTransaction(canonicalBytes: bytes).hash
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Everything this node's API serves besides the chain, as `NodeRunner` wires it.
    var services: NodeServices {
        var s = NodeServices(workers: workers.endpoints, records: records, disclosures: disclosures, logLevel: logLevel)
        s.backups = BackupCheckpoints(store: chain.store, directory: DataDirectory(directory.path))
        s.snapshots = SnapshotService(store: chain.store, intervalHeights: 1)
        return s
    }
    /// The node's log level as an operator changes it at run time (no handler of this process reads it).
    let logLevel = LogLevelControl(.warning)

    var api: NodeAPI { makeAPI() }

    /// The API over this node's chain with `services` (default: all of this node's), answering as
    /// `identity` (default: Hospital Ribeira's worker key).
    func makeAPI(services: NodeServices? = nil, identity: PublicKey = TestNode.nodeKey.publicKey, clientLimiter: ClientLimiter = ClientLimiter()) -> NodeAPI {
        NodeAPI(chain: chain, metrics: metrics, maxBodyBytes: 1 << 20, services: services ?? self.services, identity: identity, clientLimiter: clientLimiter)
    }

    /// The node's identity towards signed requests: Hospital Ribeira's worker key.
    static let nodeKey = DemoCast.staff("hospital-ribeira", "worker")
    /// The host signed requests in tests are addressed to.
    static let host = "localhost"   // the authority HummingbirdTesting's router mode gives every request

    /// The headers that sign a request to this node as `key` (RFC 9421, Meridian's profile), the
    /// Host included. `chain`, `audience` and `created` can be overridden to build hostile ones.
    static func signed(_ key: PrivateKey, _ method: String, _ uri: String, body: [UInt8] = [], chain: String = DemoCast.chainID,
                       audience: String = Address(nodeKey.publicKey).description, host: String = TestNode.host,
                       created: Int64 = Int64(Date().timeIntervalSince1970)) throws -> [String: String] {
        var out = ["Host": host]
        for h in try SignedRequests.headers(method: method, targetURI: "http://\(host)\(uri)", body: body, chainID: chain, audience: audience,
                                            key: key, created: created) { out[h.name] = h.value }
        return out
    }

    func tx(_ key: PrivateKey, _ call: Call) throws -> SignedTransaction {
        let n = nonces[key.publicKey, default: 0]; nonces[key.publicKey] = n + 1
        return try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: key.publicKey, nonce: n, call: call), with: key)
    }

    /// Admits `call` signed by `key` and commits a block with it; returns its receipt.
    @discardableResult
    func submit(_ key: PrivateKey, _ call: Call) async throws -> Receipt {
        let stx = try tx(key, call)
        try chain.mempool.admit(stx, size: stx.canonicalBytes.count, accounts: chain.query)
        let tip = await chain.tip
        guard let block = try await chain.produceBlock(now: tip.time.adding(milliseconds: 1000)) else { throw TestFailure("no block produced") }
        guard let receipts = try chain.store.receipts(at: block.header.height), let r = receipts.first(where: { $0.transaction == stx.hash }) else {
            throw TestFailure("transaction not in the block")
        }
        chain.mempool.removeIncluded([stx.hash])
        return r
    }

    /// Like `submit`, in a block stamped with the wall clock (for what checks freshness against now).
    @discardableResult
    func submitNow(_ key: PrivateKey, _ call: Call) async throws -> Receipt {
        let stx = try tx(key, call)
        try chain.mempool.admit(stx, size: stx.canonicalBytes.count, accounts: chain.query)
        let tip = await chain.tip
        let wall = Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
        guard let block = try await chain.produceBlock(now: max(wall, tip.time.adding(milliseconds: 1))) else { throw TestFailure("no block produced") }
        guard let receipts = try chain.store.receipts(at: block.header.height), let r = receipts.first(where: { $0.transaction == stx.hash }) else {
            throw TestFailure("transaction not in the block")
        }
        chain.mempool.removeIncluded([stx.hash])
        return r
    }

    /// Submits what the disclosure log holds, commits it in a block stamped with the wall clock
    /// (signed requests are checked against the block's time), and lets the log drop what was
    /// committed; returns the block's receipts.
    @discardableResult
    func commitDisclosures(_ log: DisclosureLog? = nil) async throws -> [Receipt] {
        let log = log ?? disclosures
        var logger = Logger(label: "test-disclosures"); logger.logLevel = .warning
        _ = try await log.pass(logger: logger)
        let tip = await chain.tip
        let wall = Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
        guard let block = try await chain.produceBlock(now: max(wall, tip.time.adding(milliseconds: 1))) else { throw TestFailure("no block produced") }
        let receipts = try chain.store.receipts(at: block.header.height) ?? []
        chain.mempool.removeIncluded(receipts.map(\.transaction))
        _ = try await log.pass(logger: logger)
        return receipts
    }

    /// The demo story's first steps: Maria registered at Hospital Ribeira, a consent to Sakura
    /// General, a problems record, and an access from Tokyo. Returns (maria, record, consent).
    func seedMaria() async throws -> (PrivateKey, Bytes32, Bytes32) {
        let maria = DemoCast.patient("maria")
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))
        try await submit(maria, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)))
        let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.problems], purposes: [.treat, .emergencyTreatment],
                                 countries: [CountryCode("JP")!], explicitTransferCountries: [], validFrom: Timestamp(iso8601: "2026-01-01")!,
                                 validUntil: Timestamp(iso8601: "2027-06-30")!, emergencyAccess: true)
        let granted = try await submit(maria, .grantConsent(terms))
        guard let consent = granted.createdID else { throw TestFailure("no consent id: \(String(describing: granted.error))") }
        let commitment = RecordEntry.commitment(salt: SHA256.hash([7]), bodyHash: SHA256.hash(Array("maria problems".utf8)))
        try await submit(clinician, .registerRecord(.init(commitment: commitment, patient: maria.publicKey, category: .problems)))
        try await submit(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: commitment, purpose: .treat, breakGlass: false)))
        return (maria, commitment, consent)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
