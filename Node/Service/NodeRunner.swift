import Foundation
public import Logging
import Hummingbird
import HummingbirdWebSocket
import HummingbirdTLS
import HummingbirdCore
import NIOSSL
import ServiceLifecycle
import Synchronization
public import MeridianCore
import MeridianStorage
import MeridianMempool
import MeridianModules
import MeridianP2P
import MeridianConsensusDriver
import MeridianSigner
import MeridianWorkers
import MeridianRecords
import MeridianRecordMessages
public import MeridianSummary
import MeridianRuntime

/// The files of a node's data directory.
public struct DataDirectory: Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }
    public var config: String { path + "/node.json" }
    public var genesis: String { path + "/genesis.json" }
    public var database: String { path + "/db" }
    public var keys: String { path + "/keys" }
    /// Written at start with the API's actual address (the port may have been chosen by the OS).
    public var apiAddress: String { path + "/api.address" }
    /// Written at start with the P2P listener's actual address (consensus mode).
    public var p2pAddress: String { path + "/p2p.address" }
    public var consensusWAL: String { path + "/consensus.wal" }
    /// Written at start with the node's process id (removed at a clean stop), so tools can find a
    /// node however it was started.
    public var pidFile: String { path + "/node.pid" }
    public var signingGuard: String { path + "/signing-guard.json" }
    /// Where the node writes the database checkpoints of backups in progress (moved out by `meridian-node backup`).
    public var backups: String { path + "/backups" }
    /// Every column family of the node's database besides the block store's own.
    public static let databaseColumns = NodeWorkers.columns + RecordService.columns + DisclosureLog.columns
    /// The off-chain workers' keystore (role `worker` on chain); without it nothing is anchored.
    public var workerKey: String { path + "/keys/worker.json" }
    /// Written at start with the MLLP listener's actual address (when `workers.mllpPort` is set).
    public var mllpAddress: String { path + "/mllp.address" }
    /// The key this node proves itself with to its `meridian-signer` (only with `signer` in node.json).
    public var signerClientKey: String { path + "/keys/signer-client.json" }
    /// The record-storage keystore: its secret, through HKDF, is the key every record key is sealed
    /// under, so the database alone decrypts nothing (created at the first start).
    public var recordsKey: String { path + "/keys/records.json" }

    /// The record-storage key, from its keystore. A fresh one is created only for a database that
    /// holds no record keys yet (a node's first start); when the database holds sealed records and
    /// the keystore is missing, the node refuses to start: a new key would silently make every
    /// stored body unreadable, and the operator must restore `keys/records.json` from backup.
    public func loadOrCreateRecordsKey(passphrase: String, databaseHoldsRecords: Bool) throws -> Bytes32 {
        let secret: PrivateKey
        if let data = FileManager.default.contents(atPath: recordsKey) {
            do { secret = try JSONDecoder().decode(Keystore.self, from: data).open(passphrase: passphrase) }
            catch { throw NodeError(recordsKey, "\(error)") }
        } else if databaseHoldsRecords {
            throw NodeError(recordsKey, "missing, but the database holds sealed record bodies: restore this keystore from your backup "
                + "(a new key would make every stored body unreadable); the node does not start without it")
        } else {
            secret = try PrivateKey.generate()
            let encoder = JSONEncoder(); encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
            try encoder.encode(try Keystore.seal(secret, passphrase: passphrase)).write(to: URL(fileURLWithPath: recordsKey), options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: recordsKey)
        }
        return Bytes32(try HKDF.deriveKey(inputKey: secret.secretBytes.bytes, salt: Array("meridian/record-storage/v1".utf8), info: []))!
    }

    /// The terminology summaries are translated with (nil: none configured).
    public func loadTerminology(_ config: RecordsConfig) throws -> TerminologyIndex? {
        guard let p = config.terminology else { return nil }
        let resolved = p.hasPrefix("/") ? p : path + "/" + p
        guard let data = FileManager.default.contents(atPath: resolved) else { throw NodeError("config.records.terminology", "cannot read \(resolved)") }
        do { return TerminologyIndex(try Terminology(canonicalBytes: [UInt8](data))) }
        catch { throw NodeError("config.records.terminology", "\(resolved) is not a terminology file: \(error)") }
    }

    public func loadConfig() throws -> NodeConfig {
        guard let data = FileManager.default.contents(atPath: config) else { throw NodeError(config, "missing: run meridian-node init") }
        let c: NodeConfig
        do { c = try JSONDecoder().decode(NodeConfig.self, from: data) } catch { throw NodeError(config, "not a valid config: \(error)") }
        try c.validate()
        return c
    }

    /// Opens the signer-client keystore.
    public func loadSignerClientKey(passphrase: String) throws -> PrivateKey {
        guard let data = FileManager.default.contents(atPath: signerClientKey) else {
            throw NodeError(signerClientKey, "missing: node.json names a signer, and this key is how the node proves itself to it (meridian-node init --signer-socket creates it)")
        }
        do { return try JSONDecoder().decode(Keystore.self, from: data).open(passphrase: passphrase) }
        catch { throw NodeError(signerClientKey, "\(error)") }
    }

    /// Opens the workers' keystore, if there is one.
    public func loadWorkerKey(passphrase: String) throws -> PrivateKey? {
        guard let data = FileManager.default.contents(atPath: workerKey) else { return nil }
        do { return try JSONDecoder().decode(Keystore.self, from: data).open(passphrase: passphrase) }
        catch { throw NodeError(workerKey, "\(error)") }
    }

    /// Opens every validator keystore under `keys/` with the passphrase, first by file name (none
    /// for a full node).
    public func loadValidatorKeys(passphrase: String) throws -> [PrivateKey] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: keys)) ?? []).filter { $0.hasPrefix("validator") && $0.hasSuffix(".json") }.sorted()
        return try files.map { f in
            let p = keys + "/" + f
            guard let data = FileManager.default.contents(atPath: p) else { throw NodeError(p, "unreadable") }
            do { return try JSONDecoder().decode(Keystore.self, from: data).open(passphrase: passphrase) }
            catch { throw NodeError(p, "\(error)") }
        }
    }
}

