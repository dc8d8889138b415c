import Foundation
public import MeridianCore
public import MeridianMempool
public import MeridianConsensus
public import MeridianVitals
public import MeridianWorkers
import MeridianCore
import MeridianModules

/// The P2P side of a validator in a network (`node.json` key `p2p`). Without it the node runs alone
/// and produces every block itself (single-proposer mode).
public struct P2PConfig: Codable, Sendable, Hashable {
    /// Address and port other validators dial (port 0: any free port, written to `<data-dir>/p2p.address`).
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int = 26656
    /// Persistent peers, `host:port`, dialled and redialled with backoff.
    public var peers: [String] = []
    public init() {}
}

/// The off-chain workers (`node.json` key `workers`).
/// The validator key in a separate `meridian-signer` process instead of `keys/` (issue 24): the node
/// reaches it over a Unix socket and authenticates with its `keys/signer-client.json` key.
public struct SignerConfig: Codable, Sendable, Hashable {
    /// The signer's Unix socket.
    public var socket: String
    /// The validator key the signer holds: its address (mer1…) or public key (hex).
    public var validator: String
    /// Seconds one signature may take before this node gives up on it (and misses that vote).
    public var timeoutSeconds: Double = 2

    public init(socket: String, validator: String) { self.socket = socket; self.validator = validator }

    enum CodingKeys: String, CodingKey { case socket, validator, timeoutSeconds }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        socket = try c.decode(String.self, forKey: .socket)
        validator = try c.decode(String.self, forKey: .validator)
        timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 2
    }

    /// The validator's public key, or nil if `validator` is neither an address nor a key.
    public var validatorKey: PublicKey? { Address(validator)?.publicKey ?? (try? PublicKey(hex: validator)) }
}

public struct WorkersConfig: Codable, Sendable, Hashable {
    /// Whether the node runs its workers and serves the vital-signs endpoints.
    public var enabled: Bool = true
    /// Bound of the risk worker's input queue (routine readings beyond it are answered "busy").
    public var scoringQueueCapacity: Int = 10_000
    /// FHIR feeds allowed to post Observations: feed name → SHA-256 (hex) of its bearer token.
    public var feeds: [String: String] = [:]
    /// HL7 v2 over MLLP: address and port (absent: no listener; 0: any free port, written to
    /// `<data-dir>/mllp.address`). With `mllpClientCertificates` (and the node's `tls`), the
    /// listener speaks TLS only and accepts a connection only from a client certificate registered
    /// there (IHE ATNA secure node), on any address. Without them a sender is trusted by network
    /// position alone: the listener must be on loopback (an interface engine on the same host) unless
    /// `mllpAllowRemote` says explicitly that the operator accepts unauthenticated senders.
    public var mllpHost: String = "127.0.0.1"
    public var mllpPort: Int?
    public var mllpAllowRemote: Bool = false
    /// MLLP senders over TLS: feed name → SHA-256 (hex) of the sender's client certificate (DER).
    public var mllpClientCertificates: [String: String] = [:]
    /// Milliseconds between anchors of the workers' results (each anchor one transaction).
    public var anchorIntervalMilliseconds: Int = 10_000
    /// The cardiovascular risk model (ONNX) the risk worker runs beside NEWS2, relative to the data
    /// directory unless absolute (absent: NEWS2 and trends only). Check one first with
    /// `meridian-node model check`.
    public var model: String?
    /// The model risk at or above which the pages label it high (a probability; 0.20 by default).
    /// It raises no alert: a long-term risk is not an acute signal.
    public var modelHighRisk: Double = 0.20
    /// How old a reading may be and still count in a NEWS2 score, in minutes, by vital-sign name
    /// (e.g. `{"respiratory-rate": 240}`); unnamed signs keep `ReadingExpiry`'s defaults (12 h,
    /// oxygen flow 1 h).
    public var readingMaxAgeMinutes: [String: Int] = [:]
    /// Milliseconds between the alert escalator's passes (how late an escalation step may be sent
    /// past its due time; the delays themselves are each hospital's, set on chain).
    public var alertEscalationTickMilliseconds: Int = 5_000
    public init() {}

    /// The expiry the risk worker uses (names checked by `NodeConfig.validate`).
    public var readingExpiry: ReadingExpiry {
        ReadingExpiry(minutes: Dictionary(readingMaxAgeMinutes.compactMap { k, v in VitalSign(name: k).map { ($0, v) } }, uniquingKeysWith: { a, _ in a }))
    }

