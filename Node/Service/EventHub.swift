public import MeridianCore
public import MeridianModules
import Synchronization

/// A committed event as subscribers receive it.
public struct CommittedEvent: Sendable {
    public let height: UInt64
    public let transaction: Bytes32
    public let event: RuntimeEvent
}

/// Fans committed events out to subscribers (WebSocket clients). Each subscriber has a bounded
/// buffer that keeps the newest events: a slow client loses old events rather than holding
/// memory or slowing block production.
public final class EventHub: Sendable {
    public static let bufferPerSubscriber = 1024
    private let subscribers = Mutex<[Int: AsyncStream<CommittedEvent>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)

    public init() {}

    public func subscribe() -> AsyncStream<CommittedEvent> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<CommittedEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferPerSubscriber))
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.removeValue(forKey: id) } }
        subscribers.withLock { $0[id] = continuation }
        return stream
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
