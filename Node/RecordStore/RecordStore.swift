public import MeridianCore
public import MeridianRecordMessages
import Synchronization
public import MeridianStorage
public import MeridianModules

/// The custodian's record bodies (FHIR IPS documents and other clinical records), encrypted at rest,
/// each with a key of its own (AES-256-GCM), in the node's RocksDB:
/// - `record_bodies`: commitment → nonce (12) ‖ sealed body (AAD: the commitment);
/// - `record_keys`: commitment → nonce (12) ‖ the record key and salt sealed under the node's
///   storage key (AAD: the commitment), so the database alone decrypts nothing;
/// - `record_erased`: commitment → erasure time (a body and its key are deleted, the fact kept);
/// - `record_held`: commitment → how this node holds the record (`Holding`: custodian, or a copy
///   received from the custodian's node for one of its clinicians);
/// - `record_erasure_acks`: commitment ‖ organisation → the recipient node's signed acknowledgement
///   that it deleted its copy (kept by the custodian);
/// - `record_translations`: commitment ‖ time (8) ‖ output hash prefix (8) → the summary served
///   (`TranslationLeaf`), also queued for anchoring in the same write.
/// A body is served only if SHA-256(body) with its salt reproduces the commitment the chain holds.
public final class RecordStore: Sendable {
    public static let columns = ["record_bodies", "record_keys", "record_erased", "record_held", "record_erasure_acks", "record_translations"]
    let db: RocksDB
    let storageKey: Bytes32
    /// The largest record body accepted (a summary of thousands of entries is far smaller).
    public static let maxBodyBytes = RecordMessages.maxBodyBytes

    /// Storage faults to inject (tests of the failure policy; nil in production).
    let faults: StorageFaults?

    public init(db: RocksDB, storageKey: Bytes32, faults: StorageFaults? = nil) { self.db = db; self.storageKey = storageKey; self.faults = faults }

    public struct Stored: Sendable, Equatable {
        public let commitment: Bytes32
        public let salt: Bytes32
        public let recordKey: Bytes32
    }

    /// Why a record operation failed (defined with the messages, which open payloads too).
    public typealias RecordError = MeridianRecordMessages.RecordError

