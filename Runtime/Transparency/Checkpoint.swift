public import MeridianCore

/// A transparency log checkpoint (c2sp.org/tlog-checkpoint): the note text
/// `<origin>\n<tree size>\n<base64 root hash>\n` followed by optional non-empty extension lines.
/// Parsing is strict: a non-empty origin, the size in decimal without leading zeros, the root the
/// canonical base64 of exactly 32 bytes, no empty line; anything else is refused with the reason.
public struct Checkpoint: Hashable, Sendable {
    public let origin: String
    public let size: UInt64
    public let root: Bytes32
    public let extensions: [String]

    public init(origin: String, size: UInt64, root: Bytes32, extensions: [String] = []) {
        self.origin = origin; self.size = size; self.root = root; self.extensions = extensions
    }

    /// The note text (what is signed).
    public var text: String {
        ([origin, String(size), Base64.encode(root.bytes)] + extensions).map { $0 + "\n" }.joined()
    }

    public init(parsing text: String) throws(NoteError) {
        guard text.hasSuffix("\n") else { throw NoteError("checkpoint.no_final_newline", "a checkpoint's text ends with a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3 else { throw NoteError("checkpoint.too_short", "a checkpoint has an origin, a size and a root hash (\(lines.count) lines)") }
        guard let empty = lines.firstIndex(where: \.isEmpty) else {
            origin = lines[0]
            size = try Self.parseSize(lines[1])
            guard let raw = Base64.decodeCanonical(lines[2]), let r = Bytes32(raw) else {
                throw NoteError("checkpoint.bad_root", "the root hash is the canonical base64 of 32 bytes: '\(lines[2].prefix(60))'")
            }
            root = r
            extensions = Array(lines.dropFirst(3))
            return
        }
        throw NoteError(empty == 0 ? "checkpoint.empty_origin" : "checkpoint.empty_line", "line \(empty + 1) is empty")
    }

    private static func parseSize(_ s: String) throws(NoteError) -> UInt64 {
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), s == "0" || !s.hasPrefix("0"), let n = UInt64(s) else {
            throw NoteError("checkpoint.bad_size", "the tree size is a decimal number without leading zeros: '\(s.prefix(30))'")
        }
        return n
    }

    /// Reads a signed checkpoint: the note's signatures by `keys` (at least one must verify, see
    /// `SignedNote.verified(by:)`) and its text as a checkpoint of `origin`.
    public static func open(_ note: [UInt8], origin: String, keys: [NoteVerifierKey]) throws(NoteError) -> (Checkpoint, signedBy: [NoteVerifierKey]) {
        let signed = try SignedNote(parsing: note)
        let checkpoint = try Checkpoint(parsing: signed.text)
        guard checkpoint.origin == origin else { throw NoteError("checkpoint.wrong_origin", "origin '\(checkpoint.origin.prefix(60))', expected '\(origin)'") }
        return (checkpoint, try signed.verified(by: keys))
    }
}
