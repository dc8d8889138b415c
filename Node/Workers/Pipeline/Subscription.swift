/// One subscriber's stream from a hub (committed events, clinical alerts). Its iterators keep it
/// alive; once it and they are gone, the hub stops queueing for it, so a subscription made for a
/// WebSocket upgrade whose handler never ran leaks nothing. Hubs hand these out so that a route
/// can subscribe before it answers 101: what is published in between is queued, not lost.
public final class Subscription<Element: Sendable>: AsyncSequence, Sendable {
    private let stream: AsyncStream<Element>
    private let continuation: AsyncStream<Element>.Continuation

    public init(stream: AsyncStream<Element>, continuation: AsyncStream<Element>.Continuation) {
        self.stream = stream; self.continuation = continuation
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let owner: Subscription<Element>
        var base: AsyncStream<Element>.AsyncIterator
        public mutating func next() async -> Element? { await base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(owner: self, base: stream.makeAsyncIterator()) }

    deinit { continuation.finish() }
}
