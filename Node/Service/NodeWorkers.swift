import MeridianCore
import MeridianModules
import MeridianStorage
public import MeridianWorkers

/// The node's off-chain workers, wired to its chain: ingestion checks devices and patients
/// against the committed state, readings go to the reading store in the node's database, and the
/// risk worker scores them. One place for `meridian-node start` and the in-process test node.
public struct NodeWorkers: Sendable {
    public let ingestor: VitalsIngestor
    public let risk: RiskWorker
    /// SHA-256 (hex) of each feed's bearer token → the feed's name.
    public let feedTokens: [String: String]

    public init(chain: ChainService, config: WorkersConfig) {
        let query = chain.query
        let inbox = ScoringInbox(capacity: config.scoringQueueCapacity)
        ingestor = VitalsIngestor(store: ReadingStore(db: chain.store.db), inbox: inbox,
                                  pairedPatient: { device in ((try? Identity.device(device, in: query.reader)) ?? nil)?.patient },
                                  isPatient: { key in ((try? Identity.patient(key, in: query.reader)) ?? nil) != nil })
        risk = RiskWorker(inbox: inbox)
        feedTokens = Dictionary(config.feeds.map { ($0.value.lowercased(), $0.key) }, uniquingKeysWith: { a, _ in a })
    }

    /// Serves the workers' endpoints from `api`.
    public func attach(to api: inout NodeAPI) {
        api.vitals = ingestor
        api.risk = risk
        api.feedTokens = feedTokens
    }
}