/// Produces a block every interval until shutdown.
struct BlockProducer: Service {
    let chain: ChainService
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            if Task.isShuttingDownGracefully { break }
            let now = Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
            do { try await chain.produceBlock(now: now) }
            catch {
                // A block that cannot be produced (storage failure) must stop the node, not be skipped.
                logger.critical("block production failed", metadata: ["error": "\(error)"])
                throw error
            }
        }
    }
}

/// The HL7 v2 MLLP listener of the workers, until shutdown.
struct MLLPService: Service {
    let listener: MLLPListener
    let host: String
    let port: Int
    let addressFile: String
    let logger: Logger

    func run() async throws {
        try await untilGracefulShutdown {
            try await listener.listen(host: host, port: port) { bound in
                try? Data("\(host):\(bound)\n".utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic)
                logger.notice("MLLP (HL7 v2) listening", metadata: ["address": "\(host):\(bound)"])
            }
        }
    }
}

/// Runs `body` until graceful shutdown (SIGTERM, SIGINT), which cancels it. The cancellation that
/// shutdown causes is the service's normal end, not its failure: a service that let it escape made
/// a validator stopped by SIGTERM exit 1 ("Error: CancellationError()").
func untilGracefulShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do { try await cancelWhenGracefulShutdown(body) } catch is CancellationError {}
}

/// Consensus with the other validators: the P2P listener, the dialers of the persistent peers and
/// the consensus driver, until shutdown.
struct ConsensusService: Service {
    let network: P2PNetwork
    let driver: ConsensusDriver
    let config: P2PConfig
    let addressFile: String
    let logger: Logger

    func run() async throws {
        // Graceful shutdown cancels the listener, the dialers and the driver (between two inputs).
        try await untilGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await network.listen(host: config.listenHost, port: config.listenPort) { port in
                        try? Data("\(config.listenHost):\(port)\n".utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic)
                        logger.notice("P2P listening", metadata: ["address": "\(config.listenHost):\(port)", "node": "\(Address(network.nodeKey.publicKey))"])
                    }
                }
                for peer in config.peers {
                    guard let (host, port) = NodeConfig.hostPort(peer) else { continue }
                    group.addTask { await network.maintain(host: host, port: port) }
                }
                group.addTask { try await driver.run() }
                do { try await group.next() } catch {
                    logger.critical("consensus stopped the node", metadata: ["error": "\(error)"])
                    throw error
                }
                group.cancelAll()
            }
        }
        logger.notice("consensus stopped")
    }
}

