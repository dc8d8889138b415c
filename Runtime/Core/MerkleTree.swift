/// The binary Merkle tree of RFC 9162 (Certificate Transparency 2.0), §2.1: leaf hashes are
/// SHA-256(0x00 || leaf) and node hashes SHA-256(0x01 || left || right), so a leaf can never be
/// passed off as a node. Used for the transactions and receipts roots of a block and for the
/// batches the off-chain workers anchor.
public enum MerkleTree {
    public static let emptyRoot = SHA256.hash([UInt8]())

    public static func leafHash(_ leaf: [UInt8]) -> Bytes32 {
        var h = Hasher256()
        h.update([0x00])
        h.update(leaf)
        return h.finalize()
    }

    public static func nodeHash(_ left: Bytes32, _ right: Bytes32) -> Bytes32 {
        SHA256.hash(prefix: 0x01, left, right)
    }

    /// MTH(D[n]) over the leaves' hashes.
    public static func root(leafHashes: [Bytes32]) -> Bytes32 {
        guard !leafHashes.isEmpty else { return emptyRoot }
        return subtreeRoot(leafHashes[...])
    }

    public static func root(leaves: [[UInt8]]) -> Bytes32 { root(leafHashes: leaves.map(leafHash)) }

    private static func subtreeRoot(_ hashes: ArraySlice<Bytes32>) -> Bytes32 {
        if hashes.count == 1 { return hashes[hashes.startIndex] }
        let k = largestPowerOfTwo(below: hashes.count)
        let mid = hashes.startIndex + k
        return nodeHash(subtreeRoot(hashes[..<mid]), subtreeRoot(hashes[mid...]))
    }

    /// The largest power of two strictly less than n (n >= 2).
    static func largestPowerOfTwo(below n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The inclusion proof (audit path, RFC 9162 §2.1.3.1) of leaf `index`.
    public static func inclusionProof(index: Int, leafHashes: [Bytes32]) -> [Bytes32] {
        precondition(index >= 0 && index < leafHashes.count, "leaf index out of range")
        var path: [Bytes32] = []
        func walk(_ m: Int, _ d: ArraySlice<Bytes32>) {
            if d.count == 1 { return }
            let k = largestPowerOfTwo(below: d.count)
            let mid = d.startIndex + k
            if m < k {
                walk(m, d[..<mid]); path.append(subtreeRoot(d[mid...]))
            } else {
                walk(m - k, d[mid...]); path.append(subtreeRoot(d[..<mid]))
            }
        }
        walk(index, leafHashes[...])
        return path
    }

    /// The consistency proof (RFC 9162 §2.1.4.1) that the tree of the first `oldSize` leaves is a
    /// prefix of the tree of all `leafHashes`. Empty when the sizes are equal or `oldSize` is 0.
    public static func consistencyProof(oldSize: Int, leafHashes: [Bytes32]) -> [Bytes32] {
        precondition(oldSize >= 0 && oldSize <= leafHashes.count, "old size out of range")
        guard oldSize > 0, oldSize < leafHashes.count else { return [] }
        var path: [Bytes32] = []
        func subproof(_ m: Int, _ d: ArraySlice<Bytes32>, _ complete: Bool) {
            if m == d.count {
                if !complete { path.append(subtreeRoot(d)) }
                return
            }
            let k = largestPowerOfTwo(below: d.count)
            let mid = d.startIndex + k
            if m <= k {
                subproof(m, d[..<mid], complete); path.append(subtreeRoot(d[mid...]))
            } else {
                subproof(m - k, d[mid...], false); path.append(subtreeRoot(d[..<mid]))
            }
        }
        subproof(oldSize, leafHashes[...], true)
        return path
    }

    /// Verifies a consistency proof (RFC 9162 §2.1.4.2): the tree of `oldSize` leaves with root
    /// `oldRoot` is a prefix of the tree of `newSize` leaves with root `newRoot`.
    public static func verifyConsistency(oldSize: Int, newSize: Int, proof: [Bytes32], oldRoot: Bytes32, newRoot: Bytes32) -> Bool {
        guard oldSize >= 0, oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty }
        guard !proof.isEmpty else { return false }
        var path = proof[...]
        if oldSize & (oldSize - 1) == 0 { path = ([oldRoot] + proof)[...] }
        var fn = oldSize - 1, sn = newSize - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var fr = path.first!, sr = path.first!
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr); sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1; sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }

    /// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
    public static func verifyInclusion(leafHash: Bytes32, index: Int, treeSize: Int, proof: [Bytes32], root: Bytes32) -> Bool {
        guard index >= 0, index < treeSize else { return false }
        var fn = index, sn = treeSize - 1
        var r = leafHash
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        return sn == 0 && r == root
    }
}
