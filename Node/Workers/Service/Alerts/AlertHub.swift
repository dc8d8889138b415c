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
    }

    private let subscribers = Mutex<[Int: (OrganizationID, AsyncStream<Delivery>.Continuation)]>([:])
    private let nextID = Atomic<Int>(0)

    public init() {}

    /// A subscriber for `organization`'s alerts from now on (subscribe before answering 101).
    public func subscribe(organization: OrganizationID) -> Subscription<Delivery> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<Delivery>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferPerSubscriber))
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.removeValue(forKey: id) } }
        subscribers.withLock { $0[id] = (organization, continuation) }
        return Subscription(stream: stream, continuation: continuation)
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    public func publish(_ delivery: Delivery) {
        let recipients = Set(delivery.alert.recipients)
        let targets = subscribers.withLock { $0.values.filter { recipients.contains($0.0) }.map(\.1) }
        for c in targets { c.yield(delivery) }
    }

    public func finish() {
        let targets = subscribers.withLock { s in let v = s.values.map(\.1); s.removeAll(); return v }
        for c in targets { c.finish() }
    }
}
