public import Foundation
public import Hummingbird
public import NIOCore
import Synchronization

/// The request context of the node's HTTP listener: Hummingbird's core context and the client's
/// address (for the per-client bounds).
public struct NodeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Bounds of what one client address may make the HTTP listener do (THREATS.md: a hostile caller
/// costs at most a named limit): requests per second (a token bucket with a burst of twice that,
/// checked before a signature is verified or a body read) and connections open at once. The
/// table of clients is bounded too: beyond `maxTrackedClients`, the longest idle is forgotten.
public final class ClientLimiter: Sendable {
    public struct Limits: Sendable, Hashable, Codable {
        public var requestsPerSecond: Double = 10_000
        public var maxConnections: Int = 256
        public var maxTrackedClients: Int = 10_000
        public init() {}
        enum CodingKeys: String, CodingKey { case requestsPerSecond, maxConnections, maxTrackedClients }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self), d = Limits()
            requestsPerSecond = try c.decodeIfPresent(Double.self, forKey: .requestsPerSecond) ?? d.requestsPerSecond
            maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections
            maxTrackedClients = try c.decodeIfPresent(Int.self, forKey: .maxTrackedClients) ?? d.maxTrackedClients
        }
    }

    struct Client { var tokens: Double; var last: UInt64; var connections: Int }

    public let limits: Limits
    private let clients = Mutex<[String: Client]>([:])
    /// Monotonic nanoseconds (a test passes a clock it controls).
    let clock: @Sendable () -> UInt64

    public init(limits: Limits = Limits(), clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.limits = limits; self.clock = clock
    }

    private func withClient<T>(_ address: String, now: UInt64, _ body: (inout Client) -> T) -> T {
        clients.withLock { all in
            if all[address] == nil, all.count >= limits.maxTrackedClients,
               let idle = all.filter({ $0.value.connections == 0 }).min(by: { $0.value.last < $1.value.last })?.key {
                all[idle] = nil
            }
            var c = all[address] ?? Client(tokens: limits.requestsPerSecond * 2, last: now, connections: 0)
            let result = body(&c)
            all[address] = c
            return result
        }
    }

    /// Whether one more request from `address` is within its rate (`now` in nanoseconds).
    public func admitRequest(from address: String, now: UInt64? = nil) -> Bool {
        let now = now ?? clock()
        return withClient(address, now: now) { c in
            c.tokens = min(limits.requestsPerSecond * 2, c.tokens + Double(now &- c.last) / 1e9 * limits.requestsPerSecond)
            c.last = now
            guard c.tokens >= 1 else { return false }
            c.tokens -= 1
            return true
        }
    }

    /// Counts a new connection from `address`; false (and not counted) when it has too many open.
    public func openConnection(from address: String) -> Bool {
        withClient(address, now: clock()) { c in
            guard c.connections < limits.maxConnections else { return false }
            c.connections += 1
            return true
        }
    }

    public func closeConnection(from address: String) {
        clients.withLock { all in if var c = all[address] { c.connections = max(0, c.connections - 1); all[address] = c } }
    }

    static func address(_ socket: SocketAddress?) -> String { socket?.ipAddress ?? "unknown" }
}

/// 429 for a client over its request rate, before anything else is done for the request.
struct ClientRateMiddleware: RouterMiddleware {
    typealias Context = NodeRequestContext
    let limiter: ClientLimiter
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard limiter.admitRequest(from: ClientLimiter.address(context.remoteAddress)) else {
            throw APIError(.tooManyRequests, "request.rate_limited",
                           "over \(Int(limiter.limits.requestsPerSecond)) requests per second from this address; slow down and retry")
        }
        return try await next(request, context)
    }
}

/// Closes a connection from an address that already holds `maxConnections` open ones; counts the
/// others until they close. One instance per connection.
final class ClientConnectionBound: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // @unchecked: used on its channel's event loop only.
    typealias InboundIn = NIOAny
    let limiter: ClientLimiter
    private var counted: String?

    init(limiter: ClientLimiter) { self.limiter = limiter }

    func handlerAdded(context: ChannelHandlerContext) {
        let address = ClientLimiter.address(context.channel.remoteAddress)
        if limiter.openConnection(from: address) { counted = address } else { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { release() }
    func channelInactive(context: ChannelHandlerContext) { release(); context.fireChannelInactive() }

    private func release() {
        if let a = counted { limiter.closeConnection(from: a); counted = nil }
    }
}
