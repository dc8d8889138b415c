public import MeridianCore

/// Four binary levels of the sparse Merkle tree stored as one record: the 16-ary layout of Diem's
/// Jellyfish Merkle tree, kept underneath the binary tree so that roots and proofs do not change.
///
/// Every internal node at a depth that is a multiple of four is the *top* of a batch; the batch
/// holds the top and the internal nodes below it down to three levels further, and is stored under
/// the top's hash. What a batch records is its shape and the hashes that hang out of it: a bitmap of
/// which of the 15 positions of a 4-level binary tree (heap order: 1 is the top, the children of
/// `p` are `2p` and `2p + 1`) are internal nodes, then, in position order, every child of an
/// internal node that is not itself an internal node of the batch (a leaf, an empty subtree, or
/// the top of the next batch down). The hashes of the internal nodes are recomputed on decoding,
/// and the top's must equal the hash the record is stored under, so a damaged record is refused.
///
/// Why: storing each binary node on its own wrote about fifteen RocksDB entries per updated key, and
/// the memtable insertion of those entries cost about as much as executing the block (profiles in
/// BENCHMARKS.md). A path of twenty levels is five batches.
///
/// Record: `0x02 || bitmap (2 bytes, big-endian, bit p = position p is internal; bits 0 and 1 as
/// the format requires: 0 clear, 1 set) || external hashes (32 bytes each, in position order)`.
enum NodeBatch {
    static let tag: UInt8 = 0x02
    /// Binary levels per batch.
    static let levels = 4

    /// Whether a node at `depth` is the top of a batch.
    @inlinable static func isTop(depth: Int) -> Bool { depth & (levels - 1) == 0 }

    /// The internal nodes a batch record holds, each with its hash; the first is deepest, the last the top.
    static func decode(_ bytes: [UInt8], hash: Bytes32) throws(StateError) -> [(hash: Bytes32, left: Bytes32, right: Bytes32)] {
        guard bytes.count >= 3, bytes[0] == tag else { throw StateError(.corruptNode, "\(hash.hex): not a node batch") }
        let bitmap = UInt16(bytes[1]) << 8 | UInt16(bytes[2])
        guard bitmap & 1 == 0, bitmap & 2 != 0 else { throw StateError(.corruptNode, "\(hash.hex): batch without a top") }
        @inline(__always) func isInternal(_ p: Int) -> Bool { p <= 15 && bitmap & (1 << p) != 0 }
        for p in 2...15 where isInternal(p) && !isInternal(p / 2) {
            throw StateError(.corruptNode, "\(hash.hex): batch position \(p) has no parent")
        }
        var hashes = [Bytes32](repeating: .zero, count: 32)
        var offset = 3
        for c in 2...31 where isInternal(c / 2) && !isInternal(c) {
            guard offset + 32 <= bytes.count else { throw StateError(.corruptNode, "\(hash.hex): batch truncated") }
            hashes[c] = Bytes32(bytes[offset..<(offset + 32)])!
            offset += 32
        }
        guard offset == bytes.count else { throw StateError(.corruptNode, "\(hash.hex): batch has trailing bytes") }
        var nodes: [(hash: Bytes32, left: Bytes32, right: Bytes32)] = []
        nodes.reserveCapacity(bitmap.nonzeroBitCount)
        for p in stride(from: 15, through: 1, by: -1) where isInternal(p) {
            hashes[p] = SparseMerkleTree.internalHash(hashes[2 * p], hashes[2 * p + 1])
            nodes.append((hashes[p], hashes[2 * p], hashes[2 * p + 1]))
        }
        guard hashes[1] == hash else { throw StateError(.corruptNode, "\(hash.hex): batch contents hash to \(hashes[1].hex)") }
        return nodes
    }

    /// The record of the batch whose top is the internal node `top`; `children` gives the two
    /// children of any internal node of the batch, and nil for anything that is not an internal node.
    static func encode(top: Bytes32, children: (Bytes32) -> (Bytes32, Bytes32)?) -> [UInt8] {
        var hashes = [Bytes32](repeating: .zero, count: 32)
        var bitmap: UInt16 = 1 << 1
        hashes[1] = top
        for p in 1...15 where bitmap & (1 << p) != 0 {
            guard let (l, r) = children(hashes[p]) else { preconditionFailure("batch position \(p) is not an internal node") }
            hashes[2 * p] = l
            hashes[2 * p + 1] = r
            for c in [2 * p, 2 * p + 1] where c <= 15 && hashes[c] != .zero && children(hashes[c]) != nil { bitmap |= 1 << c }
        }
        return encode(bitmap: bitmap, hashes: hashes)
    }

    /// The record of a batch given its shape (`bitmap`, bit p set: position p is an internal node)
    /// and the hash at every position (heap order, 32 entries; unused ones ignored).
    static func encode(bitmap: UInt16, hashes: [Bytes32]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(3 + 32 * 16)
        out.append(tag)
        out.append(UInt8(bitmap >> 8))
        out.append(UInt8(bitmap & 0xff))
        for c in 2...31 where bitmap & (1 << (c / 2)) != 0 && !(c <= 15 && bitmap & (1 << c) != 0) {
            hashes[c].withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }
}
