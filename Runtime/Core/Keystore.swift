/// A secret key encrypted at rest with a passphrase: scrypt (RFC 7914) derives a key that seals
/// the 32-byte secret with AES-256-GCM (the address is the associated data, so a keystore cannot
/// be relabelled). The JSON form is what `meridian-wallet` and `meridian-node` write to disk.
public struct Keystore: Codable, Hashable, Sendable {
    public struct ScryptParameters: Codable, Hashable, Sendable {
        public var n: UInt64, r: UInt64, p: UInt64
        public var salt: String
    }
    public var version: Int
    public var address: String
    public var kdf: String
    public var scrypt: ScryptParameters
    public var cipher: String
    public var nonce: String
    public var ciphertext: String

    /// scrypt cost: N = 2^15, r = 8, p = 1 (about 32 MiB and 0.1 s), the interactive setting of RFC 7914 §2.
    public static let defaultN: UInt64 = 1 << 15

    public enum KeystoreError: Error, Hashable, Sendable, CustomStringConvertible {
        case wrongPassphrase, malformed(String)
        public var description: String {
            switch self {
            case .wrongPassphrase: "keystore.wrong_passphrase: the passphrase does not open this keystore"
            case .malformed(let m): "keystore.malformed: \(m)"
            }
        }
    }

    public static func seal(_ key: PrivateKey, passphrase: String, n: UInt64 = defaultN) throws -> Keystore {
        let salt = try SecureRandom.bytes(32)
        let nonce = try SecureRandom.bytes(AES256GCM.nonceSize)
        let derived = Bytes32(try Scrypt.deriveKey(passphrase: passphrase, salt: salt, n: n, r: 8, p: 1))!
        let address = Address(key.publicKey).description
        let sealed = try AES256GCM.seal(key.secretBytes.bytes, key: derived, nonce: nonce, aad: Array(address.utf8))
        return Keystore(version: 1, address: address, kdf: "scrypt", scrypt: .init(n: n, r: 8, p: 1, salt: Hex.encode(salt)),
                        cipher: "aes-256-gcm", nonce: Hex.encode(nonce), ciphertext: Hex.encode(sealed))
    }

    public func open(passphrase: String) throws -> PrivateKey {
        guard version == 1, kdf == "scrypt", cipher == "aes-256-gcm" else { throw KeystoreError.malformed("unsupported version, kdf or cipher") }
        guard let salt = Hex.decode(scrypt.salt), let nonce = Hex.decode(self.nonce), let sealed = Hex.decode(ciphertext) else {
            throw KeystoreError.malformed("salt, nonce or ciphertext is not hex")
        }
        guard scrypt.n >= 1 << 10, scrypt.n <= 1 << 20, scrypt.n & (scrypt.n - 1) == 0, scrypt.r >= 1, scrypt.r <= 32, scrypt.p >= 1, scrypt.p <= 16 else {
            throw KeystoreError.malformed("scrypt parameters out of range")
        }
        let derived = Bytes32(try Scrypt.deriveKey(passphrase: passphrase, salt: salt, n: scrypt.n, r: scrypt.r, p: scrypt.p))!
        let secret: [UInt8]
        do { secret = try AES256GCM.open(sealed, key: derived, nonce: nonce, aad: Array(address.utf8)) }
        catch { throw KeystoreError.wrongPassphrase }
        guard let s = Bytes32(secret) else { throw KeystoreError.malformed("secret is not 32 bytes") }
        let key = try PrivateKey(secret: s)
        guard Address(key.publicKey).description == address else { throw KeystoreError.malformed("address does not match the key") }
        return key
    }
}
