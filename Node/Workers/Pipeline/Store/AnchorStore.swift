public import MeridianCore
public import MeridianModules
public import MeridianStorage
import Synchronization

/// What the workers have produced and not yet anchored, and what they anchored, in the node's
/// RocksDB. A result enters the queue in the same synced write that stores it (so nothing
/// acknowledged can escape anchoring, across any crash); an anchored batch keeps its leaf hashes so
/// any stored result can later be proven against its on-chain root.
///
/// - `anchor_queue`: kind (1) ‖ counter (8, big-endian) → leaf hash (32) ‖ result time (8)
/// - `anchor_meta`: `next/<kind>` and `cursor/<kind>` counters (the first not yet anchored)
/// - `anchor_batches`: root → the batch's leaf hashes, in order
/// - `anchor_leaves`: leaf hash → root ‖ index
public final class AnchorStore: Sendable {
    public static let columns = ["anchor_queue", "anchor_meta", "anchor_batches", "anchor_leaves"]
    let db: RocksDB
    private let next: Mutex<[AnchorKind: UInt64]>

    public init(db: RocksDB) throws(RocksDBError) {
        self.db = db
        var n: [AnchorKind: UInt64] = [:]
        for k in AnchorKind.allCases { n[k] = try Self.counter(db, "next", k) }
        next = Mutex(n)
    }

    static func metaKey(_ name: String, _ k: AnchorKind) -> [UInt8] { Array("\(name)/\(k.name)".utf8) }
    static func counter(_ db: RocksDB, _ name: String, _ k: AnchorKind) throws(RocksDBError) -> UInt64 {
        guard let v = try db.get("anchor_meta", metaKey(name, k)), v.count == 8 else { return 0 }
        return v.reduce(0) { $0 << 8 | UInt64($1) }
    }
    static func be(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    /// Adds results to the queue inside a write batch the caller commits (the same one that stores them).
    /// Callers hold their own write lock, so counters are taken in order.
    public func enqueue(_ kind: AnchorKind, leaves: [(leaf: [UInt8], time: Timestamp)], in wb: RocksDB.WriteBatch) {
        guard !leaves.isEmpty else { return }
        let first: UInt64 = next.withLock { n in defer { n[kind, default: 0] += UInt64(leaves.count) }; return n[kind, default: 0] }
        for (i, l) in leaves.enumerated() {
            var value: [UInt8] = []
            MerkleTree.leafHash(l.leaf).withUnsafeBytes { value.append(contentsOf: $0) }
            value += Self.be(l.time.unixMilliseconds)
            wb.put("anchor_queue", [kind.rawValue] + Self.be(first + UInt64(i)), value)
        }
        wb.put("anchor_meta", Self.metaKey("next", kind), Self.be(first + UInt64(leaves.count)))
    }

    /// Queued results not yet anchored, oldest first.
    public struct Pending: Sendable {
        public let kind: AnchorKind
        public let first: UInt64
        public let leafHashes: [Bytes32]
        public let from: Timestamp
        public let to: Timestamp
        public var last: UInt64 { first + UInt64(leafHashes.count) - 1 }
        public var root: Bytes32 { MerkleTree.root(leafHashes: leafHashes) }
    }

    public func pending(_ kind: AnchorKind, limit: Int) throws(RocksDBError) -> Pending? {
        let cursor = try Self.counter(db, "cursor", kind)
        let rows = try db.scan("anchor_queue", prefix: [kind.rawValue], from: [kind.rawValue] + Self.be(cursor), limit: limit)
        guard let firstRow = rows.first else { return nil }
        var hashes: [Bytes32] = [], times: [UInt64] = []
        for (_, v) in rows where v.count == 40 {
            hashes.append(Bytes32(v[0..<32])!)
            times.append(v[32..<40].reduce(0) { $0 << 8 | UInt64($1) })
        }
        let first = firstRow.key.dropFirst().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Pending(kind: kind, first: first, leafHashes: hashes,
                       from: Timestamp(unixMilliseconds: times.min() ?? 0), to: Timestamp(unixMilliseconds: times.max() ?? 0))
    }

    /// Records that `p` is anchored under its root: its leaves are kept for proofs, then the queue
    /// entries are dropped (one range tombstone) and the cursor moves past them in one synced write.
    /// The leaf index is written first in chunks of `leavesPerWrite`, each its own unsynced write:
    /// one write of a 100,000-result batch held RocksDB's write path for ~240 ms, and a critical
    /// reading's synced write waited behind it (BENCHMARKS.md). A crash between chunks leaves the
    /// cursor where it was: the same leaves give the same root, found on chain, and are written again.
    public func markAnchored(_ p: Pending) throws(RocksDBError) {
        let root = p.root
        var at = root.withUnsafeBytes { Array($0) }
        at += Self.be(0)
        for chunk in stride(from: 0, to: p.leafHashes.count, by: Self.leavesPerWrite) {
            let wb = RocksDB.WriteBatch(for: db)
            for i in chunk..<min(chunk + Self.leavesPerWrite, p.leafHashes.count) {
                at.replaceSubrange(32..<40, with: Self.be(UInt64(i)))
                wb.put("anchor_leaves", p.leafHashes[i].withUnsafeBytes { Array($0) }, at)
            }
            try db.write(wb, sync: false)
        }
        var leaves: [UInt8] = []
        leaves.reserveCapacity(p.leafHashes.count * 32)
        for h in p.leafHashes { h.withUnsafeBytes { leaves.append(contentsOf: $0) } }
        let wb = RocksDB.WriteBatch(for: db)
        wb.put("anchor_batches", root.withUnsafeBytes { Array($0) }, leaves)
        wb.deleteRange("anchor_queue", from: [p.kind.rawValue] + Self.be(p.first), to: [p.kind.rawValue] + Self.be(p.last + 1))
        wb.put("anchor_meta", Self.metaKey("cursor", p.kind), Self.be(p.last + 1))
        try db.write(wb, sync: true)   // also makes the unsynced leaf chunks durable (one WAL)
    }

    /// Leaf-index entries per write while marking a batch anchored.
    static let leavesPerWrite = 4_096

    /// Where a result (its leaf hash) was anchored: the root, its index, the batch size and the
    /// RFC 9162 inclusion proof. Nil while it is still queued.
    public struct Inclusion: Sendable, Hashable {
        public let root: Bytes32
        public let index: Int
        public let treeSize: Int
        public let path: [Bytes32]
    }

    public func inclusion(of leafHash: Bytes32) throws(RocksDBError) -> Inclusion? {
        guard let at = try db.get("anchor_leaves", leafHash.withUnsafeBytes { Array($0) }), at.count == 40,
              let root = Bytes32(at[0..<32]) else { return nil }
        let index = Int(at[32..<40].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        guard let packed = try db.get("anchor_batches", root.withUnsafeBytes { Array($0) }), packed.count % 32 == 0 else { return nil }
        let hashes = stride(from: 0, to: packed.count, by: 32).map { Bytes32(packed[$0..<($0 + 32)])! }
        guard index < hashes.count else { return nil }
        return Inclusion(root: root, index: index, treeSize: hashes.count, path: MerkleTree.inclusionProof(index: index, leafHashes: hashes))
    }

    /// How many results of `kind` wait for an anchor.
    public func queued(_ kind: AnchorKind) throws(RocksDBError) -> UInt64 {
        let n = next.withLock { $0[kind, default: 0] }
        return n - (try Self.counter(db, "cursor", kind))
    }
}
