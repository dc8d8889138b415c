public import Foundation
import Subprocess
import Synchronization
#if canImport(System)
import System
#else
import SystemPackage
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What a command printed and how it ended.
public struct CommandResult: Sendable, CustomStringConvertible {
    /// The exit code, or 128 + the signal's number for a process a signal ended (as a shell says it).
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Child processes for the tests, through swift-subprocess rather than Foundation's `Process`.
///
/// Why: on Linux, Foundation's `Process` learns of every child's exit on one shared manager thread,
/// through a socket pair whose end a concurrently spawned child can inherit (its close-on-exec is
/// emulated from a descriptor count taken before the spawn), and `waitUntilExit()` parks the
/// calling thread on a run loop that no cancellation reaches. With tests spawning nodes and CLIs
/// concurrently, a CLI that had exited was never seen to exit and the whole suite hung with every
/// thread idle. Subprocess watches each child through its own pidfd, spawns with real
/// close-on-exec, and answers task cancellation (a test's `.timeLimit`) by killing the child.
///
/// Output goes to files, never pipes: a daemon a command leaves running (`meridian-localnet start`)
/// keeps its inherited descriptors, and a pipe would then never reach end of file.
public enum ChildProcess {
    /// Runs `executable` to its end and returns its output. Cancellation kills it.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           workingDirectory: String? = nil, input: [UInt8]? = nil) async throws -> CommandResult {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("stdout").path, err = scratch.appendingPathComponent("stderr").path
        let stdinPath = scratch.appendingPathComponent("stdin").path
        FileManager.default.createFile(atPath: stdinPath, contents: Data(input ?? []))
        let outFD = try FileDescriptor.open(FilePath(out), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let errFD = try FileDescriptor.open(FilePath(err), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let inFD = try FileDescriptor.open(FilePath(stdinPath), .readOnly)
        let result = try await Subprocess.run(
            executable.contains("/") ? .path(FilePath(executable)) : .name(executable),
            arguments: Arguments(arguments),
            environment: .inherit.updating(environment.reduce(into: [Environment.Key: String?]()) { $0[Environment.Key(stringLiteral: $1.key)] = $1.value }),
            workingDirectory: workingDirectory.map { FilePath($0) },
            input: .fileDescriptor(inFD, closeAfterSpawningProcess: true),
            output: .fileDescriptor(outFD, closeAfterSpawningProcess: true),
            error: .fileDescriptor(errFD, closeAfterSpawningProcess: true))
        let read = { (p: String) in String(decoding: FileManager.default.contents(atPath: p) ?? Data(), as: UTF8.self) }
        return CommandResult(status: status(result.terminationStatus), stdout: read(out), stderr: read(err))
    }

    static func status(_ s: TerminationStatus) -> Int32 {
        switch s {
        case .exited(let code): return Int32(truncatingIfNeeded: code)
        case .signaled(let signal): return 128 + Int32(truncatingIfNeeded: signal)
        }
    }
}

/// A long-running child (a node) whose output is appended to a log file. Its exit is awaited
/// without blocking a thread; a task cancelled while awaiting it kills it.
public final class BackgroundProcess: Sendable {
    private struct State { var pid: pid_t?; var status: Int32? }
    /// Shared with the task that runs the child (a `Mutex` cannot be copied into it).
    private final class Shared: Sendable { let state = Mutex(State()) }
    private let shared = Shared()
    private let finished: Task<Int32, Never>

    /// Starts `executable`; returns once it is spawned (its pid known) or failed to spawn.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
                logFile: String) async throws {
        let logFD = try FileDescriptor.open(FilePath(logFile), .writeOnly, options: [.create, .append], permissions: [.ownerReadWrite])
        let errFD = try FileDescriptor.open(FilePath(logFile), .writeOnly, options: [.create, .append], permissions: [.ownerReadWrite])
        let (spawned, spawnedContinuation) = AsyncStream.makeStream(of: Result<pid_t, ChildProcessError>.self)
        let shared = self.shared
        finished = Task {
            do {
                let r = try await Subprocess.run(
                    .path(FilePath(executable)), arguments: Arguments(arguments),
                    environment: .inherit.updating(environment.reduce(into: [Environment.Key: String?]()) { $0[Environment.Key(stringLiteral: $1.key)] = $1.value }),
                    workingDirectory: workingDirectory.map { FilePath($0) },
                    input: .none,
                    output: .fileDescriptor(logFD, closeAfterSpawningProcess: true),
                    error: .fileDescriptor(errFD, closeAfterSpawningProcess: true)) { execution in
                        shared.state.withLock { $0.pid = execution.processIdentifier.value }
                        spawnedContinuation.yield(.success(execution.processIdentifier.value))
                        spawnedContinuation.finish()
                    }
                // The body returns at once; `run` returns when the child has exited and is reaped.
                let code = ChildProcess.status(r.terminationStatus)
                shared.state.withLock { $0.status = code; $0.pid = nil }
                return code
            } catch {
                spawnedContinuation.yield(.failure(ChildProcessError("\(executable) did not start: \(error)")))
                spawnedContinuation.finish()
                shared.state.withLock { $0.status = -1; $0.pid = nil }
                return -1
            }
        }
        for await outcome in spawned { if case .failure(let e) = outcome { throw e }; break }
    }

    /// Whether the child is still running (not yet reaped).
    public var isRunning: Bool { shared.state.withLock { $0.status == nil } }
    /// The exit status once it has ended (128 + signal for a signal).
    public var exitStatus: Int32? { shared.state.withLock { $0.status } }

    /// What the kernel says of the child, for a failure message: its pid and `/proc` state
    /// (`Z` is a zombie: it has exited but its exit has not been collected here yet).
    public var diagnosis: String {
        shared.state.withLock { s in
            guard let pid = s.pid else { return "exited with \(s.status.map(String.init) ?? "?")" }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "gone"
            return "pid \(pid), /proc state \(state)\(state == "Z" ? " (exited; the exit was not yet seen)" : "")"
        }
    }

    /// Sends `signal` to the child if it is still running. The pid cannot have been reused: it stays
    /// the child's until `run` reaps it, which clears it here first.
    public func send(_ signal: Int32) {
        shared.state.withLock { s in if let pid = s.pid, s.status == nil { _ = kill(pid, signal) } }
    }

    /// Waits for the child's end. A cancelled waiter kills the child, then still waits for it.
    @discardableResult
    public func waitForExit() async -> Int32 {
        await withTaskCancellationHandler { await finished.value } onCancel: { self.send(SIGKILL) }
    }

    deinit { shared.state.withLock { s in if let pid = s.pid, s.status == nil { _ = kill(pid, SIGKILL) } } }
}
