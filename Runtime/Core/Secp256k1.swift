internal import CSecp256k1
internal import COpenSSL
import Synchronization

/// The one libsecp256k1 context of the process.
///
/// Created once, randomised with 32 bytes from OpenSSL's generator (blinding against side
/// channels), and afterwards only passed as `const` to signing, verification and ECDH, which
/// libsecp256k1 documents as safe to call concurrently on one context.
final class Secp256k1Context: @unchecked Sendable {
    static let shared = Secp256k1Context()

    let pointer: OpaquePointer

    private init() {
        guard let ctx = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE)) else {
            preconditionFailure("libsecp256k1 could not create a context")
        }
        var seed = [UInt8](repeating: 0, count: 32)
        precondition(meridian_random_bytes(&seed, 32) == 1, "OpenSSL's random generator failed")
        precondition(secp256k1_context_randomize(ctx, seed) == 1, "libsecp256k1 refused to randomise its context")
        meridian_cleanse(&seed, 32)
        pointer = ctx
    }

    deinit { secp256k1_context_destroy(pointer) }
}

/// x-only keys already parsed (lifted onto the curve), by their 32 bytes. A transaction's signer is
/// decoded at admission, again in every block that carries it, by each validator, and verification
/// needs the parsed form once more: a dozen square roots per transaction, found as a tenth of a
/// localnet's CPU (perf, uprobes on libsecp256k1). Validity is a pure function of the bytes, so a
/// parsed key is kept and reused; only keys that parse are kept, and each shard is emptied when
/// full, so memory stays bounded (16 × 2048 keys) whatever keys a peer sends.
/// Written here because it holds libsecp256k1's own parsed type; no package caches that.
final class ParsedKeys: Sendable {
    static let shared = ParsedKeys()
    static let perShard = 2048

    private final class Shard: Sendable {
        let keys = Mutex<[Bytes32: secp256k1_xonly_pubkey]>([:])
    }
    private let shards: [Shard] = (0..<16).map { _ in Shard() }

    /// The parsed key, or nil if the bytes are not the x coordinate of a point on the curve.
    func parsed(_ bytes: Bytes32) -> secp256k1_xonly_pubkey? {
        let shard = shards[bytes.withUnsafeBytes { Int($0[0] & 15) }]
        if let known = shard.keys.withLock({ $0[bytes] }) { return known }
        var parsed = secp256k1_xonly_pubkey()
        let ok = bytes.withUnsafeBytes { raw in
            secp256k1_xonly_pubkey_parse(Secp256k1Context.shared.pointer, &parsed, raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard ok == 1 else { return nil }
        shard.keys.withLock { keys in
            if keys.count >= Self.perShard { keys.removeAll(keepingCapacity: true) }
            keys[bytes] = parsed
        }
        return parsed
    }
}

/// Why a key operation failed.
public struct KeyError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidSecretKey = "key.invalid_secret"
        case invalidPublicKey = "key.invalid_public"
        case signingFailed = "key.signing_failed"
        case randomFailed = "key.random_failed"
        case ecdhFailed = "key.ecdh_failed"
    }
    public let code: Code
    public init(_ code: Code) { self.code = code }
    public var description: String { code.rawValue }
}

/// A BIP-340 x-only public key: 32 bytes, known to be the x coordinate of a point on secp256k1.
/// Accounts, validators, devices and nodes are all identified by one.
public struct PublicKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes32: Bytes32

    /// Checks that the bytes are a valid x-only key (a point exists with this x).
    public init(_ bytes: Bytes32) throws(KeyError) {
        guard ParsedKeys.shared.parsed(bytes) != nil else { throw KeyError(.invalidPublicKey) }
        bytes32 = bytes
    }

    /// For values already validated (decoded from committed state).
    init(unchecked bytes: Bytes32) { bytes32 = bytes }

    public init(hex: String) throws(KeyError) {
        guard let b = Bytes32(hex: hex) else { throw KeyError(.invalidPublicKey) }
        try self.init(b)
    }

    public var hex: String { bytes32.hex }
    public var description: String { Address(self).description }
    public static func < (l: PublicKey, r: PublicKey) -> Bool { l.bytes32 < r.bytes32 }

    /// BIP-340 verification of `signature` over a message (32 bytes in Meridian: always a tagged hash).
    public func verify(_ signature: Bytes64, message: Bytes32) -> Bool {
        let ctx = Secp256k1Context.shared.pointer
        guard var parsed = ParsedKeys.shared.parsed(bytes32) else { return false }
        return signature.withUnsafeBytes { sig in
            message.withUnsafeBytes { msg in
                secp256k1_schnorrsig_verify(ctx, sig.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                            msg.baseAddress!.assumingMemoryBound(to: UInt8.self), 32, &parsed) == 1
            }
        }
    }

    /// The full point with even y (BIP-340's lift_x), as libsecp256k1's public key type.
    func liftedPoint() throws(KeyError) -> secp256k1_pubkey {
        var compressed = [UInt8](repeating: 0x02, count: 33)
        bytes32.withUnsafeBytes { raw in for i in 0..<32 { compressed[i + 1] = raw[i] } }
        var point = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(Secp256k1Context.shared.pointer, &point, compressed, 33) == 1 else {
            throw KeyError(.invalidPublicKey)
        }
        return point
    }
}

