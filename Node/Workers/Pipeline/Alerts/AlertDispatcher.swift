import Dispatch
import Logging
import Synchronization
public import MeridianCore
public import MeridianModules
public import MeridianRisk
public import Prometheus
public import MeridianStorage

/// Turns assessments into alerts: applies `AlertRule` against the patient's previous assessment,
/// addresses the alert to the organisations the patient's consent covers for TREAT/ETREAT
/// (`AlertRecipients`, the rule the runtime checks again), stores it with one pending audit record
/// per recipient, and only then publishes it to those organisations' subscribers. Runs on the risk
/// worker's task, right after the assessment, so a critical reading's alert waits for nothing else.
public final class AlertDispatcher: Sendable {
    let rule: AlertRule
    let store: AssessmentStore?
    let hub: AlertHub
    /// The organisations covered for a patient now (committed state, the node's clock), with the
    /// purpose that covers each.
    let recipients: @Sendable (PublicKey) -> [(OrganizationID, PurposeOfUse)]
    /// Wakes the delivery recorder.
    let recorded: @Sendable () -> Void
    /// Told of each alert raised (the escalator watches the high ones).
    let raisedHook: @Sendable (AlertRecord) -> Void
    /// What each patient was last alerted for (bounded like the risk worker's patients).
    private let alerted = Mutex<[PublicKey: AlertRule.State]>([:])
    let raised: Prometheus.Counter
    let undelivered: Prometheus.Counter

    public init(rule: AlertRule, store: AssessmentStore?, hub: AlertHub, registry: PrometheusCollectorRegistry,
                recipients: @escaping @Sendable (PublicKey) -> [(OrganizationID, PurposeOfUse)],
                recorded: @escaping @Sendable () -> Void = {}, raised: @escaping @Sendable (AlertRecord) -> Void = { _ in }) {
        self.rule = rule; self.store = store; self.hub = hub; self.recipients = recipients; self.recorded = recorded; self.raisedHook = raised
        self.raised = registry.makeCounter(name: "meridian_alerts_raised_total", help: "Clinical alerts raised by the risk worker")
        undelivered = registry.makeCounter(name: "meridian_alerts_without_recipient_total",
                                           help: "Alerts raised for a patient whose consent covers no organisation for TREAT/ETREAT")
    }

    /// Considers one assessment against what the patient was last alerted for; returns the alert
    /// it raised, if any.
    @discardableResult
    public func consider(_ a: RiskAssessment) throws(RocksDBError) -> AlertRecord? {
        let current = rule.state(of: a.score, at: a.time)
        let reasons = alerted.withLock { all in
            if all[a.patient] == nil, all.count >= RiskWorker.maxPatients, let any = all.keys.first { all[any] = nil }
            let (reasons, next) = rule.evaluate(alerted: all[a.patient] ?? AlertRule.State(), current: current)
            all[a.patient] = next
            return reasons
        }
        guard !reasons.isEmpty else { return nil }
        let started = DispatchTime.now().uptimeNanoseconds
        let covered = recipients(a.patient)
        let alert = AlertRecord(patient: a.patient, time: a.time, reasons: reasons, score: a.score, modelRisk: a.modelRisk,
                                modelHash: a.modelHash ?? .zero, scoringVersion: RiskAssessment.scoringVersion,
                                recipients: covered.map(\.0))
        raised.increment()
        if covered.isEmpty { undelivered.increment() }
        let hash = alert.hash
        try store?.storeAlert(alert, deliveries: covered.map { AlertDelivery(patient: a.patient, recipient: $0.0, alert: hash, purpose: $0.1) })
        hub.publish(AlertHub.Delivery(alert: alert, raisedUptimeNanoseconds: started))
        if !covered.isEmpty { recorded(); raisedHook(alert) }
        return alert
    }
}
