public import MeridianCore

/// The on-disk format of a node's database, and the migrations from each older format (issue 24
/// item 5). The format number is in `meta` (`db.format`); a database without it predates the
/// number (format 0). A release that changes what the database holds adds a migration here with
/// the next number: opening the database (the node's start, or a tool) runs every pending one in
/// order, each writing its format number only after its own writes, so a migration interrupted by
/// a crash runs again from its start (each is idempotent). A database of a newer format than this
/// build knows is refused: an older release must not misread what a newer one wrote.
///
/// The chain's own data never migrates here: the state and blocks are consensus data, changed only
/// by governance (upgrade plans at a height). These are the node's local indexes beside them.
public enum DatabaseFormat {
    /// The format this build writes.
    public static let current: UInt64 = 2
    static let key = Array("db.format".utf8)

    /// One step: what it adds, and how.
    struct Migration: Sendable {
        let format: UInt64
        let name: String
        let run: @Sendable (BlockStore) throws(BlockStoreError) -> Void
    }

    static let migrations: [Migration] = [
        // An entry hash → index column, so that whoever holds an audit entry can ask for its proof.
        Migration(format: 1, name: "audit log positions (auditlog.positions)") { store throws(BlockStoreError) in
            if let head = try store.header(at: try store.headHeight()) { try store.auditLog.indexPositions(size: head.auditLogSize) }
        },
        // The raw key of every state key hash, so that snapshot chunks can carry raw keys (state sync):
        // filled from the latest values; from now on written with every committed version.
        Migration(format: 2, name: "state key preimages (state.preimages)") { store throws(BlockStoreError) in
            var start: [UInt8]? = nil
            while true {
                let page: [(key: [UInt8], value: [UInt8])]
                do { page = try store.db.scan("state.values", prefix: [], from: start, limit: 50_000) } catch { throw BlockStoreError("\(error)") }
                guard !page.isEmpty else { return }
                let wb = RocksDB.WriteBatch(for: store.db)
                for (k, _) in page { wb.put("state.preimages", SHA256.hash(k).bytes, k) }
                do { try store.db.write(wb, sync: true) } catch { throw BlockStoreError("\(error)") }
                start = page.last!.key + [0]
            }
        },
    ]

    /// The database's format (0: from before the number was kept).
    public static func read(_ db: RocksDB) throws(BlockStoreError) -> UInt64 {
        let raw: [UInt8]?
        do { raw = try db.get("meta", key) } catch { throw BlockStoreError(error.description) }
        guard let raw else { return 0 }
        guard raw.count == 8 else { throw BlockStoreError("the database format record is corrupt") }
        return raw.reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func write(_ format: UInt64, _ db: RocksDB) throws(BlockStoreError) {
        let wb = RocksDB.WriteBatch(for: db)
        wb.put("meta", key, withUnsafeBytes(of: format.bigEndian) { Array($0) })
        do { try db.write(wb, sync: true) } catch { throw BlockStoreError(error.description) }
    }

    /// Brings `store`'s database to `current`; returns the names of the migrations it ran. A new
    /// database (nothing written yet) is stamped with `current` at once.
    static func migrate(_ store: BlockStore, isNew: Bool) throws(BlockStoreError) -> [String] {
        if isNew { try write(current, store.db); return [] }
        let found = try read(store.db)
        guard found <= current else {
            throw BlockStoreError("this database is of format \(found), written by a newer release; this build reads up to format \(current): run the release that wrote it")
        }
        var ran: [String] = []
        for m in migrations where m.format > found {
            try m.run(store)
            try write(m.format, store.db)
            ran.append("format \(m.format): \(m.name)")
        }
        return ran
    }
}
