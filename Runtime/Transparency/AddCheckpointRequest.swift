public import MeridianCore

/// The body of a c2sp.org/tlog-witness `add-checkpoint` request: an `old <size>` line, at most 63
/// consistency-proof lines (one base64 hash each), an empty line, then the signed checkpoint note.
/// Parsing is strict (every line ends with a newline; the size is decimal without leading zeros;
/// each hash is the canonical base64 of 32 bytes); a refusal carries the reason, and a witness
/// answers it with 400 Bad Request.
public struct AddCheckpointRequest: Hashable, Sendable {
    public static let maxProofHashes = 63
    /// A request body at most: the note's limit and the proof lines.
    public static let maxBytes = SignedNote.maxBytes + 64 * 64

    public let oldSize: UInt64
    public let proof: [Bytes32]
    /// The checkpoint as a signed note (text, blank line, signature lines).
    public let checkpoint: [UInt8]

    public init(oldSize: UInt64, proof: [Bytes32], checkpoint: [UInt8]) {
        self.oldSize = oldSize; self.proof = proof; self.checkpoint = checkpoint
    }

    public var body: [UInt8] {
        var text = "old \(oldSize)\n"
        for h in proof { text += Base64.encode(h.bytes) + "\n" }
        return Array((text + "\n").utf8) + checkpoint
    }

    public init(parsing body: [UInt8]) throws(NoteError) {
        guard body.count <= Self.maxBytes else { throw NoteError("witness.too_large", "a request body is at most \(Self.maxBytes) bytes") }
        var lines: [String] = []
        var start = 0
        // Header lines up to the first empty line; the rest is the checkpoint.
        while true {
            guard let end = body[start...].firstIndex(of: 0x0A) else {
                throw NoteError("witness.truncated", "the request ends before the empty line that precedes the checkpoint")
            }
            if end == start { start = end + 1; break }
            guard let line = String(validating: body[start..<end], as: UTF8.self) else { throw NoteError("witness.not_utf8", "line \(lines.count + 1) is not UTF-8") }
            lines.append(line)
            start = end + 1
            guard lines.count <= Self.maxProofHashes + 1 else {
                throw NoteError("witness.proof_too_long", "more than \(Self.maxProofHashes) consistency proof lines")
            }
        }
        guard let first = lines.first else { throw NoteError("witness.no_old_size", "the request starts with an 'old <size>' line") }
        guard first.hasPrefix("old ") else { throw NoteError("witness.no_old_size", "the first line is 'old <size>': '\(first.prefix(40))'") }
        let digits = first.dropFirst(4)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), digits == "0" || !digits.hasPrefix("0"),
              let size = UInt64(digits) else {
            throw NoteError("witness.bad_old_size", "the old size is a decimal number without leading zeros: '\(digits.prefix(30))'")
        }
        var proof: [Bytes32] = []
        for (i, line) in lines.dropFirst().enumerated() {
            guard let raw = Base64.decodeCanonical(line), let h = Bytes32(raw) else {
                throw NoteError("witness.bad_proof", "proof line \(i + 1) is not the canonical base64 of 32 bytes")
            }
            proof.append(h)
        }
        guard start < body.count else { throw NoteError("witness.no_checkpoint", "no checkpoint after the empty line") }
        oldSize = size
        self.proof = proof
        checkpoint = Array(body[start...])
    }
}
