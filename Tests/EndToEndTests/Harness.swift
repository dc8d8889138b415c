import Foundation
import MeridianCore
import MeridianClient

/// Where `swift build` put the executables (`make test` builds them before the tests run).
enum Binaries {
    static let directory: URL = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var candidates: [URL] = []
        if let p = Bundle.main.executableURL { candidates.append(p.deletingLastPathComponent()) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        candidates.append(root.appendingPathComponent(".build/debug"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("meridian-node").path) } ?? candidates.last!
    }()
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ name: String) throws -> String {
        let p = directory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: p) else {
            throw HarnessError("\(p) is missing: build the executables first (`make test` runs `swift build` before `swift test`)")
        }
        return p
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A temporary directory removed at the end of the test.
final class TemporaryDirectory: @unchecked Sendable {
    // @unchecked: immutable after init.
    let url: URL
    init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The result of running a command to its end.
struct CommandResult: CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String
    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs one of the project's executables to completion (output through files, so a chatty
/// command can never block on a full pipe).
func run(_ name: String, _ arguments: [String], environment: [String: String] = [:], in dir: TemporaryDirectory) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try Binaries.path(name))
    process.arguments = arguments
    process.currentDirectoryURL = Binaries.repository
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let id = UUID().uuidString
    let out = dir.path("out-\(id)"), err = dir.path("err-\(id)")
    FileManager.default.createFile(atPath: out, contents: nil); FileManager.default.createFile(atPath: err, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    let read = { (p: String) in String(decoding: FileManager.default.contents(atPath: p) ?? Data(), as: UTF8.self) }
    defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
    return CommandResult(status: process.terminationStatus, stdout: read(out), stderr: read(err))
}

/// A real `meridian-node` process on a loopback port the OS chose, with its data directory.
final class NodeProcess: @unchecked Sendable {
    // @unchecked: the process handle is only used from the owning test's task.
    static let passphrase = "test-passphrase-not-secret"
    let dir: TemporaryDirectory
    let dataDir: String
    private var process: Process?
    private(set) var client: NodeClient?

    /// `meridian-node init` from the demo genesis into a fresh directory (all four demo validator
    /// keys unless `initArguments` say otherwise).
    init(_ label: String, initArguments: [String] = ["--demo-validators"]) throws {
        dir = try TemporaryDirectory(label)
        dataDir = dir.path("node")
        let r = try run("meridian-node", ["init", "--data-dir", dataDir, "--genesis", "Genesis/demo.json"] + initArguments,
                        environment: ["MERIDIAN_PASSPHRASE": Self.passphrase], in: dir)
        guard r.status == 0 else { throw HarnessError("init failed: \(r)") }
    }

    var environment: [String: String] { ["MERIDIAN_PASSPHRASE": Self.passphrase, "MERIDIAN_NODE": client?.base.absoluteString ?? ""] }

    /// Starts the node and waits (polling, 60 s deadline) until its API answers.
    func start(blockIntervalMilliseconds: Int = 100) async throws {
        let addressFile = dataDir + "/api.address"
        try? FileManager.default.removeItem(atPath: addressFile)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Binaries.path("meridian-node"))
        p.arguments = ["start", "--data-dir", dataDir, "--api-port", "0", "--block-interval-ms", String(blockIntervalMilliseconds), "--log-level", "warning"]
        p.environment = ProcessInfo.processInfo.environment.merging(["MERIDIAN_PASSPHRASE": Self.passphrase]) { $1 }
        let log = dir.path("node.log")
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        p.standardError = handle
        p.standardOutput = handle
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard p.isRunning else { throw HarnessError("meridian-node exited with \(p.terminationStatus): \(logText)") }
            if let data = FileManager.default.contents(atPath: addressFile), !data.isEmpty {
                let c = try NodeClient(String(decoding: data, as: UTF8.self))
                if (try? await c.request("GET", "/health")) != nil { client = c; return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("meridian-node did not answer within 60 s: \(logText)")
    }

    /// The log's warnings and errors, then its tail.
    var logText: String {
        let text = String(decoding: FileManager.default.contents(atPath: dir.path("node.log")) ?? Data(), as: UTF8.self)
        let serious = text.split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" critical ") || $0.contains(" warning ") }.suffix(20)
        return serious.joined(separator: "\n") + "\n…\n" + text.suffix(1500)
    }

    /// SIGKILL: no chance to flush or clean up.
    func kill9() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil; client = nil
    }

    /// SIGTERM, then wait for the graceful stop; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard let p = process else { return 0 }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        process = nil; client = nil
        return p.terminationStatus
    }

    deinit { if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }

    func api() throws -> NodeClient {
        guard let client else { throw HarnessError("the node is not running") }
        return client
    }
}
