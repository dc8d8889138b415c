public import MeridianCore
public import MeridianModules
public import MeridianRisk
import Synchronization

/// Fans clinical alerts out to the WebSocket subscribers of the organisations they are addressed
/// to, and to nobody else: a subscriber registers for one organisation (after proving membership)
/// and receives only alerts whose recipients include it. Each subscriber's buffer is bounded
/// (`bufferPerSubscriber`, newest kept).
public final class AlertHub: Sendable {
    public static let bufferPerSubscriber = 1024

    /// An alert as subscribers receive it: the record and the time the node raised it (its
    /// monotonic clock, for latency measurement by in-process observers).
    public struct Delivery: Sendable {
        public let alert: AlertRecord
        public let raisedUptimeNanoseconds: UInt64
        /// Set when this is an escalation: the alert sent on to one clinician of a hospital that
        /// has not acknowledged it (`AlertEscalator`).
        public let escalation: Escalation?
        public init(alert: AlertRecord, raisedUptimeNanoseconds: UInt64, escalation: Escalation? = nil) {
            self.alert = alert; self.raisedUptimeNanoseconds = raisedUptimeNanoseconds; self.escalation = escalation
        }
    }

    /// An escalation step: the hospital's `level`-th next recipient in its escalation order.
    public struct Escalation: Sendable, Hashable {
        public let organization: OrganizationID
        public let level: Int
        public let recipient: PublicKey
        public init(organization: OrganizationID, level: Int, recipient: PublicKey) {
            self.organization = organization; self.level = level; self.recipient = recipient
        }
    }

    private struct Subscriber { let organization: OrganizationID; let clinician: PublicKey?; let continuation: AsyncStream<Delivery>.Continuation }
    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)

    public init() {}

    /// A subscriber for `organization`'s alerts from now on (subscribe before answering 101), and
    /// for the escalations addressed to `clinician` (the subscriber's own key).
    public func subscribe(organization: OrganizationID, clinician: PublicKey? = nil) -> Subscription<Delivery> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<Delivery>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferPerSubscriber))
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.removeValue(forKey: id) } }
        subscribers.withLock { $0[id] = Subscriber(organization: organization, clinician: clinician, continuation: continuation) }
        return Subscription(stream: stream, continuation: continuation)
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// An alert goes to every subscriber of the organisations it is addressed to; an escalation
    /// only to the subscribers who are its recipient, of its organisation.
    public func publish(_ delivery: Delivery) {
        let targets: [AsyncStream<Delivery>.Continuation]
        if let e = delivery.escalation {
            targets = subscribers.withLock { $0.values.filter { $0.organization == e.organization && $0.clinician == e.recipient }.map(\.continuation) }
        } else {
            let recipients = Set(delivery.alert.recipients)
            targets = subscribers.withLock { $0.values.filter { recipients.contains($0.organization) }.map(\.continuation) }
        }
        for c in targets { c.yield(delivery) }
    }

    public func finish() {
        let targets = subscribers.withLock { s in let v = s.values.map(\.continuation); s.removeAll(); return v }
        for c in targets { c.finish() }
    }
}
