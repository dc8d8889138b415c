import Foundation
public import MeridianCore
public import MeridianRisk
public import MeridianModules
public import MeridianStorage

/// The risk worker's results, off chain in the node's RocksDB (`risk_assessments`: patient ‖ time ‖
/// hash prefix → record) and queued for anchoring in the same write. Written without an fsync of
/// their own: an assessment is recomputable from the stored (synced) readings, and the next synced
/// write of the database makes it durable; once written it is anchored like any result.
public final class AssessmentStore: Sendable {
    public static let columns = ["risk_assessments", "risk_profiles", "risk_alerts", "risk_alert_deliveries"]
    let db: RocksDB
    let anchors: AnchorStore?

    public init(db: RocksDB, anchors: AnchorStore?) { self.db = db; self.anchors = anchors }

    public func store(_ a: AssessmentRecord) throws(RocksDBError) {
        let bytes = a.canonicalBytes
        let wb = RocksDB.WriteBatch(for: db)
        wb.put("risk_assessments", Self.resultKey(a.patient, a.time, SHA256.hash(bytes)), bytes)
        anchors?.enqueue(.assessments, leaves: [(bytes, a.time)], in: wb)
        try db.write(wb, sync: false)
    }

    /// Stores an alert (synced: it is delivered only after this returns), queues it for anchoring
    /// and queues one audit record per recipient, all in one write: a crash cannot leave a
    /// delivered alert unrecorded or unanchored.
    public func storeAlert(_ alert: AlertRecord, deliveries: [AlertDelivery]) throws(RocksDBError) {
        let bytes = alert.canonicalBytes
        let hash = SHA256.hash(bytes)
        let wb = RocksDB.WriteBatch(for: db)
        wb.put("risk_alerts", Self.resultKey(alert.patient, alert.time, hash), bytes)
        for d in deliveries {
            var dk = hash.withUnsafeBytes { Array($0) }
            dk.append(contentsOf: Array(d.recipient.value.utf8))
            wb.put("risk_alert_deliveries", dk, d.canonicalBytes)
        }
        anchors?.enqueue(.alerts, leaves: [(bytes, alert.time)], in: wb)
        try db.write(wb, sync: true)
    }

    /// A patient's stored alerts, oldest first.
    public func alerts(patient: PublicKey, limit: Int = 100) throws(RocksDBError) -> [AlertRecord] {
        let prefix = patient.bytes32.withUnsafeBytes { Array($0) }
        return try db.scan("risk_alerts", prefix: prefix, limit: limit).compactMap { try? AlertRecord(trustedCanonicalBytes: $0.value) }
    }

    /// Stored alerts of every patient at or after `since`, at most `limit`, newest first, and how
    /// many stored rows did not decode (read back by the escalator after a restart: a scan of the
    /// alert column, bounded by `scanLimit` rows).
    public func recentAlerts(since: Timestamp, limit: Int, scanLimit: Int = 200_000) throws(RocksDBError) -> (alerts: [AlertRecord], unreadable: Int) {
        var out: [AlertRecord] = []
        var unreadable = 0
        for entry in try db.scan("risk_alerts", prefix: [], limit: scanLimit) {
            let a: AlertRecord
            do { a = try AlertRecord(trustedCanonicalBytes: entry.value) } catch { unreadable += 1; continue }
            if a.time >= since { out.append(a) }
        }
        return (Array(out.sorted { $0.time > $1.time }.prefix(limit)), unreadable)
    }

    /// Deliveries whose audit transaction is still to be submitted.
    public func pendingDeliveries(limit: Int) throws(RocksDBError) -> [(key: [UInt8], delivery: AlertDelivery)] {
        try db.scan("risk_alert_deliveries", prefix: [], limit: limit).compactMap { entry in
            (try? AlertDelivery(canonicalBytes: entry.value)).map { (entry.key, $0) }
        }
    }

    public func deliveryRecorded(_ key: [UInt8]) throws(RocksDBError) {
        let wb = RocksDB.WriteBatch(for: db)
        wb.delete("risk_alert_deliveries", key)
        try db.write(wb, sync: false)
    }

    /// Stores a patient's risk profile (synced: the hospital was told it is kept).
    public func storeProfile(_ profile: RiskProfile, of patient: PublicKey) throws(RocksDBError) {
        let key = patient.bytes32.withUnsafeBytes { Array($0) }
        let bytes = (try? JSONEncoder().encode(profile)).map(Array.init) ?? []
        let wb = RocksDB.WriteBatch(for: db)
        wb.put("risk_profiles", key, bytes)
        try db.write(wb, sync: true)
    }

    /// Every stored risk profile (read once when the risk worker starts).
    public func profiles() throws(RocksDBError) -> [PublicKey: RiskProfile] {
        var out: [PublicKey: RiskProfile] = [:]
        for entry in try db.scan("risk_profiles", prefix: [], limit: Int.max) {
            guard let key = Bytes32(entry.key).flatMap({ try? PublicKey($0) }),
                  let profile = try? JSONDecoder().decode(RiskProfile.self, from: Data(entry.value)) else { continue }
            out[key] = profile
        }
        return out
    }

    /// patient ‖ time (big-endian) ‖ first 8 bytes of the hash: a patient's results in time order.
    private static func resultKey(_ patient: PublicKey, _ time: Timestamp, _ hash: Bytes32) -> [UInt8] {
        var key: [UInt8] = []
        patient.bytes32.withUnsafeBytes { key.append(contentsOf: $0) }
        withUnsafeBytes(of: time.unixMilliseconds.bigEndian) { key.append(contentsOf: $0) }
        hash.withUnsafeBytes { key.append(contentsOf: $0.prefix(8)) }
        return key
    }

    /// A patient's stored assessments, oldest first.
    public func assessments(patient: PublicKey, limit: Int = 100) throws(RocksDBError) -> [AssessmentRecord] {
        let prefix = patient.bytes32.withUnsafeBytes { Array($0) }
        return try db.scan("risk_assessments", prefix: prefix, limit: limit).compactMap { try? AssessmentRecord(trustedCanonicalBytes: $0.value) }
    }
}
