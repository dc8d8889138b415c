import Foundation
public import MeridianCore
public import MeridianState
public import MeridianStorage
import Synchronization

/// What this node serves for others to join by state sync (issue 24 item 2): a snapshot of the
/// state at the latest height that is a multiple of `intervalHeights` and whose state version it
/// still keeps, in 2^`depth` chunks (`StateSnapshot`), and the audit log's leaves up to that height
/// in parts of `auditPart`. Everything is read from committed, versioned data (the tree's nodes are
/// content-addressed, the log append-only), so a snapshot stays the same while new blocks commit.
/// Manifests are computed once per height and kept. Callers: another node of the network (its key
/// a validator or a registered worker key: the keys P2P admits), never the public — the state holds
/// every patient's pseudonymous audit trail.
public final class SnapshotService: Sendable {
    public static let auditPart = 1 << 16
    public let store: BlockStore
    public let intervalHeights: UInt64
    public let depth: Int
    private let manifests = Mutex<[UInt64: StateSnapshot.Manifest]>([:])

    public init(store: BlockStore, intervalHeights: UInt64, depth: Int = 8) {
        self.store = store; self.intervalHeights = max(1, intervalHeights); self.depth = min(max(0, depth), StateSnapshot.maxDepth)
    }

    /// One snapshot offered: its height, its manifest, and the audit log's size there.
    public struct Offer: Codable, Sendable {
        public let height: UInt64
        /// The canonical manifest, hex.
        public let manifest: String
        public let auditLogSize: UInt64
        public let auditLogPart: Int
        public init(height: UInt64, manifest: String, auditLogSize: UInt64, auditLogPart: Int) {
            self.height = height; self.manifest = manifest; self.auditLogSize = auditLogSize; self.auditLogPart = auditLogPart
        }
    }

    /// The snapshots offered now: the latest height that is a multiple of the interval, if its
    /// state version is kept (none before the first such height).
    public func offers() throws -> [Offer] {
        let head = try store.headHeight()
        let height = head / intervalHeights * intervalHeights
        guard height >= 1, height >= (try store.stateKeptFrom()), try store.stateStorage.root(version: height) != nil,
              let header = try store.header(at: height) else { return [] }
        return [Offer(height: height, manifest: Hex.encode(try manifest(at: height).canonicalBytes), auditLogSize: header.auditLogSize, auditLogPart: Self.auditPart)]
    }

    public func manifest(at height: UInt64) throws -> StateSnapshot.Manifest {
        if let m = manifests.withLock({ $0[height] }) { return m }
        guard let root = try store.stateStorage.root(version: height), height >= (try store.stateKeptFrom()) else { throw SnapshotUnavailable(height: height) }
        let tree = SparseMerkleTree(storage: store.stateStorage, maxCachedNodes: 4096)
        let m = StateSnapshot.Manifest(version: height, root: root, depth: depth, chunks: try tree.snapshotSummaries(root: root, depth: depth))
        manifests.withLock { cache in
            cache[height] = m
            if cache.count > 4 { cache.remove(at: cache.index(forKey: cache.keys.min()!)!) }
        }
        return m
    }

    /// Chunk `index` of the snapshot at `height`, with each entry's raw key (`state.preimages`).
    public func chunk(at height: UInt64, index: Int) throws -> StateSnapshot.Chunk {
        let m = try manifest(at: height)
        guard index >= 0, index < m.chunks.count else { throw SnapshotUnavailable(height: height, chunk: index) }
        let tree = SparseMerkleTree(storage: store.stateStorage, maxCachedNodes: 4096)
        let leaves = try tree.snapshotLeaves(root: m.root, depth: m.depth, index: index)
        return StateSnapshot.Chunk(index: index, entries: try leaves.map { leaf in
            guard let key = try store.db.get("state.preimages", leaf.keyHash.bytes) else {
                throw BlockStoreError("state key \(leaf.keyHash.hex.prefix(16)) has no preimage: the database lacks state.preimages")
            }
            return StateSnapshot.Chunk.Entry(key: key, value: leaf.value)
        })
    }

    /// Part `part` of the audit log's leaves (entry hashes, 32 bytes each) up to the size at `height`.
    public func auditLog(at height: UInt64, part: Int) throws -> [UInt8] {
        guard let header = try store.header(at: height), height <= (try store.headHeight()) else { throw SnapshotUnavailable(height: height) }
        let first = UInt64(part) * UInt64(Self.auditPart)
        guard part >= 0, first < header.auditLogSize || (first == 0 && header.auditLogSize == 0) else { throw SnapshotUnavailable(height: height, chunk: part) }
        let end = min(first + UInt64(Self.auditPart), header.auditLogSize)
        var out: [UInt8] = []
        out.reserveCapacity(Int(end - first) * 32)
        var i = first
        while i < end {
            guard let h = try store.auditLog.entryHash(index: i) else { throw BlockStoreError("audit log entry \(i) is missing") }
            out.append(contentsOf: h.bytes)
            i += 1
        }
        return out
    }
}

/// A snapshot, chunk or part this node does not serve (not offered, or no longer kept).
public struct SnapshotUnavailable: Error, CustomStringConvertible {
    public let height: UInt64
    public var chunk: Int?
    public var description: String { "no snapshot at height \(height)\(chunk.map { " with part \($0)" } ?? "") is served here" }
}
