public import MeridianCore

/// The audit log (issue 23): every audit entry of every patient, in block order, is a leaf of one
/// append-only RFC 9162 Merkle tree, so that a regulator or a witness can check that today's trail
/// extends yesterday's (consistency proofs) and a patient that an access is in it (inclusion proofs).
///
/// A leaf's data is the entry's hash (`AuditEntry.hash`, 32 bytes), not the entry: the tree, its
/// tiles and its checkpoints can be served to anyone (a CDN, a witness) without disclosing who
/// accessed what; the entry itself stays behind the API's access rules, and whoever may read it
/// checks that it hashes to the leaf. The state keeps only the tree's right edge (`LogFrontier`),
/// updated once per block; the node stores the complete subtree hashes beside the state.
public enum AuditLog {
    public static let frontierKey = StateKey("auditlog/frontier")

    public static func frontier(in s: some StateReader) throws(RuntimeError) -> LogFrontier {
        try s.read(LogFrontier.self, frontierKey) ?? LogFrontier()
    }

    /// The leaf hash of an entry: SHA-256(0x00 || entry hash).
    public static func leafHash(ofEntryHash h: Bytes32) -> Bytes32 { MerkleTree.leafHash(h.bytes) }

    /// What one block added to the log.
    public struct BlockAppend: Sendable, Equatable {
        /// Index of the block's first leaf (the log's size before the block).
        public let firstIndex: UInt64
        /// The leaves' data, in order: the hashes of the entries the block appended.
        public let entryHashes: [Bytes32]
        /// Complete subtree hashes the block made final (leaf hashes included), for the node to store.
        public let stored: [LogFrontier.StoredHash]
        public let size: UInt64
        public let root: Bytes32
    }

    /// Appends the entries recorded by a block's successful transactions (`events`: their events in
    /// block order; a failed transaction's entries were rolled back with its writes and its events
    /// dropped) and writes the new frontier. Called once per block, after its transactions.
    public static func appendBlock(events: [RuntimeEvent], _ ctx: ExecutionContext) throws(RuntimeError) -> BlockAppend {
        var frontier = try frontier(in: ctx.view)
        let first = frontier.size
        var hashes: [Bytes32] = []
        var stored: [LogFrontier.StoredHash] = []
        for case .accessRecorded(let patient, let sequence, _, _, _) in events {
            guard let entry = try Audit.entry(patient, sequence, in: ctx.view) else {
                throw RuntimeError.corrupt("audit entry \(sequence) of a patient recorded in this block")
            }
            let h = entry.hash
            hashes.append(h)
            frontier.append(leafHash: leafHash(ofEntryHash: h), completed: &stored)
        }
        if !hashes.isEmpty {
            ctx.write(frontierKey, frontier)
            ctx.view.commitTransaction()
        }
        return BlockAppend(firstIndex: first, entryHashes: hashes, stored: stored, size: frontier.size, root: frontier.root)
    }
}
