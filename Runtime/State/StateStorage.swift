public import MeridianCore

/// Why the state could not be read or written.
public struct StateError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case missingNode = "state.missing_node"
        case corruptNode = "state.corrupt_node"
        case unknownVersion = "state.unknown_version"
        case versionOrder = "state.version_out_of_order"
        case backend = "state.backend"
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) { self.code = code; self.detail = detail }
    public var description: String { "\(code.rawValue): \(detail)" }
    public static func == (l: StateError, r: StateError) -> Bool { l.code == r.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}

/// Everything one committed version adds to storage, written atomically.
public struct StateBatch: Sendable {
    public let version: UInt64
    public let root: Bytes32
    /// New tree nodes by hash (content-addressed, never overwritten).
    public let nodes: [(hash: Bytes32, encoded: [UInt8])]
    /// Latest values by raw key; nil deletes.
    public let values: [(key: [UInt8], value: [UInt8]?)]

    public init(version: UInt64, root: Bytes32, nodes: [(hash: Bytes32, encoded: [UInt8])], values: [(key: [UInt8], value: [UInt8]?)]) {
        self.version = version; self.root = root; self.nodes = nodes; self.values = values
    }
}

/// The seam between the deterministic runtime and a disk: RocksDB in the node
/// (`MeridianStorage.RocksDBStateStorage`), a dictionary in tests (`InMemoryStateStorage`).
///
/// Implementations must make `commit` atomic and durable before returning: after a crash either
/// the whole version is there or none of it.
public protocol StateStorage: AnyObject {
    func node(_ hash: Bytes32) throws(StateError) -> [UInt8]?
    func value(_ key: [UInt8]) throws(StateError) -> [UInt8]?
    func root(version: UInt64) throws(StateError) -> Bytes32?
    func latestVersion() throws(StateError) -> UInt64?
    func commit(_ batch: StateBatch) throws(StateError)
    /// Latest values whose raw key starts with `prefix`, in key order, from `start` (inclusive), at most `limit`.
    func scan(prefix: [UInt8], from start: [UInt8]?, limit: Int) throws(StateError) -> [(key: [UInt8], value: [UInt8])]
}

/// A dictionary-backed storage for tests and tools. Not durable.
public final class InMemoryStateStorage: StateStorage {
    private var nodes: [Bytes32: [UInt8]] = [:]
    private var values: [RawKey: [UInt8]] = [:]
    private var roots: [UInt64: Bytes32] = [:]
    private var latest: UInt64?

    public init() {}

    public func node(_ hash: Bytes32) -> [UInt8]? { nodes[hash] }
    public func value(_ key: [UInt8]) -> [UInt8]? { values[RawKey(key)] }
    public func root(version: UInt64) -> Bytes32? { roots[version] }
    public func latestVersion() -> UInt64? { latest }

    public func commit(_ batch: StateBatch) throws(StateError) {
        if let latest, batch.version <= latest {
            throw StateError(.versionOrder, "version \(batch.version) after \(latest)")
        }
        for n in batch.nodes { nodes[n.hash] = n.encoded }
        for v in batch.values { values[RawKey(v.key)] = v.value }
        roots[batch.version] = batch.root
        latest = batch.version
    }

    public func scan(prefix: [UInt8], from start: [UInt8]?, limit: Int) -> [(key: [UInt8], value: [UInt8])] {
        let matching = values.filter { entry in
            entry.key.bytes.starts(with: prefix) && (start.map { !entry.key.bytes.lexicographicallyPrecedes($0) } ?? true)
        }
        return matching.sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }.prefix(limit).map { ($0.key.bytes, $0.value) }
    }

    public var nodeCount: Int { nodes.count }
    /// Every stored tree record with its hash (tests of the layout).
    public func allNodes() -> [(Bytes32, [UInt8])] { nodes.map { ($0.key, $0.value) } }
}
