import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianStorage
import MeridianRecords
import MeridianRecordMessages
import MeridianSummary

/// The custodian's encrypted record store, with a real IPS document: what goes in comes out only
/// with the node's storage key, matches its commitment, is not readable in the database files, and
/// is gone (but known erased) after an erasure.
@Suite(.timeLimit(.minutes(5))) struct RecordStoreTests {
    static func open(_ path: String, key: Bytes32) throws -> (RecordStore, RocksDB) {
        let db = try RocksDB(path: path, columnFamilies: RecordStore.columns)
        return (RecordStore(db: db, storageKey: key), db)
    }

    static func document() async throws -> [UInt8] {
        let index = TerminologyIndex(try await TerminologyTests.imported)
        return try IPSWriter.json(IPSWriter.bundle(SummaryTranslatorTests.maria, terminology: index, catalogue: .shipped))
    }

    @Test func aStoredSummaryComesBackOnlyWithTheStorageKeyAndMatchesItsCommitment() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-records-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let body = try await Self.document()
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

    /// What a custodian's node sends: opened only with the record key, and refused when the body
    /// does not reproduce the on-chain commitment (a tampered body, a body of another record, or
    /// a truncated payload), so a hostile custodian node cannot make a clinician read anything else.
    @Test func aTransferPayloadOpensOnlyWithItsKeyAndOnlyForItsCommitment() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-records-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (store, _) = try Self.open(path, key: try SecureRandom.bytes32())
        let body = try await Self.document()
        let stored = try store.store(body, holding: .init(custodian: true, from: OrganizationID("hospital-ribeira")!, since: Timestamp(unixMilliseconds: 1)))
        let payload = try TransferPayload.seal(record: stored.commitment, shareHeight: 7, salt: stored.salt, body: body, recordKey: stored.recordKey)
        let decoded = try TransferPayload(canonicalBytes: payload.canonicalBytes)
        #expect(try decoded.open(recordKey: stored.recordKey).body == body)
        #expect(throws: RecordStore.RecordError.self) { try decoded.open(recordKey: try SecureRandom.bytes32()) }
        // The custodian seals a different body under the right key: the commitment refuses it.
        var tampered = body; tampered[tampered.count / 2] ^= 1
        let lying = try TransferPayload.seal(record: stored.commitment, shareHeight: 7, salt: stored.salt, body: tampered, recordKey: stored.recordKey)
        #expect(throws: RecordStore.RecordError.commitmentMismatch) { try lying.open(recordKey: stored.recordKey) }
        // Flipped ciphertext bytes fail authentication.
        var sealed = payload.sealed; sealed[3] ^= 0x80
        #expect(throws: RecordStore.RecordError.self) {
            try TransferPayload(record: payload.record, shareHeight: 7, nonce: payload.nonce, sealed: sealed).open(recordKey: stored.recordKey)
        }
        // A copy is stored only if it matches; then it reads back and is listed as a copy.
        let copyPath = path + "-copy"
        defer { try? FileManager.default.removeItem(atPath: copyPath) }
        let (copies, _) = try Self.open(copyPath, key: try SecureRandom.bytes32())
        let from = RecordStore.Holding(custodian: false, from: OrganizationID("hospital-ribeira")!, since: Timestamp(unixMilliseconds: 2))
        #expect(throws: RecordStore.RecordError.commitmentMismatch) {
            try copies.storeCopy(tampered, salt: stored.salt, recordKey: stored.recordKey, commitment: stored.commitment, holding: from)
        }
        #expect(try copies.holding(of: stored.commitment) == nil)
        try copies.storeCopy(body, salt: stored.salt, recordKey: stored.recordKey, commitment: stored.commitment, holding: from)
        #expect(try copies.body(of: stored.commitment) == body)
        #expect(try copies.held().map(\.holding) == [from])
        #expect(try copies.erase(stored.commitment, at: Timestamp(unixMilliseconds: 3)))
        #expect(throws: RecordStore.RecordError.erased) { try copies.secrets(of: stored.commitment) }
        #expect(try copies.erase(stored.commitment, at: Timestamp(unixMilliseconds: 4)) == false)
    }
}
