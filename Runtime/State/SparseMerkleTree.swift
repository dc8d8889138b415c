public import MeridianCore
import Dispatch

/// A sparse Merkle tree over 256-bit keys (the SHA-256 of each raw state key), with nodes stored
/// by hash so that every committed version stays readable and provable.
///
/// Storage: leaves are records of their own (they carry the value); internal nodes are stored four
/// levels to a record (`NodeBatch`), under the hash of the batch's top, so an update writes about a
/// quarter of the entries a node-per-record layout wrote. Roots and proofs are those of the binary
/// tree either way.
///
/// Shape: a subtree holding a single key is represented by that key's leaf, lifted to the highest
/// position where it is alone, so a path is about log2(n) nodes long instead of 256. Hashes are
/// domain-separated: leaf = SHA-256(0x00 || keyHash || valueHash), internal = SHA-256(0x01 ||
/// left || right), and an empty subtree hashes to 32 zero bytes. The root of a set of key/values
/// is independent of the order in which they were written.
///
/// Not thread-safe: one owner (the node's state actor or a test) drives it.
public final class SparseMerkleTree {
    public static let emptyRoot = Bytes32.zero

    @inlinable public static func leafHash(key: Bytes32, valueHash: Bytes32) -> Bytes32 {
        SHA256.hash(prefix: 0x00, key, valueHash)
    }

    @inlinable public static func internalHash(_ left: Bytes32, _ right: Bytes32) -> Bytes32 {
        SHA256.hash(prefix: 0x01, left, right)
    }

    /// A decoded node. Leaves keep only the hashes here; their value stays in the stored bytes.
    enum Node: Sendable {
        case leaf(key: Bytes32, valueHash: Bytes32)
        case `internal`(left: Bytes32, right: Bytes32)
    }

    /// One change to apply: `value == nil` deletes the key.
    public struct Update: Sendable {
        public let keyHash: Bytes32
        public let value: [UInt8]?
        public init(keyHash: Bytes32, value: [UInt8]?) { self.keyHash = keyHash; self.value = value }
    }

    /// The outcome of applying a batch of updates, not yet written to storage.
    public struct Result {
        public let root: Bytes32
        /// New records: leaves and node batches.
        public let newNodes: [(hash: Bytes32, encoded: [UInt8])]
        /// How many binary internal nodes the update created (what a node-per-record layout would have stored).
        public let internalNodesCreated: Int
    }

    let storage: any StateStorage
    private var cache: NodeCache
    /// Records of a version handed to storage whose write has not completed yet (the node overlaps
    /// the commit of one block with the execution of the next): read before storage.
    public var unwritten: [Bytes32: [UInt8]] = [:]

    public init(storage: any StateStorage, maxCachedNodes: Int = 1 << 20) {
        self.storage = storage
        self.cache = NodeCache(capacity: maxCachedNodes)
    }

    // MARK: Reading

    /// The stored record under `hash`, if there is one.
    func record(_ hash: Bytes32) throws(StateError) -> [UInt8]? {
        if let bytes = unwritten[hash] { return bytes }
        return try storage.node(hash)
    }

    func loadEncoded(_ hash: Bytes32) throws(StateError) -> [UInt8] {
        guard let bytes = try record(hash) else { throw StateError(.missingNode, hash.hex) }
        return bytes
    }

    /// The node `hash`, which stands at `depth` below the batch top `top` (itself when `depth` is a
    /// multiple of four), through the cache.
    func load(_ hash: Bytes32, depth: Int, top: Bytes32) throws(StateError) -> Node {
        if let n = cache[hash] { return n }
        var decoded: [(Bytes32, Node)] = []
        let node = try fetch(hash, depth: depth, top: top) { decoded.append(($0, $1)) }
        for (h, n) in decoded { cache[h] = n }
        return node
    }

