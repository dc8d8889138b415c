import Foundation
import Synchronization
import MeridianRisk
import MeridianModel
public import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianStorage
public import MeridianWorkers

/// The node's off-chain workers, wired to its chain: ingestion checks devices and patients
/// against the committed state, readings go to the reading store in the node's database, and the
/// risk worker scores them. One place for `meridian-node start` and the in-process test node.
public struct NodeWorkers: Sendable {
    public let ingestor: VitalsIngestor
    public let risk: RiskWorker
    /// The anchoring worker (nil without a worker key).
    public let anchor: AnchorWorker?
    public let anchors: AnchorStore
    /// Gossips a transaction this node admitted (set in consensus mode).
    public let onAdmitted = Hook()
    /// Column families of the workers in the node's database.
    public static let columns = ReadingStore.columns + AnchorStore.columns + AssessmentStore.columns
    public let assessments: AssessmentStore
    /// The hash of what produced the anchored readings: the ingestion code's version.
    public static let readingsProducer = SHA256.hash(Array("meridian-ingest/1".utf8))
    /// The hash of what produced the anchored assessments: the model file's SHA-256 when a model
    /// runs (what `sha256sum` prints for it), else the hash of the scoring version.
    public let assessmentsProducer: Bytes32
    /// SHA-256 (hex) of each feed's bearer token → the feed's name.
    public let feedTokens: [String: String]

    /// - Parameter dataDirectory: where a relative `config.model` path is resolved.
    public init(chain: ChainService, config: WorkersConfig, workerKey: PrivateKey?, dataDirectory: String? = nil) throws {
        var model: CardiovascularModel?
        if let path = config.model {
            let resolved = path.hasPrefix("/") || dataDirectory == nil ? path : "\(dataDirectory!)/\(path)"
            do throws(ModelError) {
                model = try CardiovascularModel(model: ONNXModel(contentsOf: URL(fileURLWithPath: resolved)), highRisk: config.modelHighRisk)
            } catch { throw NodeError("config.workers.model", "\(resolved): \(error.reason)") }
        }
        assessmentsProducer = model?.model.sha256 ?? SHA256.hash(Array(RiskAssessment.scoringVersion.utf8))
        let query = chain.query
        let inbox = ScoringInbox(capacity: config.scoringQueueCapacity)
        anchors = try AnchorStore(db: chain.store.db)
        ingestor = VitalsIngestor(store: ReadingStore(db: chain.store.db, anchors: anchors), inbox: inbox,
                                  pairedPatient: { device in ((try? Identity.device(device, in: query.reader)) ?? nil)?.patient },
                                  isPatient: { key in ((try? Identity.patient(key, in: query.reader)) ?? nil) != nil })
        assessments = AssessmentStore(db: chain.store.db, anchors: anchors)
        risk = try RiskWorker(inbox: inbox, store: assessments, model: model)
        if let workerKey {
            let hook = onAdmitted
            anchor = AnchorWorker(store: anchors, kinds: [.readings, .assessments], interval: .milliseconds(config.anchorIntervalMilliseconds),
                                  producer: { [assessmentsProducer] kind in kind == .assessments ? assessmentsProducer : NodeWorkers.readingsProducer },
                                  submit: { a in
                                      guard let bytes = await chain.submit(.submitAnchor(a), signer: workerKey) else { return false }
                                      hook.call(bytes)
                                      return true
                                  },
                                  committed: { root in (try? Anchoring.record(root: root, in: query.reader)) ?? nil })
        } else { anchor = nil }
        feedTokens = Dictionary(config.feeds.map { ($0.value.lowercased(), $0.key) }, uniquingKeysWith: { a, _ in a })
    }

    /// A settable callback (the consensus driver exists only after the workers).
    public final class Hook: Sendable {
        private let f = Mutex<(@Sendable ([UInt8]) -> Void)?>(nil)
        public func set(_ g: @escaping @Sendable ([UInt8]) -> Void) { f.withLock { $0 = g } }
        func call(_ bytes: [UInt8]) { f.withLock { $0 }?(bytes) }
    }

    /// Serves the workers' endpoints from `api`.
    public func attach(to api: inout NodeAPI) {
        api.vitals = ingestor
        api.risk = risk
        api.anchors = anchors
        api.assessmentStore = assessments
        api.feedTokens = feedTokens
    }
}
