public import MeridianCore
import Foundation

/// Why a note, a key or a checkpoint was refused. Stable codes for APIs and tools.
public struct NoteError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code): \(message)" }
    /// Errors are equal by code (the message is for people).
    public static func == (l: NoteError, r: NoteError) -> Bool { l.code == r.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

/// One signature line of a note: `— <key name> base64(key ID || signature)`.
public struct NoteSignature: Hashable, Sendable {
    public let name: String
    public let keyID: UInt32
    /// The signature bytes after the 4-byte key ID (their meaning depends on the key's type).
    public let signature: [UInt8]

    public init(name: String, keyID: UInt32, signature: [UInt8]) { self.name = name; self.keyID = keyID; self.signature = signature }

    /// The line as it appears in a note, with its final newline.
    public var line: String {
        let id = withUnsafeBytes(of: keyID.bigEndian) { Array($0) }
        return "\u{2014} \(name) \(Data(id + signature).base64EncodedString())\n"
    }
}

/// A C2SP signed note (c2sp.org/signed-note): a text ending in a newline, a blank line, and one or
/// more signature lines. Parsing is strict: valid UTF-8, no control character but the newline, at
/// least one signature line, key names without Unicode spaces or `+`, canonical standard base64 of
/// at least five bytes; anything else is refused with the reason.
///
/// Written here because no Swift package implements the format; checked against the signed-note
/// vectors of golang.org/x/mod/sumdb/note (`SignedNoteTests`).
public struct SignedNote: Hashable, Sendable {
    /// Signature lines accepted at most (the specification asks for at least 16).
    public static let maxSignatures = 100
    /// A whole note at most.
    public static let maxBytes = 1 << 20

    /// The signed text, with its final newline.
    public let text: String
    public let signatures: [NoteSignature]

    public init(text: String, signatures: [NoteSignature]) { self.text = text; self.signatures = signatures }

    /// The note as bytes: text, blank line, signature lines.
    public var bytes: [UInt8] { Array((text + "\n" + signatures.map(\.line).joined()).utf8) }

    public init(parsing bytes: [UInt8]) throws(NoteError) {
        guard bytes.count <= Self.maxBytes else { throw NoteError("note.too_large", "\(bytes.count) bytes > \(Self.maxBytes)") }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw NoteError("note.not_utf8", "a note must be valid UTF-8") }
        if let c = bytes.first(where: { $0 < 0x20 && $0 != 0x0A }) {
            throw NoteError("note.control_character", "control character 0x\(String(c, radix: 16)) (only the newline may appear)")
        }
        guard bytes.last == 0x0A else { throw NoteError("note.no_final_newline", "a note ends with a newline") }
        // The text is separated from the signatures by the last empty line.
        guard let split = Self.lastBlankLine(bytes) else { throw NoteError("note.no_signatures", "no blank line before signature lines") }
        let textBytes = Array(bytes[..<(split + 1)])
        let block = bytes[(split + 2)...]
        var signatures: [NoteSignature] = []
        for lineBytes in block.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            guard signatures.count < Self.maxSignatures else { throw NoteError("note.too_many_signatures", "more than \(Self.maxSignatures) signature lines") }
            signatures.append(try Self.signatureLine(String(decoding: lineBytes, as: UTF8.self)))
        }
        guard !signatures.isEmpty else { throw NoteError("note.no_signatures", "a signed note has at least one signature line") }
        text = String(decoding: textBytes, as: UTF8.self)
        self.signatures = signatures
    }

    /// Index of the first newline of the last "\n\n" pair.
    private static func lastBlankLine(_ bytes: [UInt8]) -> Int? {
        var i = bytes.count - 2
        while i >= 0 {
            if bytes[i] == 0x0A && bytes[i + 1] == 0x0A { return i }
            i -= 1
        }
        return nil
    }

    private static func signatureLine(_ line: String) throws(NoteError) -> NoteSignature {
        let prefix = "\u{2014} "
        guard line.hasPrefix(prefix) else { throw NoteError("note.bad_signature_line", "a signature line starts with an em dash and a space: '\(line.prefix(40))'") }
        let rest = line.dropFirst(prefix.count)
        guard let space = rest.lastIndex(of: " ") else { throw NoteError("note.bad_signature_line", "no space between key name and signature") }
        let name = String(rest[..<space]), encoded = String(rest[rest.index(after: space)...])
        try NoteVerifierKey.checkName(name)
        guard let raw = Base64.decodeCanonical(encoded), raw.count >= 5 else {
            throw NoteError("note.bad_signature", "the signature of '\(name)' is not canonical base64 of at least 5 bytes")
        }
        let id = raw.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return NoteSignature(name: name, keyID: id, signature: Array(raw.dropFirst(4)))
    }

    /// The keys among `keys` whose signatures on this note verify. Signatures by unknown keys (name
    /// and key ID not both matching) are ignored; one by a known key that fails rejects the whole
    /// note; a note no known key signed is rejected.
    public func verified(by keys: [NoteVerifierKey]) throws(NoteError) -> [NoteVerifierKey] {
        let message = Array(text.utf8)
        var verified: [NoteVerifierKey] = []
        for s in signatures {
            guard let key = keys.first(where: { $0.name == s.name && $0.keyID == s.keyID }) else { continue }
            guard key.isValidSignature(s.signature, for: message) else {
                throw NoteError("note.invalid_signature", "the signature of '\(s.name)' (key \(String(format: "%08x", s.keyID))) does not verify")
            }
            if !verified.contains(key) { verified.append(key) }
        }
        guard !verified.isEmpty else { throw NoteError("note.unverified", "no signature by a known key") }
        return verified
    }
}

/// Standard base64 (RFC 4648 §4) in its one canonical form: padded, no whitespace, zero trailing bits.
enum Base64 {
    static func decodeCanonical(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text), data.base64EncodedString() == text else { return nil }
        return Array(data)
    }
    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