    /// Reads the node `hash` from storage after a cache miss: its own record (a leaf or a batch
    /// top), else the batch of `top` that holds it.
    /// Every node decoded on the way is handed to `add`, for the caller's cache.
    func fetch(_ hash: Bytes32, depth: Int, top: Bytes32, add: (Bytes32, Node) -> Void) throws(StateError) -> Node {
        var found: Node?
        if let bytes = try record(hash) {
            try Self.decodeRecord(bytes, hash: hash) { h, n in add(h, n); if h == hash { found = n } }
            if let found { return found }
        }
        if !NodeBatch.isTop(depth: depth), top != hash, let bytes = try record(top) {
            try Self.decodeRecord(bytes, hash: top) { h, n in add(h, n); if h == hash { found = n } }
            if let found { return found }
        }
        throw StateError(.missingNode, hash.hex)
    }

    /// Decodes a stored record, handing each node it holds to `add`.
    static func decodeRecord(_ bytes: [UInt8], hash: Bytes32, add: (Bytes32, Node) -> Void) throws(StateError) {
        switch bytes.first {
        case NodeBatch.tag:
            for n in try NodeBatch.decode(bytes, hash: hash) { add(n.hash, .internal(left: n.left, right: n.right)) }
        default:
            let (key, valueHash) = try decodeLeaf(bytes, hash: hash)
            add(hash, .leaf(key: key, valueHash: valueHash))
        }
    }

    /// A leaf record: `0x00 || keyHash || valueHash || value`. (`0x01`, one internal node per
    /// record, was the layout before node batches; such a database is refused, never misread.)
    static func decodeLeaf(_ bytes: [UInt8], hash: Bytes32) throws(StateError) -> (key: Bytes32, valueHash: Bytes32) {
        guard bytes.count >= 65, bytes[0] == 0x00 else {
            let why = bytes.first == 0x01 ? " (a node stored on its own: a database of the older, unbatched layout)" : ""
            throw StateError(.corruptNode, hash.hex + why)
        }
        return (Bytes32(bytes[1..<33])!, Bytes32(bytes[33..<65])!)
    }

    static func encodeLeaf(key: Bytes32, valueHash: Bytes32, value: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(65 + value.count)
        out.append(0x00)
        key.withUnsafeBytes { out.append(contentsOf: $0) }
        valueHash.withUnsafeBytes { out.append(contentsOf: $0) }
        out.append(contentsOf: value)
        return out
    }

    /// The value of `keyHash` under `root`, read through the tree (any committed version).
    public func value(at root: Bytes32, keyHash: Bytes32) throws(StateError) -> [UInt8]? {
        var hash = root, top = root
        var depth = 0
        while hash != .zero {
            if NodeBatch.isTop(depth: depth) { top = hash }
            switch try load(hash, depth: depth, top: top) {
            case .internal(let l, let r):
                hash = keyHash.bit(depth) ? r : l
                depth += 1
            case .leaf(let k, _):
                guard k == keyHash else { return nil }
                return Array(try loadEncoded(hash).dropFirst(65))
            }
        }
        return nil
    }

    /// A proof for `keyHash` under `root`: inclusion if present, absence otherwise.
    public func proof(at root: Bytes32, keyHash: Bytes32) throws(StateError) -> StateProof {
        var siblings: [Bytes32] = []
        var hash = root, top = root
        var depth = 0
        while hash != .zero {
            if NodeBatch.isTop(depth: depth) { top = hash }
            switch try load(hash, depth: depth, top: top) {
            case .internal(let l, let r):
                if keyHash.bit(depth) { siblings.append(l); hash = r } else { siblings.append(r); hash = l }
                depth += 1
            case .leaf(let k, let vh):
                return StateProof(siblings: siblings, terminal: .leaf(keyHash: k, valueHash: vh))
            }
        }
        return StateProof(siblings: siblings, terminal: .empty)
    }

    // MARK: Writing

    /// What an updated subtree turned into; `existing` is an untouched subtree of unknown kind.
    private enum Subtree {
        case empty
        case leaf(Bytes32)
        case branch(Bytes32)
        case existing(Bytes32)

