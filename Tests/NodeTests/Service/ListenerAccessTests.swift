import Testing
import NIOCore
import MeridianCore
import MeridianDemo
@testable import MeridianNode

/// The non-HTTP listeners' access rules, from the one table (`ListenerAccess`).
@Suite(.timeLimit(.minutes(5))) struct ListenerAccessTests {
    @Test func mllpReadsLoopbackOnlyUnlessRemoteSendersAreAllowed() throws {
        let local4 = try SocketAddress(ipAddress: "127.0.0.1", port: 2575), other4 = try SocketAddress(ipAddress: "10.1.2.3", port: 2575)
        let local6 = try SocketAddress(ipAddress: "::1", port: 2575), other6 = try SocketAddress(ipAddress: "2001:db8::7", port: 2575)
        #expect(ListenerAccess.mllpAdmits(local4, allowRemote: false) && ListenerAccess.mllpAdmits(local6, allowRemote: false))
        #expect(!ListenerAccess.mllpAdmits(other4, allowRemote: false) && !ListenerAccess.mllpAdmits(other6, allowRemote: false))
        #expect(!ListenerAccess.mllpAdmits(nil, allowRemote: false), "an unknown peer address is not loopback")
        #expect(ListenerAccess.mllpAdmits(other4, allowRemote: true), "the operator accepted unauthenticated remote senders")
    }

    @Test func p2pAdmitsValidatorsAndRegisteredNodesOnly() throws {
        let node = try TestNode()
        let reader = node.chain.query.reader
        #expect(ListenerAccess.p2pAdmits(DemoCast.staff("hospital-ribeira", "validator").publicKey, in: reader))
        #expect(ListenerAccess.p2pAdmits(DemoCast.staff("sakura-general", "worker").publicKey, in: reader), "a full node's worker key")
        #expect(!ListenerAccess.p2pAdmits(DemoCast.staff("hospital-ribeira", "clinician").publicKey, in: reader))
        #expect(!ListenerAccess.p2pAdmits(DemoCast.key("nobody").publicKey, in: reader))
    }

    @Test func everyListenerStatesItsRule() {
        for l in ListenerAccess.Listener.allCases { #expect(ListenerAccess.rule(l).count > 40, "\(l)") }
    }
}
