public import MeridianCore

/// A snapshot of the state at one version, cut into chunks that a joining node checks one by one
/// against the state root of a header its light client verified (state sync, issue 24).
///
/// The chunks are the subtrees at `depth` of the sparse Merkle tree: chunk `i` holds every entry
/// whose key hash begins with the `depth` bits of `i` (most significant first, the tree's path
/// order). The manifest gives, for each chunk, what its subtree is (empty, a single leaf lifted as
/// the tree lifts it, or a branch) and its hash; the manifest is checked by composing those hashes
/// into the root exactly as the tree does, and a chunk by rebuilding its subtree from its entries.
/// So a chunk cannot be altered, dropped, duplicated or moved without failing its own check, and
/// one dishonest server is caught on the first chunk it lies about.
///
/// Entries carry their raw keys (the tree holds only their hashes): the joining node needs them for
/// its latest-values column, and each is checked by hashing it.
public enum StateSnapshot {
    /// Chunks per snapshot: 2^depth. Up to 16 (65,536 chunks).
    public static let maxDepth = 16
    public static let maxChunkEntries = 1 << 20

    /// What one chunk's subtree is in the tree.
    public enum Summary: Hashable, Sendable {
        case empty
        /// Exactly one entry: the subtree is its leaf (lifted).
        case leaf(Bytes32)
        /// Two or more entries: the hash of the internal node at `depth`.
        case branch(Bytes32)

        public var hash: Bytes32 {
            switch self { case .empty: .zero; case .leaf(let h), .branch(let h): h }
        }

        /// Two sibling subtrees' parent, as the tree builds it: a lone leaf is lifted, an empty pair stays empty.
        static func parent(_ l: Summary, _ r: Summary) -> Summary {
            switch (l, r) {
            case (.empty, .empty): .empty
            case (.leaf, .empty): l
            case (.empty, .leaf): r
            default: .branch(SparseMerkleTree.internalHash(l.hash, r.hash))
            }
        }
    }

    public struct Manifest: Hashable, Sendable, Canonical {
        public let version: UInt64
        public let root: Bytes32
        public let depth: Int
        public let chunks: [Summary]

        public init(version: UInt64, root: Bytes32, depth: Int, chunks: [Summary]) {
            self.version = version; self.root = root; self.depth = depth; self.chunks = chunks
        }

        /// Checks that the chunks' summaries compose into `expectedRoot` (a verified header's state root).
        public func verify(expectedRoot: Bytes32) throws(StateError) {
            guard (0...StateSnapshot.maxDepth).contains(depth), chunks.count == 1 << depth else {
                throw StateError(.corruptNode, "snapshot manifest: \(chunks.count) chunks at depth \(depth)")
            }
            var level = chunks
            while level.count > 1 {
                level = stride(from: 0, to: level.count, by: 2).map { Summary.parent(level[$0], level[$0 + 1]) }
            }
            guard level[0].hash == root, root == expectedRoot else {
                throw StateError(.corruptNode, "snapshot manifest of version \(version): its chunks compose to \(level[0].hash.hex.prefix(16)), the verified state root is \(expectedRoot.hex.prefix(16))")
            }
        }

        public func encode(to w: inout CanonicalWriter) {
            w.write(varint: version); w.write(root); w.write(UInt8(depth))
            for c in chunks {
                switch c {
                case .empty: w.write(UInt8(0))
                case .leaf(let h): w.write(UInt8(1)); w.write(h)
                case .branch(let h): w.write(UInt8(2)); w.write(h)
                }
            }
        }

        public init(from r: inout CanonicalReader) throws(CodecError) {
            version = try r.readVarint("snapshot.version"); root = try r.readBytes32("snapshot.root")
            let d = Int(try r.readUInt8("snapshot.depth"))
            guard d <= StateSnapshot.maxDepth else { throw CodecError(.invalidValue, field: "snapshot.depth", offset: r.offset) }
            depth = d
            var chunks: [Summary] = []
            chunks.reserveCapacity(1 << d)
            for _ in 0..<(1 << d) {
                switch try r.readUInt8("snapshot.chunk") {
                case 0: chunks.append(.empty)
                case 1: chunks.append(.leaf(try r.readBytes32("snapshot.chunk.hash")))
                case 2: chunks.append(.branch(try r.readBytes32("snapshot.chunk.hash")))
                default: throw CodecError(.unknownVariant, field: "snapshot.chunk", offset: r.offset)
                }
            }
            self.chunks = chunks
        }
    }

    /// One chunk: its entries in key-hash order, with their raw keys.
    public struct Chunk: Hashable, Sendable, Canonical {
        public let index: Int
        public let entries: [Entry]

        public struct Entry: Hashable, Sendable {
            public let key: [UInt8]
            public let value: [UInt8]
            public init(key: [UInt8], value: [UInt8]) { self.key = key; self.value = value }
        }

        public init(index: Int, entries: [Entry]) { self.index = index; self.entries = entries }