        var hash: Bytes32 {
            switch self {
            case .empty: .zero
            case .leaf(let h), .branch(let h), .existing(let h): h
            }
        }
    }

    /// An entry of a subtree being rebuilt: a new value, or an existing leaf carried along.
    private struct Entry {
        let keyHash: Bytes32
        let leafHash: Bytes32
        let encoded: [UInt8]?   // nil: the leaf already exists in storage
    }

    /// One worker's output: new leaves to store, new internal nodes (stored in batches once the
    /// whole update is known), and decoded nodes to add to the cache afterwards. Workers never
    /// touch the shared cache while they run, so two can rebuild disjoint subtrees at once.
    private struct Work: Sendable {
        var nodes: [(hash: Bytes32, encoded: [UInt8])] = []
        var created: [(hash: Bytes32, left: Bytes32, right: Bytes32)] = []
        var decoded: [(Bytes32, Node)] = []
        /// Nodes this worker read from storage, for its own later lookups (a batch holds fifteen).
        var loaded: [Bytes32: Node] = [:]
    }

    /// Batches smaller than this are not worth a second thread.
    public static let parallelThreshold = 512

    /// Applies `updates` (any order; a key may appear once) to the tree with root `root`.
    /// Nothing is written: the new nodes are returned for the caller to commit with the version.
    /// Large batches rebuild the root's two halves on two threads.
    public func apply(root: Bytes32, updates: [Update]) throws(StateError) -> Result {
        var sorted = updates.sorted { $0.keyHash < $1.keyHash }
        // Keep the last write of a key if the caller passed it twice.
        var deduped: [Update] = []
        deduped.reserveCapacity(sorted.count)
        for u in sorted {
            if let last = deduped.last, last.keyHash == u.keyHash { deduped[deduped.count - 1] = u } else { deduped.append(u) }
        }
        sorted = deduped

        var main = Work()
        let result: Subtree
        if sorted.count >= Self.parallelThreshold, root != .zero, case .internal(let l, let r) = try load(root, depth: 0, top: root) {
            let split = sorted[...].partitioningIndex { $0.keyHash.bit(0) }
            let outcomes = rebuildHalves([(l, sorted[..<split]), (r, sorted[split...])], top: root, snapshot: cache)
            let (left, lw) = try outcomes[0].get()
            let (right, rw) = try outcomes[1].get()
            for w in [lw, rw] {
                main.nodes.append(contentsOf: w.nodes)
                main.created.append(contentsOf: w.created)
                for (h, n) in w.decoded { cache[h] = n }
            }
            result = (left.hash == l && right.hash == r) ? .branch(root) : try join(left, right, depth: 1, top: root, &main, cache)
        } else {
            result = try update(.existing(root), depth: 0, top: root, sorted[...], &main, cache)
        }
        for (h, n) in main.decoded { cache[h] = n }
        if !main.created.isEmpty {
            main.nodes.append(contentsOf: try batches(newRoot: result.hash, oldRoot: root, created: main.created))
        }
        return Result(root: result.hash, newNodes: main.nodes, internalNodesCreated: main.created.count)
    }

