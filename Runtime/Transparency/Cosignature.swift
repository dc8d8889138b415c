public import MeridianCore
import Crypto
import Foundation

/// An Ed25519 cosigner's verifier key (c2sp.org/tlog-cosignature, signature type 0x04): what a log
/// client or a witness policy names a witness by. Its key ID is the first four bytes of
/// SHA-256(name || 0x0A || 0x04 || public key), so the same Ed25519 key used as a plain note key
/// (type 0x01) has another ID and cannot be mistaken for a cosigner. Text form (a "vkey"):
/// `<name>+<key ID, 8 hex digits>+<base64(0x04 || public key)>`.
public struct CosignerKey: Hashable, Sendable {
    public static let cosignatureV1: UInt8 = 0x04
    /// Latest timestamp the format allows (2^63 - 1).
    public static let maxTimestamp = UInt64(Int64.max)

    public let name: String
    public let publicKey: [UInt8]
    public let keyID: UInt32

    public init(name: String, publicKey: [UInt8]) throws(NoteError) {
        try NoteVerifierKey.checkName(name)
        _ = try Ed25519Key.public(publicKey, code: "cosignature.bad_key")
        self.name = name; self.publicKey = publicKey
        keyID = NoteVerifierKey.keyID(name: name, type: Self.cosignatureV1, key: publicKey)
    }

    /// Parses `<name>+<hex key ID>+<base64(0x04 || key)>`, checking the key ID against the key.
    public init(parsing text: String) throws(NoteError) {
        let (name, key, id) = try NoteVerifierKey.parseText(text, type: Self.cosignatureV1, code: "cosignature.bad_key",
                                                            what: "an Ed25519 cosigner key (type 0x04, 32 bytes)")
        try self.init(name: name, publicKey: key)
        guard keyID == id else { throw NoteError("cosignature.bad_key", "key ID \(String(format: "%08x", id)) does not match the key (\(String(format: "%08x", keyID)))") }
    }

    public var encoded: String { "\(name)+\(String(format: "%08x", keyID))+\(Base64.encode([Self.cosignatureV1] + publicKey))" }

    /// What a cosignature signs: `cosignature/v1\ntime <timestamp>\n` and the checkpoint's note body.
    public static func message(checkpointText: String, timestamp: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(timestamp)\n\(checkpointText)".utf8)
    }

    /// Whether `signature` is this key's line (name and key ID both match).
    public func matches(_ signature: NoteSignature) -> Bool { signature.name == name && signature.keyID == keyID }

    /// The timestamp of this key's valid cosignature on `checkpointText`; nil if it does not verify
    /// (wrong length, a timestamp beyond 2^63 - 1, or a bad signature).
    public func verify(_ signature: NoteSignature, checkpointText: String) -> UInt64? {
        guard matches(signature), signature.signature.count == 72 else { return nil }
        let timestamp = signature.signature.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard timestamp <= Self.maxTimestamp,
              Ed25519Key.isValid(Array(signature.signature.dropFirst(8)), for: Self.message(checkpointText: checkpointText, timestamp: timestamp),
                                 by: publicKey) else { return nil }
        return timestamp
    }
}

/// The signing half of a cosigner: an Ed25519 key with its name.
public struct Cosigner: Sendable {
    public let key: CosignerKey
    private let privateKey: Curve25519.Signing.PrivateKey

    /// From the 32-byte RFC 8032 seed.
    public init(name: String, seed: [UInt8]) throws(NoteError) {
        let k = try Ed25519Key.private(seed, code: "cosignature.bad_key")
        privateKey = k
        key = try CosignerKey(name: name, publicKey: Array(k.publicKey.rawRepresentation))
    }

    /// A new key (its seed is `seed`, to be kept by the caller).
    public static func generate(name: String) throws(NoteError) -> (Cosigner, seed: [UInt8]) {
        let seed = Array(Curve25519.Signing.PrivateKey().rawRepresentation)
        return (try Cosigner(name: name, seed: seed), seed)
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || seed)>`.
    public init(parsing text: String) throws(NoteError) {
        let prefix = "PRIVATE+KEY+"
        guard text.hasPrefix(prefix) else { throw NoteError("cosignature.bad_key", "a cosigner's private key starts with PRIVATE+KEY+") }
        let (name, seed, id) = try NoteVerifierKey.parseText(String(text.dropFirst(prefix.count)), type: CosignerKey.cosignatureV1, code: "cosignature.bad_key",
                                                             what: "an Ed25519 cosigner seed (type 0x04, 32 bytes)")
        try self.init(name: name, seed: seed)
        guard key.keyID == id else { throw NoteError("cosignature.bad_key", "key ID \(String(format: "%08x", id)) does not match the key") }
    }

    /// The private key's text form (to be stored with file permissions 0600).
    public func encodedPrivateKey(seed: [UInt8]) -> String {
        "PRIVATE+KEY+\(key.name)+\(String(format: "%08x", key.keyID))+\(Base64.encode([CosignerKey.cosignatureV1] + seed))"
    }

    /// This cosigner's signature line on a checkpoint's note body, made at `timestamp` (POSIX seconds).
    public func cosign(checkpointText: String, timestamp: UInt64) throws(NoteError) -> NoteSignature {
        guard checkpointText.hasSuffix("\n") else { throw NoteError("note.no_final_newline", "a checkpoint's text ends with a newline") }
        guard timestamp > 0, timestamp <= CosignerKey.maxTimestamp else {
            throw NoteError("cosignature.bad_time", "a cosignature's timestamp is between 1 and 2^63 - 1")
        }
        let signature: Data
        do { signature = try privateKey.signature(for: CosignerKey.message(checkpointText: checkpointText, timestamp: timestamp)) }
        catch { throw NoteError("cosignature.sign_failed", "\(error)") }
        let time = withUnsafeBytes(of: timestamp.bigEndian) { Array($0) }
        return NoteSignature(name: key.name, keyID: key.keyID, signature: time + Array(signature))
    }
}

extension SignedNote {
    /// The cosigners among `keys` whose cosignatures on this note verify, each with its timestamp.
    /// Lines of other keys are ignored; a line that names a known cosigner (name and key ID) but
    /// does not verify makes the note malformed, as c2sp.org/signed-note asks, and is refused.
    public func cosigners(among keys: [CosignerKey]) throws(NoteError) -> [(key: CosignerKey, timestamp: UInt64)] {
        var found: [(key: CosignerKey, timestamp: UInt64)] = []
        for s in signatures {
            guard let key = keys.first(where: { $0.matches(s) }) else { continue }
            guard let t = key.verify(s, checkpointText: text) else {
                throw NoteError("cosignature.invalid", "the cosignature of '\(s.name)' (key \(String(format: "%08x", s.keyID))) does not verify")
            }
            if !found.contains(where: { $0.key == key }) { found.append((key, t)) }
        }
        return found
    }

    /// This note with `extra` signature lines added after its own (duplicates of a line already
    /// present are dropped): how a log serves a checkpoint with the cosignatures it collected.
    public func adding(_ extra: [NoteSignature]) -> SignedNote {
        var all = signatures
        for s in extra where !all.contains(s) { all.append(s) }
        return SignedNote(text: text, signatures: all)
    }
}
