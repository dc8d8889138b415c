import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianStorage
import MeridianRecords
import MeridianSummary

/// The custodian's encrypted record store, with a real IPS document: what goes in comes out only
/// with the node's storage key, matches its commitment, is not readable in the database files, and
/// is gone (but known erased) after an erasure.
@Suite struct RecordStoreTests {
    static func open(_ path: String, key: Bytes32) throws -> (RecordStore, RocksDB) {
        let db = try RocksDB(path: path, columnFamilies: RecordStore.columns)
        return (RecordStore(db: db, storageKey: key), db)
    }

    static func document() throws -> [UInt8] {
        let index = TerminologyIndex(try TerminologyTests.imported.get())
        return try IPSWriter.json(IPSWriter.bundle(SummaryTranslatorTests.maria, terminology: index, catalogue: .shipped))
    }

    @Test func aStoredSummaryComesBackOnlyWithTheStorageKeyAndMatchesItsCommitment() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-records-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let body = try Self.document()
        let storageKey = try SecureRandom.bytes32()
        var stored: RecordStore.Stored
        do {
            let (store, _) = try Self.open(path, key: storageKey)
            stored = try store.store(body)
            #expect(stored.commitment == RecordEntry.commitment(salt: stored.salt, bodyHash: SHA256.hash(body)))
            #expect(try store.body(of: stored.commitment) == body)
            #expect(throws: RecordStore.RecordError.unknown) { try store.body(of: SHA256.hash([1])) }
        }
        // At rest: no plaintext in the database files.
        let marker = Array("Metformina".utf8)
        for file in try FileManager.default.contentsOfDirectory(atPath: path) {
            let bytes = [UInt8](FileManager.default.contents(atPath: path + "/" + file) ?? Data())
            #expect(!bytes.indices.dropLast(marker.count).contains { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }, "plaintext in \(file)")
        }
        // Another node's storage key decrypts nothing.
        do {
            let (other, _) = try Self.open(path, key: try SecureRandom.bytes32())
            #expect(throws: RecordStore.RecordError.self) { try other.body(of: stored.commitment) }
        }
        // A changed body is refused, naming why; an erased one is known erased, body and key gone.
        let (store, db) = try Self.open(path, key: storageKey)
        let key = stored.commitment.withUnsafeBytes { Array($0) }
        var sealed = try #require(try db.get("record_bodies", key))
        sealed[sealed.count / 2] ^= 0x40
        let wb = RocksDB.WriteBatch(for: db); wb.put("record_bodies", key, sealed); try db.write(wb, sync: true)
        #expect(throws: RecordStore.RecordError.corrupt("the body does not decrypt with its key")) { try store.body(of: stored.commitment) }
        try store.erase(stored.commitment, at: Timestamp(unixMilliseconds: 1_795_515_290_000))
        #expect(throws: RecordStore.RecordError.erased) { try store.body(of: stored.commitment) }
        #expect(try db.get("record_bodies", key) == nil && db.get("record_keys", key) == nil)
    }

    @Test func anOversizedBodyIsRefusedBeforeAnythingIsWritten() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-records-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (store, _) = try Self.open(path, key: try SecureRandom.bytes32())
        #expect(throws: RecordStore.RecordError.tooLarge(RecordStore.maxBodyBytes + 1)) { try store.store([UInt8](repeating: 0, count: RecordStore.maxBodyBytes + 1)) }
    }
}
