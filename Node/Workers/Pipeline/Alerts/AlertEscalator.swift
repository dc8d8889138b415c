import Foundation
import Synchronization
public import MeridianCore
public import MeridianModules
public import MeridianRisk
public import Prometheus

/// Escalates high alerts nobody took in charge: for each hospital an alert was delivered to that
/// has set an escalation order on chain (`AlertEscalation`) and has not acknowledged the alert,
/// once `afterSeconds` have passed the alert is sent to the first clinician of the order, after
/// another `afterSeconds` to the second, and so on; an acknowledgement stops it. Only alerts of the
/// high NEWS2 band escalate (RCP 2017: an emergency response); lower bands stay with the ward.
///
/// What was sent is kept in memory: after a restart, the alerts of the last day are read back from
/// the alert store and the step due now is sent once more (a repeat, never a gap).
public final class AlertEscalator: Worker, Sendable {
    public let name = "alert-escalation"
    /// Open alerts kept at most (the oldest are dropped first).
    public static let maxOpen = 10_000
    /// How far back an alert still escalates (and is read back after a restart).
    public static let windowMilliseconds: UInt64 = 24 * 3_600_000

    struct Open: Sendable {
        let alert: AlertRecord
        let raised: Timestamp
        var sent: [OrganizationID: Int]
    }

    private let open = Mutex<[Bytes32: Open]>([:])
    let store: AssessmentStore?
    let hub: AlertHub
    let escalation: @Sendable (OrganizationID) throws -> AlertEscalation?
    let acknowledged: @Sendable (Bytes32, OrganizationID) throws -> Bool
    let clock: @Sendable () -> Timestamp
    let tick: Duration
    let escalated: Prometheus.Counter
    let unreadableAlerts: Prometheus.Counter

    /// - Parameters:
    ///   - escalation: a hospital's escalation order in the committed state.
    ///   - acknowledged: whether the hospital has acknowledged the alert (committed state).
    public init(store: AssessmentStore?, hub: AlertHub, registry: PrometheusCollectorRegistry, tick: Duration = .seconds(5),
                clock: (@Sendable () -> Timestamp)? = nil,
                escalation: @escaping @Sendable (OrganizationID) throws -> AlertEscalation?,
                acknowledged: @escaping @Sendable (Bytes32, OrganizationID) throws -> Bool) {
        self.store = store; self.hub = hub; self.tick = tick
        self.clock = clock ?? { Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)) }
        self.escalation = escalation; self.acknowledged = acknowledged
        escalated = registry.makeCounter(name: "meridian_alerts_escalated_total",
                                         help: "Escalation steps sent: a high alert a hospital had not acknowledged, sent to the next clinician of its order")
        unreadableAlerts = registry.makeCounter(name: "meridian_alerts_unreadable_total",
                                                help: "Stored alerts that did not decode when the escalator read them back after a restart (not escalated)")
    }

    /// Whether an alert escalates when unacknowledged.
    public static func escalates(_ a: AlertRecord) -> Bool { a.score.band == .high }

    /// Starts watching an alert just raised (the dispatcher calls this).
    public func track(_ a: AlertRecord, raised: Timestamp) {
        guard Self.escalates(a), !a.recipients.isEmpty else { return }
        open.withLock { all in
            if all.count >= Self.maxOpen, let oldest = all.min(by: { $0.value.raised < $1.value.raised })?.key { all[oldest] = nil }
            if all[a.hash] == nil { all[a.hash] = Open(alert: a, raised: raised, sent: [:]) }
        }
    }

    /// Alerts being watched.
    public var openCount: Int { open.withLock { $0.count } }

    /// One pass at `now`: sends every step that is due, and forgets alerts every hospital has
    /// acknowledged, fully escalated, or that are older than the window. Returns what it sent. A
    /// failed state read throws before anything is forgotten: the worker fails, is restarted, and
    /// the next pass sends what is due (never a silently skipped step).
    @discardableResult
    public func pass(now: Timestamp) throws -> [AlertHub.Delivery] {
        let snapshot = open.withLock { Array($0) }
        var sent: [AlertHub.Delivery] = []
        var progress: [(Bytes32, OrganizationID, Int)] = []
        var finished: [Bytes32] = []
        for (hash, o) in snapshot {
            var done = true
            for org in o.alert.recipients where try !acknowledged(hash, org) {
                guard let order = try escalation(org) else { done = false; continue }
                let due = order.level(raised: o.raised, now: now)
                let already = min(o.sent[org] ?? 0, order.recipients.count)
                if due < order.recipients.count { done = false }
                guard due > already else { continue }
                for step in (already + 1)...due {
                    let d = AlertHub.Delivery(alert: o.alert, raisedUptimeNanoseconds: DispatchTime.now().uptimeNanoseconds,
                                              escalation: .init(organization: org, level: step, recipient: order.recipients[step - 1]))
                    hub.publish(d)
                    escalated.increment()
                    sent.append(d)
                }
                progress.append((hash, org, due))
            }
            if done || now.unixMilliseconds > o.raised.unixMilliseconds &+ Self.windowMilliseconds { finished.append(hash) }
        }
        open.withLock { all in
            for (hash, org, level) in progress { all[hash]?.sent[org] = level }
            for hash in finished { all[hash] = nil }
        }
        return sent
    }

    /// Reads back the escalating alerts of the last day (after a restart).
    func recover(now: Timestamp) throws {
        guard let store else { return }
        let since = now.unixMilliseconds > Self.windowMilliseconds ? now.unixMilliseconds - Self.windowMilliseconds : 0
        let (alerts, unreadable) = try store.recentAlerts(since: Timestamp(unixMilliseconds: since), limit: Self.maxOpen)
        for a in alerts { track(a, raised: a.time) }
        // A stored alert that does not decode cannot be escalated: counted, so that it shows.
        if unreadable > 0 { unreadableAlerts.increment(by: Int64(unreadable)) }
    }

    public func run(metrics: WorkerMetrics) async throws {
        try recover(now: clock())
        while !Task.isCancelled {
            let sent = try pass(now: clock())
            metrics.processed.increment(by: Int64(sent.count))
            metrics.queueDepth.set(Double(openCount))
            try await Task.sleep(for: tick)
        }
    }
}
