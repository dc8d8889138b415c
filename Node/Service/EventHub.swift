public import MeridianCore
public import MeridianModules
import Synchronization
public import MeridianWorkers

/// A committed event as subscribers receive it.
public struct CommittedEvent: Sendable {
    public let height: UInt64
    public let transaction: Bytes32
    public let event: RuntimeEvent
    public init(height: UInt64, transaction: Bytes32, event: RuntimeEvent) { self.height = height; self.transaction = transaction; self.event = event }
}

/// Fans committed events out to subscribers (WebSocket clients). Each subscriber has a bounded
/// buffer that keeps the newest events: a slow client loses old events rather than holding
/// memory or slowing block production.
public final class EventHub: Sendable {
    public static let bufferPerSubscriber = 1024
    private let subscribers = Mutex<[Int: AsyncStream<CommittedEvent>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)

    public init() {}

    /// A new subscriber, receiving every event published from now on. Subscribe before telling a
    /// client it is subscribed (a WebSocket's 101): events committed in between are then queued,
    /// not lost. The subscription ends when it is dropped or the hub finishes.
    public func subscribe() -> Subscription<CommittedEvent> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<CommittedEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferPerSubscriber))
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.removeValue(forKey: id) } }
        subscribers.withLock { $0[id] = continuation }
        return Subscription(stream: stream, continuation: continuation)
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    public func publish(_ events: [CommittedEvent]) {
        guard !events.isEmpty else { return }
        let targets = subscribers.withLock { Array($0.values) }
        for c in targets { for e in events { c.yield(e) } }
    }

    public func finish() {
        let targets = subscribers.withLock { s in let v = Array(s.values); s.removeAll(); return v }
        for c in targets { c.finish() }
    }
}

