import Foundation
import MeridianCore
import MeridianClient
import MeridianDemo
import MeridianTestSupport
#if canImport(Glibc)
import Glibc
#endif

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

/// Wait loops in these tests have no wall-clock deadline of their own (a deadline tuned to an idle
/// machine fails on a loaded one): each test's time limit bounds them. When that limit cancels a
/// wait, this throws an error naming what was awaited, so the failure says where it hung.
func stillWaiting(_ what: @autoclosure () -> String) throws {
    if Task.isCancelled { throw HarnessError("stopped by the test's time limit while waiting: \(what())") }
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
    /// MERIDIAN_KEEP_TEST_DIRS=1 keeps them (nodes' logs, WALs and guards) for a post-mortem.
    deinit { if ProcessInfo.processInfo.environment["MERIDIAN_KEEP_TEST_DIRS"] != "1" { try? FileManager.default.removeItem(at: url) } }
}

/// Runs one of the project's executables to completion (through `ChildProcess`: no thread blocked,
/// a test's time limit kills it).
func run(_ name: String, _ arguments: [String], environment: [String: String] = [:], in dir: TemporaryDirectory) async throws -> CommandResult {
    try await ChildProcess.run(try Binaries.path(name), arguments, environment: environment, workingDirectory: Binaries.repository.path)
}

/// A real `meridian-node` process on a loopback port the OS chose, with its data directory. It holds
/// one of the suite's node slots from its first start to its end, unless its owner (a localnet)
/// reserved slots for all its nodes at once.
final class NodeProcess: @unchecked Sendable {
    // @unchecked: the process handle is only used from the owning test's task.
    static let passphrase = "test-passphrase-not-secret"
    let dir: TemporaryDirectory
    let dataDir: String
    private var process: BackgroundProcess?
    private(set) var client: NodeClient?
    private var slot: NodeSlots.Reservation?
    private let ownerHoldsSlot: Bool
    /// The `meridian-node` executable `start` runs (nil: the one this checkout built).
    var executable: String?

    /// `meridian-node init` from the demo genesis into a fresh directory (all four demo validator
    /// keys and Hospital Ribeira's worker key unless `initArguments` say otherwise).
    init(_ label: String, initArguments: [String]? = nil, ownerHoldsSlot: Bool = false) async throws {
        dir = try TemporaryDirectory(label)
        dataDir = dir.path("node")
        self.ownerHoldsSlot = ownerHoldsSlot
        let r = try await run("meridian-node", ["init", "--data-dir", dataDir, "--genesis", "Genesis/demo.json"] + (initArguments ?? DemoKeys.allValidators()),
                              environment: ["MERIDIAN_PASSPHRASE": Self.passphrase], in: dir)
        guard r.status == 0 else { throw HarnessError("init failed: \(r)") }
    }

    var environment: [String: String] { ["MERIDIAN_PASSPHRASE": Self.passphrase, "MERIDIAN_NODE": client?.base.absoluteString ?? ""] }

