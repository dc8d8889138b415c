public import MeridianCore
public import MeridianModules
public import MeridianTransparency

/// The audit log's tree beside the state (`AuditLog`): every complete subtree hash in column
/// `auditlog.hashes` (key: level byte, big-endian index) and every leaf's data, the entry hash, in
/// `auditlog.entries` (key: big-endian index). Written in the block's one synced batch, so the
/// tree on disk always matches the committed header's size and root. Everything a proof or a
/// tile needs is a point read: O(log n) per proof, 256 per tile, whatever the log's length.
public struct AuditLogStore: Sendable {
    /// `auditlog.positions`: entry hash → its index, so that whoever holds an entry (a patient, a
    /// regulator) can ask for its inclusion proof without knowing where the node appended it.
    public static let columns = ["auditlog.hashes", "auditlog.entries", "auditlog.positions"]
    let db: RocksDB

    public init(db: RocksDB) { self.db = db }

    static func hashKey(_ level: UInt8, _ index: UInt64) -> [UInt8] { [level] + withUnsafeBytes(of: index.bigEndian) { Array($0) } }
    static func entryKey(_ index: UInt64) -> [UInt8] { withUnsafeBytes(of: index.bigEndian) { Array($0) } }

    /// Adds a block's part of the log to the batch that commits the block.
    static func add(_ log: AuditLog.BlockAppend, to wb: RocksDB.WriteBatch) {
        for s in log.stored { wb.put("auditlog.hashes", hashKey(s.level, s.index), s.hash.bytes) }
        for (i, h) in log.entryHashes.enumerated() {
            wb.put("auditlog.entries", entryKey(log.firstIndex + UInt64(i)), h.bytes)
            wb.put("auditlog.positions", h.bytes, entryKey(log.firstIndex + UInt64(i)))
        }
    }

    /// The index of an entry hash in the log (nil: not appended). An entry hash covers its patient,
    /// sequence and transaction, so it appears once.
    public func index(ofEntryHash h: Bytes32) throws(BlockStoreError) -> UInt64? {
        let raw: [UInt8]?
        do { raw = try db.get("auditlog.positions", h.bytes) } catch { throw BlockStoreError(error.description) }
        guard let raw else { return nil }
        guard raw.count == 8 else { throw BlockStoreError("audit log position of \(h.hex.prefix(16)) is corrupt") }
        return raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// Fills `auditlog.positions` for the first `size` leaves where a data directory written before
    /// the column existed lacks it (checked on the last leaf; one write batch).
    public func indexPositions(size: UInt64) throws(BlockStoreError) {
        guard size > 0, let last = try entryHash(index: size - 1), try index(ofEntryHash: last) == nil else { return }
        let wb = RocksDB.WriteBatch(for: db)
        for i in 0..<size {
            guard let h = try entryHash(index: i) else { throw BlockStoreError("audit log entry \(i) is missing below size \(size)") }
            wb.put("auditlog.positions", h.bytes, Self.entryKey(i))
        }
        do { try db.write(wb, sync: true) } catch { throw BlockStoreError(error.description) }
    }

    public func storedHash(level: UInt8, index: UInt64) throws(BlockStoreError) -> Bytes32? {
        let raw: [UInt8]?
        do { raw = try db.get("auditlog.hashes", Self.hashKey(level, index)) } catch { throw BlockStoreError(error.description) }
        guard let raw else { return nil }
        guard let h = Bytes32(raw) else { throw BlockStoreError("audit log hash \(level)/\(index) is corrupt") }
        return h
    }

    public func entryHash(index: UInt64) throws(BlockStoreError) -> Bytes32? {
        let raw: [UInt8]?
        do { raw = try db.get("auditlog.entries", Self.entryKey(index)) } catch { throw BlockStoreError(error.description) }
        guard let raw else { return nil }
        guard let h = Bytes32(raw) else { throw BlockStoreError("audit log entry \(index) is corrupt") }
        return h
    }

    /// The tree of the first `size` leaves (any size up to the committed one), for proofs.
    public func tree(size: UInt64) -> StoredHashTree {
        StoredHashTree(size: size) { level, index in try storedHash(level: level, index: index) }
    }

    /// A tile or entry bundle of the tree of `size` leaves (c2sp.org/tlog-tiles), nil if that tree
    /// does not hold it: a width beyond what the level has at that size, or nothing there at all.
    public func resource(_ path: TilePath, size: UInt64) throws(BlockStoreError) -> [UInt8]? {
        switch path {
        case .hashes(let l, let n, let w):
            guard l <= 7 else { return nil }   // 256^8 leaves: beyond any log
            let available = size >> UInt64(8 * l)
            guard n < UInt64.max / 256, n * 256 + UInt64(w) <= available else { return nil }
            var out = [UInt8]()
            out.reserveCapacity(32 * w)
            for i in 0..<UInt64(w) {
                guard let h = try storedHash(level: UInt8(8 * l), index: n * 256 + i) else {
                    throw BlockStoreError("audit log hash \(8 * l)/\(n * 256 + i) is missing below size \(size)")
                }
                out += h.bytes
            }
            return out
        case .entries(let n, let w):
            guard n < UInt64.max / 256, n * 256 + UInt64(w) <= size else { return nil }
            var out = [UInt8]()
            out.reserveCapacity(34 * w)
            for i in 0..<UInt64(w) {
                guard let h = try entryHash(index: n * 256 + i) else { throw BlockStoreError("audit log entry \(n * 256 + i) is missing below size \(size)") }
                out += [0, 32] + h.bytes
            }
            return out
        }
    }
}