/// Times the phases of a node's start and says in the log which one was slow and why it costs what
/// it does, so that a start that takes long on a loaded machine explains itself. Every phase is
/// logged at notice; one over `slowMilliseconds` at warning, which a node run with
/// `--log-level warning` (as the tests run it) still prints.
struct StartupPhases {
    static let slowMilliseconds: UInt64 = 2_000
    let logger: Logger
    private var started = ContinuousClock.now
    private let begin = ContinuousClock.now
    init(logger: Logger) { self.logger = logger }

    /// Ends the phase `name` (what it did, and what makes it slow when it is).
    mutating func done(_ name: String, cost: String) {
        let elapsed = started.duration(to: .now)
        let ms = UInt64(elapsed.components.seconds) * 1000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000_000)
        let metadata: Logger.Metadata = ["phase": "\(name)", "milliseconds": "\(ms)"]
        if ms >= Self.slowMilliseconds {
            logger.warning("slow start: \(name) took \(ms) ms (\(cost))", metadata: metadata)
        } else {
            logger.notice("start: \(name)", metadata: metadata)
        }
        started = .now
    }

    var totalMilliseconds: UInt64 {
        let e = begin.duration(to: .now)
        return UInt64(e.components.seconds) * 1000 + UInt64(e.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// Starts a node from its data directory: the chain, the block producer and the HTTP API, until
/// SIGINT or SIGTERM, which stop it gracefully (the block in progress completes first).
public enum NodeRunner {
    /// - Parameter logLevel: the level the process's log handlers read (`LogLevelControl.standardError`);
    ///   given, operators change it at run time (`PUT /v1/node/log-level`, or SIGHUP to re-read node.json).
    /// State sync at the first start (`config.stateSync`): a database holding only genesis is
    /// replaced by one restored from a snapshot (`StateSyncer`), written beside it and moved into
    /// place once complete, so an interrupted sync leaves the genesis database. A database that
    /// holds blocks is kept: the node syncs blocks from where it is.
    static func stateSync(_ sync: StateSyncConfig, dataDirectory: DataDirectory, config: NodeConfig, passphrase: String,
                          keys: [PrivateKey], workerKey: PrivateKey?, logger: Logger) async throws {
        do {
            let current = try BlockStore(path: dataDirectory.database, additionalColumns: DataDirectory.databaseColumns)
            guard try current.headHeight() == 0 else { return }
        } catch { throw NodeError(dataDirectory.database, "\(error)") }
        guard let key = workerKey ?? keys.first else {
            throw NodeError("config.stateSync", "state sync signs its requests with the worker key (keys/worker.json) or the validator key: this node has neither")
        }
        guard let data = FileManager.default.contents(atPath: dataDirectory.genesis) else { throw NodeError(dataDirectory.genesis, "missing: the light client of state sync trusts only the genesis") }
        let genesis: GenesisSpec
        do { genesis = try GenesisSpec.parse([UInt8](data)) } catch { throw NodeError(dataDirectory.genesis, "\(error)") }
        let tls = try config.tls?.load(in: dataDirectory.path)
        let peers = tls.map { PeerHTTP(tls: $0.clientConfiguration()) } ?? PeerHTTP()
        let syncer = try StateSyncer(config: sync, genesis: genesis, key: key, peers: peers, logger: logger)
        let scratch = dataDirectory.database + ".statesync"
        try? FileManager.default.removeItem(atPath: scratch)
        let height: UInt64?
        do {
            let store = try BlockStore(path: scratch, additionalColumns: DataDirectory.databaseColumns)
            height = try await syncer.run(into: store)
        } catch {
            try? FileManager.default.removeItem(atPath: scratch)
            logger.error("state sync failed; syncing every block from genesis instead", metadata: ["error": "\(error)"])
            return
        }
        guard height != nil else { try? FileManager.default.removeItem(atPath: scratch); return }
        // The restored database replaces the genesis one (closed by now: both stores are gone).
        let old = dataDirectory.database + ".genesis"
        try? FileManager.default.removeItem(atPath: old)
        try FileManager.default.moveItem(atPath: dataDirectory.database, toPath: old)
        try FileManager.default.moveItem(atPath: scratch, toPath: dataDirectory.database)
        try? FileManager.default.removeItem(atPath: old)
    }

    public static func run(dataDirectory: DataDirectory, passphrase: String, overrides: (NodeConfig) -> NodeConfig = { $0 },
                           logger: Logger, logLevel: LogLevelControl? = nil) async throws {
        var phases = StartupPhases(logger: logger)
        // The pid file only helps tools find the node: failing to write it is logged, never fatal.
        do { try Data("\(getpid())\n".utf8).write(to: URL(fileURLWithPath: dataDirectory.pidFile), options: .atomic) }
        catch { logger.warning("cannot write the pid file", metadata: ["file": "\(dataDirectory.pidFile)", "error": "\(error)"]) }
        defer { _ = unlink(dataDirectory.pidFile) }
        let config = overrides(try dataDirectory.loadConfig())
        try config.validate()
        let keystoreKeys = try dataDirectory.loadValidatorKeys(passphrase: passphrase)
        let workerKey = try dataDirectory.loadWorkerKey(passphrase: passphrase)
        phases.done("keys opened", cost: "each keystore is sealed with scrypt, which is memory-hard by design and slows with a busy CPU")
        var faults: StorageFaultPlan?
        if let text = ProcessInfo.processInfo.environment["MERIDIAN_INJECT_STORAGE_FAULT"] {
            switch StorageFaultPlan.parse(text) {
            case .success(let plan):
                faults = plan
                logger.warning("storage fault injection is on: a write will fail (tests of the failure policy only)", metadata: ["plan": "\(plan.description)"])
            case .failure(let e): throw NodeError("MERIDIAN_INJECT_STORAGE_FAULT", e.message)
            }
        }
        if let sync = config.stateSync {
            try await Self.stateSync(sync, dataDirectory: dataDirectory, config: config, passphrase: passphrase, keys: keystoreKeys, workerKey: workerKey, logger: logger)
        }
        let store: BlockStore
        do { store = try BlockStore(path: dataDirectory.database, additionalColumns: DataDirectory.databaseColumns, faults: faults) }
        catch { throw NodeError(dataDirectory.database, error.description) }
        for m in store.migrations { logger.notice("database migrated", metadata: ["migration": "\(m)"]) }
        phases.done("database opened", cost: "RocksDB replays its write-ahead log and opens its tables")
        let metrics = NodeMetrics()
        var keys = keystoreKeys
        if config.p2p != nil, keys.count > 1 {
            // A key rotation (`KeyRotations`): the new validator keystore is put beside the old one
            // before the rotation; from its height the node, restarted, votes with the key the set
            // now holds. The other keystores are kept, not used.
            let set = Set(try Validators.current(in: QueryService(store: store).reader).map(\.key))
            let current = keys.filter { set.contains($0.publicKey) }
            guard current.count == 1 else {
                throw NodeError("keys", "\(keys.count) validator keystores under keys/, \(current.count) of them in the current validator set: a node in a network votes with exactly one")
            }
            for k in keys where !set.contains(k.publicKey) {
                logger.notice("a validator keystore not in the current set is kept, not used (rotated out, or its rotation is still pending)",
                              metadata: ["key": "\(Address(k.publicKey))"])
            }
            keys = current
        }
        let chain = try ChainService(store: store, signers: keys, config: config, logger: logger, metrics: metrics)
        // The validator key in a separate `meridian-signer` (the tmkms pattern): no validator
        // keystore may then be on this host, and the signer must answer, for the key node.json names.
        var remoteSigner: RemoteSigner?
        if let signerConfig = config.signer, let validator = signerConfig.validatorKey {
            guard keystoreKeys.isEmpty else {
                throw NodeError("keys", "node.json names a signer (\(signerConfig.socket)), yet keys/ holds a validator keystore: move it to the signer's host and remove it here")
            }
            let set = Set(try Validators.current(in: chain.query.reader).map(\.key))
            guard set.contains(validator) else { throw NodeError("config.signer.validator", "\(Address(validator)) is not in the current validator set") }
            let remote = RemoteSigner(socketPath: signerConfig.socket, chainID: chain.chainID, validator: validator,
                                      clientKey: try dataDirectory.loadSignerClientKey(passphrase: passphrase), timeoutSeconds: signerConfig.timeoutSeconds)
            do { try remote.connect() } catch { throw NodeError("config.signer", "\(signerConfig.socket): \(error)") }
            logger.notice("validator key held by meridian-signer", metadata: ["socket": "\(signerConfig.socket)", "validator": "\(Address(validator))"])
            remoteSigner = remote
        }
        if let signer = ProcessInfo.processInfo.environment["MERIDIAN_INJECT_DISAGREEMENT"] {
            logger.warning("disagreement injection is on: other proposers' blocks with this signer's transactions are refused (tests of poison handling only)",
                           metadata: ["signer": "\(signer)"])
            await chain.injectDisagreement(withSigner: signer)
        }
        phases.done("chain loaded", cost: "the head block, the state at its root and the mempool's accounts are read from disk")
        // The TLS identity, loaded and checked once for the API, MLLP and node-to-node calls.
        let tls = try config.tls?.load(in: dataDirectory.path)
        let limiter = ClientLimiter(limits: config.clientLimits)
        // What the API serves besides the chain, gathered here and handed to it whole once consensus is wired.
        var served = NodeServices()
        var services: [any Service] = []
        served.logLevel = logLevel
        served.metricsTokens = Set(config.metricsTokens.map { $0.lowercased() })
        var readinessChecks: [NodeReadiness.Check] = [.storage(store)]
        let workerHealth = WorkerHealth()
        if !config.witnesses.isEmpty {
            let transport = tls.map { PeerHTTP(tls: $0.clientConfiguration()) } ?? PeerHTTP()
            let pusher = try WitnessPusher(witnesses: config.witnesses, store: store, transport: transport, logger: logger,
                                           registered: { [query = chain.query] in try Witnesses.all(in: query.reader) })
            served.witnesses = pusher
            services.append(WitnessPushService(pusher: pusher, store: store, interval: .milliseconds(100)))
        }
        // Disclosures to anyone but the patient are logged (synced) before they are answered and
        // resubmitted until committed; the worker key signs their records.
        var disclosures: DisclosureLog?
        if let workerKey {
            let log: DisclosureLog
            let pending: Int
            do { log = try DisclosureLog(chain: chain, key: workerKey); pending = try log.pendingCount() }
            catch { throw NodeError(dataDirectory.database, "opening the disclosure log: \(error)") }
            if pending > 0 { logger.notice("disclosures from before the restart are being recorded on the trail", metadata: ["pending": "\(pending)"]) }
            disclosures = log
            served.disclosures = log
            services.append(DisclosureRecorder(log: log, events: chain.events, interval: .seconds(1), logger: logger))
        }
        var workers: NodeWorkers?
        let terminology = try dataDirectory.loadTerminology(config.records)
        let terminologyVersion = (terminology ?? RecordService.noTerminology).terminology.version
        if config.workers.enabled {
            let w = try NodeWorkers(chain: chain, config: config.workers, workerKey: workerKey, disclosures: disclosures, dataDirectory: dataDirectory.path,
                                    translationsProducer: terminologyVersion, registry: metrics.registry)
            workers = w
            served.workers = w.endpoints
            if w.anchor == nil { logger.warning("no worker key (keys/worker.json): results are stored but not anchored, and alerts are not delivered") }
            services.append(WorkerHost(workers: [w.risk, w.alertEscalator] + (w.anchor.map { [$0] } ?? []) + (w.alertRecorder.map { [$0] } ?? []),
                                       registry: metrics.registry, logger: logger, health: workerHealth))
            readinessChecks.append(.workers(workerHealth))
            if let port = config.workers.mllpPort {
                var mllpTLS: MLLPListener.TLS?
                if let tls, !config.workers.mllpClientCertificates.isEmpty {
                    let context: NIOSSLContext
                    do { context = try NIOSSLContext(configuration: tls.mllpServerConfiguration()) }
                    catch { throw NodeError("config.tls", "MLLP: \(error)") }
                    mllpTLS = MLLPListener.TLS(context: context, senders: Dictionary(config.workers.mllpClientCertificates.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a }))
                }
                // Over TLS each sender proves its registered certificate, so any address may connect.
                let allowRemote = config.workers.mllpAllowRemote || mllpTLS != nil
                let listener = MLLPListener(ingestor: w.ingestor, facility: "MERIDIAN", logger: logger, tls: mllpTLS,
                                            admits: { ListenerAccess.mllpAdmits($0, allowRemote: allowRemote) })
                services.append(MLLPService(listener: listener, host: config.workers.mllpHost, port: port, addressFile: dataDirectory.mllpAddress, logger: logger))
            }
        }
        phases.done("workers ready", cost: "the risk model and the terminology are loaded and checked")
        // Record bodies: this node's worker key is its identity to other hospitals' nodes.
        if let workerKey {
            let holdsRecords: Bool
            do { holdsRecords = try !store.db.scan("record_keys", prefix: [], limit: 1).isEmpty }
            catch { throw NodeError(dataDirectory.database, "reading record_keys: \(error)") }
            let recordStore = RecordStore(db: store.db, storageKey: try dataDirectory.loadOrCreateRecordsKey(passphrase: passphrase, databaseHoldsRecords: holdsRecords))
            let peers: PeerHTTP
            if let tls { peers = PeerHTTP(tls: tls.clientConfiguration()) } else { peers = PeerHTTP() }
            let records = RecordService(store: recordStore, chain: chain, nodeKey: workerKey, config: config.records, terminology: terminology,
                                        anchors: workers?.anchors, logger: logger, registry: metrics.registry, peers: peers) { call in
                await chain.submitSigned(call, signer: workerKey)?.hash   // admitted and gossiped
            }
            served.records = records
            services.append(RecordSweeper(records: records, events: chain.events, retryInterval: .milliseconds(config.records.erasureSweepMilliseconds)))
            if terminology == nil { logger.warning("no terminology (records.terminology): ICD-10 names in summaries fall back to English, marked") }
        } else {
            logger.warning("no worker key (keys/worker.json): this node neither holds nor transfers record bodies")
        }
        if let p2p = config.p2p {
            // Consensus with the other validators. A validator node holds exactly one validator key,
            // which is also its P2P identity. A full node (a hospital without a validator, such as
            // Sakura General) holds none: its worker key, registered on chain with the worker role,
            // is its P2P identity; it follows every height and never votes. The allowlist is the
            // validator set and the worker keys in the committed state.
            guard keys.count <= 1 else { throw NodeError("keys", "a node in a network holds one validator key (found \(keys.count))") }
            let identity: any ConsensusSigner & TransactionSigner & P2PIdentity
            if let remote = remoteSigner {
                identity = remote
            } else if let key = keys.first ?? workerKey {
                identity = SchnorrConsensusSigner(key: key)
                if keys.isEmpty { logger.notice("full node: following consensus without voting", metadata: ["node": "\(Address(key.publicKey))"]) }
            } else {
                throw NodeError("keys", "a full node (no validator key) needs its worker key (keys/worker.json) as its P2P identity")
            }
            let query = chain.query
            let network = P2PNetwork(nodeKey: identity, chainID: chain.chainID) { key in ListenerAccess.p2pAdmits(key, in: query.reader) }
            let driver = try ConsensusDriver(chain: chain, signer: identity, network: network, walPath: dataDirectory.consensusWAL,
                                             guardPath: dataDirectory.signingGuard, timeouts: config.consensus,
                                             blockIntervalMilliseconds: UInt64(config.blockIntervalMilliseconds), logger: logger)
            // The one wiring point: every transaction this node admits from its own side (API,
            // workers, records, disclosures, evidence) reaches the validators through the driver.
            chain.gossip.attach { driver.gossip(transaction: $0) }
            served.consensusStatus = { driver.status }
            readinessChecks += [.peers { driver.status }, .sync { driver.status }]
            services.append(ConsensusService(network: network, driver: driver, config: p2p, addressFile: dataDirectory.p2pAddress, logger: logger))
        } else {
            services.append(BlockProducer(chain: chain, interval: .milliseconds(config.blockIntervalMilliseconds), logger: logger))
        }
        phases.done("records and consensus wired", cost: "the record store's key is unsealed with scrypt; the consensus WAL is replayed")
        // Consensus paces empty blocks; a single proposer without them makes a block only when transactions wait.
        let consensusMode = config.p2p != nil, emptyBlocks = config.emptyBlocks, mempool = chain.mempool
        readinessChecks.insert(.progress(store, stallAfter: .seconds(config.readiness.stallSeconds),
                                         expectsBlocks: { consensusMode || emptyBlocks || mempool.count > 0 }), at: 1)
        readinessChecks.append(.disk(dataDirectory.path, minimumFreeBytes: config.readiness.minimumFreeDiskBytes))
        served.readiness = NodeReadiness(checks: readinessChecks, dataDirectory: dataDirectory.path)
        served.backups = BackupCheckpoints(store: store, directory: dataDirectory)
        if config.snapshotIntervalHeights > 0 { served.snapshots = SnapshotService(store: store, intervalHeights: UInt64(config.snapshotIntervalHeights)) }
        services.append(PruningService(chain: chain, config: config.pruning, logger: logger))
        let reloadLogLevel = logLevel.map { control in LogLevelReload(control: control, dataDirectory: dataDirectory, logger: logger) }
        reloadLogLevel?.start()
        defer { reloadLogLevel?.stop() }
        // Signed requests name this node (its worker key, else its validator key) as their audience,
        // and the scheme is part of the target URI every signed request covers.
        let api = NodeAPI(chain: chain, metrics: metrics, maxBodyBytes: config.maxRequestBodyBytes, services: served,
                          identity: (workerKey ?? keys.first)?.publicKey, scheme: config.tls == nil ? "http" : "https", clientLimiter: limiter)
        let addressFile = dataDirectory.apiAddress
        let router = api.router()
        // The web console: its sign-ins name the node's worker key, which also signs the record of
        // every view of personal audit data; a node without one serves no console.
        let scheme = config.tls == nil ? "http" : "https"
        let boundAddress = Mutex("\(scheme)://\(config.apiHost):\(config.apiPort)")
        let console: NodeConsole?
        if let workerKey {
            let genesis = FileManager.default.contents(atPath: dataDirectory.genesis).flatMap { try? GenesisSpec.parse([UInt8]($0)) }
            if genesis == nil { logger.warning("no genesis.json in the data directory: the console cannot check audit proofs with its light client") }
            let c = try NodeConsole(api: api, workerKey: workerKey, genesis: genesis, sessionMinutes: config.consoleSessionMinutes,
                                    publicAddress: { boundAddress.withLock { $0 } })
            c.add(to: router)
            console = c
            // The console's light client verifies the stored headers from genesis in the background,
            // a batch at a time, so that the first audit page does not wait for it.
            if let proofs = c.proofs {
                Task.detached(priority: .background) {
                    var last = UInt64.max
                    while !Task.isCancelled, let head = try? chain.store.headHeight() {
                        let verified = proofs.catchUp(max: 500)
                        if verified >= head || verified == last { break }  // caught up, or a header it cannot verify (pages will say so)
                        last = verified
                        await Task.yield()
                    }
                }
            }
        } else {
            logger.warning("no worker key (keys/worker.json): the web console is not served")
            console = nil
        }
        phases.done("console ready", cost: "the console's routes and light client are set up")
        let startPhases = phases
        let http = HTTPServerBuilder.http1WebSocketUpgrade(additionalChannelHandlers: [ClientConnectionBound(limiter: limiter)]) {
            [alerts = workers?.alerts, console, api] request, _, _ in
            if let console, let decision = ConsoleLive.shouldUpgrade(request, console: console, events: chain.events, alerts: alerts) { return decision }
            if let alerts, let decision = AlertStream.shouldUpgrade(request, api: api, hub: alerts) { return decision }
            return EventStream.shouldUpgrade(request, api: api, hub: chain.events)
        }
        // HTTPS when node.json has `tls` (WebSocket upgrades ride inside it: wss://).
        let server: HTTPServerBuilder
        if let tls {
            do { server = try .tls(http, tlsConfiguration: tls.serverConfiguration()) }
            catch { throw NodeError("config.tls", "\(error)") }
        } else {
            server = http
            if !NodeConfig.isLoopback(config.apiHost) {
                logger.warning("the API listens off loopback without TLS: requests are signed, but answers (personal data) cross the network in the clear; set tls in node.json")
            }
        }
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(config.apiHost, port: config.apiPort), serverName: "meridian-node"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.apiPort
                let address = "\(scheme)://\(config.apiHost):\(port)"
                boundAddress.withLock { $0 = address }
                try? Data((address + "\n").utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic)
                logger.notice("API listening", metadata: ["address": "\(address)", "chain": "\(chain.chainID)", "startMilliseconds": "\(startPhases.totalMilliseconds)"])
                if console != nil { logger.notice("console", metadata: ["address": "\(address)/console"]) }
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app] + services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        // The last committed block may still be on its way to disk (its write overlaps the next
        // height): wait for it before the database closes.
        do { try await chain.awaitDurable() } catch { logger.critical("the last block's write failed", metadata: ["error": "\(error)"]) }
        chain.events.finish()
        workers?.alerts.finish()
        try? FileManager.default.removeItem(atPath: addressFile)
        let height = await chain.tip.height
        logger.notice("stopped", metadata: ["height": "\(height)"])
    }
}
