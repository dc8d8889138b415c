public import MeridianCore
public import MeridianState
public import MeridianRuntime

/// Why the block store refused an operation.
public struct BlockStoreError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "blockstore: \(message)" }
}

/// Where a transaction landed.
public struct TransactionLocation: Hashable, Sendable, Canonical {
    public let height: UInt64
    public let index: UInt32
    public init(height: UInt64, index: UInt32) { self.height = height; self.index = index }
    public func encode(to w: inout CanonicalWriter) { w.write(varint: height); w.write(index) }
    public init(from r: inout CanonicalReader) throws(CodecError) { height = try r.readVarint("height"); index = try r.readUInt32("index") }
}

/// Blocks, their receipts and commit certificates, and indexes, in the same RocksDB database as the
/// state, so that a block and the state it produces are written in one synced batch: after a
/// crash either both are there or neither.
///
/// Column families: `blocks` (height → block), `receipts` (height → receipts), `commits`
/// (height → the certificate that finalised it), `block_index` (hash → height), `tx_index`
/// (transaction hash → height and index), and `meta` (shared with the state).
public final class BlockStore: @unchecked Sendable {
    // @unchecked: all state is in RocksDB, whose handles are thread-safe; this class has no mutable fields.
    /// `headers`: the headers of blocks whose bodies were pruned; `light_sets`: the validator-set
    /// entries with their proofs that light clients need at set changes whose state was pruned.
    public static let columns = ["blocks", "receipts", "commits", "block_index", "tx_index", "headers", "light_sets"] + AuditLogStore.columns
    static let bodiesFromKey = Array("prune.bodies_from".utf8)
    static let stateFromKey = Array("prune.state_from".utf8)
    static let headKey = Array("chain.head".utf8)
    static let genesisKey = Array("chain.genesis_header".utf8)

    public let db: RocksDB
    public let stateStorage: RocksDBStateStorage
    /// The audit log's tree (written with each block).
    public let auditLog: AuditLogStore

    /// Opens (or creates) the node database under `path`; `additionalColumns` are column families
    /// of other owners in the same database (the workers' reading store); `faults` is for tests
    /// of the failure policy (`StorageFaultPlan`).
    public init(path: String, additionalColumns: [String] = [], faults: StorageFaultPlan? = nil) throws(BlockStoreError) {
        do { db = try RocksDB(path: path, columnFamilies: RocksDBStateStorage.columns + Self.columns + additionalColumns, faults: faults) }
        catch { throw BlockStoreError(error.description) }
        stateStorage = RocksDBStateStorage(db: db)
        auditLog = AuditLogStore(db: db)
        // An older database is brought to this build's format (`DatabaseFormat`); a new one is stamped.
        let isNew: Bool
        do { isNew = try genesisHeader() == nil && (try stateStorage.latestVersion()) == nil && (try DatabaseFormat.read(db)) == 0 }
        catch { throw BlockStoreError("\(error)") }
        migrations = try DatabaseFormat.migrate(self, isNew: isNew)
    }

    /// The migrations opening this database ran (`DatabaseFormat`), for the node to log.
    public private(set) var migrations: [String] = []

    static func heightKey(_ h: UInt64) -> [UInt8] { withUnsafeBytes(of: h.bigEndian) { Array($0) } }

    private func get(_ column: String, _ key: [UInt8]) throws(BlockStoreError) -> [UInt8]? {
        do { return try db.get(column, key) } catch { throw BlockStoreError(error.description) }
    }

    private func decode<T: CanonicalDecodable>(_ type: T.Type, _ bytes: [UInt8]?, _ what: String) throws(BlockStoreError) -> T? {
        guard let bytes else { return nil }
        do { return try T(trustedCanonicalBytes: bytes) } catch { throw BlockStoreError("stored \(what) does not decode: \(error)") }
    }

    /// The genesis header (height 0), written by `init` of the node.
    public func genesisHeader() throws(BlockStoreError) -> BlockHeader? {
        try decode(BlockHeader.self, get("meta", Self.genesisKey), "genesis header")
    }

    public func storeGenesis(_ header: BlockHeader) throws(BlockStoreError) {
        let wb = RocksDB.WriteBatch(for: db)
        wb.put("meta", Self.genesisKey, header.canonicalBytes)
        wb.put("block_index", header.hash.bytes, Self.heightKey(0))
        do { try db.write(wb, sync: true) } catch { throw BlockStoreError(error.description) }
    }

    /// The height of the last committed block (0 = only genesis).
    public func headHeight() throws(BlockStoreError) -> UInt64 {
        guard let raw = try get("meta", Self.headKey) else { return 0 }
        guard raw.count == 8 else { throw BlockStoreError("head record is corrupt") }
        return raw.reduce(0) { $0 << 8 | UInt64($1) }
    }

    public func block(at height: UInt64) throws(BlockStoreError) -> Block? {
        try decode(Block.self, get("blocks", Self.heightKey(height)), "block \(height)")
    }

    public func header(at height: UInt64) throws(BlockStoreError) -> BlockHeader? {
        if height == 0 { return try genesisHeader() }
        if let b = try block(at: height) { return b.header }
        return try decode(BlockHeader.self, get("headers", Self.heightKey(height)), "header \(height)")
    }

    /// The lowest height whose block body and receipts are kept (1: nothing pruned).
    public func bodiesKeptFrom() throws(BlockStoreError) -> UInt64 { try meta(Self.bodiesFromKey) ?? 1 }
    /// The lowest state version kept (0: nothing pruned).
    public func stateKeptFrom() throws(BlockStoreError) -> UInt64 { try meta(Self.stateFromKey) ?? 0 }

