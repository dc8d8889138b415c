public import MeridianCore
public import MeridianConsensus
public import MeridianConsensusDriver
public import MeridianRuntime

/// The protocol between a node and its `meridian-signer` (the tmkms pattern: the validator key lives
/// in another process, ideally under another user, and signs only what its own guard allows).
///
/// Over one Unix-domain stream connection, in frames (`UnixSocket`):
/// 1. the signer checks the connecting process's user id (`SO_PEERCRED`) against its allowed ids,
///    then sends `Hello`: magic, version, chain id, the validator key it holds, a fresh nonce;
/// 2. the node checks the chain id and the validator key against its configuration and sends
///    `ClientAuth`: its client key, its own nonce, and a signature by the client key of both nonces,
///    the chain id and the validator key;
/// 3. the signer checks the client key is the one it was configured with and the signature, and
///    answers with a signature by the validator key of both nonces, the chain id and the client key,
///    which the node checks: each side has proved its key over this connection's fresh nonces, so a
///    recorded exchange cannot be replayed and neither side can be impersonated;
/// 4. then requests, one at a time, each answered by a signature or a refusal.
///
/// A request carries what is signed, never a digest: the signer derives the digest itself under a
/// tag that says what it is (a vote, a proposal, a P2P handshake transcript, an evidence
/// transaction), so no request of one kind can yield a signature valid as another.
public enum SignerWire {
    public static let magic = Array("MERIDIAN-SIGNER".utf8)
    public static let version: UInt8 = 1

    public struct Hello: Hashable, Sendable {
        public let chainID: String
        public let validator: PublicKey
        public let nonce: Bytes32
        public init(chainID: String, validator: PublicKey, nonce: Bytes32) { self.chainID = chainID; self.validator = validator; self.nonce = nonce }

        public var bytes: [UInt8] {
            var w = CanonicalWriter()
            w.writeRaw(SignerWire.magic); w.write(SignerWire.version); w.write(chainID); w.write(validator); w.write(nonce)
            return w.bytes
        }
        public init(bytes: [UInt8]) throws(SignerError) {
            do {
                var r = CanonicalReader(bytes)
                guard try r.readRaw(SignerWire.magic.count, "magic") == SignerWire.magic else { throw SignerError("signer.not_a_signer", "the socket does not speak the Meridian signer protocol") }
                let v = try r.readUInt8("version")
                guard v == SignerWire.version else { throw SignerError("signer.version", "signer protocol version \(v), this node speaks \(SignerWire.version)") }
                chainID = try r.readString("chain_id", max: 64); validator = try r.read(PublicKey.self); nonce = try r.readBytes32("nonce")
                try r.finish()
            } catch let e as SignerError { throw e } catch { throw SignerError("signer.bad_hello", "\(error)") }
        }
    }

    public struct ClientAuth: Hashable, Sendable {
        public let client: PublicKey
        public let nonce: Bytes32
        public let signature: Bytes64
        public init(client: PublicKey, nonce: Bytes32, signature: Bytes64) { self.client = client; self.nonce = nonce; self.signature = signature }

        public var bytes: [UInt8] {
            var w = CanonicalWriter()
            w.write(client); w.write(nonce); w.write(signature)
            return w.bytes
        }
        public init(bytes: [UInt8]) throws(SignerError) {
            do {
                var r = CanonicalReader(bytes)
                client = try r.read(PublicKey.self); nonce = try r.readBytes32("nonce"); signature = try r.readBytes64("signature")
                try r.finish()
            } catch { throw SignerError("signer.bad_auth", "\(error)") }
        }
    }

    /// What the node's client key signs: the connection's nonces, the chain id and the validator key.
    public static func clientAuthDigest(_ hello: Hello, clientNonce: Bytes32) -> Bytes32 {
        var w = CanonicalWriter()
        w.write(hello.chainID); w.write(hello.validator); w.write(hello.nonce); w.write(clientNonce)
        return SHA256.tagged("meridian/signer/client-auth", w.bytes)
    }

    /// What the validator key signs to prove the signer holds it: the nonces, the chain id and the client key.
    public static func signerAuthDigest(_ hello: Hello, client: ClientAuth) -> Bytes32 {
        var w = CanonicalWriter()
        w.write(hello.chainID); w.write(client.client); w.write(hello.nonce); w.write(client.nonce)
        return SHA256.tagged("meridian/signer/signer-auth", w.bytes)
    }

    /// What a node asks the signer to sign.
    public enum Request: Hashable, Sendable {
        case vote(Vote)
        case proposal(MeridianConsensus.Proposal)
        /// A P2P handshake: the signer signs `Handshake.transcript(chainID:low:high:)` of these ephemerals.
        case handshake(low: Bytes32, high: Bytes32)
        /// A transaction; the signer signs only one that puts consensus evidence on chain.
        case transaction(Transaction)

        public var bytes: [UInt8] {
            var w = CanonicalWriter()
            switch self {
            case .vote(let v): w.write(UInt8(1)); w.write(v)
            case .proposal(let p): w.write(UInt8(2)); w.write(p)
            case .handshake(let low, let high): w.write(UInt8(3)); w.write(low); w.write(high)
            case .transaction(let t): w.write(UInt8(4)); w.write(t)
            }
            return w.bytes
        }
        public init(bytes: [UInt8]) throws(SignerError) {
            do {
                var r = CanonicalReader(bytes)
                switch try r.readUInt8("request") {
                case 1: self = .vote(try r.read(Vote.self))
                case 2: self = .proposal(try r.read(MeridianConsensus.Proposal.self))
                case 3: self = .handshake(low: try r.readBytes32("low"), high: try r.readBytes32("high"))
                case 4: self = .transaction(try r.read(Transaction.self))
                case let k: throw SignerError("signer.unknown_request", "request kind \(k)")
                }
                try r.finish()
            } catch let e as SignerError { throw e } catch { throw SignerError("signer.bad_request", "\(error)") }
        }
    }

    /// The signer's answer to a request, or to a client's authentication.
    public enum Response: Hashable, Sendable {
        case signature(Bytes64)
        case refused(SignerError)

        public var bytes: [UInt8] {
            var w = CanonicalWriter()
            switch self {
            case .signature(let s): w.write(UInt8(0)); w.write(s)
            case .refused(let e): w.write(UInt8(1)); w.write(String(e.code.prefix(64))); w.write(String(e.message.prefix(1000)))
            }
            return w.bytes
        }
        public init(bytes: [UInt8]) throws(SignerError) {
            do {
                var r = CanonicalReader(bytes)
                switch try r.readUInt8("response") {
                case 0: self = .signature(try r.readBytes64("signature"))
                case 1: self = .refused(SignerError(try r.readString("code", max: 256), try r.readString("message", max: 4096)))
                case let k: throw SignerError("signer.bad_response", "response kind \(k)")
                }
                try r.finish()
            } catch let e as SignerError { throw e } catch { throw SignerError("signer.bad_response", "\(error)") }
        }
    }
}
