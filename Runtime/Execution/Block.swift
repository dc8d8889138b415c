public import MeridianCore

/// A block: its header, its transactions, and the commit certificate of its parent (none for
/// the first block after genesis).
public struct Block: Hashable, Sendable, Canonical {
    public let header: BlockHeader
    public let transactions: [SignedTransaction]
    public let lastCommit: CommitCertificate?

    public init(header: BlockHeader, transactions: [SignedTransaction], lastCommit: CommitCertificate?) {
        self.header = header; self.transactions = transactions; self.lastCommit = lastCommit
    }

    public var hash: Bytes32 { header.hash }

    public static func transactionsRoot(_ txs: [SignedTransaction]) -> Bytes32 { transactionsRoot(hashes: txs.map(\.hash)) }

    /// The RFC 9162 root over the transactions' hashes.
    public static func transactionsRoot(hashes: [Bytes32]) -> Bytes32 {
        MerkleTree.root(leafHashes: hashes.map { MerkleTree.leafHash($0.bytes) })
    }

    public static func receiptsRoot(_ receipts: [Receipt]) -> Bytes32 {
        MerkleTree.root(leaves: receipts.map(\.canonicalBytes))
    }

    public func encode(to w: inout CanonicalWriter) { w.write(header); w.write(transactions); w.write(lastCommit) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        header = try r.read(BlockHeader.self)
        transactions = try r.readArray(SignedTransaction.self, "block.transactions", max: 100_000)
        lastCommit = try r.readOptional(CommitCertificate.self, "block.last_commit")
    }
}