    private func meta(_ key: [UInt8]) throws(BlockStoreError) -> UInt64? {
        guard let raw = try get("meta", key) else { return nil }
        guard raw.count == 8 else { throw BlockStoreError("meta record \(String(decoding: key, as: UTF8.self)) is corrupt") }
        return raw.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The validator-set entry and its proof at `height - 1` kept for a light client, when the
    /// block at `height` changed the set and the state of `height - 1` was pruned.
    public func lightSet(at height: UInt64) throws(BlockStoreError) -> (value: [UInt8], proof: [UInt8])? {
        guard let raw = try get("light_sets", Self.heightKey(height)) else { return nil }
        guard raw.count >= 4 else { throw BlockStoreError("light set \(height) is corrupt") }
        let n = Int(raw[0]) << 24 | Int(raw[1]) << 16 | Int(raw[2]) << 8 | Int(raw[3])
        guard raw.count >= 4 + n else { throw BlockStoreError("light set \(height) is corrupt") }
        return (Array(raw[4..<(4 + n)]), Array(raw[(4 + n)...]))
    }

    static func encodeLightSet(value: [UInt8], proof: [UInt8]) -> [UInt8] {
        let n = value.count
        return [UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + value + proof
    }

    public func height(ofBlock hash: Bytes32) throws(BlockStoreError) -> UInt64? {
        guard let raw = try get("block_index", hash.bytes), raw.count == 8 else { return nil }
        return raw.reduce(0) { $0 << 8 | UInt64($1) }
    }

    public func receipts(at height: UInt64) throws(BlockStoreError) -> [Receipt]? {
        try decode(CanonicalArray<Receipt>.self, get("receipts", Self.heightKey(height)), "receipts \(height)")?.items
    }

    /// The certificate that finalised block `height` (stored with it; also carried by block height + 1).
    public func commit(at height: UInt64) throws(BlockStoreError) -> CommitCertificate? {
        try decode(CommitCertificate.self, get("commits", Self.heightKey(height)), "commit \(height)")
    }

    public func location(ofTransaction hash: Bytes32) throws(BlockStoreError) -> TransactionLocation? {
        try decode(TransactionLocation.self, get("tx_index", hash.bytes), "transaction index")
    }

    /// The chain tip as the executor needs it.
    public func tip() throws(BlockStoreError) -> ChainTip? {
        let h = try headHeight()
        guard let header = try header(at: h) else { return nil }
        return ChainTip(height: h, hash: header.hash, time: header.time)
    }

    /// The block store's invariants for an append: heights follow one another, each block names its
    /// parent, the certificate is this block's, one receipt per transaction. A failure is a bug of
    /// this node: thrown (the node stops naming it), never written.
    public static func checkAppend(_ block: Block, receipts: Int, commit: CommitCertificate, head: UInt64, parentHash: Bytes32?) throws(InvariantViolation) {
        let h: UInt64 = block.header.height
        let named: String = block.header.parentHash.hex
        let actual: String = parentHash?.hex ?? "missing"
        try invariant(h == head + 1, "blocks.height_sequence", "appending height \(h) on \(head)")
        try invariant(parentHash == block.header.parentHash, "blocks.parent_hash", "block \(h) names parent \(named), block \(head) is \(actual)")
        let certified: Bool = commit.blockHash == block.hash && commit.height == h
        try invariant(certified, "blocks.certificate_matches", "certificate for \(commit.blockHash.hex) at \(commit.height), block \(block.hash.hex) at \(h)")
        let count: Int = block.transactions.count
        try invariant(receipts == count, "blocks.one_receipt_per_transaction", "\(receipts) receipts for \(count) transactions at \(h)")
    }

    /// Writes an executed block, its receipts, its commit certificate and its state in one synced batch.
    public func append(_ executed: ExecutedBlock, commit: CommitCertificate) throws(BlockStoreError) {
        let block = executed.block
        let h = block.header.height
        let head = try headHeight()
        let parentHash: Bytes32? = try header(at: head)?.hash
        do { try Self.checkAppend(block, receipts: executed.receipts.count, commit: commit, head: head, parentHash: parentHash) }
        catch { throw BlockStoreError(error.description) }
        let wb = RocksDB.WriteBatch(for: db)
        stateStorage.addState(executed.prepared.batch, to: wb)
        wb.put("blocks", Self.heightKey(h), block.canonicalBytes)
        wb.put("receipts", Self.heightKey(h), CanonicalArray(executed.receipts).canonicalBytes)
        wb.put("commits", Self.heightKey(h), commit.canonicalBytes)
        wb.put("block_index", block.hash.bytes, Self.heightKey(h))
        for (i, r) in executed.receipts.enumerated() {
            // Rejected transactions are not indexed: their hash may be submitted again, validly.
            if case .rejected = r.outcome { continue }
            wb.put("tx_index", r.transaction.bytes, TransactionLocation(height: h, index: UInt32(i)).canonicalBytes)
        }
        AuditLogStore.add(executed.auditLog, to: wb)
        wb.put("meta", Self.headKey, Self.heightKey(h))
        do { try db.write(wb, sync: true) } catch { throw BlockStoreError(error.description) }
        stateStorage.didWrite(executed.prepared.batch)
    }
}

/// A canonical array stored under one key.
public struct CanonicalArray<Element: Canonical>: Canonical {
    public var items: [Element]
    public init(_ items: [Element]) { self.items = items }
    public func encode(to w: inout CanonicalWriter) { w.write(items) }
    public init(from r: inout CanonicalReader) throws(CodecError) { items = try r.readArray(Element.self, "array", max: 1 << 20) }
}