    /// Starts the node and waits until it is ready: it wrote `api.address` (which it does once its
    /// API listens) and answers `/health`. No deadline here: a node that exits fails at once, and
    /// one that never gets ready is stopped by the test's time limit, whose cancellation kills it;
    /// the node's log says which start phase was slow.
    func start(blockIntervalMilliseconds: Int = 100, environment extra: [String: String] = [:], logLevel: String? = nil) async throws {
        if slot == nil && !ownerHoldsSlot { slot = try await NodeSlots.shared.reserve(1) }
        let addressFile = dataDir + "/api.address"
        try? FileManager.default.removeItem(atPath: addressFile)
        let log = dir.path("node.log")
        let p = try await BackgroundProcess(try executable ?? Binaries.path("meridian-node"),
                                            ["start", "--exit-with-parent", "--data-dir", dataDir, "--api-port", "0", "--block-interval-ms", String(blockIntervalMilliseconds), "--log-level", logLevel ?? ProcessInfo.processInfo.environment["MERIDIAN_TEST_NODE_LOG_LEVEL"] ?? "warning"],
                                            environment: ["MERIDIAN_PASSPHRASE": Self.passphrase].merging(extra) { $1 }, workingDirectory: Binaries.repository.path, logFile: log)
        process = p
        while true {
            try stillWaiting("meridian-node to answer /health (\(p.diagnosis)): \(logText)")
            guard p.isRunning else { throw HarnessError("meridian-node exited with \(p.exitStatus ?? -1): \(logText)") }
            if let data = FileManager.default.contents(atPath: addressFile), !data.isEmpty {
                let c = try NodeClient(String(decoding: data, as: UTF8.self))
                if (try? await c.request("GET", "/health", timeout: 5)) != nil { client = c.signed(by: demoOperator); return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The whole log.
    var fullLog: String { String(decoding: FileManager.default.contents(atPath: dir.path("node.log")) ?? Data(), as: UTF8.self) }

    /// The log's warnings and errors, then its tail.
    var logText: String {
        let text = String(decoding: FileManager.default.contents(atPath: dir.path("node.log")) ?? Data(), as: UTF8.self)
        let serious = text.split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" critical ") || $0.contains(" warning ") }.suffix(20)
        return serious.joined(separator: "\n") + "\n…\n" + text.suffix(1500)
    }

    /// SIGKILL: no chance to flush or clean up; returns once the process is gone.
    func kill9() async {
        guard let p = process else { return }
        p.send(SIGKILL)
        await p.waitForExit()
        process = nil; client = nil
    }

    /// SIGTERM, then wait for the graceful stop; returns the exit status.
    @discardableResult
    func stop() async -> Int32 {
        guard let p = process else { return 0 }
        p.send(SIGTERM)
        let status = await p.waitForExit()
        process = nil; client = nil
        return status
    }

    /// Waits for the node to exit by itself (a fail-stop); returns its status.
    func waitForExit() async -> Int32 {
        guard let p = process else { return 0 }
        let status = await p.waitForExit()
        process = nil; client = nil
        return status
    }

    /// Sends `signal` to the running node (SIGHUP: re-read node.json's log level).
    func send(_ signal: Int32) { process?.send(signal) }

    /// SIGTERM without waiting (for `defer`, which cannot await); the process ends on its own.
    func terminate() { process?.send(SIGTERM) }

    deinit { process?.send(SIGKILL) }

    func api() throws -> NodeClient {
        guard let client else { throw HarnessError("the node is not running") }
        return client
    }
}

/// The demo cast's keys as the keystores the production CLIs take (`--keystore`), sealed with the
/// harness's passphrase: written once per test process into a temporary directory removed at exit.
enum DemoKeys {
    private static let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-demo-keys-\(UUID().uuidString)").path
        atexit { try? FileManager.default.removeItem(atPath: DemoKeys.directory) }
        return path
    }()

    /// The keystore of a demo actor (`maria`, `hospital-ribeira/clinician`, `dpa-pt/officer`, ...).
    static func keystore(_ actor: String) throws -> String {
        try DemoKeystores.write(actor, in: directory, passphrase: NodeProcess.passphrase)
    }

    /// A CLI's key arguments for a demo actor.
    static func args(_ actor: String) throws -> [String] { ["--keystore", try keystore(actor)] }

    /// `meridian-node init`'s key arguments: every demo validator key and Hospital Ribeira's worker key.
    static func allValidators() throws -> [String] {
        try DemoCast.hospitals.filter(\.validator).flatMap { ["--validator-keystore", try keystore("\($0.id)/validator")] }
            + ["--worker-keystore", try keystore("hospital-ribeira/worker")]
    }

    /// `meridian-node init`'s key arguments for one demo hospital's validator node.
    static func validator(_ hospital: String) throws -> [String] {
        ["--validator-keystore", try keystore("\(hospital)/validator"), "--worker-keystore", try keystore("\(hospital)/worker")]
    }
}
