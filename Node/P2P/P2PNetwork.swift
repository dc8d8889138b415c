import Foundation
public import MeridianCore
import NIOCore
public import NIOPosix
import Synchronization

/// Length-prefixed frames (4-byte big-endian length) with a hard bound. Written here because
/// swift-nio-extras' `LengthFieldBasedFrameDecoder` accepts frames up to 2 GiB: a hostile peer could
/// make the node buffer that much before any check.
///
/// A connection's first two frames are the handshake (hello, then the encrypted authentication):
/// they are bounded by `maxHandshakeFrameBytes`, so a peer that has not authenticated cannot make
/// the node buffer more than a small frame.
struct BoundedFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxFrameBytes: Int
    static let maxHandshakeFrameBytes = 1024
    private var frames = 0

    init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        let limit = frames < 2 ? Self.maxHandshakeFrameBytes : maxFrameBytes
        guard Int(length) <= limit else {
            throw P2PError(frames < 2 ? "p2p.handshake_too_large" : "p2p.frame_too_large", "a \(length)-byte frame (limit \(limit))")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        frames += 1
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

/// Whether a connection's handshake has ended (counted once).
final class HandshakeEnd: Sendable { let done = Atomic<Bool>(false) }

/// Which came first for one connection: the handshake's end or its deadline. Exactly one wins:
/// cancelling a scheduled NIO task does not stop one already running, so without this a deadline
/// firing as the handshake completed closed a connection both sides had just counted as up, and
/// frames queued on it were lost.
final class HandshakeRace: Sendable {
    private let state = Atomic<UInt8>(0)   // 0 pending, 1 authenticated, 2 timed out
    /// The handshake completed before the deadline.
    func authenticate() -> Bool { state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged }
    /// The deadline fired before the handshake completed.
    func timeOut() -> Bool { state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged }
}

/// Bounds of the P2P layer, with their defaults.
public struct P2PLimits: Sendable, Hashable, Codable {
    /// Seconds a new connection has to complete the handshake.
    public var handshakeTimeoutSeconds: Double = 5
    /// Messages a peer may send per second (token bucket, burst twice that); over it, disconnected.
    public var maxMessagesPerSecond: Double = 20_000
    /// Bytes a peer may send per second (token bucket, burst twice that).
    public var maxBytesPerSecond: Double = 64 * 1024 * 1024
    /// Frames waiting to be written to one peer; a peer that does not read is disconnected.
    public var maxQueuedFramesPerPeer: Int = 10_000
    /// Inbound connections still in their handshake at once, in all and from one address; more are
    /// closed at once (`p2p.too_many_handshakes`).
    public var maxPendingHandshakes: Int = 64
    public var maxPendingHandshakesPerAddress: Int = 8
    /// Reconnection backoff: first and largest delay.
    public var reconnectInitialMilliseconds: Int = 100
    public var reconnectMaxMilliseconds: Int = 5_000
    public init() {}
}

/// A token bucket: `rate` per second, `burst` at most.
struct TokenBucket {
    let rate: Double, burst: Double
    var tokens: Double
    var last: UInt64
    init(rate: Double, now: UInt64) { self.rate = rate; burst = rate * 2; tokens = rate * 2; last = now }
    mutating func take(_ n: Double, now: UInt64) -> Bool {
        tokens = min(burst, tokens + Double(now - last) / 1e9 * rate)
        last = now
        guard tokens >= n else { return false }
        tokens -= n
        return true
    }
}

/// The permissioned network of one node: it listens, dials its persistent peers (reconnecting with
/// exponential backoff), authenticates every connection with `Handshake` against the allowlist, and
/// then carries encrypted frames. One connection per peer: when two exist (both dialed at once), the
/// one dialed by the lower node key stays. Anything a peer sends that does not decrypt, exceeds the
/// frame or rate limits, or breaks the protocol closes its connection.
public final class P2PNetwork: Sendable {
    public struct Event: Sendable {
        public let peer: PublicKey
        public let message: [UInt8]
    }

    struct Connection {
        let id: UInt64
        let dialer: PublicKey
        let outbox: AsyncStream<[UInt8]>.Continuation
        let close: @Sendable () -> Void
    }


    public let nodeKey: any P2PIdentity
    public let chainID: String
    public let limits: P2PLimits
    /// Whether a key may connect (a current validator or a registered full node), asked at every handshake.
    public let isAllowed: @Sendable (PublicKey) -> Bool
    private let group: MultiThreadedEventLoopGroup
    private let connections = Mutex<[PublicKey: Connection]>([:])
    private let nextID = Atomic<UInt64>(1)
    private let inboundContinuation: AsyncStream<Event>.Continuation
    /// Messages from authenticated peers, in arrival order per peer (bounded; the oldest are dropped
    /// if the consumer falls far behind).
    public let inbound: AsyncStream<Event>
    private let refusals = Mutex<[String: Int]>([:])
    /// Inbound connections in their handshake, by remote address.
    private let pendingHandshakes = Mutex<[String: Int]>([:])

    public init(nodeKey: any P2PIdentity, chainID: String, limits: P2PLimits = P2PLimits(), group: MultiThreadedEventLoopGroup = .singleton,
                isAllowed: @escaping @Sendable (PublicKey) -> Bool) {
        self.nodeKey = nodeKey; self.chainID = chainID; self.limits = limits; self.isAllowed = isAllowed; self.group = group
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(100_000))
    }

    /// Connected, authenticated peers.
    public var peers: [PublicKey] { connections.withLock { Array($0.keys) }.sorted() }

    /// Refused or closed connections by reason code (for metrics and tests).
    public var refusalCounts: [String: Int] { refusals.withLock { $0 } }

    /// Queues `message` for `peer`; false if not connected or its queue is full (then it is dropped).
    @discardableResult
    public func send(_ message: [UInt8], to peer: PublicKey) -> Bool {
        guard let c = connections.withLock({ $0[peer] }) else { return false }
        if case .enqueued = c.outbox.yield(message) { return true }
        return false
    }

    public func broadcast(_ message: [UInt8]) { for p in peers { send(message, to: p) } }

    /// Closes the connection to `peer`, counted under `reason` (e.g. `p2p.not_allowed` for a validator
    /// removed from the allowlist: a dialer of ours retries, and the handshake then refuses it).
    public func disconnect(_ peer: PublicKey, reason: String) {
        guard let c = connections.withLock({ $0.removeValue(forKey: peer) }) else { return }
        c.outbox.finish(); c.close()
        refuse(reason)
    }

    /// Listens on host:port (0: any free port); returns the bound port and runs until the task is cancelled.
    public func listen(host: String, port: Int, bound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let maxFrame = SecureSession.maxFrameBytes + AES256GCM.tagSize
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BoundedFrameDecoder(maxFrameBytes: maxFrame)))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        bound(server.channel.localAddress?.port ?? port)
        // The accept loop runs in a task the caller's cancellation does not reach: cancelling the
        // iteration of `inbound` would drop the connections already accepted and queued, and NIO
        // traps on a dropped async channel whose writer was never finished (it crashed a test run
        // at shutdown). Cancellation closes the listening socket instead; the loop then serves out
        // what was queued and ends, and the connections it served are cancelled.
        let accepting = Task { try await acceptLoop(server) }
        try await withTaskCancellationHandler {
            try await accepting.value
        } onCancel: {
            server.channel.close(promise: nil)
        }
    }

    private func acceptLoop(_ server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>) async throws {
        try await withThrowingDiscardingTaskGroup { tasks in
            defer { tasks.cancelAll() }   // the listener closed: end the connections it served
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
                    let admitted = pendingHandshakes.withLock { pending in
                        guard pending.values.reduce(0, +) < limits.maxPendingHandshakes,
                              pending[address, default: 0] < limits.maxPendingHandshakesPerAddress else { return false }
                        pending[address, default: 0] += 1
                        return true
                    }
                    guard admitted else {
                        refuse("p2p.too_many_handshakes")
                        // Closed through the async channel, whose writer must be finished.
                        tasks.addTask { try? await connection.executeThenClose { _, _ in } }
                        continue
                    }
                    tasks.addTask {
                        await self.serve(connection, dialedBy: nil) {
                            self.pendingHandshakes.withLock { pending in
                                pending[address, default: 1] -= 1
                                if pending[address] == 0 { pending[address] = nil }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Keeps a connection to host:port: dials, serves, and redials with exponential backoff, until cancelled.
    public func maintain(host: String, port: Int) async {
        var delay = limits.reconnectInitialMilliseconds
        let maxFrame = SecureSession.maxFrameBytes + AES256GCM.tagSize
        while !Task.isCancelled {
            do {
                let channel = try await ClientBootstrap(group: group).connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BoundedFrameDecoder(maxFrameBytes: maxFrame)))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
                if await serve(channel, dialedBy: nodeKey.publicKey) { delay = limits.reconnectInitialMilliseconds }
            } catch {
                refuse("p2p.unreachable")   // not reachable yet: back off
            }
            try? await Task.sleep(for: .milliseconds(delay))
            delay = min(limits.reconnectMaxMilliseconds, delay * 2)
        }
    }

    private func refuse(_ code: String) { refusals.withLock { $0[code, default: 0] += 1 } }

    static func framed(_ bytes: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt32(bytes.count))
        b.writeBytes(bytes)
        return b
    }

    /// Runs one connection: handshake under a deadline, then reader and writer until either ends.
    /// Returns whether the handshake succeeded.
    @discardableResult
    private func serve(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, dialedBy: PublicKey?,
                       handshakeEnded: @escaping @Sendable () -> Void = {}) async -> Bool {
        var authenticated = false
        // Called once: when the handshake succeeds, or when the connection ends without one.
        let ended = HandshakeEnd()
        let endHandshake: @Sendable () -> Void = { if !ended.done.exchange(true, ordering: .relaxed) { handshakeEnded() } }
        defer { endHandshake() }
        let raw = channel.channel
        // The handshake deadline closes the connection unless the handshake finished first.
        let race = HandshakeRace()
        let deadline = raw.eventLoop.scheduleTask(in: .milliseconds(Int64(limits.handshakeTimeoutSeconds * 1000))) {
            if race.timeOut() { raw.close(promise: nil) }
        }
        do {
            try await channel.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()   // the one iterator, for handshake and messages
                var handshake = try Handshake(nodeKey: nodeKey, chainID: chainID)
                try await outbound.write(Self.framed(handshake.hello))
                guard let hello = try await frames.next() else { throw P2PError("p2p.handshake_closed", "closed or timed out during the handshake") }
                try await outbound.write(Self.framed(try handshake.receiveHello(Array(buffer: hello))))
                guard let auth = try await frames.next() else { throw P2PError("p2p.handshake_closed", "closed or timed out during the handshake") }
                let session = try handshake.receiveAuth(Array(buffer: auth), isAllowed: isAllowed)
                deadline.cancel()
                guard race.authenticate() else { throw P2PError("p2p.handshake_timeout", "the handshake took over \(limits.handshakeTimeoutSeconds) s") }
                endHandshake()
                let peer = session.peer
                authenticated = true
                let id = nextID.add(1, ordering: .relaxed).oldValue
                let (outbox, outboxContinuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(limits.maxQueuedFramesPerPeer))
                let dialer = dialedBy ?? peer
                let connection = Connection(id: id, dialer: dialer, outbox: outboxContinuation, close: { raw.close(promise: nil) })
                // One connection per peer: the one dialed by the lower key wins.
                let keep: Bool = connections.withLock { all in
                    if let existing = all[peer] {
                        let preferred = min(nodeKey.publicKey, peer)
                        if existing.dialer == preferred && dialer != preferred { return false }
                        existing.outbox.finish(); existing.close()
                    }
                    all[peer] = connection
                    return true
                }
                guard keep else { throw P2PError("p2p.duplicate", "already connected to \(Address(peer))") }
                defer {
                    connections.withLock { all in if all[peer]?.id == id { all[peer] = nil } }
                    outboxContinuation.finish()
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { [session] in   // writer: seal and send in order; its end closes the connection
                        var s = session
                        defer { raw.close(promise: nil) }
                        for await message in outbox { try await outbound.write(Self.framed(try s.seal(message))) }
                    }
                    // Reader, in this task: open, rate-limit, deliver.
                    var s = session
                    let start = DispatchTime.now().uptimeNanoseconds
                    var messages = TokenBucket(rate: limits.maxMessagesPerSecond, now: start)
                    var bytes = TokenBucket(rate: limits.maxBytesPerSecond, now: start)
                    defer { outboxContinuation.finish(); group.cancelAll() }
                    while let frame = try await frames.next() {
                        let plain = try s.open(Array(buffer: frame))
                        let now = DispatchTime.now().uptimeNanoseconds
                        guard messages.take(1, now: now), bytes.take(Double(frame.readableBytes), now: now) else {
                            throw P2PError("p2p.rate_limited", "\(Address(peer)) exceeded its message or byte rate")
                        }
                        inboundContinuation.yield(Event(peer: peer, message: plain))
                    }
                    refuse("p2p.closed")   // the peer closed the connection
                }
            }
        } catch let e as P2PError {
            refuse(e.code)
        } catch {
            refuse(error is NIOCore.ChannelError ? "p2p.closed" : "p2p.io")
        }
        deadline.cancel()
        return authenticated
    }
}