    /// The batch records of an update: one for every new internal node at a depth that is a
    /// multiple of four, holding its batch's nodes, new and unchanged. Every node is read from the
    /// cache (where `apply` has just put the new ones), else from the old batch at the same
    /// position: an internal node never moves, its depth and its keys' prefix being fixed by what
    /// it holds. A boundary child is a new batch top when it is internal and differs from what
    /// stood at its position before. Each position's node is looked up once (this runs for every
    /// rewritten batch of every block: a dictionary per new node and repeated lookups cost 12% of a
    /// loaded localnet's CPU).
    private func batches(newRoot: Bytes32, oldRoot: Bytes32, created createdNodes: [(hash: Bytes32, left: Bytes32, right: Bytes32)]) throws(StateError) -> [(hash: Bytes32, encoded: [UInt8])] {
        var out: [(hash: Bytes32, encoded: [UInt8])] = []
        // The new nodes by hash, built only if one is missing from the cache (a cache smaller than
        // one update: tests with a starved cache).
        var new: [Bytes32: (Bytes32, Bytes32)]? = nil
        func created(_ h: Bytes32) -> (Bytes32, Bytes32)? {
            if new == nil { new = Dictionary(createdNodes.map { ($0.hash, ($0.left, $0.right)) }, uniquingKeysWith: { a, _ in a }) }
            return new![h]
        }
        func isInternal(_ h: Bytes32) -> Bool {
            switch cache.peek(h) {
            case .internal?: return true
            case .leaf?: return false
            case nil: return created(h) != nil
            }
        }
        guard newRoot != oldRoot, isInternal(newRoot) else { return out }
        // Batch tops to write, each with the hash that stood at its position before (nil: nothing or a leaf).
        var tops: [(Bytes32, Bytes32?)] = [(newRoot, oldRoot == .zero ? nil : oldRoot)]
        var hashes = [Bytes32](repeating: .zero, count: 32)
        var kids = [(Bytes32, Bytes32)?](repeating: nil, count: 32)
        var olds = [Bytes32?](repeating: nil, count: 32)
        while let (top, oldTop) = tops.popLast() {
            var old: [Bytes32: (Bytes32, Bytes32)]? = nil
            func children(_ h: Bytes32) throws(StateError) -> (Bytes32, Bytes32)? {
                if h == .zero { return nil }
                switch cache.peek(h) {
                case .internal(let l, let r)?: return (l, r)
                case .leaf?: return nil
                case nil: break
                }
                if let n = created(h) { return n }
                if old == nil {
                    old = [:]
                    if let oldTop {
                        // What stood here before was a leaf (its own record) or a batch top.
                        let bytes = try loadEncoded(oldTop)
                        if bytes.first == NodeBatch.tag {
                            for n in try NodeBatch.decode(bytes, hash: oldTop) { old![n.hash] = (n.left, n.right) }
                        } else {
                            _ = try Self.decodeLeaf(bytes, hash: oldTop)
                        }
                    }
                }
                return old![h]
            }
            var bitmap: UInt16 = 1 << 1
            hashes[1] = top; olds[1] = oldTop
            kids[1] = try children(top)
            for p in 1...15 where bitmap & (1 << p) != 0 {
                guard let (l, r) = kids[p] else { throw StateError(.corruptNode, "\(hashes[p].hex): batch position \(p) is not an internal node") }
                // What stood at the children's positions before: the same if this node is unchanged.
                var before: (Bytes32, Bytes32)? = nil
                if let o = olds[p] { before = o == hashes[p] ? (l, r) : try children(o) }
                for (c, h, o) in [(2 * p, l, before?.0), (2 * p + 1, r, before?.1)] {
                    hashes[c] = h; olds[c] = o; kids[c] = nil
                    guard h != .zero else { continue }
                    if c <= 15 {
                        // Changed or not, an internal child inside the batch is part of the record.
                        if let k = try children(h) { kids[c] = k; bitmap |= 1 << c }
                    } else if h != o, isInternal(h) {
                        tops.append((h, o == .zero ? nil : o))
                    }
                }
            }
            out.append((top, NodeBatch.encode(bitmap: bitmap, hashes: hashes)))
        }
        return out
    }

