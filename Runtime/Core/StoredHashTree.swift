/// Proofs and tiles of an append-only RFC 9162 tree read from its stored complete-subtree hashes
/// (`LogFrontier.StoredHash`), so each costs O(log n) reads however large the log grows. The
/// recursions are RFC 9162's (§2.1.3.1 PATH, §2.1.4.1 SUBPROOF); `MerkleTree`'s in-memory versions,
/// checked against the Certificate Transparency reference tree and pymerkle, are what the tests
/// compare them with.
public struct StoredHashTree {
    /// Reads the stored hash of the complete subtree at `level` and `index`; nil if it is not stored.
    public typealias Reader = (_ level: UInt8, _ index: UInt64) throws -> Bytes32?

    public let size: UInt64
    let read: Reader

    public init(size: UInt64, read: @escaping Reader) { self.size = size; self.read = read }

    public struct MissingHash: Error, CustomStringConvertible {
        public let level: UInt8, index: UInt64
        public var description: String { "log hash at level \(level) index \(index) is not stored" }
    }

    static func largestPowerOfTwo(below n: UInt64) -> UInt64 { UInt64(1) << UInt64(63 - (n - 1).leadingZeroBitCount) }

    func stored(_ level: UInt8, _ index: UInt64) throws -> Bytes32 {
        guard let h = try read(level, index) else { throw MissingHash(level: level, index: index) }
        return h
    }

    /// MTH of leaves [start, start + count): one read when the range is an aligned power of two,
    /// else the split RFC 9162 makes (the left part is always aligned when recursing from the root).
    public func hash(start: UInt64, count: UInt64) throws -> Bytes32 {
        precondition(count > 0)
        if count & (count - 1) == 0, start % count == 0 { return try stored(UInt8(count.trailingZeroBitCount), start / count) }
        let k = Self.largestPowerOfTwo(below: count)
        return MerkleTree.nodeHash(try hash(start: start, count: k), try hash(start: start + k, count: count - k))
    }

    /// The tree's root at `size`.
    public func root() throws -> Bytes32 { size == 0 ? MerkleTree.emptyRoot : try hash(start: 0, count: size) }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    public func inclusionProof(index: UInt64) throws -> [Bytes32] {
        precondition(index < size)
        func path(_ m: UInt64, _ start: UInt64, _ n: UInt64) throws -> [Bytes32] {
            if n == 1 { return [] }
            let k = Self.largestPowerOfTwo(below: n)
            return m < k ? try path(m, start, k) + [try hash(start: start + k, count: n - k)]
                         : try path(m - k, start + k, n - k) + [try hash(start: start, count: k)]
        }
        return try path(index, 0, size)
    }

    /// The consistency proof from the tree of `oldSize` leaves to the tree of `size` leaves.
    public func consistencyProof(oldSize: UInt64) throws -> [Bytes32] {
        precondition(oldSize <= size)
        if oldSize == 0 || oldSize == size { return [] }
        func subproof(_ m: UInt64, _ start: UInt64, _ n: UInt64, _ complete: Bool) throws -> [Bytes32] {
            if m == n { return complete ? [] : [try hash(start: start, count: n)] }
            let k = Self.largestPowerOfTwo(below: n)
            return m <= k ? try subproof(m, start, k, complete) + [try hash(start: start + k, count: n - k)]
                          : try subproof(m - k, start + k, n - k, false) + [try hash(start: start, count: k)]
        }
        return try subproof(oldSize, 0, size, true)
    }
}
