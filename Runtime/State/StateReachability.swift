public import MeridianCore

/// Which stored tree records a set of versions needs: the basis of pruning old state versions.
///
/// Records are stored by hash and shared between versions (a version rewrites only the batches on
/// the paths it changed), and a record can come back: a key set to A, then B, then A again stores
/// A's leaf twice under one hash. So which records an old version alone holds cannot be read from
/// when they were written; it is computed. Every version after `from` is the version before it plus
/// the records it wrote, so the records of versions `from...to` are those reachable from root
/// `from`, plus, for each later root, those reachable from it and not already found: a walk that
/// stops at any record already in the set (whose subtree is then in the set too) costs the records
/// of `from` once plus the changed paths of each later version.
public enum StateReachability {
    /// Adds to `live` every record reachable from `root` that is not in it yet; returns how many.
    /// A record in `live` must have its whole subtree in `live` (as this walk leaves it).
    @discardableResult
    public static func mark(root: Bytes32, storage: some StateStorage, live: inout Set<Bytes32>) throws(StateError) -> Int {
        guard root != .zero else { return 0 }
        var added = 0
        var stack = [root]
        while let hash = stack.popLast() {
            guard !live.contains(hash) else { continue }
            guard let bytes = try storage.node(hash) else { throw StateError(.missingNode, hash.hex) }
            live.insert(hash)
            added += 1
            for child in try children(of: bytes, hash: hash) where !live.contains(child) { stack.append(child) }
        }
        return added
    }

    /// The records a record points to: for a batch, every hash hanging out of it that is not empty
    /// (a leaf, or the top of the batch below); a leaf points to none.
    public static func children(of bytes: [UInt8], hash: Bytes32) throws(StateError) -> [Bytes32] {
        guard bytes.first == NodeBatch.tag else {
            _ = try SparseMerkleTree.decodeLeaf(bytes, hash: hash)   // a leaf, or refused as corrupt
            return []
        }
        let nodes = try NodeBatch.decode(bytes, hash: hash)
        var inside = Set<Bytes32>(minimumCapacity: nodes.count)
        for n in nodes { inside.insert(n.hash) }
        var out: [Bytes32] = []
        for n in nodes {
            for c in [n.left, n.right] where c != .zero && !inside.contains(c) { out.append(c) }
        }
        return out
    }

    /// The records versions `from...to` need, given their roots (`root(v)`; a version without a root
    /// is an error: the caller names a version that is not stored).
    public static func live(versions: ClosedRange<UInt64>, storage: some StateStorage) throws(StateError) -> Set<Bytes32> {
        var live = Set<Bytes32>()
        for v in versions {
            guard let root = try storage.root(version: v) else { throw StateError(.unknownVersion, "version \(v)") }
            try mark(root: root, storage: storage, live: &live)
        }
        return live
    }
}
