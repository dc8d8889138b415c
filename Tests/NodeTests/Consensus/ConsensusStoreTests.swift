import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import MeridianCore
import MeridianConsensus
import MeridianConsensusDriver

/// The consensus WAL and the signing guard on disk, in a temporary directory of their own.
@Suite(.timeLimit(.minutes(5))) struct ConsensusStoreTests {
    let dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-wal-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()
    var wal: String { dir.appendingPathComponent("consensus.wal").path }

    func code(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as ConsensusStoreError { return e.code } catch { return "\(error)" }
    }

    @Test func recordsSurviveReopeningAndResetEmptiesTheLog() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let records: [[UInt8]] = [[1], Array(repeating: 7, count: 70_000), [], Array("vote".utf8)]
        do { let w = try ConsensusWAL(path: wal); for r in records.prefix(2) { try w.append(r) } }
        do { let w = try ConsensusWAL(path: wal); for r in records.dropFirst(2) { try w.append(r) } }
        let read = try ConsensusWAL.read(path: wal)
        #expect(read.records == records && read.tornBytes == 0)
        try ConsensusWAL(path: wal).reset()
        #expect(try ConsensusWAL.read(path: wal).records.isEmpty)
        #expect(try ConsensusWAL.read(path: dir.appendingPathComponent("none").path).records.isEmpty)
    }

    /// The journal's two logs, one per height in turn: a new height empties the log of the height
    /// before the one just decided (whose block may still be on its way to disk), and a node that
    /// restarts one block behind resumes from the log of that height, appending there.
    @Test func theJournalKeepsTheDecidedHeightsLogUntilTheNextHeightBegins() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let guardPath = dir.appendingPathComponent("signing-guard.json").path
        let t = { (h: UInt64, r: UInt32) in WALRecord.timeout(Timeout(step: .propose, height: h, round: r)) }
        do {
            let j = try FileJournal(walPath: wal, guardPath: guardPath)
            #expect(try j.load(resuming: 5).records.isEmpty)
            try j.reset()                                     // height 5 begins
            for r in [WALRecord.start(height: 5), t(5, 0), t(5, 1)] { try j.append(r) }
            try j.sync()
            try j.reset()                                     // 5 decided, 6 begins: 5's log is kept
            for r in [WALRecord.start(height: 6), t(6, 0)] { try j.append(r) }
            try j.sync()
        }
        // Restarted with block 5 on disk: height 6's log; with block 5 lost: height 5's.
        do {
            let j = try FileJournal(walPath: wal, guardPath: guardPath)
            #expect(try j.load(resuming: 6).records == [.start(height: 6), t(6, 0)])
        }
        let j = try FileJournal(walPath: wal, guardPath: guardPath)
        #expect(try j.load(resuming: 5).records == [.start(height: 5), t(5, 0), t(5, 1)])
        #expect(try j.load(resuming: 7).records.isEmpty)
        _ = try j.load(resuming: 5)
        try j.append(t(5, 2))                                 // the resumed height goes on in its own log
        try j.sync()
        #expect(try FileJournal(walPath: wal, guardPath: guardPath).load(resuming: 5).records.count == 4)
        try j.reset()                                         // 5 decided again, 6 begins: 6's old log is emptied
        try j.append(.start(height: 6))
        try j.sync()
        let again = try FileJournal(walPath: wal, guardPath: guardPath)
        #expect(try again.load(resuming: 6).records == [.start(height: 6)])
        #expect(try again.load(resuming: 5).records.count == 4, "the decided height's log was emptied before the next reset")
    }

    @Test func aTornFinalRecordIsDroppedAndReported() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try ConsensusWAL(path: wal)
        try w.append([1, 2, 3]); try w.append(Array(repeating: 9, count: 100))
        let full = try Data(contentsOf: URL(fileURLWithPath: wal))
        for cut in [1, 11, 50] {
            try full.prefix(full.count - cut).write(to: URL(fileURLWithPath: wal))
            let read = try ConsensusWAL.read(path: wal)
            #expect(read.records == [[1, 2, 3]] && read.tornBytes == 112 - cut, "cut \(cut)")
        }
    }

    /// After a crash tore the final record, recovery cuts the torn bytes and appends after the
    /// whole records: the log reads back whole, never "corrupt" (which would keep the node down).
    @Test func aTornTailIsCutSoThatLaterAppendsReadBackWhole() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = wal
        let log = try ConsensusWAL(path: path)
        try log.append([1, 2, 3]); try log.append([4, 5])
        let fd = open(path, O_WRONLY | O_APPEND); _ = write(fd, [0, 0, 0, 9, 7, 7], 6); close(fd)   // a torn record
        let (records, torn) = try ConsensusWAL.read(path: path)
        #expect(records == [[1, 2, 3], [4, 5]] && torn == 6)
        let reopened = try ConsensusWAL(path: path)
        try reopened.dropTornTail(torn)
        try reopened.append([6])
        let after = try ConsensusWAL.read(path: path)
        #expect(after.records == [[1, 2, 3], [4, 5], [6]] && after.tornBytes == 0)
    }

    @Test func aCorruptRecordIsRefusedNamingWhere() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try ConsensusWAL(path: wal)
        try w.append([1, 2, 3]); try w.append([4, 5, 6]); try w.append([7])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: wal)))
        bytes[15 + 13] ^= 0x40   // inside the second record's payload
        try Data(bytes).write(to: URL(fileURLWithPath: wal))
        let error = #expect(throws: ConsensusStoreError.self) { _ = try ConsensusWAL.read(path: wal) }
        #expect(error?.code == "wal.corrupt" && error?.message.contains("byte 15") == true && error?.message.contains("record 1") == true, "\(String(describing: error))")
        bytes = [0x7f, 0xff, 0xff, 0xff] + [UInt8](repeating: 0, count: 20)
        try Data(bytes).write(to: URL(fileURLWithPath: wal))
        #expect(code { _ = try ConsensusWAL.read(path: wal) } == "wal.corrupt", "an impossible length")
    }

    @Test func theGuardRefusesDoubleSigningAndRegressionAcrossRestarts() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("guard.json").path
        let a = SHA256.hash([1]), b = SHA256.hash([2])
        do {
            let g = try SigningGuard(path: path)
            try g.authorize(height: 5, round: 0, step: 1, payload: a)
            try g.authorize(height: 5, round: 0, step: 1, payload: a)   // the same message again is fine
        }
        let g = try SigningGuard(path: path)                               // a restarted validator
        #expect(g.last?.height == 5)
        #expect(code { try g.authorize(height: 5, round: 0, step: 1, payload: b) } == "guard.double_sign")
        #expect(code { try g.authorize(height: 4, round: 9, step: 2, payload: b) } == "guard.regression")
        #expect(code { try g.authorize(height: 5, round: 0, step: 0, payload: b) } == "guard.regression")
        // A restarted proposer replaying its WAL re-signs its proposal (step 0) after its prevote (step 1): allowed if identical.
        try g.authorize(height: 5, round: 0, step: 2, payload: a)
        let p = SHA256.hash([3])
        try g.authorize(height: 5, round: 1, step: 0, payload: p)
        try g.authorize(height: 5, round: 1, step: 1, payload: a)
        let restarted = try SigningGuard(path: path)
        try restarted.authorize(height: 5, round: 1, step: 0, payload: p)
        #expect(code { try restarted.authorize(height: 5, round: 1, step: 0, payload: b) } == "guard.double_sign")
        try restarted.authorize(height: 6, round: 0, step: 1, payload: a)
        #expect(code { try restarted.authorize(height: 5, round: 1, step: 0, payload: p) } == "guard.regression", "history is kept for the latest height only")
        try Data("{".utf8).write(to: URL(fileURLWithPath: path))
        #expect(code { _ = try SigningGuard(path: path) } == "guard.corrupt")
    }
}
