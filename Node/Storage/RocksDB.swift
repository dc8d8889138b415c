internal import CRocksDB
import Foundation
import Synchronization

/// Why RocksDB refused an operation: its own message, kept verbatim, with the database's path so an
/// operator reading the stop message knows which files to look at.
public struct RocksDBError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let message: String
    public var path: String = ""
    public var description: String { path.isEmpty ? "rocksdb.\(operation): \(message)" : "rocksdb.\(operation) on \(path): \(message)" }
}

/// A storage fault to inject, for tests of the failure policy: the `n`th write (`write:n`, every
/// write batch) or the `n`th synced write (`sync:n`) since the database was opened fails as a
/// disk would, before RocksDB sees the batch (so nothing of it is applied). Set on a real node
/// with `MERIDIAN_INJECT_STORAGE_FAULT=sync:12`; a node with a plan logs it as a warning at start.
///
/// Hand-written because RocksDB's C API does not expose its fault-injection environment.
public final class StorageFaultPlan: Sendable {
    public enum Kind: String, Sendable { case write, sync }
    public let kind: Kind
    public let failAt: Int
    private let seen = Atomic<Int>(0)

    public init(kind: Kind, failAt: Int) { self.kind = kind; self.failAt = failAt }

    /// Parses `write:N` or `sync:N` (N ≥ 1), or says why it cannot.
    public static func parse(_ text: String) -> Result<StorageFaultPlan, RocksDBError> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let kind = Kind(rawValue: String(parts[0])), let n = Int(parts[1]), n >= 1 else {
            return .failure(RocksDBError(operation: "fault_plan", message: "'\(text)' is not write:N or sync:N with N ≥ 1"))
        }
        return .success(StorageFaultPlan(kind: kind, failAt: n))
    }

    /// Counts this write; true when it is the one to fail.
    func failsNext(sync: Bool) -> Bool {
        guard kind == .write || sync else { return false }
        return seen.add(1, ordering: .relaxed).newValue == failAt
    }

    public var description: String { "\(kind.rawValue):\(failAt)" }
}

/// One RocksDB database with named column families, through the C API.
///
/// Owns every handle it creates and frees them in `deinit`; every call that reports an error is
/// checked; no C pointer leaves this file. Writes go through `WriteBatch`es applied atomically,
/// synced to disk when asked (the node syncs every commit so nothing finalised is lost on a crash).
/// RocksDB's own handles are thread-safe; this class adds no mutable state after `init`.
public final class RocksDB: @unchecked Sendable {
    private let db: OpaquePointer
    private let options: OpaquePointer
    private let columnOptions: OpaquePointer
    private let readOptions: OpaquePointer
    private let syncWrite: OpaquePointer
    private let plainWrite: OpaquePointer
    private let families: [String: OpaquePointer]
    private let familyHandles: [OpaquePointer?]
    public let path: String
    private let faults: StorageFaultPlan?

    /// Opens (creating if needed) the database at `path` with these column families; `faults`
    /// makes one later write fail (tests of the failure policy only).
    public init(path: String, columnFamilies: [String], faults: StorageFaultPlan? = nil) throws(RocksDBError) {
        self.path = path
        self.faults = faults
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        catch { throw RocksDBError(operation: "open", message: "cannot create \(path): \(error.localizedDescription)") }
        let opts = rocksdb_options_create()!
        rocksdb_options_set_create_if_missing(opts, 1)
        rocksdb_options_set_create_missing_column_families(opts, 1)
        rocksdb_options_increase_parallelism(opts, 2)
        rocksdb_options_set_max_open_files(opts, 512)
        let cfOpts = rocksdb_options_create()!
        rocksdb_options_optimize_level_style_compaction(cfOpts, 64 << 20)

        let names = ["default"] + columnFamilies
        var cNames: [UnsafePointer<CChar>?] = names.map { UnsafePointer(strdup($0)) }
        defer { for p in cNames { free(UnsafeMutablePointer(mutating: p)) } }
        var cOpts: [OpaquePointer?] = names.map { _ in cfOpts }
        var handles = [OpaquePointer?](repeating: nil, count: names.count)
        var err: UnsafeMutablePointer<CChar>?
        let handle = rocksdb_open_column_families(opts, path, Int32(names.count), &cNames, &cOpts, &handles, &err)
        if let err {
            let message = String(cString: err)
            rocksdb_free(err)
            rocksdb_options_destroy(cfOpts)
            rocksdb_options_destroy(opts)
            throw RocksDBError(operation: "open", message: message, path: path)
        }
        db = handle!
        options = opts
        columnOptions = cfOpts
        readOptions = rocksdb_readoptions_create()
        syncWrite = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(syncWrite, 1)
        plainWrite = rocksdb_writeoptions_create()
        familyHandles = handles
        var map: [String: OpaquePointer] = [:]
        for (i, n) in names.enumerated() { map[n] = handles[i]! }
        families = map
    }

