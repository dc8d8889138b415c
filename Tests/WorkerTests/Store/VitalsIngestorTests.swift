import Foundation
import Testing
import MeridianCore
import MeridianVitals
import MeridianIngest
import MeridianStorage
import MeridianWorkers
import Prometheus

@Suite(.timeLimit(.minutes(5))) struct VitalsIngestorTests {
    static let t0 = Timestamp(unixMilliseconds: 1_795_515_290_000)

    static func frame(_ seq: UInt64, pulse: Int64 = 72, device: PrivateKey = Fixtures.device) throws -> [UInt8] {
        try DeviceFrame.encode(kind: .readings, device: device, sequence: seq, time: t0.adding(milliseconds: seq * 1000),
                               entries: [.reading(offsetMilliseconds: 0, mdc: 149530, unit: "/min", value: Measurement(whole: pulse))])
    }

    static func ingestor(_ tmp: ReadingStoreTests.TempDB, capacity: Int = 100) throws -> VitalsIngestor {
        let paired: [PublicKey: PublicKey] = [Fixtures.device.publicKey: Fixtures.patient.publicKey]
        return VitalsIngestor(store: try tmp.open(), inbox: ScoringInbox(capacity: capacity), pairedPatient: { paired[$0] },
                              isPatient: { $0 == Fixtures.patient.publicKey }, now: { t0.adding(milliseconds: 60_000) })
    }

    @Test func pairedSignedFramesAreStoredOnceAndEverythingElseIsRefusedWithTheReason() async throws {
        let tmp = ReadingStoreTests.TempDB()
        let ingestor = try Self.ingestor(tmp)
        var forged = try Self.frame(3); forged[forged.count - 1] ^= 1
        let unpaired = try Self.frame(1, device: Fixtures.key(77))
        let future = try Self.frame(1000)   // dated 1000 s after t0, the clock says t0 + 60 s
        let outcomes = try await ingestor.ingest(frames: [try Self.frame(1), try Self.frame(2), try Self.frame(1), forged, unpaired, [1, 2, 3], future])
        #expect(outcomes.map(\.status) == [.stored, .stored, .duplicate, .refused, .refused, .refused, .refused])
        #expect(outcomes[6].reason?.hasPrefix("vitals.future_time") == true)
        #expect(outcomes[3].reason?.hasPrefix("vitals.bad_signature") == true)
        #expect(outcomes[4].reason?.hasPrefix("vitals.unpaired") == true)
        #expect(outcomes[5].reason?.hasPrefix("vitals.malformed") == true)
        // An unpaired device's forged frame is refused on its pairing, before any signature check.
        var unpairedForged = unpaired; unpairedForged[unpairedForged.count - 1] ^= 1
        #expect(try await ingestor.ingest(frames: [unpairedForged]).first?.reason?.hasPrefix("vitals.unpaired") == true)
        #expect(try ingestor.store.batches(patient: Fixtures.patient.publicKey).count == 2)
        #expect(ingestor.inbox.count == 2)
        let feed = ReadingBatch(patient: Fixtures.key(55).publicKey, source: .feed("f", messageID: "1"), readings: [])
        #expect(try await ingestor.ingest(feedBatches: [feed]).map(\.status) == [.refused])
    }

    @Test func aFullScoringQueueAnswersBusyForRoutineButTakesCriticalReadings() async throws {
        let tmp = ReadingStoreTests.TempDB()
        let ingestor = try Self.ingestor(tmp, capacity: 3)
        let routine = try await ingestor.ingest(frames: try (1...5).map { try Self.frame($0) })
        #expect(routine.map(\.status) == [.stored, .stored, .stored, .busy, .busy])
        let critical = try await ingestor.ingest(frames: [try Self.frame(6, pulse: 140)])
        #expect(critical.map(\.status) == [.stored])
        // The critical batch is scored first, ahead of the routine backlog.
        let first = try #require(await ingestor.inbox.next())
        #expect(first.mayBeCritical && first.readings[0].value == Measurement(whole: 140))
        // Busy frames were not stored: the gateway's retry stores them.
        #expect(try await ingestor.ingest(frames: [try Self.frame(4)]).map(\.status) == [.stored])
    }

    /// A worker waiting on an empty inbox lets go when the node shuts down (its task is cancelled).
    @Test func aWaitingWorkerIsReleasedByCancellation() async throws {
        let inbox = ScoringInbox(capacity: 4)
        let waiting = Task { await inbox.next() }
        waiting.cancel()   // parked or about to park: either way it must return nil
        #expect(await waiting.value == nil)
        let worker = try RiskWorker(inbox: inbox)
        let host = Task { try await worker.run(metrics: WorkerMetrics(registry: .init(), worker: "risk")) }
        host.cancel()
        try await host.value   // returns instead of waiting forever
    }

    @Test func gatewayUploadsSplitIntoFramesOnlyWhenTheLengthsTileTheBody() throws {
        let a = try Self.frame(1), b = try Self.frame(2)
        func lp(_ f: [UInt8]) -> [UInt8] { [UInt8(f.count >> 8), UInt8(f.count & 0xff)] + f }
        #expect(VitalsIngestor.splitFrames(lp(a) + lp(b)) == [a, b])
        #expect(VitalsIngestor.splitFrames(lp(a) + [0]) == nil)
        #expect(VitalsIngestor.splitFrames([0, 0]) == nil)
        #expect(VitalsIngestor.splitFrames([]) == [])
    }

    @Test func theRiskWorkerScoresTheLatestValueOfEachSign() throws {
        let worker = try RiskWorker(inbox: ScoringInbox(capacity: 10))
        let p = Fixtures.patient.publicKey
        func batch(_ readings: [(VitalSign, String, UInt64)]) -> ReadingBatch {
            ReadingBatch(patient: p, source: .feed("t", messageID: UUID().uuidString),
                         readings: readings.map { VitalReading(sign: $0.0, value: Measurement(decimal: $0.1)!, time: Timestamp(unixMilliseconds: $0.2)) })
        }
        let a = worker.assess(batch([(.heartRate, "118", 10), (.respiratoryRate, "22", 10)]))
        #expect(a.score.total == 4 && a.missing.count == 4)   // 2 + 2, others charted normal until measured
        let b = worker.assess(batch([(.heartRate, "72", 5)]))   // a late upload: older than the 118
        #expect(b.score.subscore(.pulse) == 2)
        let c = worker.assess(batch([(.consciousness, "2", 20), (.oxygenSaturation, "90", 20), (.systolicPressure, "120", 20), (.bodyTemperature, "37", 20)]))
        #expect(c.score.total == 2 + 2 + 3 + 3 && c.score.band == .high && c.missing.isEmpty)
        #expect(worker.assessment(of: p) == c)
    }
}