        /// Checks the chunk against its summary in a manifest checked before: every key hash in
        /// its range, in strictly increasing order, and the subtree they build is the summary's.
        public func verify(against manifest: Manifest) throws(StateError) {
            guard index >= 0, index < manifest.chunks.count else { throw StateError(.corruptNode, "snapshot chunk \(index) is not in the manifest") }
            let d = manifest.depth
            var leaves: [(keyHash: Bytes32, valueHash: Bytes32)] = []
            leaves.reserveCapacity(entries.count)
            for e in entries {
                let kh = StateProof.keyHash(e.key)
                guard StateSnapshot.chunkIndex(of: kh, depth: d) == index else {
                    throw StateError(.corruptNode, "snapshot chunk \(index) holds a key of chunk \(StateSnapshot.chunkIndex(of: kh, depth: d))")
                }
                if let last = leaves.last, !(last.keyHash < kh) { throw StateError(.corruptNode, "snapshot chunk \(index): keys out of order or repeated") }
                leaves.append((kh, SHA256.hash(e.value)))
            }
            let built = StateSnapshot.subtree(leaves[...], depth: d)
            guard built == manifest.chunks[index] else {
                throw StateError(.corruptNode, "snapshot chunk \(index): its \(entries.count) entries build \(built.hash.hex.prefix(16)), the manifest says \(manifest.chunks[index].hash.hex.prefix(16))")
            }
        }

        public func encode(to w: inout CanonicalWriter) {
            w.write(varint: UInt64(index)); w.write(varint: UInt64(entries.count))
            for e in entries { w.write(bytes: e.key); w.write(bytes: e.value) }
        }

        public init(from r: inout CanonicalReader) throws(CodecError) {
            let i = try r.readVarint("chunk.index")
            guard i < 1 << StateSnapshot.maxDepth else { throw CodecError(.invalidValue, field: "chunk.index", offset: r.offset) }
            index = Int(i)
            let n = try r.readVarint("chunk.count")
            guard n <= UInt64(StateSnapshot.maxChunkEntries) else { throw CodecError(.invalidValue, field: "chunk.count", offset: r.offset) }
            var entries: [Entry] = []
            entries.reserveCapacity(Int(min(n, 4096)))
            for _ in 0..<n {
                entries.append(Entry(key: try r.readByteString("chunk.key", max: 4096), value: try r.readByteString("chunk.value", max: 1 << 24)))
            }
            self.entries = entries
        }
    }

    /// The chunk a key hash belongs to: its first `depth` bits.
    public static func chunkIndex(of keyHash: Bytes32, depth: Int) -> Int {
        var i = 0
        for b in 0..<depth { i = i << 1 | (keyHash.bit(b) ? 1 : 0) }
        return i
    }

    /// The subtree that leaves sorted by key hash, all below one node at `depth`, form in the tree.
    public static func subtree(_ leaves: ArraySlice<(keyHash: Bytes32, valueHash: Bytes32)>, depth: Int) -> Summary {
        switch leaves.count {
        case 0: return .empty
        case 1: return .leaf(SparseMerkleTree.leafHash(key: leaves.first!.keyHash, valueHash: leaves.first!.valueHash))
        default:
            let split = leaves.firstIndex { $0.keyHash.bit(depth) } ?? leaves.endIndex
            let l = subtree(leaves[..<split], depth: depth + 1), r = subtree(leaves[split...], depth: depth + 1)
            return .branch(SparseMerkleTree.internalHash(l.hash, r.hash))
        }
    }
}

extension SparseMerkleTree {
    /// The summaries of the 2^depth subtrees at `depth` under `root` (a snapshot's manifest).
    public func snapshotSummaries(root: Bytes32, depth: Int) throws(StateError) -> [StateSnapshot.Summary] {
        var out = [StateSnapshot.Summary](repeating: .empty, count: 1 << depth)
        func walk(_ hash: Bytes32, at level: Int, prefix: Int, top: Bytes32) throws(StateError) {
            guard hash != .zero else { return }
            let top = NodeBatch.isTop(depth: level) ? hash : top
            switch try load(hash, depth: level, top: top) {
            case .leaf(let key, _):
                out[StateSnapshot.chunkIndex(of: key, depth: depth)] = .leaf(hash)
            case .internal(let l, let r):
                if level == depth { out[prefix] = .branch(hash); return }
                try walk(l, at: level + 1, prefix: prefix << 1, top: top)
                try walk(r, at: level + 1, prefix: prefix << 1 | 1, top: top)
            }
        }
        try walk(root, at: 0, prefix: 0, top: root)
        return out
    }

    /// The entries of chunk `index` at `depth` under `root`, as (key hash, value), in key-hash order.
    public func snapshotLeaves(root: Bytes32, depth: Int, index: Int) throws(StateError) -> [(keyHash: Bytes32, value: [UInt8])] {
        var out: [(keyHash: Bytes32, value: [UInt8])] = []
        func collect(_ hash: Bytes32, at level: Int, top: Bytes32) throws(StateError) {
            guard hash != .zero else { return }
            let top = NodeBatch.isTop(depth: level) ? hash : top
            switch try load(hash, depth: level, top: top) {
            case .leaf(let key, _):
                guard StateSnapshot.chunkIndex(of: key, depth: depth) == index else { return }
                out.append((key, Array(try loadEncoded(hash).dropFirst(65))))
            case .internal(let l, let r):
                if level < depth {
                    // Follow the chunk's path down to its subtree.
                    let goRight = (index >> (depth - 1 - level)) & 1 == 1
                    try collect(goRight ? r : l, at: level + 1, top: top)
                } else {
                    try collect(l, at: level + 1, top: top)
                    try collect(r, at: level + 1, top: top)
                }
            }
        }
        try collect(root, at: 0, top: root)
        return out
    }
}
