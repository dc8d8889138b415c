import Foundation
import MeridianTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `meridian-localnet` as an operator runs it: from PATH (it finds `meridian-node` beside itself),
/// and `stop` stops every node of the layout, a node restarted by hand included.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LocalnetCommandTests {
    @Test func runFromPathItFindsTheNodeAndStopStopsANodeRestartedByHand() async throws {
        let slots = try await NodeSlots.shared.reserve(1)
        defer { slots.release() }
        let dir = try TemporaryDirectory("localnet-cli")
        let net = dir.path("net")
        let path = ["PATH": Binaries.directory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
                    "MERIDIAN_PASSPHRASE": NodeProcess.passphrase]
        func localnet(_ args: [String]) async throws -> CommandResult {
            try await ChildProcess.run("meridian-localnet", args, environment: path, workingDirectory: Binaries.repository.path)
        }
        let initialised = try await localnet(["init", "--dir", net, "--validators", "1", "--block-interval-ms", "200", "--no-witnesses"])
        try #require(initialised.status == 0, "\(initialised)")
        let started = try await localnet(["start", "--dir", net])
        try #require(started.status == 0, "\(started)")
        defer { if let pid = Self.nodePID(net + "/node-0") { kill(pid, SIGKILL) } }
        // The operator kills the node and starts it again by hand.
        let first = try #require(Self.nodePID(net + "/node-0"))
        kill(first, SIGKILL)
        while kill(first, 0) == 0 { try stillWaiting("the killed node to exit"); try await Task.sleep(for: .milliseconds(20)) }
        try? FileManager.default.removeItem(atPath: net + "/node-0/api.address")
        let byHand = try await BackgroundProcess(try Binaries.path("meridian-node"), ["start", "--data-dir", net + "/node-0"],
                                                 environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], workingDirectory: Binaries.repository.path,
                                                 logFile: dir.path("by-hand.log"))
        // Ready: it wrote its API address (once it listens, its signal handling installed).
        while Self.nodePID(net + "/node-0") == nil || Self.nodePID(net + "/node-0") == first || !FileManager.default.fileExists(atPath: net + "/node-0/api.address") {
            guard byHand.isRunning else { throw HarnessError("the node restarted by hand exited: \(String(decoding: FileManager.default.contents(atPath: dir.path("by-hand.log")) ?? Data(), as: UTF8.self).suffix(800))") }
            try stillWaiting("the restarted node's pid file"); try await Task.sleep(for: .milliseconds(20))
        }
        let stopped = try await localnet(["stop", "--dir", net])
        #expect(stopped.status == 0 && stopped.stdout.contains("stopped 1"), "\(stopped)")
        let status = await byHand.waitForExit()
        #expect(status == 0, "the node restarted by hand was stopped gracefully by meridian-localnet stop (exit \(status)): \(String(decoding: FileManager.default.contents(atPath: dir.path("by-hand.log")) ?? Data(), as: UTF8.self).suffix(600))")
    }

    static func nodePID(_ dataDir: String) -> pid_t? {
        (try? String(contentsOfFile: dataDir + "/node.pid", encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}
