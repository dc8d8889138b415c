import Foundation
import Testing
import MeridianTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The suite's child processes: every exit is seen, with its status, however many children start
/// and end at once, and a long-running child is stopped by a signal or by its waiter's
/// cancellation. (Lost exit notices under concurrent spawns hung whole CI runs twice, first with
/// Foundation's `Process`, then with swift-subprocess; `ChildProcess` says what replaced them.)
@Suite(.timeLimit(.minutes(5))) struct ChildProcessTests {
    @Test func everyExitIsSeenUnderConcurrentSpawns() async throws {
        // Long-running children alive throughout, so that short ones start and end around them.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-child-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var sleepers: [BackgroundProcess] = []
        for i in 0..<6 {
            sleepers.append(try await BackgroundProcess("/bin/sleep", ["1000"], logFile: scratch.appendingPathComponent("sleeper-\(i).log").path))
        }
        let outcomes = try await withThrowingTaskGroup(of: (Int, CommandResult).self) { group in
            for worker in 0..<24 {
                group.addTask {
                    var last: (Int, CommandResult)?
                    for round in 0..<25 {
                        let n = worker * 100 + round
                        let r = try await ChildProcess.run("/bin/sh", ["-c", "echo out-\(n); echo err-\(n) >&2; exit \(n % 7)"])
                        guard r.status == Int32(n % 7), r.stdout == "out-\(n)\n", r.stderr == "err-\(n)\n" else { return (n, r) }
                        last = (n, r)
                    }
                    return last!
                }
            }
            var all: [(Int, CommandResult)] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        for (n, r) in outcomes { #expect(r.status == Int32(n % 7) && r.stdout == "out-\(n)\n" && r.stderr == "err-\(n)\n", "child \(n): \(r)") }
        #expect(outcomes.count == 24)
        for s in sleepers { #expect(s.isRunning) }
        for s in sleepers { s.send(SIGTERM) }
        for s in sleepers { #expect(await s.waitForExit() == 128 + SIGTERM) }
        for s in sleepers { #expect(!s.isRunning && s.exitStatus == 128 + SIGTERM) }
    }

    @Test func aCancelledWaiterKillsTheChild() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-child-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let child = try await BackgroundProcess("/bin/sleep", ["1000"], logFile: scratch.appendingPathComponent("sleep.log").path)
        let waiter = Task { await child.waitForExit() }
        waiter.cancel()
        #expect(await waiter.value == 128 + SIGKILL)
        // A run whose task is cancelled kills its child too.
        let run = Task { try await ChildProcess.run("/bin/sleep", ["1000"]) }
        run.cancel()
        let result = await run.result
        if case .success(let r) = result { #expect(r.status == 128 + SIGKILL, "\(r)") }
    }

    @Test func aMissingExecutableIsAnErrorNotAHang() async throws {
        await #expect(throws: (any Error).self) { try await ChildProcess.run("/nonexistent/meridian-no-such-tool", []) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-child-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        await #expect(throws: (any Error).self) { try await BackgroundProcess("/nonexistent/meridian-no-such-node", [], logFile: scratch.appendingPathComponent("x.log").path) }
    }

    @Test func inputEnvironmentAndWorkingDirectoryReachTheChild() async throws {
        let r = try await ChildProcess.run("/bin/sh", ["-c", "read line; echo \"$line|$MERIDIAN_CHILD_TEST|$(pwd)\""],
                                           environment: ["MERIDIAN_CHILD_TEST": "value"], workingDirectory: "/", input: Array("hello\n".utf8))
        #expect(r.status == 0 && r.stdout == "hello|value|/\n", "\(r)")
        let name = try await ChildProcess.run("sh", ["-c", "exit 3"])
        #expect(name.status == 3, "an executable found on PATH: \(name)")
    }
}