    /// Rebuilds the root's two halves on two threads, each reading the cache through `snapshot`.
    /// A function of its own so that the snapshot is gone when `apply` then adds nodes to the
    /// cache: held to the end of `apply`, it shared the cache's storage, and the first insertion
    /// copied the whole young generation (up to half a million nodes) at every block — 4% of a
    /// loaded localnet's CPU and its page faults, growing as the cache filled.
    private func rebuildHalves(_ halves: [(Bytes32, ArraySlice<Update>)], top: Bytes32, snapshot: NodeCache) -> [Swift.Result<(Subtree, Work), StateError>] {
        var outcomes = [Swift.Result<(Subtree, Work), StateError>](repeating: .failure(StateError(.backend, "not run")), count: 2)
        // Safe: during the parallel phase both workers only read the cache (the snapshot), read
        // storage (thread-safe for reads), and write their own slot of `outcomes`.
        nonisolated(unsafe) let tree = self
        outcomes.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let slots = slots
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                var work = Work()
                let (hash, slice) = halves[i]
                do throws(StateError) { slots[i] = .success((try tree.update(.existing(hash), depth: 1, top: top, slice, &work, snapshot), work)) }
                catch { slots[i] = .failure(error) }
            }
        }
        return outcomes
    }

    /// Reads a node for a worker (at `depth`, in the batch of `top`): from the cache snapshot, from
    /// what this worker already read, else from storage (noted for caching).
    private func peek(_ hash: Bytes32, depth: Int, top: Bytes32, _ work: inout Work, _ snapshot: NodeCache) throws(StateError) -> Node {
        if let n = snapshot.peek(hash) ?? work.loaded[hash] { return n }
        var decoded: [(Bytes32, Node)] = []
        let node = try fetch(hash, depth: depth, top: top) { decoded.append(($0, $1)) }
        for (h, n) in decoded { work.decoded.append((h, n)); work.loaded[h] = n }
        return node
    }

    /// `subtree` stands at `depth`; `top` is the top of its batch (itself at a multiple of four levels).
    private func update(_ subtree: Subtree, depth: Int, top parentTop: Bytes32, _ updates: ArraySlice<Update>,
                        _ work: inout Work, _ snapshot: NodeCache) throws(StateError) -> Subtree {
        if updates.isEmpty { return subtree }
        let hash = subtree.hash
        if hash == .zero {
            return build(depth: depth, entries(from: updates, carrying: nil)[...], &work)
        }
        let top = NodeBatch.isTop(depth: depth) ? hash : parentTop
        switch try peek(hash, depth: depth, top: top, &work, snapshot) {
        case .leaf(let k, let vh):
            return build(depth: depth, entries(from: updates, carrying: (k, hash, vh))[...], &work)
        case .internal(let l, let r):
            let split = updates.partitioningIndex { $0.keyHash.bit(depth) }
            let newLeft = try update(.existing(l), depth: depth + 1, top: top, updates[..<split], &work, snapshot)
            let newRight = try update(.existing(r), depth: depth + 1, top: top, updates[split...], &work, snapshot)
            if newLeft.hash == l && newRight.hash == r { return .branch(hash) }
            return try join(newLeft, newRight, depth: depth + 1, top: top, &work, snapshot)
        }
    }

    /// A parent of two updated subtrees (standing at `depth`, below the batch top `top`), collapsing
    /// a lone leaf upwards.
    private func join(_ left: Subtree, _ right: Subtree, depth: Int, top: Bytes32, _ work: inout Work, _ snapshot: NodeCache) throws(StateError) -> Subtree {
        switch (try resolve(left, depth: depth, top: top, &work, snapshot), try resolve(right, depth: depth, top: top, &work, snapshot)) {
        case (.empty, .empty): return .empty
        case (.leaf(let h), .empty), (.empty, .leaf(let h)): return .leaf(h)
        case (let l, let r): return internalNode(l.hash, r.hash, &work)
        }
    }

    private func internalNode(_ l: Bytes32, _ r: Bytes32, _ work: inout Work) -> Subtree {
        let h = Self.internalHash(l, r)
        work.created.append((h, l, r))
        work.decoded.append((h, .internal(left: l, right: r)))
        return .branch(h)
    }

    private func resolve(_ s: Subtree, depth: Int, top: Bytes32, _ work: inout Work, _ snapshot: NodeCache) throws(StateError) -> Subtree {
        guard case .existing(let h) = s else { return s }
        if h == .zero { return .empty }
        switch try peek(h, depth: depth, top: NodeBatch.isTop(depth: depth) ? h : top, &work, snapshot) {
        case .leaf: return .leaf(h)
        case .internal: return .branch(h)
        }
    }

    private func entries(from updates: ArraySlice<Update>, carrying leaf: (key: Bytes32, hash: Bytes32, valueHash: Bytes32)?) -> [Entry] {
        var out: [Entry] = []
        out.reserveCapacity(updates.count + 1)
        var carried = leaf
        for u in updates {
            if let c = carried, c.key < u.keyHash {
                out.append(Entry(keyHash: c.key, leafHash: c.hash, encoded: nil)); carried = nil
            } else if let c = carried, c.key == u.keyHash {
                carried = nil
                if let v = u.value, SHA256.hash(v) == c.valueHash {
                    out.append(Entry(keyHash: c.key, leafHash: c.hash, encoded: nil)); continue
                }
            }
            guard let v = u.value else { continue }
            let vh = SHA256.hash(v)
            out.append(Entry(keyHash: u.keyHash, leafHash: Self.leafHash(key: u.keyHash, valueHash: vh),
                             encoded: Self.encodeLeaf(key: u.keyHash, valueHash: vh, value: v)))
        }
        if let c = carried { out.append(Entry(keyHash: c.key, leafHash: c.hash, encoded: nil)) }
        return out
    }

    private func build(depth: Int, _ entries: ArraySlice<Entry>, _ work: inout Work) -> Subtree {
        switch entries.count {
        case 0: return .empty
        case 1:
            let e = entries[entries.startIndex]
            if let enc = e.encoded {
                work.nodes.append((e.leafHash, enc))
                work.decoded.append((e.leafHash, .leaf(key: e.keyHash, valueHash: Bytes32(enc[33..<65])!)))
            }
            return .leaf(e.leafHash)
        default:
            precondition(depth < 256, "two distinct keys cannot share all 256 bits")
            let split = entries.partitioningIndex { $0.keyHash.bit(depth) }
            let l = build(depth: depth + 1, entries[..<split], &work)
            let r = build(depth: depth + 1, entries[split...], &work)
            if case .empty = r, case .leaf = l { return l }
            if case .empty = l, case .leaf = r { return r }
            return internalNode(l.hash, r.hash, &work)
        }
    }
}