    enum CodingKeys: String, CodingKey { case enabled, scoringQueueCapacity, feeds, mllpHost, mllpPort, mllpAllowRemote, mllpClientCertificates, anchorIntervalMilliseconds, model, modelHighRisk, readingMaxAgeMinutes, alertEscalationTickMilliseconds }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = WorkersConfig()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        scoringQueueCapacity = try c.decodeIfPresent(Int.self, forKey: .scoringQueueCapacity) ?? d.scoringQueueCapacity
        feeds = try c.decodeIfPresent([String: String].self, forKey: .feeds) ?? d.feeds
        mllpHost = try c.decodeIfPresent(String.self, forKey: .mllpHost) ?? d.mllpHost
        mllpPort = try c.decodeIfPresent(Int.self, forKey: .mllpPort)
        mllpAllowRemote = try c.decodeIfPresent(Bool.self, forKey: .mllpAllowRemote) ?? d.mllpAllowRemote
        mllpClientCertificates = try c.decodeIfPresent([String: String].self, forKey: .mllpClientCertificates) ?? d.mllpClientCertificates
        anchorIntervalMilliseconds = try c.decodeIfPresent(Int.self, forKey: .anchorIntervalMilliseconds) ?? d.anchorIntervalMilliseconds
        model = try c.decodeIfPresent(String.self, forKey: .model)
        modelHighRisk = try c.decodeIfPresent(Double.self, forKey: .modelHighRisk) ?? d.modelHighRisk
        readingMaxAgeMinutes = try c.decodeIfPresent([String: Int].self, forKey: .readingMaxAgeMinutes) ?? d.readingMaxAgeMinutes
        alertEscalationTickMilliseconds = try c.decodeIfPresent(Int.self, forKey: .alertEscalationTickMilliseconds) ?? d.alertEscalationTickMilliseconds
    }
}

/// Record bodies (`node.json` key `records`): what this node holds as custodian, copies it fetched
/// for its clinicians, and where the other hospitals' nodes answer.
public struct RecordsConfig: Codable, Sendable, Hashable {
    /// Organisation → base URL of its node's API (the directory a network publishes): where
    /// transfers are fetched from and erasure notices sent to.
    public var nodes: [String: String] = [:]
    /// The terminology file (from `make terminology`) summaries are translated with, relative to
    /// the data directory unless absolute (absent: ICD-10 names fall back to English, marked).
    public var terminology: String?
    /// Seconds a transfer waits for its share to be committed.
    public var transferTimeoutSeconds: Int = 30
    /// Milliseconds between retries of unacknowledged erasure notices (erasures themselves are
    /// carried out on their committed event, and in a full sweep at start and every minute).
    public var erasureSweepMilliseconds: Int = 1000
    public init() {}

    enum CodingKeys: String, CodingKey { case nodes, terminology, transferTimeoutSeconds, erasureSweepMilliseconds }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RecordsConfig()
        nodes = try c.decodeIfPresent([String: String].self, forKey: .nodes) ?? d.nodes
        terminology = try c.decodeIfPresent(String.self, forKey: .terminology)
        transferTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .transferTimeoutSeconds) ?? d.transferTimeoutSeconds
        erasureSweepMilliseconds = try c.decodeIfPresent(Int.self, forKey: .erasureSweepMilliseconds) ?? d.erasureSweepMilliseconds
    }
}

