public import MeridianCore
import Crypto
import Foundation

/// An Ed25519 note verifier key (signature type 0x01 of c2sp.org/signed-note): a key name and a
/// 32-byte RFC 8032 public key; its key ID is the first four bytes of
/// SHA-256(name || 0x0A || 0x01 || public key). Written in the text form other implementations
/// use for configuration (`<name>+<key ID, 8 hex digits>+<base64(0x01 || public key)>`).
///
/// Ed25519 is swift-crypto's (`Curve25519.Signing`), deterministic as RFC 8032 asks on Linux.
public struct NoteVerifierKey: Hashable, Sendable {
    public static let ed25519: UInt8 = 0x01

    public let name: String
    public let publicKey: [UInt8]
    public let keyID: UInt32

    public init(name: String, publicKey: [UInt8]) throws(NoteError) {
        try Self.checkName(name)
        _ = try Ed25519Key.public(publicKey, code: "note.bad_key")
        self.name = name; self.publicKey = publicKey
        keyID = Self.keyID(name: name, type: Self.ed25519, key: publicKey)
    }

    /// Parses `<name>+<hex key ID>+<base64(0x01 || key)>`, checking the key ID against the key.
    public init(parsing text: String) throws(NoteError) {
        let (name, key, id) = try Self.parseText(text, type: Self.ed25519, code: "note.bad_key", what: "an Ed25519 key (type 0x01, 32 bytes)")
        try self.init(name: name, publicKey: key)
        guard keyID == id else { throw NoteError("note.bad_key", "key ID \(String(format: "%08x", id)) does not match the key (\(String(format: "%08x", keyID)))") }
    }

    /// The text form of an Ed25519 key of signature type `type` (`<name>+<key ID>+<base64(type || key)>`;
    /// a private key the same after `PRIVATE+KEY+`, with the seed): its name, key bytes and the key ID
    /// it states, which the caller checks once the public key is known. Shared by note keys (0x01)
    /// and cosigner keys (0x04).
    static func parseText(_ text: String, type: UInt8, code: String, what: String) throws(NoteError) -> (name: String, key: [UInt8], id: UInt32) {
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count == 8, let id = UInt32(parts[1], radix: 16), parts[1] == parts[1].lowercased() else {
            throw NoteError(code, "a key is <name>+<8 hex digits>+<base64 key>")
        }
        guard let raw = Base64.decodeCanonical(String(parts[2])), raw.count == 33, raw[0] == type else {
            throw NoteError(code, "the key of '\(parts[0].prefix(60))' is not \(what)")
        }
        let name = String(parts[0])
        try checkName(name)
        return (name, Array(raw.dropFirst()), id)
    }

    public var encoded: String { "\(name)+\(String(format: "%08x", keyID))+\(Base64.encode([Self.ed25519] + publicKey))" }

    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        Ed25519Key.isValid(signature, for: message, by: publicKey)
    }

    static func keyID(name: String, type: UInt8, key: [UInt8]) -> UInt32 {
        SHA256.hash(Array(name.utf8) + [0x0A, type] + key).bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// Key names are non-empty and hold no Unicode space and no `+`.
    static func checkName(_ name: String) throws(NoteError) {
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0 == "+" }) else {
            throw NoteError("note.bad_key_name", "a key name is non-empty, without spaces or '+': '\(name.prefix(40))'")
        }
    }
}

/// The signing half: an Ed25519 private key with its key name.
public struct NoteSigner: Sendable {
    public let verifierKey: NoteVerifierKey
    private let key: Curve25519.Signing.PrivateKey

    /// From the 32-byte RFC 8032 seed.
    public init(name: String, seed: [UInt8]) throws(NoteError) {
        key = try Ed25519Key.private(seed, code: "note.bad_key")
        verifierKey = try NoteVerifierKey(name: name, publicKey: Array(key.publicKey.rawRepresentation))
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.
    public init(parsing text: String) throws(NoteError) {
        let prefix = "PRIVATE+KEY+"
        guard text.hasPrefix(prefix) else { throw NoteError("note.bad_key", "a signer key starts with PRIVATE+KEY+") }
        let (name, seed, id) = try NoteVerifierKey.parseText(String(text.dropFirst(prefix.count)), type: NoteVerifierKey.ed25519, code: "note.bad_key",
                                                             what: "an Ed25519 seed (type 0x01, 32 bytes)")
        try self.init(name: name, seed: seed)
        guard verifierKey.keyID == id else { throw NoteError("note.bad_key", "key ID \(String(format: "%08x", id)) does not match the key") }
    }

    /// This key's signature line for `text` (which must end with a newline).
    public func sign(_ text: String) throws(NoteError) -> NoteSignature {
        guard text.hasSuffix("\n") else { throw NoteError("note.no_final_newline", "a note's text ends with a newline") }
        let signature: Data
        do { signature = try key.signature(for: Array(text.utf8)) } catch { throw NoteError("note.sign_failed", "\(error)") }
        return NoteSignature(name: verifierKey.name, keyID: verifierKey.keyID, signature: Array(signature))
    }
}

/// Ed25519 keys from their raw bytes (swift-crypto), for note keys and cosigner keys alike: a
/// malformed key is refused with `code`, never taken for another.
enum Ed25519Key {
    static func `public`(_ bytes: [UInt8], code: String) throws(NoteError) -> Curve25519.Signing.PublicKey {
        guard bytes.count == 32 else { throw NoteError(code, "an Ed25519 public key is 32 bytes, not \(bytes.count)") }
        do { return try Curve25519.Signing.PublicKey(rawRepresentation: bytes) } catch { throw NoteError(code, "not an Ed25519 public key: \(error)") }
    }

    static func `private`(_ seed: [UInt8], code: String) throws(NoteError) -> Curve25519.Signing.PrivateKey {
        guard seed.count == 32 else { throw NoteError(code, "an Ed25519 seed is 32 bytes, not \(seed.count)") }
        do { return try Curve25519.Signing.PrivateKey(rawRepresentation: seed) } catch { throw NoteError(code, "not an Ed25519 seed: \(error)") }
    }

    /// Whether `signature` (64 bytes) by the key `publicKey` verifies over `message`; a malformed key or signature does not.
    static func isValid(_ signature: [UInt8], for message: [UInt8], by publicKey: [UInt8]) -> Bool {
        guard signature.count == 64 else { return false }
        do { return try Self.public(publicKey, code: "").isValidSignature(signature, for: message) } catch { return false }
    }
}
