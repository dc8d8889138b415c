public import MeridianCore

/// The runtime's authenticated key-value state: latest values for fast reads, a sparse Merkle
/// tree for roots and proofs, versioned by block height.
///
/// Execution writes into a `StateView`; `prepare` turns the view's writes into the next version's
/// root and nodes without touching storage (validators do this to check a proposal), and
/// `commit` writes a prepared version atomically.
public final class AuthenticatedState {
    public let storage: any StateStorage
    public let tree: SparseMerkleTree
    public private(set) var version: UInt64?
    public private(set) var root: Bytes32
    /// Latest values recently read or written (nil = known absent), so hot entries (organisations,
    /// parameters, nonces) do not go to disk on every transaction. Bounded; updated on commit.
    private var valueCache: ValueCache
    /// The values of the version whose write to storage is under way (`willWrite`), read first.
    private var unwrittenValues: [RawKey: [UInt8]?] = [:]
    /// That version (nil when every version is written).
    public private(set) var unwrittenVersion: UInt64?

    /// Opens the state at the latest committed version (or empty, before genesis).
    public init(storage: any StateStorage, maxCachedNodes: Int = 1 << 20) throws(StateError) {
        self.storage = storage
        self.tree = SparseMerkleTree(storage: storage, maxCachedNodes: maxCachedNodes)
        self.valueCache = ValueCache(capacity: max(maxCachedNodes / 4, 1024))
        let latest = try storage.latestVersion()
        version = latest
        if let latest {
            guard let r = try storage.root(version: latest) else { throw StateError(.unknownVersion, "no root for \(latest)") }
            root = r
            // Reading the root's record refuses, with its reason, a database of another layout.
            if r != .zero { _ = try tree.load(r, depth: 0, top: r) }
        } else {
            root = SparseMerkleTree.emptyRoot
        }
    }

    /// The latest committed value of a raw key.
    public func value(_ key: [UInt8]) throws(StateError) -> [UInt8]? {
        if !unwrittenValues.isEmpty, let unwritten = unwrittenValues[RawKey(key)] { return unwritten }
        if let cached = valueCache[key] { return cached }
        let v = try storage.value(key)
        valueCache[key] = .some(v)
        return v
    }

    /// A fresh view over the latest committed state.
    public func view() -> StateView { StateView(state: self) }

    /// A version computed but not yet written.
    public struct Prepared: Sendable {
        public let version: UInt64
        public let root: Bytes32
        public let batch: StateBatch
        /// Binary internal nodes the version created (stored four levels to a record in `batch`).
        public let internalNodesCreated: Int
    }

    /// Computes the root that committing `view`'s writes as `version` would give.
    public func prepare(_ view: StateView, version newVersion: UInt64) throws(StateError) -> Prepared {
        if let version, newVersion != version + 1 {
            throw StateError(.versionOrder, "version \(newVersion) does not follow \(version)")
        }
        let writes = view.blockWrites
        var updates: [SparseMerkleTree.Update] = []
        updates.reserveCapacity(writes.count)
        var values: [(key: [UInt8], value: [UInt8]?)] = []
        values.reserveCapacity(writes.count)
        for (k, v) in writes {
            updates.append(.init(keyHash: StateProof.keyHash(k.bytes), value: v))
            values.append((k.bytes, v))
        }
        let result = try tree.apply(root: root, updates: updates)
        let batch = StateBatch(version: newVersion, root: result.root, nodes: result.newNodes, values: values)
        return Prepared(version: newVersion, root: result.root, batch: batch, internalNodesCreated: result.internalNodesCreated)
    }

    /// Writes a prepared version. Must be the one prepared on top of the current version.
    public func commit(_ prepared: Prepared) throws(StateError) {
        try storage.commit(prepared.batch)
        didCommit(prepared)
    }

    /// Marks a version written by someone else in the same atomic batch (the node's block store
    /// writes block and state together) as the current one.
    public func didCommit(_ prepared: Prepared) {
        version = prepared.version
        root = prepared.root
        for v in prepared.batch.values { valueCache[v.key] = .some(v.value) }
    }

