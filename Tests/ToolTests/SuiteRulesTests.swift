import Foundation
import Testing

/// Rules the test suite keeps about itself, checked on its own sources: every suite has a time
/// limit (so a hang fails fast and names itself instead of holding CI until its own limit), every
/// test belongs to a suite, and no test starts a child through Foundation's `Process` (whose exit
/// can go unseen on Linux; `MeridianTestSupport.ChildProcess` says why) or sleeps on a thread.
@Suite(.timeLimit(.minutes(5))) struct SuiteRulesTests {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    static func sources() throws -> [(String, String)] {
        let files = FileManager.default.enumerator(atPath: testsDirectory.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        return try files.sorted().map { ($0, try String(contentsOf: testsDirectory.appendingPathComponent($0), encoding: .utf8)) }
    }

    @Test func everySuiteHasATimeLimitAndEveryTestASuite() throws {
        let sources = try Self.sources()
        #expect(sources.count > 50, "found only \(sources.count) test sources under \(Self.testsDirectory.path)")
        var suites = 0
        for (path, text) in sources {
            for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("@Suite") {
                suites += 1
                #expect(line.contains(".timeLimit("), "\(path): a suite without a time limit: \(line.trimmingCharacters(in: .whitespaces))")
                // A limit runs from the test's start, even while other tests' synchronous work holds
                // every thread of the pool; a 1-minute limit failed a test that computes nothing
                // slow (MLLPExposureTests, 91 s on a loaded 2-core machine). Limits bound hangs, not speed.
                if let minutes = line.firstMatch(of: /\.timeLimit\(\.minutes\((\d+)\)\)/).flatMap({ Int($0.1) }) {
                    #expect(minutes >= 5, "\(path): a time limit under 5 minutes can fail a test only because the machine is busy: \(line)")
                }
            }
            if text.contains("@Test") { #expect(text.contains("@Suite"), "\(path) has tests outside any suite (no time limit reaches them)") }
        }
        #expect(suites >= 60)
    }

    @Test func noTestUsesFoundationProcessOrBlockingWaits() throws {
        for (path, text) in try Self.sources() where path != "ToolTests/SuiteRulesTests.swift" {
            // A wall-clock deadline inside a wait fails a test only because the machine is busy (a
            // 20-second one failed P2PNetworkTests in CI); the suite's time limit bounds waits.
            for forbidden in ["Process()", ".waitUntilExit()", "Thread.sleep", "usleep(", "Date() < deadline", "Date() >= deadline"] {
                #expect(!text.contains(forbidden), "\(path) uses \(forbidden)")
            }
        }
    }
}