extension Collection {
    /// The first index whose element satisfies `predicate`, for a collection partitioned by it
    /// (all non-matching first). Binary search.
    func partitioningIndex(where predicate: (Element) -> Bool) -> Index {
        var low = startIndex
        var n = count
        while n > 0 {
            let half = n / 2
            let mid = index(low, offsetBy: half)
            if predicate(self[mid]) { n = half } else { low = index(after: mid); n -= half + 1 }
        }
        return low
    }
}

/// A bounded cache of decoded nodes: two generations, the older dropped when the newer fills,
/// so recently used nodes (the upper levels, touched by every update) stay in memory.
struct NodeCache: @unchecked Sendable {
    // @unchecked: shared across threads only as an immutable copy (see `SparseMerkleTree.apply`).
    private var young: [Bytes32: SparseMerkleTree.Node] = [:]
    private var old: [Bytes32: SparseMerkleTree.Node] = [:]
    private let generationCapacity: Int

    init(capacity: Int) { generationCapacity = max(capacity / 2, 16) }

    /// A lookup that does not promote: safe on a copy shared by concurrent readers.
    func peek(_ hash: Bytes32) -> SparseMerkleTree.Node? { young[hash] ?? old[hash] }

    subscript(hash: Bytes32) -> SparseMerkleTree.Node? {
        mutating get {
            if let n = young[hash] { return n }
            if let n = old[hash] { self[hash] = n; return n }
            return nil
        }
        set {
            guard let newValue else { return }
            if young.count >= generationCapacity {
                old = young
                // Sized once per generation: growing a large dictionary rehashes it repeatedly.
                young = Dictionary(minimumCapacity: generationCapacity)
            }
            if young.capacity == 0 { young.reserveCapacity(min(generationCapacity, 1 << 16)) }
            young[hash] = newValue
        }
    }
}