    deinit {
        for h in familyHandles { if let h { rocksdb_column_family_handle_destroy(h) } }
        rocksdb_close(db)
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_writeoptions_destroy(syncWrite)
        rocksdb_writeoptions_destroy(plainWrite)
        rocksdb_options_destroy(columnOptions)
        rocksdb_options_destroy(options)
    }

    /// A consistent copy of the database as of now in `directory` (which must not exist), while it
    /// stays open for reads and writes: RocksDB's Checkpoint (memtables flushed first, then the live
    /// files hard-linked where the file system allows, else copied). Each block is one atomic write
    /// batch, so the copy holds whole blocks only.
    public func checkpoint(to directory: String) throws(RocksDBError) {
        var err: UnsafeMutablePointer<CChar>?
        let checkpoint = rocksdb_checkpoint_object_create(db, &err)
        if let err { let m = String(cString: err); rocksdb_free(err); throw RocksDBError(operation: "checkpoint", message: m, path: path) }
        defer { rocksdb_checkpoint_object_destroy(checkpoint) }
        rocksdb_checkpoint_create(checkpoint, directory, 0, &err)   // 0: always flush the memtables first
        if let err { let m = String(cString: err); rocksdb_free(err); throw RocksDBError(operation: "checkpoint", message: m, path: directory) }
    }

    /// Compacts a column family's whole key range now (deleted entries' space is given back once
    /// the files holding them are rewritten; RocksDB would get to it in its own time).
    public func compact(_ column: String) {
        rocksdb_compact_range_cf(db, family(column), nil, 0, nil, 0)
    }

    /// The keys of `column` from `start` (inclusive; nil: the first), at most `limit`, in order.
    public func keys(_ column: String, from start: [UInt8]?, limit: Int) throws(RocksDBError) -> [[UInt8]] {
        let it = rocksdb_create_iterator_cf(db, readOptions, family(column))!
        defer { rocksdb_iter_destroy(it) }
        if let start, !start.isEmpty {
            start.withUnsafeBufferPointer { s in s.baseAddress!.withMemoryRebound(to: CChar.self, capacity: s.count) { rocksdb_iter_seek(it, $0, s.count) } }
        } else {
            rocksdb_iter_seek_to_first(it)
        }
        var out: [[UInt8]] = []
        while out.count < limit, rocksdb_iter_valid(it) != 0 {
            var kl = 0
            let kp = rocksdb_iter_key(it, &kl)!
            out.append(kp.withMemoryRebound(to: UInt8.self, capacity: max(kl, 1)) { Array(UnsafeBufferPointer(start: $0, count: kl)) })
            rocksdb_iter_next(it)
        }
        var err: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(it, &err)
        if let err { let m = String(cString: err); rocksdb_free(err); throw RocksDBError(operation: "scan", message: m, path: path) }
        return out
    }

    private func family(_ name: String) -> OpaquePointer {
        guard let f = families[name] else { preconditionFailure("column family '\(name)' was not opened") }
        return f
    }

    public func get(_ column: String, _ key: [UInt8]) throws(RocksDBError) -> [UInt8]? {
        var length = 0
        var err: UnsafeMutablePointer<CChar>?
        let value = key.withUnsafeBufferPointer { k in
            k.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(key.count, 1)) { kp in
                rocksdb_get_cf(db, readOptions, family(column), kp, key.count, &length, &err)
            }
        }
        if let err { let m = String(cString: err); rocksdb_free(err); throw RocksDBError(operation: "get", message: m, path: path) }
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return value.withMemoryRebound(to: UInt8.self, capacity: max(length, 1)) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// A set of puts and deletes applied atomically by `write`.
    public final class WriteBatch {
        fileprivate let handle: OpaquePointer
        private let db: RocksDB

