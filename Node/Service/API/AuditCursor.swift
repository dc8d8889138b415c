import Foundation
import MeridianCore

/// The cursor of a paged audit answer: opaque and authenticated. It seals (AES-256-GCM under a key
/// only this node process holds) where the next page starts, for whom and for which query, and until
/// when. A caller cannot read a position out of it (no sequence numbers that reveal how many
/// entries were withheld between two pages), forge one, or reuse another caller's or another
/// query's cursor; every page is checked like the first. Cursors last an hour and end when the
/// node restarts (the key is made at start): a search is then started again.
struct AuditCursors: Sendable {
    static let lifetimeMilliseconds: UInt64 = 3_600_000
    private let key: Bytes32

    init() {
        // A fresh key per process: nothing to store or rotate, and a restart ends every cursor.
        key = (try? SecureRandom.bytes32()) ?? SHA256.hash(Array(UUID().uuidString.utf8))
    }

    /// What a cursor is bound to: the caller and the query (everything but the cursor itself).
    static func binding(caller: PublicKey, query: [String: String]) -> Bytes32 {
        var w = CanonicalWriter()
        w.write(caller)
        for (k, v) in query.sorted(by: { $0.key < $1.key }) where k != "cursor" && k != "limit" { w.write(k); w.write(v) }
        return SHA256.tagged("meridian/api/audit-cursor", w.bytes)
    }

    func seal(position: UInt64, binding: Bytes32, now: UInt64) -> String? {
        var w = CanonicalWriter()
        w.write(binding)
        w.write(varint: position)
        w.write(varint: now + Self.lifetimeMilliseconds)
        guard let nonce = try? SecureRandom.bytes(AES256GCM.nonceSize),
              let sealed = try? AES256GCM.seal(w.bytes, key: key, nonce: nonce) else { return nil }
        return Self.base64url(nonce + sealed)
    }

    /// The position a cursor names, if this node made it for this caller and query and it has not expired.
    func open(_ token: String, binding: Bytes32, now: UInt64) -> UInt64? {
        guard token.utf8.count <= 256, let raw = Self.unbase64url(token), raw.count > AES256GCM.nonceSize,
              let plain = try? AES256GCM.open(Array(raw.dropFirst(AES256GCM.nonceSize)), key: key, nonce: Array(raw.prefix(AES256GCM.nonceSize))) else { return nil }
        var r = CanonicalReader(plain)
        guard let bound = try? r.readBytes32("binding"), bound == binding,
              let position = try? r.readVarint("position"), let expires = try? r.readVarint("expires"), (try? r.finish()) != nil,
              now <= expires else { return nil }
        return position
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ text: String) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.utf8.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}
