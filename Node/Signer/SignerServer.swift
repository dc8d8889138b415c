import Foundation
public import MeridianCore
import Synchronization

/// `meridian-signer`'s socket: accepts connections from the node, authenticates each (the peer's
/// user id, then the node's client key and the signer's validator key over fresh nonces), and
/// answers its requests through the `SigningPolicy`. Each connection has its own thread; signing
/// is serialised by the policy. A connection that does not finish authenticating within
/// `authenticationSeconds` is closed, and at most `maxConnections` are served at once.
public final class SignerServer: @unchecked Sendable {   // the listening socket is set once; counters are atomics
    public struct Options: Sendable {
        public var allowedUserIDs: Set<UInt32>
        public var authenticationSeconds: Double = 5
        public var maxConnections = 4
        public init(allowedUserIDs: Set<UInt32>) { self.allowedUserIDs = allowedUserIDs }
    }

    public let policy: SigningPolicy
    public let client: PublicKey
    public let options: Options
    private let log: @Sendable (String) -> Void
    private let open = Atomic<Int>(0)
    private let signatures = Atomic<Int>(0)
    private let refusals = Atomic<Int>(0)
    /// Requests signed and refused since the start.
    public var counts: (signed: Int, refused: Int) { (signatures.load(ordering: .relaxed), refusals.load(ordering: .relaxed)) }
    private var listener: UnixSocket?

    public init(policy: SigningPolicy, client: PublicKey, options: Options, log: @escaping @Sendable (String) -> Void) {
        self.policy = policy; self.client = client; self.options = options; self.log = log
    }

    /// Listens at `path` and serves until `stop()` (blocking the calling thread).
    public func serve(path: String) throws(SignerError) {
        let listener = try UnixSocket.listen(path: path)
        self.listener = listener
        log("listening on \(path) for client \(Address(client)), validator \(Address(policy.publicKey)), chain \(policy.chainID)")
        while let connection = listener.accept() {
            guard open.add(1, ordering: .relaxed).newValue <= options.maxConnections else {
                open.subtract(1, ordering: .relaxed)
                log("refused a connection: \(options.maxConnections) already open")
                connection.close()
                continue
            }
            let thread = Thread { [self] in
                defer { open.subtract(1, ordering: .relaxed); connection.close() }
                serve(connection)
            }
            thread.start()
        }
    }

    public func stop() { listener.map { shutdown($0.fd, Int32(SHUT_RDWR)) } }

    private func serve(_ connection: UnixSocket) {
        do {
            let peer = try connection.peerCredentials()
            guard options.allowedUserIDs.contains(peer.uid) else {
                throw SignerError("signer.user_refused", "process \(peer.pid) of user \(peer.uid) is not an allowed user (\(options.allowedUserIDs.sorted()))")
            }
            try connection.setTimeout(seconds: options.authenticationSeconds)
            let hello = SignerWire.Hello(chainID: policy.chainID, validator: policy.publicKey, nonce: try Self.nonce())
            try connection.writeFrame(hello.bytes)
            let auth = try SignerWire.ClientAuth(bytes: try connection.readFrame())
            guard auth.client == client else {
                let e = SignerError("signer.client_refused", "client key \(Address(auth.client)) is not this signer's client")
                try? connection.writeFrame(SignerWire.Response.refused(e).bytes)
                throw e
            }
            guard auth.client.verify(auth.signature, message: SignerWire.clientAuthDigest(hello, clientNonce: auth.nonce)) else {
                let e = SignerError("signer.bad_auth", "the client's signature does not verify")
                try? connection.writeFrame(SignerWire.Response.refused(e).bytes)
                throw e
            }
            try connection.writeFrame(SignerWire.Response.signature(try policy.authenticate(hello, client: auth)).bytes)
            try connection.setTimeout(seconds: 0)   // an authenticated node may be idle between heights
            log("node process \(peer.pid) authenticated")
            while true {
                let frame = Result { () throws(SignerError) in try connection.readFrame() }
                if case .failure(let e) = frame {
                    if e.code == "signer.closed" { log("node process \(peer.pid) disconnected"); return }
                    throw e   // an oversized frame or a broken stream: nothing after it can be trusted to be framed
                }
                let response: SignerWire.Response
                switch frame.flatMap({ bytes in Result { () throws(SignerError) in try SignerWire.Request(bytes: bytes) } }) {
                case .success(let request): response = policy.answer(request)
                case .failure(let e): response = .refused(e)
                }
                switch response {
                case .signature: signatures.add(1, ordering: .relaxed)
                case .refused(let e): refusals.add(1, ordering: .relaxed); log("refused: \(e)")
                }
                try connection.writeFrame(response.bytes)
            }
        } catch {
            log("connection closed: \(error)")
        }
    }

    /// A fresh connection nonce (the system's cryptographically secure generator: getrandom on Linux).
    static func nonce() throws(SignerError) -> Bytes32 {
        var g = SystemRandomNumberGenerator()
        return Bytes32((0..<32).map { _ in UInt8.random(in: 0...255, using: &g) })!
    }
}