    /// How this node holds a record.
    public struct Holding: Hashable, Sendable, Canonical {
        /// True at the custodian; false for a copy received from the custodian's node.
        public let custodian: Bool
        /// The custodian organisation (for a copy: where it came from).
        public let from: OrganizationID
        public let since: Timestamp
        public init(custodian: Bool, from: OrganizationID, since: Timestamp) { self.custodian = custodian; self.from = from; self.since = since }
        public func encode(to w: inout CanonicalWriter) { w.write(custodian); w.write(from); w.write(since) }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            custodian = try r.readBool("held.custodian"); from = try r.read(OrganizationID.self); since = try r.read(Timestamp.self)
        }
    }

    /// Encrypts and stores `body` (synced) under a fresh salt and key; returns its commitment (to
    /// register on chain), salt and key. `holding` says whose record it is (nil: unrecorded, for tests).
    public func store(_ body: [UInt8], holding: Holding? = nil) throws(RecordError) -> Stored {
        guard body.count <= Self.maxBodyBytes else { throw .tooLarge(body.count) }
        let salt: Bytes32, recordKey: Bytes32
        do { salt = try SecureRandom.bytes32(); recordKey = try SecureRandom.bytes32() } catch { throw .storage("\(error)") }
        let stored = Stored(commitment: RecordEntry.commitment(salt: salt, bodyHash: SHA256.hash(body)), salt: salt, recordKey: recordKey)
        try write(stored, body: body, holding: holding)
        return stored
    }

    /// Stores a copy received from the custodian's node under the custodian's salt and key, after
    /// checking it against its commitment.
    public func storeCopy(_ body: [UInt8], salt: Bytes32, recordKey: Bytes32, commitment: Bytes32, holding: Holding) throws(RecordError) {
        guard body.count <= Self.maxBodyBytes else { throw .tooLarge(body.count) }
        guard RecordEntry.commitment(salt: salt, bodyHash: SHA256.hash(body)) == commitment else { throw .commitmentMismatch }
        try write(Stored(commitment: commitment, salt: salt, recordKey: recordKey), body: body, holding: holding)
    }

    private func write(_ stored: Stored, body: [UInt8], holding: Holding?) throws(RecordError) {
        do {
            let aad = stored.commitment.bytes
            let bodyNonce = try SecureRandom.bytes(AES256GCM.nonceSize), keyNonce = try SecureRandom.bytes(AES256GCM.nonceSize)
            let sealedBody = try AES256GCM.seal(body, key: stored.recordKey, nonce: bodyNonce, aad: aad)
            let sealedKey = try AES256GCM.seal(stored.recordKey.bytes + stored.salt.bytes, key: storageKey, nonce: keyNonce, aad: aad)
            let wb = RocksDB.WriteBatch(for: db)
            wb.put("record_bodies", aad, bodyNonce + sealedBody)
            wb.put("record_keys", aad, keyNonce + sealedKey)
            if let holding { wb.put("record_held", aad, holding.canonicalBytes) }
            try db.write(wb, sync: true)
        } catch {
            throw .storage("\(error)")
        }
    }

    /// The record key and salt of a record held here.
    public func secrets(of commitment: Bytes32) throws(RecordError) -> (recordKey: Bytes32, salt: Bytes32) {
        let key = commitment.bytes
        let sealedKey: [UInt8]?, erased: [UInt8]?
        do { sealedKey = try db.get("record_keys", key); erased = try db.get("record_erased", key) } catch { throw .storage("\(error)") }
        if erased != nil { throw .erased }
        guard let sealedKey else { throw .unknown }
        let n = AES256GCM.nonceSize
        guard sealedKey.count > n,
              let secrets = try? AES256GCM.open(Array(sealedKey.dropFirst(n)), key: storageKey, nonce: Array(sealedKey.prefix(n)), aad: key),
              secrets.count == 64, let recordKey = Bytes32(secrets[0..<32]), let salt = Bytes32(secrets[32..<64]) else {
            throw .corrupt("the record key does not decrypt with this node's storage key")
        }
        return (recordKey, salt)
    }

    /// How this node holds or held a record (kept after an erasure; nil: never held here).
    public func holding(of commitment: Bytes32) throws(RecordError) -> Holding? {
        try faults?.check("holding")
        do { return try db.get("record_held", commitment.bytes).flatMap { try? Holding(canonicalBytes: $0) } } catch { throw .storage("\(error)") }
    }

    /// Every record held here (custodian or copy) with how it is held.
    public func held() throws(RecordError) -> [(commitment: Bytes32, holding: Holding)] {
        do {
            return try db.scan("record_held", prefix: [], limit: 1_000_000).compactMap { k, v in
                guard let c = Bytes32(k), let h = try? Holding(canonicalBytes: v) else { return nil }
                return (c, h)
            }
        } catch { throw .storage("\(error)") }
    }

    /// When a record was erased here, if it was.
    public func erasedAt(_ commitment: Bytes32) throws(RecordError) -> Timestamp? {
        let v: [UInt8]?
        do { v = try db.get("record_erased", commitment.bytes) } catch { throw .storage("\(error)") }
        guard let v, v.count == 8 else { return nil }
        return Timestamp(unixMilliseconds: v.reduce(0) { $0 << 8 | UInt64($1) })
    }

    /// The database the store lives in (for writes that span the store and the anchor queue).
    public var database: RocksDB { db }

    /// Records a summary served, in the caller's write batch (which also queues its anchor leaf).
    public func recordServed(_ leaf: TranslationLeaf, in wb: RocksDB.WriteBatch) {
        let key = leaf.record.bytes + withUnsafeBytes(of: leaf.time.unixMilliseconds.bigEndian) { Array($0) } + Array(leaf.output.bytes.prefix(8))
        wb.put("record_translations", key, leaf.canonicalBytes)
    }

    /// The summaries served of a record, oldest first.
    public func served(_ commitment: Bytes32, limit: Int = 1000) throws(RecordError) -> [TranslationLeaf] {
        do { return try db.scan("record_translations", prefix: commitment.bytes, limit: limit).compactMap { try? TranslationLeaf(canonicalBytes: $0.value) } }
        catch { throw .storage("\(error)") }
    }

    /// Keeps a recipient node's acknowledgement of an erasure.
    public func recordAcknowledgement(_ ack: ErasureAcknowledgement, from organization: OrganizationID) throws(RecordError) {
        let wb = RocksDB.WriteBatch(for: db)
        wb.put("record_erasure_acks", ack.record.bytes + Array(organization.value.utf8), ack.canonicalBytes)
        do { try db.write(wb, sync: true) } catch { throw .storage("\(error)") }
    }

    /// The acknowledgements of a record's erasure, by organisation.
    public func acknowledgements(of commitment: Bytes32) throws(RecordError) -> [OrganizationID: ErasureAcknowledgement] {
        try faults?.check("acknowledgements")
        do {
            var out: [OrganizationID: ErasureAcknowledgement] = [:]
            for (k, v) in try db.scan("record_erasure_acks", prefix: commitment.bytes, limit: 10_000) {
                guard let org = OrganizationID(String(decoding: k.dropFirst(32), as: UTF8.self)), let ack = try? ErasureAcknowledgement(canonicalBytes: v) else { continue }
                out[org] = ack
            }
            return out
        } catch { throw .storage("\(error)") }
    }

    /// The decrypted body, checked against its commitment.
    public func body(of commitment: Bytes32) throws(RecordError) -> [UInt8] {
        let key = commitment.withUnsafeBytes { Array($0) }
        let sealedBody: [UInt8]?, sealedKey: [UInt8]?, erased: [UInt8]?
        do {
            sealedBody = try db.get("record_bodies", key); sealedKey = try db.get("record_keys", key); erased = try db.get("record_erased", key)
        } catch { throw .storage("\(error)") }
        if erased != nil { throw .erased }
        guard let sealedBody, let sealedKey else { throw .unknown }
        let n = AES256GCM.nonceSize
        guard sealedKey.count > n, sealedBody.count > n,
              let secrets = try? AES256GCM.open(Array(sealedKey.dropFirst(n)), key: storageKey, nonce: Array(sealedKey.prefix(n)), aad: key),
              secrets.count == 64, let recordKey = Bytes32(secrets[0..<32]), let salt = Bytes32(secrets[32..<64]) else {
            throw .corrupt("the record key does not decrypt with this node's storage key")
        }
        guard let body = try? AES256GCM.open(Array(sealedBody.dropFirst(n)), key: recordKey, nonce: Array(sealedBody.prefix(n)), aad: key) else {
            throw .corrupt("the body does not decrypt with its key")
        }
        guard RecordEntry.commitment(salt: salt, bodyHash: SHA256.hash(body)) == commitment else { throw .commitmentMismatch }
        return body
    }

    /// Deletes a body and its key (synced) and remembers that it was erased. Returns whether there
    /// was a body to delete.
    @discardableResult
    public func erase(_ commitment: Bytes32, at time: Timestamp) throws(RecordError) -> Bool {
        try faults?.check("erase")
        let key = commitment.withUnsafeBytes { Array($0) }
        let had: Bool
        do { had = try db.get("record_keys", key) != nil } catch { throw .storage("\(error)") }
        let wb = RocksDB.WriteBatch(for: db)
        wb.delete("record_bodies", key)
        wb.delete("record_keys", key)
        wb.put("record_erased", key, withUnsafeBytes(of: time.unixMilliseconds.bigEndian) { Array($0) })
        do { try db.write(wb, sync: true) } catch { throw .storage("\(error)") }
        return had
    }
}

/// Failures to inject into a store's operations by name ("holding", "erase", "acknowledgements"): each named operation
/// fails the next `count` times it runs. For tests of the failure policy; thread-safe.
public final class StorageFaults: Sendable {
    private let pending = Mutex<[String: Int]>([:])
    public init() {}
    public func fail(_ operation: String, times count: Int = 1) { pending.withLock { $0[operation, default: 0] += count } }
    func check(_ operation: String) throws(RecordStore.RecordError) {
        let fail = pending.withLock { p in
            guard let n = p[operation], n > 0 else { return false }
            p[operation] = n - 1
            return true
        }
        if fail { throw .storage("injected failure of \(operation)") }
    }
}