/// The node's configuration file (`<data-dir>/node.json`), written by `meridian-node init` with
/// every default spelled out. Missing keys take the defaults below.
public struct NodeConfig: Codable, Sendable, Hashable {
    /// Address and port of the HTTP API (`127.0.0.1:26657` by default; port 0 picks a free one).
    public var apiHost: String = "127.0.0.1"
    public var apiPort: Int = 26657
    /// Milliseconds between blocks.
    public var blockIntervalMilliseconds: Int = 1000
    /// Whether to produce a block when the mempool is empty.
    public var emptyBlocks: Bool = false
    /// Transactions a proposed block may carry at most (also bounded by the chain parameter).
    public var maxBlockTransactions: Int = 2000
    /// Bytes of transactions a proposed block may carry at most.
    public var maxBlockBytes: Int = 8 << 20
    /// Largest HTTP request body accepted.
    public var maxRequestBodyBytes: Int = 1 << 20
    /// Per client address: API requests per second (burst twice that) and connections open at once.
    public var clientLimits = ClientLimiter.Limits()
    /// Threads that check signatures during block execution (0: one per core).
    public var verificationThreads: Int = 0
    /// Log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String = "info"
    public var mempool = MempoolLimits()
    /// Consensus with other validators over P2P (absent: single-proposer mode).
    public var p2p: P2PConfig?
    /// Round timeouts of consensus (base and per-round increase, milliseconds).
    public var consensus = ConsensusTimeouts()
    /// The off-chain workers.
    public var workers = WorkersConfig()
    /// Record bodies, transfers between nodes and erasure.
    public var records = RecordsConfig()
    /// How long a console session lasts after sign-in (the person signs its end).
    public var consoleSessionMinutes: Int = 60
    /// HTTPS for the API and console, TLS for MLLP (absent: plain HTTP).
    public var tls: TLSConfig?
    /// Witnesses of the audit log this node pushes each checkpoint to (c2sp.org/tlog-witness).
    public var witnesses: [WitnessEndpoint] = []
    /// SHA-256 (hex) of each bearer token a Prometheus server scrapes `/metrics` with (its
    /// `authorization.credentials_file`): a scraper cannot sign requests as an operator does.
    public var metricsTokens: [String] = []
    /// What `/readyz` checks, with its thresholds.
    public var readiness = ReadinessConfig()
    /// Old state versions and block bodies given back (`keepRecentHeights`, `intervalSeconds`).
    public var pruning = PruningConfig()
    /// The validator key's separate signer process, if the key is not in `keys/`.
    public var signer: SignerConfig?
    /// Restore the state from other nodes' snapshots at the first start (nil: sync every block).
    public var stateSync: StateSyncConfig?
    /// Serve a state snapshot at every multiple of this height (0: serve none).
    public var snapshotIntervalHeights: Int = 1000

    public init() {}

