public import NIOCore
public import MeridianCore
public import MeridianModules
public import MeridianState

/// The access rule of every listener a node opens besides HTTP, in one place (the HTTP routes,
/// WebSocket streams and node-to-node endpoints carry theirs in their route tables:
/// `NodeAPI.routes()`, `NodeConsole.routes()`). THREATS.md: anyone on the network reaches a port.
public enum ListenerAccess {
    public enum Listener: String, CaseIterable, Sendable {
        /// Consensus and transaction gossip between nodes.
        case p2p
        /// HL7 v2 over MLLP from bedside-monitor gateways.
        case mllp
    }

    /// Who may connect, and how they are authenticated.
    public static func rule(_ listener: Listener) -> String {
        switch listener {
        case .p2p:
            "keys on the chain's allowlist only (the validator set and registered worker keys): the encrypted handshake "
                + "proves the key before any other frame is read; handshakes are bounded in size, time and number per address"
        case .mllp:
            "loopback connections only (an interface engine on this host, or a TLS tunnel ending here): MLLP carries no "
                + "authentication, so the sender is trusted by position; other addresses only when node.json "
                + "workers.mllpAllowRemote accepts unauthenticated senders explicitly"
        }
    }

    /// P2P: whether `key` may complete a handshake (the committed validator set, or a worker key on chain).
    public static func p2pAdmits(_ key: PublicKey, in state: some StateReader) -> Bool {
        do {
            if try Validators.current(in: state).contains(where: { $0.key == key }) { return true }
            return try Identity.member(key, in: state)?.has(.worker) == true
        } catch {
            return false   // a state that cannot be read admits no one
        }
    }

    /// MLLP: whether a connection from `remote` is read at all.
    public static func mllpAdmits(_ remote: SocketAddress?, allowRemote: Bool) -> Bool {
        allowRemote || isLoopback(remote)
    }

    /// 127.0.0.0/8, ::1, an IPv4-mapped loopback, or a Unix socket.
    public static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let address else { return false }
        switch address {
        case .v4: return address.ipAddress?.hasPrefix("127.") == true
        case .v6: let ip = address.ipAddress ?? ""; return ip == "::1" || ip.lowercased().hasPrefix("::ffff:127.")
        case .unixDomainSocket: return true
        }
    }
}
