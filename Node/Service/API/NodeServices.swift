public import MeridianCore
public import MeridianConsensusDriver
public import MeridianWorkers

/// What the API serves besides the chain, wired once where the node starts (`NodeRunner`, and the
/// in-process `TestNode`) and handed to `NodeAPI` whole: nothing is attached to the API after it is
/// built. A part is nil only where the node is configured without it (no workers, no worker key, a
/// single-process chain without consensus); the routes that need it then answer 503 and say so.
public struct NodeServices: Sendable {
    /// The off-chain workers' endpoints (nil: the node runs no workers).
    public var workers: WorkerEndpoints?
    /// Record bodies, transfers, erasure and summaries (nil: the node holds no worker key).
    public var records: RecordService?
    /// Where disclosures to anyone but the patient are recorded before they are answered (nil: a
    /// node without a worker key, which then answers only patients' reads of their own data).
    public var disclosures: DisclosureLog?
    /// The consensus driver's status (nil: the node produces blocks alone).
    public var consensusStatus: (@Sendable () -> ConsensusStatus)?
    /// The witnesses this node pushes checkpoints to, with the cosignatures collected (nil: none configured).
    public var witnesses: WitnessPusher?
    /// The components `/readyz` checks (nil: it checks the storage alone).
    public var readiness: NodeReadiness?
    /// The log level an operator changes at run time (nil: `/v1/node/log-level` answers 503).
    public var logLevel: LogLevelControl?
    /// SHA-256 (hex) of the bearer tokens Prometheus may scrape `/metrics` with.
    public var metricsTokens: Set<String> = []
    /// Checkpoints of the database for backups (nil: `/v1/node/backups` answers 503).
    public var backups: BackupCheckpoints?
    /// The state snapshots this node serves for state sync (nil: none).
    public var snapshots: SnapshotService?

    public init(workers: WorkerEndpoints? = nil, records: RecordService? = nil, disclosures: DisclosureLog? = nil,
                consensusStatus: (@Sendable () -> ConsensusStatus)? = nil, witnesses: WitnessPusher? = nil,
                readiness: NodeReadiness? = nil, logLevel: LogLevelControl? = nil, metricsTokens: Set<String> = []) {
        self.workers = workers; self.records = records; self.disclosures = disclosures; self.consensusStatus = consensusStatus
        self.witnesses = witnesses; self.readiness = readiness; self.logLevel = logLevel; self.metricsTokens = metricsTokens
    }
}

/// The parts of the off-chain workers the API serves: ingestion, scores, anchors, stored
/// assessments and the FHIR feeds allowed to post readings.
public struct WorkerEndpoints: Sendable {
    public let vitals: VitalsIngestor
    public let risk: RiskWorker
    public let anchors: AnchorStore
    public let assessments: AssessmentStore
    /// SHA-256 (hex) of each feed's bearer token → the feed's name.
    public let feedTokens: [String: String]

    public init(vitals: VitalsIngestor, risk: RiskWorker, anchors: AnchorStore, assessments: AssessmentStore, feedTokens: [String: String]) {
        self.vitals = vitals; self.risk = risk; self.anchors = anchors; self.assessments = assessments; self.feedTokens = feedTokens
    }
}