    /// `prepared` becomes the current version while its write to storage is under way (the node
    /// writes block *h* while it executes *h + 1*): until `didWrite`, its values and tree records are
    /// read from memory, since the storage does not hold them yet and the caches are bounded. One
    /// version at a time: the caller waits for a write before it hands over the next.
    public func willWrite(_ prepared: Prepared) throws(StateError) {
        if let unwrittenVersion {
            throw StateError(.versionOrder, "version \(prepared.version) handed over while version \(unwrittenVersion) is still being written")
        }
        didCommit(prepared)
        unwrittenVersion = prepared.version
        var values: [RawKey: [UInt8]?] = [:]
        values.reserveCapacity(prepared.batch.values.count)
        for v in prepared.batch.values { values[RawKey(v.key)] = .some(v.value) }
        unwrittenValues = values
        var records: [Bytes32: [UInt8]] = [:]
        records.reserveCapacity(prepared.batch.nodes.count)
        for n in prepared.batch.nodes { records[n.hash] = n.encoded }
        tree.unwritten = records
    }

    /// The version `willWrite` handed over is in storage now: reads go there again.
    public func didWrite(version: UInt64) {
        guard unwrittenVersion == version else { return }
        unwrittenVersion = nil
        unwrittenValues = [:]
        tree.unwritten = [:]
    }

    public func root(at version: UInt64) throws(StateError) -> Bytes32 {
        guard let r = try storage.root(version: version) else { throw StateError(.unknownVersion, "\(version)") }
        return r
    }

    /// The value of a raw key at a committed version, with its proof against that version's root.
    public func proof(_ key: [UInt8], at version: UInt64? = nil) throws(StateError) -> (value: [UInt8]?, proof: StateProof, root: Bytes32) {
        let r = try version.map { v throws(StateError) in try root(at: v) } ?? root
        let keyHash = StateProof.keyHash(key)
        return (try tree.value(at: r, keyHash: keyHash), try tree.proof(at: r, keyHash: keyHash), r)
    }
}

/// A read-write view for executing one block: writes are buffered per transaction (so a failed
/// transaction leaves nothing behind) and per block (so the block can be prepared and discarded).
public final class StateView {
    let state: AuthenticatedState
    private(set) var blockWrites: [RawKey: [UInt8]?] = [:]
    private var txWrites: [RawKey: [UInt8]?] = [:]

    init(state: AuthenticatedState) { self.state = state }

    public func get(_ key: [UInt8]) throws(StateError) -> [UInt8]? {
        let k = RawKey(key)
        if let v = txWrites[k] { return v }
        if let v = blockWrites[k] { return v }
        return try state.value(key)
    }

    public func set(_ key: [UInt8], _ value: [UInt8]) { txWrites[RawKey(key)] = .some(value) }
    public func delete(_ key: [UInt8]) { txWrites[RawKey(key)] = .some(nil) }

    /// Keeps the current transaction's writes.
    public func commitTransaction() {
        for (k, v) in txWrites { blockWrites[k] = v }
        txWrites.removeAll(keepingCapacity: true)
    }

    /// Drops the current transaction's writes.
    public func rollbackTransaction() { txWrites.removeAll(keepingCapacity: true) }

    public var pendingWriteCount: Int { blockWrites.count + txWrites.count }
}

/// A bounded two-generation cache of latest values by raw key (see `NodeCache`).
struct ValueCache {
    private var young: [RawKey: [UInt8]?] = [:]
    private var old: [RawKey: [UInt8]?] = [:]
    private let generationCapacity: Int

    init(capacity: Int) { generationCapacity = max(capacity / 2, 16) }

    /// `.some(nil)`: known absent; `nil`: not cached.
    subscript(key: [UInt8]) -> [UInt8]?? {
        mutating get {
            let k = RawKey(key)
            if let v = young[k] { return .some(v) }
            if let v = old[k] { self[key] = .some(v); return .some(v) }
            return nil
        }
        set {
            guard let newValue else { return }
            if young.count >= generationCapacity { old = young; young = [:] }
            young[RawKey(key)] = .some(newValue)
        }
    }
}

/// A raw state key as a dictionary key, hashed as one block of bytes (an `[UInt8]` key would be
/// fed to the hasher byte by byte, which dominated execution profiles).
struct RawKey: Hashable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    static func == (l: RawKey, r: RawKey) -> Bool { l.bytes == r.bytes }
}
