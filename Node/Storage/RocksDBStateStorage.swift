public import MeridianCore
public import MeridianState

/// The runtime's state on RocksDB: column `state.nodes` (tree nodes by hash), `state.values`
/// (latest value by raw key), `state.roots` (root by big-endian version), `state.preimages` (the
/// raw key of each key hash the tree holds: snapshot chunks carry raw keys) and `meta`.
///
/// `commit` writes a version in one synced batch, so a crash leaves either the whole version or
/// none of it. The node's block store shares the database and can add its own writes to the
/// same batch through `addState(_:to:)`.
public final class RocksDBStateStorage: StateStorage {
    public static let columns = ["state.nodes", "state.values", "state.roots", "state.preimages", "meta"]
    static let latestKey = Array("state.latest_version".utf8)

    public let db: RocksDB

    /// Committed values recently read or written (`CommittedValueCache`): every write of state
    /// values must be followed by `didWrite` once it is durable.
    private let committedValues = CommittedValueCache(capacity: cachedValueCapacity)
    /// At most this many values are cached (about 64 bytes each with their keys).
    public static let cachedValueCapacity = 1 << 16
    /// How many values are cached now (for tests of the bound).
    public var cachedValueCount: Int { committedValues.count }

    public init(db: RocksDB) { self.db = db }

    /// Opens a database holding only the state (tests and tools).
    public convenience init(path: String) throws(StateError) {
        do { self.init(db: try RocksDB(path: path, columnFamilies: Self.columns)) }
        catch { throw StateError(.backend, error.description) }
    }

    static func versionKey(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    public func node(_ hash: Bytes32) throws(StateError) -> [UInt8]? { try wrap { () throws(RocksDBError) in try db.get("state.nodes", hash.bytes) } }
    /// The latest committed value of `key`, through the node-wide cache of committed values.
    public func value(_ key: [UInt8]) throws(StateError) -> [UInt8]? {
        let generation: UInt64
        switch committedValues.lookup(key) {
        case .hit(let v): return v
        case .miss(let g): generation = g
        }
        let v = try wrap { () throws(RocksDBError) in try db.get("state.values", key) }
        committedValues.fill(key, v, ifGeneration: generation)
        return v
    }

    public func root(version: UInt64) throws(StateError) -> Bytes32? {
        guard let raw = try wrap({ () throws(RocksDBError) in try db.get("state.roots", Self.versionKey(version)) }) else { return nil }
        guard let r = Bytes32(raw) else { throw StateError(.corruptNode, "root of version \(version)") }
        return r
    }

    public func latestVersion() throws(StateError) -> UInt64? {
        guard let raw = try wrap({ () throws(RocksDBError) in try db.get("meta", Self.latestKey) }) else { return nil }
        guard raw.count == 8 else { throw StateError(.corruptNode, "latest version record") }
        return raw.reduce(0) { $0 << 8 | UInt64($1) }
    }

    public func commit(_ batch: StateBatch) throws(StateError) {
        if let latest = try latestVersion(), batch.version <= latest {
            throw StateError(.versionOrder, "version \(batch.version) after \(latest)")
        }
        let wb = RocksDB.WriteBatch(for: db)
        addState(batch, to: wb)
        try wrap { () throws(RocksDBError) in try db.write(wb, sync: true) }
        didWrite(batch)
    }

    /// A batch with `addState`'s writes is durable: its values replace the cached ones.
    public func didWrite(_ batch: StateBatch) { committedValues.committed(batch.values) }

    /// Adds a state version's writes to a batch the caller will write (atomically with its own).
    public func addState(_ batch: StateBatch, to wb: RocksDB.WriteBatch) {
        // Sorted keys let the memtable reuse its insertion point from one key to the next.
        for n in batch.nodes.sorted(by: { $0.hash < $1.hash }) { wb.put("state.nodes", n.hash.bytes, n.encoded) }
        for v in batch.values.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            if let value = v.value {
                wb.put("state.values", v.key, value)
                wb.put("state.preimages", StateProof.keyHash(v.key).bytes, v.key)
            } else { wb.delete("state.values", v.key) }
        }
        wb.put("state.roots", Self.versionKey(batch.version), batch.root.bytes)
        wb.put("meta", Self.latestKey, Self.versionKey(batch.version))
    }

    public func scan(prefix: [UInt8], from start: [UInt8]?, limit: Int) throws(StateError) -> [(key: [UInt8], value: [UInt8])] {
        try wrap { () throws(RocksDBError) in try db.scan("state.values", prefix: prefix, from: start, limit: limit) }
    }

    private func wrap<T>(_ body: () throws(RocksDBError) -> T) throws(StateError) -> T {
        do { return try body() } catch { throw StateError(.backend, error.description) }
    }
}