    enum CodingKeys: String, CodingKey {
        case apiHost, apiPort, blockIntervalMilliseconds, emptyBlocks, maxBlockTransactions, maxBlockBytes
        case maxRequestBodyBytes, clientLimits, verificationThreads, logLevel, mempool, p2p, consensus, workers, records, consoleSessionMinutes, tls, witnesses
        case metricsTokens, readiness, pruning, signer, stateSync, snapshotIntervalHeights
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = NodeConfig()
        apiHost = try c.decodeIfPresent(String.self, forKey: .apiHost) ?? d.apiHost
        apiPort = try c.decodeIfPresent(Int.self, forKey: .apiPort) ?? d.apiPort
        blockIntervalMilliseconds = try c.decodeIfPresent(Int.self, forKey: .blockIntervalMilliseconds) ?? d.blockIntervalMilliseconds
        emptyBlocks = try c.decodeIfPresent(Bool.self, forKey: .emptyBlocks) ?? d.emptyBlocks
        maxBlockTransactions = try c.decodeIfPresent(Int.self, forKey: .maxBlockTransactions) ?? d.maxBlockTransactions
        maxBlockBytes = try c.decodeIfPresent(Int.self, forKey: .maxBlockBytes) ?? d.maxBlockBytes
        maxRequestBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxRequestBodyBytes) ?? d.maxRequestBodyBytes
        clientLimits = try c.decodeIfPresent(ClientLimiter.Limits.self, forKey: .clientLimits) ?? d.clientLimits
        verificationThreads = try c.decodeIfPresent(Int.self, forKey: .verificationThreads) ?? d.verificationThreads
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? d.logLevel
        mempool = try c.decodeIfPresent(MempoolLimits.self, forKey: .mempool) ?? d.mempool
        p2p = try c.decodeIfPresent(P2PConfig.self, forKey: .p2p)
        consensus = try c.decodeIfPresent(ConsensusTimeouts.self, forKey: .consensus) ?? d.consensus
        workers = try c.decodeIfPresent(WorkersConfig.self, forKey: .workers) ?? d.workers
        records = try c.decodeIfPresent(RecordsConfig.self, forKey: .records) ?? d.records
        consoleSessionMinutes = try c.decodeIfPresent(Int.self, forKey: .consoleSessionMinutes) ?? d.consoleSessionMinutes
        tls = try c.decodeIfPresent(TLSConfig.self, forKey: .tls)
        witnesses = try c.decodeIfPresent([WitnessEndpoint].self, forKey: .witnesses) ?? d.witnesses
        metricsTokens = try c.decodeIfPresent([String].self, forKey: .metricsTokens) ?? d.metricsTokens
        readiness = try c.decodeIfPresent(ReadinessConfig.self, forKey: .readiness) ?? d.readiness
        pruning = try c.decodeIfPresent(PruningConfig.self, forKey: .pruning) ?? d.pruning
        signer = try c.decodeIfPresent(SignerConfig.self, forKey: .signer)
        stateSync = try c.decodeIfPresent(StateSyncConfig.self, forKey: .stateSync)
        snapshotIntervalHeights = try c.decodeIfPresent(Int.self, forKey: .snapshotIntervalHeights) ?? d.snapshotIntervalHeights
    }

    /// Checks the values, naming the first bad one.
    /// 127.0.0.0/8, ::1 or localhost.
    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "[::1]" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    public func validate() throws(NodeError) {
        guard (0...65535).contains(apiPort) else { throw NodeError("config.apiPort", "\(apiPort) is not a port") }
        guard blockIntervalMilliseconds >= 10 && blockIntervalMilliseconds <= 600_000 else { throw NodeError("config.blockIntervalMilliseconds", "must be 10...600000") }
        guard maxBlockTransactions >= 1 else { throw NodeError("config.maxBlockTransactions", "must be positive") }
        guard maxBlockBytes >= 1024 else { throw NodeError("config.maxBlockBytes", "must be at least 1024") }
        guard maxRequestBodyBytes >= 1024 else { throw NodeError("config.maxRequestBodyBytes", "must be at least 1024") }
        guard clientLimits.requestsPerSecond > 0, clientLimits.maxConnections >= 1, clientLimits.maxTrackedClients >= 1 else {
            throw NodeError("config.clientLimits", "requestsPerSecond must be positive, maxConnections and maxTrackedClients at least 1")
        }
        guard (1...24 * 60).contains(consoleSessionMinutes) else { throw NodeError("config.consoleSessionMinutes", "must be 1...1440") }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else { throw NodeError("config.logLevel", "'\(logLevel)' is not a level") }
        guard mempool.maxTransactions > 0, mempool.maxBytes > 0, mempool.maxPerAccount > 0 else { throw NodeError("config.mempool", "limits must be positive") }
        for t in metricsTokens where t.count != 64 || Hex.decode(t) == nil {
            throw NodeError("config.metricsTokens", "'\(t.prefix(80))' is not the SHA-256 of a token (64 hex digits)")
        }
        guard (5...86_400).contains(readiness.stallSeconds) else { throw NodeError("config.readiness.stallSeconds", "must be 5...86400") }
        guard (1...7 * 86_400).contains(pruning.intervalSeconds) else { throw NodeError("config.pruning.intervalSeconds", "must be 1...604800") }
        guard snapshotIntervalHeights >= 0 else { throw NodeError("config.snapshotIntervalHeights", "must be 0 (no snapshots) or a number of heights") }
        if let stateSync {
            guard p2p != nil else { throw NodeError("config.stateSync", "state sync joins a network: it needs p2p") }
            guard !stateSync.servers.isEmpty else { throw NodeError("config.stateSync.servers", "name at least one node's API address") }
            for server in stateSync.servers {
                guard let u = URL(string: server), u.scheme == "http" || u.scheme == "https", u.host != nil else { throw NodeError("config.stateSync.servers", "'\(server.prefix(100))' is not an http(s) URL") }
            }
            guard (1...3600).contains(stateSync.requestTimeoutSeconds) else { throw NodeError("config.stateSync.requestTimeoutSeconds", "must be 1...3600") }
        }
        if let signer {
            guard p2p != nil else { throw NodeError("config.signer", "a remote signer signs a validator's votes: it needs p2p (a node in a network)") }
            guard !signer.socket.isEmpty, signer.socket.utf8.count < 108 else { throw NodeError("config.signer.socket", "a Unix socket path of 1...107 bytes") }
            guard signer.validatorKey != nil else { throw NodeError("config.signer.validator", "'\(signer.validator.prefix(80))' is not an address or a public key") }
            guard signer.timeoutSeconds > 0, signer.timeoutSeconds <= 60 else { throw NodeError("config.signer.timeoutSeconds", "must be above 0 and at most 60") }
        }
        if let p2p {
            guard (0...65535).contains(p2p.listenPort) else { throw NodeError("config.p2p.listenPort", "\(p2p.listenPort) is not a port") }
            for peer in p2p.peers {
                guard let (_, port) = Self.hostPort(peer), (1...65535).contains(port) else { throw NodeError("config.p2p.peers", "'\(peer)' is not host:port") }
            }
        }
        guard (1...10_000_000).contains(workers.scoringQueueCapacity) else { throw NodeError("config.workers.scoringQueueCapacity", "must be 1...10000000") }
        guard (100...3_600_000).contains(workers.anchorIntervalMilliseconds) else { throw NodeError("config.workers.anchorIntervalMilliseconds", "must be 100...3600000") }
        guard (100...60_000).contains(workers.alertEscalationTickMilliseconds) else { throw NodeError("config.workers.alertEscalationTickMilliseconds", "must be 100...60000") }
        guard workers.modelHighRisk > 0, workers.modelHighRisk < 1 else { throw NodeError("config.workers.modelHighRisk", "must be a probability between 0 and 1") }
        if let p = workers.mllpPort, !(0...65535).contains(p) { throw NodeError("config.workers.mllpPort", "\(p) is not a port") }
        for (name, minutes) in workers.readingMaxAgeMinutes {
            guard VitalSign(name: name) != nil else {
                throw NodeError("config.workers.readingMaxAgeMinutes", "'\(name)' is not a vital sign (\(VitalSign.allCases.map(\.name).joined(separator: ", ")))")
            }
            guard (1...10_080).contains(minutes) else { throw NodeError("config.workers.readingMaxAgeMinutes.\(name)", "must be 1...10080 minutes (a week)") }
        }
        for (feed, fingerprint) in workers.mllpClientCertificates {
            guard fingerprint.count == 64, fingerprint.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw NodeError("config.workers.mllpClientCertificates.\(feed)", "must be the SHA-256 of the client certificate's DER, 64 lower-case hex digits")
            }
        }
        if !workers.mllpClientCertificates.isEmpty && tls == nil {
            throw NodeError("config.workers.mllpClientCertificates", "MLLP client certificates need the node's own certificate: set tls")
        }
        if workers.mllpPort != nil, workers.mllpClientCertificates.isEmpty, !workers.mllpAllowRemote, !Self.isLoopback(workers.mllpHost) {
            throw NodeError("config.workers.mllpHost", "'\(workers.mllpHost)' is not a loopback address, and without TLS client certificates MLLP senders are not authenticated: register each sender's certificate in workers.mllpClientCertificates (with tls set), bind it to 127.0.0.1 (an interface engine on this host), or set workers.mllpAllowRemote to accept unauthenticated senders from the network")
        }
        for (name, hash) in workers.feeds {
            guard !name.isEmpty, name.utf8.count <= 64 else { throw NodeError("config.workers.feeds", "feed names are 1-64 bytes") }
            guard hash.utf8.count == 64, Bytes32(hex: hash) != nil else { throw NodeError("config.workers.feeds.\(name)", "expected the SHA-256 of the feed's token (64 hex digits)") }
        }
        for (org, url) in records.nodes {
            guard OrganizationID(org) != nil else { throw NodeError("config.records.nodes", "'\(org)' is not an organisation id") }
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), URL(string: url) != nil else { throw NodeError("config.records.nodes.\(org)", "'\(url)' is not an http(s) URL") }
        }
        guard (1...600).contains(records.transferTimeoutSeconds) else { throw NodeError("config.records.transferTimeoutSeconds", "must be 1...600") }
        guard (50...600_000).contains(records.erasureSweepMilliseconds) else { throw NodeError("config.records.erasureSweepMilliseconds", "must be 50...600000") }
        guard consensus.proposeMilliseconds >= 10, consensus.prevoteMilliseconds >= 10, consensus.precommitMilliseconds >= 10 else {
            throw NodeError("config.consensus", "timeouts must be at least 10 ms")
        }
    }

    /// Splits `host:port`.
    public static func hostPort(_ s: String) -> (String, Int)? {
        guard let i = s.lastIndex(of: ":"), let port = Int(s[s.index(after: i)...]), !s[..<i].isEmpty else { return nil }
        return (String(s[..<i]), port)
    }
}

/// A node-level failure with the setting or file it concerns.
public struct NodeError: Error, Sendable, CustomStringConvertible {
    public let field: String
    public let message: String
    public init(_ field: String, _ message: String) { self.field = field; self.message = message }
    public var description: String { "\(field): \(message)" }
}