        public init(for db: RocksDB) { self.db = db; handle = rocksdb_writebatch_create() }
        deinit { rocksdb_writebatch_destroy(handle) }

        public func put(_ column: String, _ key: [UInt8], _ value: [UInt8]) {
            key.withUnsafeBufferPointer { k in
                value.withUnsafeBufferPointer { v in
                    k.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(key.count, 1)) { kp in
                        v.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(value.count, 1)) { vp in
                            rocksdb_writebatch_put_cf(handle, db.family(column), kp, key.count, vp, value.count)
                        }
                    }
                }
            }
        }

        /// Deletes every key of `column` in [start, end) with one range tombstone (not one per key).
        public func deleteRange(_ column: String, from start: [UInt8], to end: [UInt8]) {
            start.withUnsafeBufferPointer { s in
                end.withUnsafeBufferPointer { e in
                    s.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(start.count, 1)) { sp in
                        e.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(end.count, 1)) { ep in
                            rocksdb_writebatch_delete_range_cf(handle, db.family(column), sp, start.count, ep, end.count)
                        }
                    }
                }
            }
        }

        public func delete(_ column: String, _ key: [UInt8]) {
            key.withUnsafeBufferPointer { k in
                k.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(key.count, 1)) { kp in
                    rocksdb_writebatch_delete_cf(handle, db.family(column), kp, key.count)
                }
            }
        }

        public var count: Int { Int(rocksdb_writebatch_count(handle)) }
    }

    /// Applies `batch` atomically; with `sync`, returns only once it is on disk.
    public func write(_ batch: WriteBatch, sync: Bool) throws(RocksDBError) {
        if let faults, faults.failsNext(sync: sync) {
            throw RocksDBError(operation: sync ? "write.sync" : "write", message: "injected fault (\(faults.description)): IO error: no space left on device", path: path)
        }
        var err: UnsafeMutablePointer<CChar>?
        rocksdb_write(db, sync ? syncWrite : plainWrite, batch.handle, &err)
        if let err { let m = String(cString: err); rocksdb_free(err); throw RocksDBError(operation: sync ? "write.sync" : "write", message: m, path: path) }
    }

    /// Entries of `column` whose key starts with `prefix`, from `start` (inclusive), in key order.
    public func scan(_ column: String, prefix: [UInt8], from start: [UInt8]? = nil, limit: Int) throws(RocksDBError) -> [(key: [UInt8], value: [UInt8])] {
        let it = rocksdb_create_iterator_cf(db, readOptions, family(column))!
        defer { rocksdb_iter_destroy(it) }
        let seek = start.map { $0.lexicographicallyPrecedes(prefix) ? prefix : $0 } ?? prefix
        seek.withUnsafeBufferPointer { s in
            s.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: max(seek.count, 1)) { rocksdb_iter_seek(it, $0, seek.count) }
            } ?? rocksdb_iter_seek_to_first(it)
        }
        var out: [(key: [UInt8], value: [UInt8])] = []
        while out.count < limit, rocksdb_iter_valid(it) != 0 {
            var kl = 0, vl = 0
            let kp = rocksdb_iter_key(it, &kl)!
            let key = kp.withMemoryRebound(to: UInt8.self, capacity: max(kl, 1)) { Array(UnsafeBufferPointer(start: $0, count: kl)) }
            guard key.starts(with: prefix) else { break }
            let vp = rocksdb_iter_value(it, &vl)!
            let value = vp.withMemoryRebound(to: UInt8.self, capacity: max(vl, 1)) { Array(UnsafeBufferPointer(start: $0, count: vl)) }
            out.append((key, value))
            rocksdb_iter_next(it)
        }
        var err: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(it, &err)
        if let err { let m = String(cString: err); rocksdb_free(err); throw RocksDBError(operation: "scan", message: m, path: path) }
        return out
    }
}
