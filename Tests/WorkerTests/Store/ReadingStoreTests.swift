import Foundation
import Testing
import MeridianCore
import MeridianVitals
import MeridianStorage
import MeridianWorkers

@Suite(.timeLimit(.minutes(5))) struct ReadingStoreTests {
    final class TempDB {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-readings-\(UUID().uuidString)").path
        func open() throws -> ReadingStore { ReadingStore(db: try RocksDB(path: path, columnFamilies: ReadingStore.columns)) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func batch(_ sequence: UInt64, value: Int64 = 72, device: PrivateKey = Fixtures.device) -> ReadingBatch {
        ReadingBatch(patient: Fixtures.patient.publicKey, source: .device(device.publicKey, sequence: sequence),
                     readings: [VitalReading(sign: .heartRate, value: Measurement(whole: value), time: Timestamp(unixMilliseconds: 1_000_000 + sequence * 1000))])
    }

    @Test func duplicatesAreAcknowledgedButStoredOnceAndReusedIdsAreConflicts() throws {
        let tmp = TempDB()
        let store = try tmp.open()
        #expect(try store.persist([Self.batch(1), Self.batch(2)]) == [.stored, .stored])
        #expect(try store.persist([Self.batch(2), Self.batch(3), Self.batch(3)]) == [.duplicate, .stored, .duplicate])
        #expect(try store.persist([Self.batch(1, value: 99)]) == [.conflict])
        #expect(try store.batches(patient: Fixtures.patient.publicKey).count == 3)
        let feed = ReadingBatch(patient: Fixtures.patient.publicKey, source: .feed("GW^WARD", messageID: "M1"), readings: Self.batch(9).readings)
        #expect(try store.persist([feed, feed]) == [.stored, .duplicate])
    }

    /// A gateway uploads 300 frames out of order with duplicates, leaving some out: the store
    /// keeps each once, the high-water mark is the largest, and the gaps are exactly the missing ones.
    @Test func outOfOrderUploadsWithDuplicatesLeaveExactlyTheMissingGaps() throws {
        for seed in [testSeed(1), testSeed(2), testSeed(3)] {
            var rng = SeededRandom(seed: seed)
            let tmp = TempDB()
            let store = try tmp.open()
            let all = Array(UInt64(1)...300)
            let missing = Set(all.filter { _ in Int.random(in: 0..<10, using: &rng) == 0 })
            var uploads = all.filter { !missing.contains($0) }
            uploads += uploads.filter { _ in Bool.random(using: &rng) }   // duplicates
            uploads.shuffle(using: &rng)
            var stored = 0
            for chunk in stride(from: 0, to: uploads.count, by: 17) {
                let outcomes = try store.persist(uploads[chunk..<min(chunk + 17, uploads.count)].map { Self.batch($0) })
                stored += outcomes.filter { $0 == .stored }.count
                #expect(!outcomes.contains(.conflict))
            }
            #expect(stored == 300 - missing.count, "seed \(seed)")
            let p = try #require(try store.progress(of: Fixtures.device.publicKey))
            let expectedMissing = missing.filter { $0 < p.highWater }
            #expect(p.highWater == all.filter { !missing.contains($0) }.max())
            #expect(p.missing == UInt64(expectedMissing.count) && expectedMissing.allSatisfy { !p.hasReceived($0) }, "seed \(seed)")
            #expect(p.received == UInt64(stored))
        }
    }

    @Test func storedReadingsSurviveReopeningAndAreQueriedByTime() throws {
        let tmp = TempDB()
        do {
            let store = try tmp.open()
            _ = try store.persist((1...10).map { Self.batch($0) })
        }
        let reopened = try tmp.open()
        let window = try reopened.batches(patient: Fixtures.patient.publicKey, from: Timestamp(unixMilliseconds: 1_003_000), to: Timestamp(unixMilliseconds: 1_005_000))
        #expect(window.map { b -> UInt64 in if case .device(_, let s) = b.source { return s }; return 0 } == [3, 4, 5])
        #expect(try reopened.persist([Self.batch(4)]) == [.duplicate], "de-duplication survives a restart")
        #expect(try reopened.batches(patient: Fixtures.key(99).publicKey).isEmpty)
    }

    @Test func gapListsAreBounded() {
        var p = DeviceProgress(first: 1)
        for s in stride(from: UInt64(3), through: 2 * UInt64(DeviceProgress.maxGaps) + 101, by: 2) { p.record(s) }
        #expect(p.gaps.count == DeviceProgress.maxGaps && p.forgotten == 50)
        p.record(p.gaps[0].lowerBound)
        #expect(p.gaps.count == DeviceProgress.maxGaps - 1)
    }
}

/// A test seed, overridable with MERIDIAN_TEST_SEED to replay a failure.
func testSeed(_ n: UInt64) -> UInt64 {
    ProcessInfo.processInfo.environment["MERIDIAN_TEST_SEED"].flatMap(UInt64.init) ?? n
}
