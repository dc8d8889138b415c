public import MeridianCore

/// Why a peer connection was refused or closed. Stable codes for logs and metrics.
public struct P2PError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code): \(message)" }
}

/// The authenticated, encrypted channel between two nodes after the handshake: one AES-256-GCM key
/// per direction, and a 64-bit frame counter per direction as the nonce (never reused: the session
/// ends before it wraps). A frame that fails authentication — tampered, replayed, reordered or
/// from another session — ends the session.
public struct SecureSession: Sendable {
    /// The peer's node key once the handshake has authenticated it.
    public internal(set) var peer: PublicKey
    private let sendKey: Bytes32
    private let receiveKey: Bytes32
    private var sent: UInt64 = 0
    private var received: UInt64 = 0
    /// Largest plaintext of one frame.
    public static let maxFrameBytes = 4 << 20

    init(peer: PublicKey, sendKey: Bytes32, receiveKey: Bytes32) {
        self.peer = peer; self.sendKey = sendKey; self.receiveKey = receiveKey
    }

    static func nonce(_ counter: UInt64) -> [UInt8] { [0, 0, 0, 0] + withUnsafeBytes(of: counter.bigEndian) { Array($0) } }

    /// Encrypts one frame's plaintext (at most `maxFrameBytes`).
    public mutating func seal(_ plaintext: [UInt8]) throws(P2PError) -> [UInt8] {
        guard plaintext.count <= Self.maxFrameBytes else { throw P2PError("p2p.frame_too_large", "\(plaintext.count) bytes > \(Self.maxFrameBytes)") }
        guard sent < UInt64.max else { throw P2PError("p2p.counter_exhausted", "reconnect") }
        defer { sent += 1 }
        do { return try AES256GCM.seal(plaintext, key: sendKey, nonce: Self.nonce(sent)) }
        catch { throw P2PError("p2p.crypto", "\(error)") }
    }

    /// Decrypts the next frame from the peer.
    public mutating func open(_ frame: [UInt8]) throws(P2PError) -> [UInt8] {
        guard frame.count <= Self.maxFrameBytes + AES256GCM.tagSize else { throw P2PError("p2p.frame_too_large", "\(frame.count) bytes") }
        guard received < UInt64.max else { throw P2PError("p2p.counter_exhausted", "reconnect") }
        do {
            let plain = try AES256GCM.open(frame, key: receiveKey, nonce: Self.nonce(received))
            received += 1
            return plain
        } catch {
            throw P2PError("p2p.bad_frame", "frame \(received) does not authenticate (tampered, replayed or reordered)")
        }
    }
}

/// One side of the handshake (the same on both sides; no initiator role in the keys):
///
/// 1. each side sends `hello`: protocol version, chain id, a fresh ephemeral secp256k1 key;
/// 2. both derive the shared secret (ECDH of the ephemerals) and the transcript hash (chain id and
///    both ephemerals in byte order); HKDF-SHA-256 gives one key per direction, the direction named
///    by the order of the ephemerals;
/// 3. each side sends, as its first encrypted frame, its node key and a BIP-340 signature of the
///    transcript by that key;
/// 4. the receiver checks the node key against the on-chain allowlist first — an unlisted key is
///    refused before anything else is read — then the signature.
///
/// The signature binds the node key to this session's ephemerals, so a relay cannot splice two
/// sessions together and a recorded handshake cannot be replayed.
/// Who this node is to its peers, and how it signs the handshake's transcript. A validator's
/// identity is its validator key: held in the node (`PrivateKey`) or in a separate signer process
/// (`RemoteSigner`), which is given the chain id and both ephemerals and derives the transcript
/// itself, so that what it signs for a handshake can never be a vote or a proposal.
public protocol P2PIdentity: Sendable {
    var publicKey: PublicKey { get }
    /// BIP-340 signature of `Handshake.transcript(chainID:low:high:)`.
    func signHandshake(chainID: String, low: Bytes32, high: Bytes32) throws -> Bytes64
}

extension PrivateKey: P2PIdentity {
    public func signHandshake(chainID: String, low: Bytes32, high: Bytes32) throws -> Bytes64 {
        try sign(Handshake.transcript(chainID: chainID, low: low, high: high))
    }
}

public struct Handshake: Sendable {
    public static let version: UInt8 = 1
    public static let magic = Array("MERIDIAN-P2P".utf8)
    static let maxChainIDBytes = 64

    let nodeKey: any P2PIdentity
    let chainID: String
    let ephemeral: PrivateKey
    private var transcript: Bytes32?
    private var session: SecureSession?

