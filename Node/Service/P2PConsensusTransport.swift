public import MeridianCore
public import MeridianP2P
public import MeridianConsensusDriver

/// P2P is the consensus driver's transport: the driver target knows only `ConsensusTransport`, and
/// this conformance is the one place where the two meet.
extension P2PNetwork: ConsensusTransport {
    public func admits(_ peer: PublicKey) -> Bool { isAllowed(peer) }

    public func forEachInbound(_ body: @escaping @Sendable (PublicKey, [UInt8]) async -> Void) async {
        for await event in inbound { await body(event.peer, event.message) }
    }
}
