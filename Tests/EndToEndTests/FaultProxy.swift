import Foundation
import MeridianTestSupport
import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy on a loopback port that forwards to one target and can be cut: while cut it closes
/// every connection it carries and refuses new ones, as a network partition would. Used between
/// validators to make partitions that form and heal.
final class FaultProxy: Sendable {
    /// Whether the link is cut, and the connections it carries.
    final class LinkState: Sendable {
        let cut = Atomic<Bool>(false)
        let channels = Mutex<[any Channel]>([])
    }

    let port: Int
    private let state: LinkState
    private let server: any Channel

    init(target: Int) async throws {
        let state = LinkState()
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                if state.cut.load(ordering: .relaxed) { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: target).flatMap { outbound in
                    state.channels.withLock { $0 += [inbound, outbound] }
                    return inbound.pipeline.addHandler(Relay(peer: outbound)).flatMap { outbound.pipeline.addHandler(Relay(peer: inbound)) }
                }.flatMapError { _ in inbound.close() }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = server.localAddress!.port!
        self.state = state
    }

    /// Cuts (closes every carried connection, refuses new ones) or heals.
    func setCut(_ value: Bool) {
        state.cut.store(value, ordering: .relaxed)
        if value { for c in state.channels.withLock({ l in defer { l = [] }; return l }) { c.close(promise: nil) } }
    }

    func close() { setCut(true); server.close(promise: nil) }

    /// Copies bytes to the other side; either side closing closes both.
    final class Relay: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let peer: any Channel
        init(peer: any Channel) { self.peer = peer }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { peer.writeAndFlush(unwrapInboundIn(data), promise: nil) }
        func channelInactive(context: ChannelHandlerContext) { peer.close(promise: nil) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
