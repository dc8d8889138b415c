public import MeridianCore
public import MeridianVitals
public import MeridianStorage
import Synchronization

/// The workers' off-chain store of readings, in the node's RocksDB under column families of its
/// own, keyed by patient public key only (no names anywhere).
///
/// - `vitals`: patient (32) ‖ first reading time (8, big-endian) ‖ source id (8) → the batch.
/// - `vitals_sources`: source id (device ‖ sequence, or a hash of feed and message id) → the
///   batch's key and hash: de-duplication, and detection of a source that reuses an id for
///   different content.
/// - `vitals_devices`: device → `DeviceProgress` (high-water mark and gaps).
///
/// `persist` writes a group of batches in one synced RocksDB write and returns only after it is
/// on disk: callers acknowledge a reading only after `persist` returned, so an acknowledged
/// reading survives kill -9. Check-then-write runs under one lock, so a batch is never stored twice.
public final class ReadingStore: Sendable {
    public static let columns = ["vitals", "vitals_sources", "vitals_devices"]
    let db: RocksDB
    /// Where stored batches are queued for anchoring, in the same write (nil: not anchored).
    let anchors: AnchorStore?
    private let writeLock = Mutex(())

    public init(db: RocksDB, anchors: AnchorStore? = nil) { self.db = db; self.anchors = anchors }

    public enum Outcome: Sendable, Hashable {
        /// Stored now (key in `vitals`).
        case stored
        /// Already stored earlier with the same content: acknowledged again, not stored twice.
        case duplicate
        /// The source reused its id (device sequence, feed message id) for different content.
        case conflict
    }

    /// A source's identity for de-duplication.
    static func sourceID(_ source: ReadingSource) -> [UInt8] {
        switch source {
        case .device(let key, let sequence):
            var out: [UInt8] = [0]
            key.bytes32.withUnsafeBytes { out.append(contentsOf: $0) }
            withUnsafeBytes(of: sequence.bigEndian) { out.append(contentsOf: $0) }
            return out
        case .feed(let feed, let messageID):
            var w = CanonicalWriter()
            w.write(feed); w.write(messageID)
            var out: [UInt8] = [1]
            SHA256.hash(w.bytes).withUnsafeBytes { out.append(contentsOf: $0) }
            return out
        }
    }

    static func batchKey(_ b: ReadingBatch, sourceID: [UInt8]) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(48)
        b.patient.bytes32.withUnsafeBytes { key.append(contentsOf: $0) }
        let first = b.readings.map(\.time).min() ?? Timestamp.zero
        withUnsafeBytes(of: first.unixMilliseconds.bigEndian) { key.append(contentsOf: $0) }
        SHA256.hash(sourceID).withUnsafeBytes { key.append(contentsOf: $0.prefix(8)) }
        return key
    }

    static func deviceKey(_ d: PublicKey) -> [UInt8] { d.bytes32.withUnsafeBytes { Array($0) } }

    /// Persists batches (one synced write for all of them) and says, per batch, what happened.
    public func persist(_ batches: [ReadingBatch], sync: Bool = true) throws(RocksDBError) -> [Outcome] {
        try writeLock.withLock { _ throws(RocksDBError) -> [Outcome] in
            let wb = RocksDB.WriteBatch(for: db)
            var outcomes: [Outcome] = []
            var seenNow: [[UInt8]: Bytes32] = [:]
            var devices: [PublicKey: DeviceProgress] = [:]
            for b in batches {
                let sid = Self.sourceID(b.source)
                let bytes = b.canonicalBytes
                let hash = SHA256.hash(bytes)
                let previous: Bytes32?
                if let h = seenNow[sid] { previous = h }
                else if let stored = try db.get("vitals_sources", sid), stored.count >= 32 { previous = Bytes32(stored.suffix(32)) }
                else { previous = nil }
                if let previous { outcomes.append(previous == hash ? .duplicate : .conflict); continue }
                let key = Self.batchKey(b, sourceID: sid)
                wb.put("vitals", key, bytes)
                var sourceValue = key
                hash.withUnsafeBytes { sourceValue.append(contentsOf: $0) }
                wb.put("vitals_sources", sid, sourceValue)
                seenNow[sid] = hash
                if case .device(let device, let sequence) = b.source {
                    var progress: DeviceProgress?
                    if let p = devices[device] { progress = p } else { progress = try self.progress(of: device) }
                    if progress == nil { progress = DeviceProgress(first: sequence) } else { progress!.record(sequence) }
                    devices[device] = progress
                }
                outcomes.append(.stored)
            }
            for (device, p) in devices { wb.put("vitals_devices", Self.deviceKey(device), p.canonicalBytes) }
            // Stored batches join the anchoring queue in this same write: acknowledged means queued.
            anchors?.enqueue(.readings, leaves: zip(batches, outcomes).filter { $0.1 == .stored }.map { ($0.0.canonicalBytes, $0.0.readings.map(\.time).min() ?? .zero) }, in: wb)
            if outcomes.contains(.stored) { try db.write(wb, sync: sync) }
            return outcomes
        }
    }

    /// A device's high-water mark and gaps, if it ever sent a frame here.
    public func progress(of device: PublicKey) throws(RocksDBError) -> DeviceProgress? {
        guard let bytes = try db.get("vitals_devices", Self.deviceKey(device)) else { return nil }
        return try? DeviceProgress(trustedCanonicalBytes: bytes)
    }

    /// A patient's stored batches whose first reading is in [from, to], oldest first.
    public func batches(patient: PublicKey, from: Timestamp = .zero, to: Timestamp = Timestamp(unixMilliseconds: .max), limit: Int = 1000) throws(RocksDBError) -> [ReadingBatch] {
        let prefix = Self.deviceKey(patient)
        var start = prefix
        withUnsafeBytes(of: from.unixMilliseconds.bigEndian) { start.append(contentsOf: $0) }
        var out: [ReadingBatch] = []
        for (key, value) in try db.scan("vitals", prefix: prefix, from: start, limit: limit) {
            let t = key[32..<40].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard t <= to.unixMilliseconds else { break }
            if let b = try? ReadingBatch(trustedCanonicalBytes: value) { out.append(b) }
        }
        return out
    }
}
