public import MeridianCore
public import MeridianStorage
public import MeridianModules

/// The custodian's record bodies (FHIR IPS documents and other clinical records), encrypted at rest,
/// each with a key of its own (AES-256-GCM), in the node's RocksDB:
/// - `record_bodies`: commitment → nonce (12) ‖ sealed body (AAD: the commitment);
/// - `record_keys`: commitment → nonce (12) ‖ the record key and salt sealed under the node's
///   storage key (AAD: the commitment), so the database alone decrypts nothing;
/// - `record_erased`: commitment → erasure time (a body and its key are deleted, the fact kept).
/// A body is served only if SHA-256(body) with its salt reproduces the commitment the chain holds.
public final class RecordStore: Sendable {
    public static let columns = ["record_bodies", "record_keys", "record_erased"]
    let db: RocksDB
    let storageKey: Bytes32
    /// The largest record body accepted (a summary of thousands of entries is far smaller).
    public static let maxBodyBytes = 16 << 20

    public init(db: RocksDB, storageKey: Bytes32) { self.db = db; self.storageKey = storageKey }

    public struct Stored: Sendable, Equatable {
        public let commitment: Bytes32
        public let salt: Bytes32
        public let recordKey: Bytes32
    }

    public enum RecordError: Error, Equatable, Sendable {
        case tooLarge(Int)
        case unknown
        case erased
        /// The stored body or key does not decrypt, or the body does not match its commitment.
        case corrupt(String)
        case storage(String)
    }

    /// Encrypts and stores `body` (synced); returns its commitment (to register on chain), salt and key.
    public func store(_ body: [UInt8]) throws(RecordError) -> Stored {
        guard body.count <= Self.maxBodyBytes else { throw .tooLarge(body.count) }
        do {
            let salt = try SecureRandom.bytes32(), recordKey = try SecureRandom.bytes32()
            let commitment = RecordEntry.commitment(salt: salt, bodyHash: SHA256.hash(body))
            let aad = commitment.withUnsafeBytes { Array($0) }
            let bodyNonce = try SecureRandom.bytes(AES256GCM.nonceSize), keyNonce = try SecureRandom.bytes(AES256GCM.nonceSize)
            let sealedBody = try AES256GCM.seal(body, key: recordKey, nonce: bodyNonce, aad: aad)
            let secrets = recordKey.withUnsafeBytes { Array($0) } + salt.withUnsafeBytes { Array($0) }
            let sealedKey = try AES256GCM.seal(secrets, key: storageKey, nonce: keyNonce, aad: aad)
            let wb = RocksDB.WriteBatch(for: db)
            wb.put("record_bodies", aad, bodyNonce + sealedBody)
            wb.put("record_keys", aad, keyNonce + sealedKey)
            try db.write(wb, sync: true)
            return Stored(commitment: commitment, salt: salt, recordKey: recordKey)
        } catch let error as RocksDBError {
            throw .storage("\(error)")
        } catch {
            throw .storage("\(error)")
        }
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
        guard RecordEntry.commitment(salt: salt, bodyHash: SHA256.hash(body)) == commitment else {
            throw .corrupt("the body does not match its commitment")
        }
        return body
    }

    /// Deletes a body and its key (synced) and remembers that it was erased.
    public func erase(_ commitment: Bytes32, at time: Timestamp) throws(RecordError) {
        let key = commitment.withUnsafeBytes { Array($0) }
        let wb = RocksDB.WriteBatch(for: db)
        wb.delete("record_bodies", key)
        wb.delete("record_keys", key)
        wb.put("record_erased", key, withUnsafeBytes(of: time.unixMilliseconds.bigEndian) { Array($0) })
        do { try db.write(wb, sync: true) } catch { throw .storage("\(error)") }
    }
}