    /// What both sides sign: the chain id and the two ephemeral keys, lower first.
    public static func transcript(chainID: String, low: Bytes32, high: Bytes32) -> Bytes32 {
        SHA256.tagged("meridian/p2p/transcript", Array(chainID.utf8) + low.bytes + high.bytes)
    }

    public init(nodeKey: any P2PIdentity, chainID: String) throws {
        self.nodeKey = nodeKey; self.chainID = chainID
        ephemeral = try PrivateKey.generate()
    }

    /// The plaintext hello to send first: magic, version, chain id, ephemeral key.
    public var hello: [UInt8] {
        var w = CanonicalWriter()
        w.writeRaw(Self.magic)
        w.write(Self.version)
        w.write(chainID)
        w.write(ephemeral.publicKey)
        return w.bytes
    }

    /// Takes the peer's hello; returns this side's authentication frame (encrypted).
    public mutating func receiveHello(_ bytes: [UInt8]) throws(P2PError) -> [UInt8] {
        var r = CanonicalReader(bytes)
        let peerEphemeral: PublicKey
        do {
            guard try r.readRaw(Self.magic.count, "magic") == Self.magic else { throw P2PError("p2p.not_meridian", "the peer does not speak Meridian P2P") }
            let version = try r.readUInt8("version")
            guard version == Self.version else { throw P2PError("p2p.version", "peer protocol version \(version), this node speaks \(Self.version)") }
            let peerChain = try r.readString("chain_id", max: Self.maxChainIDBytes)
            guard peerChain == chainID else { throw P2PError("p2p.wrong_chain", "peer is on chain '\(peerChain)', this node on '\(chainID)'") }
            peerEphemeral = try r.read(PublicKey.self)
            try r.finish()
        } catch let e as P2PError { throw e } catch { throw P2PError("p2p.bad_hello", "\(error)") }
        guard peerEphemeral != ephemeral.publicKey else { throw P2PError("p2p.reflected", "the peer sent back this node's own ephemeral key") }
        let mine = ephemeral.publicKey.bytes32, theirs = peerEphemeral.bytes32
        let iAmLow = mine.bytes.lexicographicallyPrecedes(theirs.bytes)
        let (low, high) = iAmLow ? (mine, theirs) : (theirs, mine)
        let transcript = Self.transcript(chainID: chainID, low: low, high: high)
        do {
            let shared = try ephemeral.sharedSecret(with: peerEphemeral)
            let lowToHigh = try Bytes32(HKDF.deriveKey(inputKey: shared.bytes, salt: transcript.bytes, info: Array("meridian/p2p/v1/low-to-high".utf8)))!
            let highToLow = try Bytes32(HKDF.deriveKey(inputKey: shared.bytes, salt: transcript.bytes, info: Array("meridian/p2p/v1/high-to-low".utf8)))!
            var session = SecureSession(peer: ephemeral.publicKey, sendKey: iAmLow ? lowToHigh : highToLow, receiveKey: iAmLow ? highToLow : lowToHigh)
            var w = CanonicalWriter()
            w.write(nodeKey.publicKey)
            w.write(try nodeKey.signHandshake(chainID: chainID, low: low, high: high))
            let auth = try session.seal(w.bytes)
            self.transcript = transcript
            self.session = session
            return auth
        } catch let e as P2PError { throw e } catch { throw P2PError("p2p.crypto", "\(error)") }
    }

    /// Takes the peer's authentication frame; returns the established session, whose `peer` is the
    /// peer's node key. `isAllowed` is asked before the signature is even checked.
    public mutating func receiveAuth(_ frame: [UInt8], isAllowed: (PublicKey) -> Bool) throws(P2PError) -> SecureSession {
        guard let transcript, var session = self.session else { throw P2PError("p2p.protocol", "authentication before hello") }
        let plain = try session.open(frame)
        var r = CanonicalReader(plain)
        let peerKey: PublicKey, signature: Bytes64
        do {
            peerKey = try r.read(PublicKey.self)
            signature = try r.readBytes64("signature")
            try r.finish()
        } catch { throw P2PError("p2p.bad_auth", "\(error)") }
        guard isAllowed(peerKey) else { throw P2PError("p2p.not_allowed", "\(Address(peerKey)) is not on the chain's node allowlist") }
        guard peerKey != nodeKey.publicKey else { throw P2PError("p2p.self", "connected to itself") }
        guard peerKey.verify(signature, message: transcript) else { throw P2PError("p2p.bad_signature", "the peer's handshake signature does not verify") }
        session.peer = peerKey
        self.session = nil
        return session
    }
}
