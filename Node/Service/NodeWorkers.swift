import Foundation
import Synchronization
import MeridianRisk
import MeridianModel
public import Prometheus
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
    /// Column families of the workers in the node's database.
    public static let columns = ReadingStore.columns + AnchorStore.columns + AssessmentStore.columns
    public let assessments: AssessmentStore
    /// Clinical alerts: raised after assessments, delivered to covered organisations' subscribers.
    public let alerts: AlertHub
    public let alertDispatcher: AlertDispatcher
    /// Puts each delivery on the audit trail (nil without a worker key: then nothing is delivered).
    public let alertRecorder: AlertDeliveryRecorder?
    /// Sends unacknowledged high alerts on to each hospital's escalation order.
    public let alertEscalator: AlertEscalator
    /// The hash of what produced the anchored readings: the ingestion code's version.
    public static let readingsProducer = SHA256.hash(Array("meridian-ingest/1".utf8))
    /// The hash of what produced the anchored assessments: the model file's SHA-256 when a model
    /// runs (what `sha256sum` prints for it), else the hash of the scoring version.
    public let assessmentsProducer: Bytes32
    /// SHA-256 (hex) of each feed's bearer token → the feed's name.
    public let feedTokens: [String: String]

    /// - Parameter dataDirectory: where a relative `config.model` path is resolved.
    /// - Parameter translationsProducer: the terminology file's version, named by the anchors of served summaries.
    /// - Parameter disclosures: where alert deliveries are recorded for the trail (with `workerKey`).
    public init(chain: ChainService, config: WorkersConfig, workerKey: PrivateKey?, disclosures: DisclosureLog? = nil, dataDirectory: String? = nil,
                translationsProducer: Bytes32 = .zero, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) throws {
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
        let assessmentStore = AssessmentStore(db: chain.store.db, anchors: anchors)
        assessments = assessmentStore
        // Alerts: addressed by the consents in force now; delivered only where each delivery can be
        // put on the audit trail (the worker key signs those records).
        alerts = AlertHub()
        let workerPublicKey = workerKey?.publicKey
        // Each delivery moves from the alert store's queue to the disclosure log (which keeps it
        // until its transaction is committed); without a log, it is submitted directly.
        let recorder = workerKey.map { key in
            AlertDeliveryRecorder(store: assessmentStore) { delivery in
                if let disclosures {
                    do { try disclosures.record([.recordAlertDelivery(delivery)]); return true } catch { return false }
                }
                return await chain.submit(.recordAlertDelivery(delivery), signer: key) != nil   // admitted and gossiped
            }
        }
        alertRecorder = recorder
        let escalator = AlertEscalator(store: assessmentStore, hub: alerts, registry: registry,
                                       tick: .milliseconds(config.alertEscalationTickMilliseconds),
                                       escalation: { org in try Audit.escalation(of: org, in: query.reader) },
                                       acknowledged: { alert, org in try Audit.acknowledgement(of: alert, by: org, in: query.reader) != nil })
        alertEscalator = escalator
        let dispatcher = AlertDispatcher(
            rule: AlertRule(), store: assessmentStore, hub: alerts, registry: registry,
            recipients: { patient in
                // The alerting hospital: the worker key's organisation in the committed state.
                guard let workerPublicKey, let source = ((try? Identity.member(workerPublicKey, in: query.reader)) ?? nil)?.organization else { return [] }
                let now = Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
                return ((try? AlertRecipients.covered(patient: patient, source: source, at: now, in: query.reader)) ?? []).map { ($0.organization, $0.purpose) }
            },
            recorded: { recorder?.wake() },
            raised: { alert in escalator.track(alert, raised: Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))) })
        alertDispatcher = dispatcher
        // The SpO2 scale a clinician set on chain (scale 2 for hypercapnic respiratory failure).
        // A failed read scores on scale 1, which never scores lower than scale 2 would on air.
        let spo2Scale: @Sendable (PublicKey) -> NEWS2.SpO2Scale = { patient in
            do { return try Clinical.spo2Scale(of: patient, in: query.reader)?.scale == 2 ? .scale2 : .scale1 } catch { return .scale1 }
        }
        risk = try RiskWorker(inbox: inbox, store: assessmentStore, model: model, expiry: config.readingExpiry, spo2Scale: spo2Scale) { assessment in
            _ = try? dispatcher.consider(assessment)
        }
        if let workerKey {
            anchor = AnchorWorker(store: anchors, kinds: [.readings, .assessments, .alerts, .translations], interval: .milliseconds(config.anchorIntervalMilliseconds),
                                  producer: { [assessmentsProducer] kind in
                                      switch kind {
                                      case .readings: NodeWorkers.readingsProducer
                                      case .translations: translationsProducer
                                      default: assessmentsProducer
                                      }
                                  },
                                  submit: { a in
                                      await chain.submit(.submitAnchor(a), signer: workerKey) != nil   // admitted and gossiped
                                  },
                                  committed: { root in (try? Anchoring.record(root: root, in: query.reader)) ?? nil })
        } else { anchor = nil }
        feedTokens = Dictionary(config.feeds.map { ($0.value.lowercased(), $0.key) }, uniquingKeysWith: { a, _ in a })
    }

    /// What the API serves from the workers.
    public var endpoints: WorkerEndpoints {
        WorkerEndpoints(vitals: ingestor, risk: risk, anchors: anchors, assessments: assessments, feedTokens: feedTokens)
    }
}
