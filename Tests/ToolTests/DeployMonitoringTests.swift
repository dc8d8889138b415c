import Foundation
import Testing
import MeridianTestSupport

/// The monitoring in Tools/Deploy as Prometheus itself reads it: the alert rules pass `promtool
/// check rules` and their unit tests (`promtool test rules`: each alert fires on the series shape
/// it is for and stays quiet on a healthy node's), the example scrape configuration passes `promtool
/// check config`, and every dashboard expression is valid PromQL. That every series they name is one
/// a node serves is checked against a running localnet (LocalnetTests).
@Suite(.timeLimit(.minutes(5))) struct DeployMonitoringTests {
    static func promtool() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") + ["/usr/bin"] {
            let p = "\(dir)/promtool"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw CommandFailure("promtool not found: install Debian's prometheus package (make setup does)")
    }

    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-promtool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func theAlertRulesPassPromtoolAndTheirUnitTests() async throws {
        let dir = DeployedMonitoring.prometheusDirectory.path
        let check = try await ChildProcess.run(try Self.promtool(), ["check", "rules", "meridian-alerts.yml"], workingDirectory: dir)
        #expect(check.status == 0 && check.stdout.contains("SUCCESS: 12 rules found"), "\(check)")
        let unit = try await ChildProcess.run(try Self.promtool(), ["test", "rules", "meridian-alerts.test.yml"], workingDirectory: dir)
        #expect(unit.status == 0 && unit.stdout.contains("SUCCESS"), "\(unit)")
        // Every alert has a unit test that makes it fire.
        let rules = try String(contentsOfFile: dir + "/meridian-alerts.yml", encoding: .utf8)
        let tests = try String(contentsOfFile: dir + "/meridian-alerts.test.yml", encoding: .utf8)
        let alerts = rules.matches(of: /- alert: (\w+)/).map { String($0.output.1) }
        #expect(alerts.count == 12)
        for a in alerts {
            #expect(tests.contains("alertname: \(a)\n        exp_alerts:\n          - exp_labels"), "no unit test makes \(a) fire")
        }
    }

    /// A unit test that expects an alert its rule cannot raise fails: the rules are really evaluated.
    @Test func promtoolFailsAThresholdMovedOutOfReach() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = DeployedMonitoring.prometheusDirectory
        let rules = try String(contentsOf: source.appendingPathComponent("meridian-alerts.yml"), encoding: .utf8)
        #expect(rules.contains("meridian_data_dir_free_bytes / meridian_data_dir_size_bytes < 0.10"))
        try rules.replacingOccurrences(of: "meridian_data_dir_free_bytes / meridian_data_dir_size_bytes < 0.10",
                                       with: "meridian_data_dir_free_bytes / meridian_data_dir_size_bytes < 0.01")
            .write(to: dir.appendingPathComponent("meridian-alerts.yml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: source.appendingPathComponent("meridian-alerts.test.yml"), to: dir.appendingPathComponent("meridian-alerts.test.yml"))
        let unit = try await ChildProcess.run(try Self.promtool(), ["test", "rules", "meridian-alerts.test.yml"], workingDirectory: dir.path)
        #expect(unit.status != 0 && (unit.stdout + unit.stderr).contains("alertname: MeridianDiskLow"), "\(unit)")
    }

    @Test func theExampleScrapeConfigurationPassesPromtool() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = DeployedMonitoring.prometheusDirectory
        // The operator's paths (/etc/...) become files of this test; promtool checks they exist.
        var config = try String(contentsOf: source.appendingPathComponent("prometheus.yml"), encoding: .utf8)
        for (path, name) in [("/etc/meridian/tls/ca.pem", "ca.pem"), ("/etc/prometheus/meridian-metrics.token", "token")] {
            #expect(config.contains(path))
            try Data("x".utf8).write(to: dir.appendingPathComponent(name))
            config = config.replacingOccurrences(of: path, with: dir.appendingPathComponent(name).path)
        }
        try config.write(to: dir.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: source.appendingPathComponent("meridian-alerts.yml"), to: dir.appendingPathComponent("meridian-alerts.yml"))
        let check = try await ChildProcess.run(try Self.promtool(), ["check", "config", "prometheus.yml"], workingDirectory: dir.path)
        #expect(check.status == 0 && check.stdout.contains("SUCCESS: 12 rules found"), "\(check)")
    }

    /// Each panel's expression parses as PromQL (promtool checks them as recording rules), panels
    /// have unique ids and fit Grafana's 24-column grid.
    @Test func theDashboardsExpressionsAreValidPromQL() async throws {
        let exprs = try DeployedMonitoring.dashboardExpressions()
        #expect(exprs.count >= 20)
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        var yaml = "groups:\n  - name: dashboard\n    rules:\n"
        for (i, e) in exprs.enumerated() {
            yaml += "      - record: dashboard:panel\(i)\n        expr: '\(e.expr.replacingOccurrences(of: "'", with: "''"))'\n"
        }
        try yaml.write(to: dir.appendingPathComponent("dashboard.yml"), atomically: true, encoding: .utf8)
        let check = try await ChildProcess.run(try Self.promtool(), ["check", "rules", "dashboard.yml"], workingDirectory: dir.path)
        #expect(check.status == 0 && check.stdout.contains("SUCCESS: \(exprs.count) rules found"), "\(check)")

        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: DeployedMonitoring.dashboard)) as? [String: Any] ?? [:]
        let panels = object["panels"] as? [[String: Any]] ?? []
        let ids = panels.compactMap { $0["id"] as? Int }
        #expect(ids.count == panels.count && Set(ids).count == ids.count, "panel ids must be unique")
        for p in panels {
            let g = p["gridPos"] as? [String: Int] ?? [:]
            #expect((g["x"] ?? 99) + (g["w"] ?? 99) <= 24, "\(p["title"] ?? "?") overflows the grid")
        }
    }
}

struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The hardened systemd unit in Tools/Deploy as systemd reads it: `systemd-analyze verify` finds no
/// error (its paths made this checkout's), and `systemd-analyze security` rates its exposure at
/// most 2.0 of 10 ("OK"). (This machine has no systemd as PID 1: the unit is checked, not run.)
@Suite(.timeLimit(.minutes(5))) struct SystemdUnitTests {
    static let unit = DeployedMonitoring.repository.appendingPathComponent("Tools/Deploy/systemd/meridian-node.service")

    static func analyze() throws -> String {
        for p in ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        throw CommandFailure("systemd-analyze not found: install Debian's systemd package (make setup does)")
    }

    /// The unit with its binary replaced by `binary`, in a scratch directory.
    static func copy(binary: String, edit: (String) -> String = { $0 }) throws -> URL {
        let dir = try DeployMonitoringTests.scratch()
        let text = try String(contentsOf: unit, encoding: .utf8)
        #expect(text.contains("ExecStart=/usr/local/bin/meridian-node start"))
        let file = dir.appendingPathComponent("meridian-node.service")
        try edit(text.replacingOccurrences(of: "/usr/local/bin/meridian-node", with: binary)).write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test func theUnitVerifiesAndIsHardened() async throws {
        let binary = DeployedMonitoring.repository.appendingPathComponent(".build/debug/meridian-node").path
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build meridian-node first (swift build)")
        let file = try Self.copy(binary: binary)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let verify = try await ChildProcess.run(try Self.analyze(), ["verify", file.path])
        #expect(verify.status == 0 && !verify.stderr.contains(file.lastPathComponent), "\(verify)")
        let security = try await ChildProcess.run(try Self.analyze(), ["security", "--offline=yes", "--threshold=20", file.path])
        #expect(security.status == 0 && security.stdout.contains("Overall exposure level for meridian-node.service: 1."), "\(security)")
        for directive in ["NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "ProtectSystem=strict", "ReadWritePaths=/var/lib/meridian", "PrivateTmp=yes",
                          "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "User=meridian"] {
            #expect(try String(contentsOf: Self.unit, encoding: .utf8).contains(directive), "the unit lacks \(directive)")
        }
    }

    /// The validator key's signer (meridian-signer.service): verified, rated "SAFE" (under 1.0), with
    /// no network but its Unix socket, and run as a user of its own in the node's group.
    @Test func theSignerUnitVerifiesHasNoNetworkAndIsHardened() async throws {
        let unit = DeployedMonitoring.repository.appendingPathComponent("Tools/Deploy/systemd/meridian-signer.service")
        let binary = DeployedMonitoring.repository.appendingPathComponent(".build/debug/meridian-signer").path
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build meridian-signer first (swift build)")
        let dir = try DeployMonitoringTests.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOf: unit, encoding: .utf8)
        let file = dir.appendingPathComponent("meridian-signer.service")
        try text.replacingOccurrences(of: "/usr/local/bin/meridian-signer", with: binary).write(to: file, atomically: true, encoding: .utf8)
        let verify = try await ChildProcess.run(try Self.analyze(), ["verify", file.path])
        #expect(verify.status == 0 && !verify.stderr.contains(file.lastPathComponent), "\(verify)")
        let security = try await ChildProcess.run(try Self.analyze(), ["security", "--offline=yes", "--threshold=10", file.path])
        #expect(security.status == 0 && security.stdout.contains("Overall exposure level for meridian-signer.service: 0."), "\(security)")
        for directive in ["User=meridian-signer\n", "Group=meridian\n", "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX\n", "IPAddressDeny=any",
                          "--allow-user meridian", "ReadWritePaths=/var/lib/meridian-signer\n", "NoNewPrivileges=yes", "MemoryDenyWriteExecute=yes"] {
            #expect(text.contains(directive), "the signer's unit lacks \(directive)")
        }
    }

    /// verify is not a rubber stamp: a mistyped value and a missing binary are reported.
    @Test func verifyReportsAMistakeInTheUnit() async throws {
        let file = try Self.copy(binary: "/nonexistent/meridian-node") { $0.replacingOccurrences(of: "NoNewPrivileges=yes", with: "NoNewPrivileges=perhaps") }
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let verify = try await ChildProcess.run(try Self.analyze(), ["verify", file.path])
        #expect(verify.status != 0 && verify.stderr.contains("perhaps") && verify.stderr.contains("/nonexistent/meridian-node"), "\(verify)")
    }
}
