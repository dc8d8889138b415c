public import MeridianCore

/// The audit log's checkpoint after a block (c2sp.org/tlog-checkpoint), made the chain's by that
/// block's commit: the note text is `<origin>\n<size>\n<base64 root>\n` with the origin
/// `meridian/<chain id>/audit-log`, and its signature line, under the origin as key name, carries
/// the block header (whose `auditLogSize` and `auditLogRoot` are the checkpoint's) and the commit
/// certificate that finalised it: more than 2/3 of the voting power signed that header's hash.
///
/// The line uses signature type 0xff of c2sp.org/signed-note (types without an assigned byte),
/// followed by the identifier `meridian-commit/v1` and the genesis header's hash, so its key ID is
/// SHA-256(origin || 0x0A || 0xff || "meridian-commit/v1" || genesis hash)[:4]: a line for another
/// chain with the same id has another key ID. Signature bytes: the canonical header, then the
/// canonical certificate. Opening a checkpoint checks everything but the certificate's signatures,
/// which only a light client can (it knows the validator set at that height from genesis).
/// The log's checkpoints go to Meridian's own witnesses (`meridian-witness --chain`); the public
/// witness network would also ask for an Ed25519 signature by the log, which this note lacks.
public struct ChainCheckpoint: Hashable, Sendable {
    public static let signatureType: UInt8 = 0xff
    public static let identifier = Array("meridian-commit/v1".utf8)

    public let checkpoint: Checkpoint
    public let header: BlockHeader
    public let commit: CommitCertificate

    public static func origin(chainID: String) -> String { "meridian/\(chainID)/audit-log" }

    public static func keyID(origin: String, genesis: Bytes32) -> UInt32 {
        SHA256.hash(Array(origin.utf8) + [0x0A, signatureType] + identifier + genesis.bytes).bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// The checkpoint after `header`'s block, signed by `commit`.
    public init(header: BlockHeader, commit: CommitCertificate) {
        self.header = header
        self.commit = commit
        checkpoint = Checkpoint(origin: Self.origin(chainID: header.chainID), size: header.auditLogSize, root: header.auditLogRoot)
    }

    /// The signed note.
    public func note(genesis: Bytes32) -> SignedNote {
        var w = CanonicalWriter()
        w.write(header)
        w.write(commit)
        return SignedNote(text: checkpoint.text,
                          signatures: [NoteSignature(name: checkpoint.origin, keyID: Self.keyID(origin: checkpoint.origin, genesis: genesis), signature: w.bytes)])
    }

    /// Opens the checkpoint of chain `chainID` (genesis header hash `genesis`): the note, its
    /// checkpoint (exactly three lines), and the commit line, whose header must carry the
    /// checkpoint's size and root and whose certificate must be for that header. Other signature
    /// lines (witnesses' cosignatures) are left to the caller.
    public init(opening bytes: [UInt8], chainID: String, genesis: Bytes32) throws(NoteError) {
        try self.init(opening: try SignedNote(parsing: bytes), chainID: chainID, genesis: genesis)
    }

    /// `init(opening:chainID:genesis:)` for a note already parsed.
    public init(opening note: SignedNote, chainID: String, genesis: Bytes32) throws(NoteError) {
        let checkpoint = try Checkpoint(parsing: note.text)
        let origin = Self.origin(chainID: chainID)
        guard checkpoint.origin == origin else { throw NoteError("checkpoint.wrong_origin", "origin '\(checkpoint.origin.prefix(80))', expected '\(origin)'") }
        guard checkpoint.extensions.isEmpty else { throw NoteError("checkpoint.extension", "Meridian's checkpoints have no extension lines") }
        let id = Self.keyID(origin: origin, genesis: genesis)
        guard let line = note.signatures.first(where: { $0.name == origin && $0.keyID == id }) else {
            throw NoteError("checkpoint.no_commit", "no commit signature line for \(origin) of this genesis (key ID \(String(format: "%08x", id)))")
        }
        var r = CanonicalReader(line.signature)
        let header: BlockHeader, commit: CommitCertificate
        do {
            header = try r.read(BlockHeader.self)
            commit = try r.read(CommitCertificate.self)
            try r.finish()
        } catch { throw NoteError("checkpoint.bad_commit", "the commit line is not a header and a certificate: \(error)") }
        guard header.chainID == chainID else { throw NoteError("checkpoint.mismatch", "the header is of chain '\(header.chainID.prefix(64))'") }
        guard header.auditLogSize == checkpoint.size, header.auditLogRoot == checkpoint.root else {
            throw NoteError("checkpoint.mismatch", "the header at height \(header.height) has log size \(header.auditLogSize), the checkpoint \(checkpoint.size), or another root")
        }
        guard commit.height == header.height, commit.blockHash == header.hash else {
            throw NoteError("checkpoint.mismatch", "the certificate is for block \(commit.blockHash.hex.prefix(16)) at \(commit.height), not the header's")
        }
        self.checkpoint = checkpoint
        self.header = header
        self.commit = commit
    }
}
