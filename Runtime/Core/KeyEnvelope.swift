/// A record key wrapped for one recipient: ECDH between a fresh ephemeral key and the recipient's
/// x-only key, HKDF-SHA-256 to a wrapping key, AES-256-GCM over the record key.
///
/// Only the recipient's private key can open it; the envelope carries no identity beyond the
/// recipient's public key, which the share already names. The `context` (e.g. the record
/// commitment) is bound as associated data, so an envelope cannot be moved to another record.
public struct KeyEnvelope: Hashable, Sendable, Canonical {
    public static let info = Array("meridian/key-envelope/v1".utf8)

    public let recipient: PublicKey
    public let ephemeralKey: PublicKey
    public let nonce: [UInt8]
    public let wrappedKey: [UInt8]

    public init(recipient: PublicKey, ephemeralKey: PublicKey, nonce: [UInt8], wrappedKey: [UInt8]) {
        self.recipient = recipient; self.ephemeralKey = ephemeralKey; self.nonce = nonce; self.wrappedKey = wrappedKey
    }

    /// Wraps `recordKey` for `recipient`.
    public static func seal(recordKey: Bytes32, for recipient: PublicKey, context: [UInt8]) throws -> KeyEnvelope {
        let ephemeral = try PrivateKey.generate()
        let shared = try ephemeral.sharedSecret(with: recipient)
        let wrapping = try wrappingKey(shared: shared, ephemeral: ephemeral.publicKey, recipient: recipient)
        let nonce = try SecureRandom.bytes(AES256GCM.nonceSize)
        let wrapped = try AES256GCM.seal(recordKey.bytes, key: wrapping, nonce: nonce, aad: context)
        return KeyEnvelope(recipient: recipient, ephemeralKey: ephemeral.publicKey, nonce: nonce, wrappedKey: wrapped)
    }

    /// Unwraps with the recipient's key; throws if the key is not the recipient's or anything was altered.
    public func open(with key: PrivateKey, context: [UInt8]) throws -> Bytes32 {
        let shared = try key.sharedSecret(with: ephemeralKey)
        let wrapping = try Self.wrappingKey(shared: shared, ephemeral: ephemeralKey, recipient: key.publicKey)
        let raw = try AES256GCM.open(wrappedKey, key: wrapping, nonce: nonce, aad: context)
        guard let k = Bytes32(raw) else { throw CryptoError(.invalidLength) }
        return k
    }

    private static func wrappingKey(shared: Bytes32, ephemeral: PublicKey, recipient: PublicKey) throws -> Bytes32 {
        // The salt binds both public keys, so a key derived for one pair is useless for another.
        let salt = ephemeral.bytes32.bytes + recipient.bytes32.bytes
        return Bytes32(try HKDF.deriveKey(inputKey: shared.bytes, salt: salt, info: info))!
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(recipient); w.write(ephemeralKey); w.writeRaw(nonce); w.write(bytes: wrappedKey)
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        recipient = try r.read(PublicKey.self)
        ephemeralKey = try r.read(PublicKey.self)
        nonce = try r.readRaw(AES256GCM.nonceSize, "envelope.nonce")
        let start = r.offset
        wrappedKey = try r.readByteString("envelope.wrapped_key", max: 64)
        guard wrappedKey.count == 32 + AES256GCM.tagSize else {
            throw CodecError(.invalidValue, field: "envelope.wrapped_key", offset: start)
        }
    }
}