extension PublicKey: Canonical {
    public func encode(to writer: inout CanonicalWriter) { writer.write(bytes32) }
    /// Decoding checks the key lies on the curve, so a decoded value is always usable.
    public init(from reader: inout CanonicalReader) throws(CodecError) {
        let start = reader.offset
        let b = try reader.readBytes32("public_key")
        if reader.trusted { self.init(unchecked: b); return }
        do { try self.init(b) } catch { throw CodecError(.invalidValue, field: "public_key", offset: start) }
    }
}

/// A secp256k1 secret key with its precomputed key pair. The secret lives in memory this type
/// allocates and zeroes on release; it is never copied out except by `secretBytes` for a keystore.
public final class PrivateKey: @unchecked Sendable {
    // @unchecked: `keypair` is written once in init and zeroed in deinit; between them it is only read.
    private let keypair: UnsafeMutablePointer<secp256k1_keypair>
    public let publicKey: PublicKey

    public init(secret: Bytes32) throws(KeyError) {
        let ctx = Secp256k1Context.shared.pointer
        let kp = UnsafeMutablePointer<secp256k1_keypair>.allocate(capacity: 1)
        let created = secret.withUnsafeBytes { raw in
            secp256k1_keypair_create(ctx, kp, raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard created == 1 else {
            meridian_cleanse(kp, MemoryLayout<secp256k1_keypair>.size)
            kp.deallocate()
            throw KeyError(.invalidSecretKey)
        }
        var xonly = secp256k1_xonly_pubkey()
        var out = Bytes32.zero
        _ = secp256k1_keypair_xonly_pub(ctx, &xonly, nil, kp)
        withUnsafeMutableBytes(of: &out) { raw in
            _ = secp256k1_xonly_pubkey_serialize(ctx, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), &xonly)
        }
        keypair = kp
        publicKey = PublicKey(unchecked: out)
    }

    /// A new key from OpenSSL's generator.
    public static func generate() throws(KeyError) -> PrivateKey {
        while true {
            let secret = try SecureRandom.bytes32()
            if let key = try? PrivateKey(secret: secret) { return key }
        }
    }

    deinit {
        meridian_cleanse(keypair, MemoryLayout<secp256k1_keypair>.size)
        keypair.deallocate()
    }

    /// The 32-byte secret, for writing an encrypted keystore.
    public var secretBytes: Bytes32 {
        Bytes32.filling { out in
            _ = secp256k1_keypair_sec(Secp256k1Context.shared.pointer,
                                      out.baseAddress!.assumingMemoryBound(to: UInt8.self), keypair)
        }
    }

    /// BIP-340 signature over a 32-byte message. `auxRand` defaults to fresh randomness as BIP-340
    /// recommends; tests pass the vectors' value to reproduce their exact signatures.
    public func sign(_ message: Bytes32, auxRand: Bytes32? = nil) throws(KeyError) -> Bytes64 {
        let aux: Bytes32
        if let auxRand { aux = auxRand } else { aux = try SecureRandom.bytes32() }
        var signature = Bytes64.zero
        let ok = withUnsafeMutableBytes(of: &signature) { sig in
            message.withUnsafeBytes { msg in
                aux.withUnsafeBytes { rand in
                    secp256k1_schnorrsig_sign32(Secp256k1Context.shared.pointer,
                                                sig.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                msg.baseAddress!.assumingMemoryBound(to: UInt8.self), keypair,
                                                rand.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard ok == 1 else { throw KeyError(.signingFailed) }
        return signature
    }

    /// Elliptic-curve Diffie-Hellman with another x-only key: the x coordinate of the shared point.
    /// Using x alone makes the result independent of the parity BIP-340 keys drop, so both sides
    /// derive the same secret from their own key and the other's x-only key.
    public func sharedSecret(with other: PublicKey) throws(KeyError) -> Bytes32 {
        var point = try other.liftedPoint()
        let secret = secretBytes
        var out = Bytes32.zero
        let ok = withUnsafeMutableBytes(of: &out) { o in
            secret.withUnsafeBytes { s in
                secp256k1_ecdh(Secp256k1Context.shared.pointer, o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                               &point, s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                               { output, x32, _, _ in
                                   guard let output, let x32 else { return 0 }
                                   output.update(from: x32, count: 32)
                                   return 1
                               }, nil)
            }
        }
        guard ok == 1 else { throw KeyError(.ecdhFailed) }
        return out
    }
}

/// Randomness from OpenSSL's generator: only at the edges (keys, nonces, salts), never in the runtime.
public enum SecureRandom {
    public static func bytes(_ count: Int) throws(KeyError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard meridian_random_bytes(&out, count) == 1 else { throw KeyError(.randomFailed) }
        return out
    }

    public static func bytes32() throws(KeyError) -> Bytes32 {
        var out = Bytes32.zero
        let ok = withUnsafeMutableBytes(of: &out) { raw in
            meridian_random_bytes(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), 32)
        }
        guard ok == 1 else { throw KeyError(.randomFailed) }
        return out
    }
}

extension PublicKey {
    /// The x coordinate of secp256k1's generator: a valid key nobody signs with, used where a
    /// key is structurally required before a real one is known.
    public static let generatorX = PublicKey(unchecked: Bytes32(hex: "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")!)
}
