/// The right edge of an append-only RFC 9162 Merkle tree: the roots of the complete subtrees that
/// cover leaves [0, size), largest first, one per set bit of `size` (what Certificate
/// Transparency logs call a compact range). Enough to append and to compute the root, so the chain
/// keeps only this in its state while the node stores the rest of the tree beside it.
public struct LogFrontier: Hashable, Sendable, Canonical {
    public private(set) var size: UInt64
    public private(set) var subtrees: [Bytes32]

    /// A complete subtree hash that an append made final: `level` 0 is a leaf hash, level L covers
    /// leaves [index·2^L, (index+1)·2^L). The node stores these; any proof or tile reads only them.
    public struct StoredHash: Hashable, Sendable {
        public let level: UInt8
        public let index: UInt64
        public let hash: Bytes32
    }

    public init() { size = 0; subtrees = [] }

    /// MTH of the leaves so far (RFC 9162 §2.1.1): the frontier folded from the right.
    public var root: Bytes32 {
        guard var h = subtrees.last else { return MerkleTree.emptyRoot }
        for s in subtrees.dropLast().reversed() { h = MerkleTree.nodeHash(s, h) }
        return h
    }

    /// Appends one leaf (its leaf hash, SHA-256(0x00 || data)); the subtrees it completed are added to `completed`.
    public mutating func append(leafHash: Bytes32, completed: inout [StoredHash]) {
        var h = leafHash, n = size, level: UInt8 = 0
        completed.append(StoredHash(level: 0, index: size, hash: h))
        while n & 1 == 1 {
            h = MerkleTree.nodeHash(subtrees.removeLast(), h)
            n >>= 1
            level += 1
            completed.append(StoredHash(level: level, index: size >> UInt64(level), hash: h))
        }
        subtrees.append(h)
        size += 1
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(varint: size)
        for s in subtrees { w.write(s) }
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        size = try r.readVarint("log.size")
        var s: [Bytes32] = []
        for _ in 0..<size.nonzeroBitCount { s.append(try r.readBytes32("log.subtree")) }
        subtrees = s
    }
}
