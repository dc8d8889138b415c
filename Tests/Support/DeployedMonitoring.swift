public import Foundation

/// The monitoring an operator deploys (Tools/Deploy: Prometheus alert rules, the Grafana
/// dashboard), read by the tests that check it against promtool and against a running node.
public enum DeployedMonitoring {
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static var prometheusDirectory: URL { repository.appendingPathComponent("Tools/Deploy/prometheus") }
    public static var dashboard: URL { repository.appendingPathComponent("Tools/Deploy/grafana/meridian-node.json") }

    /// Every PromQL expression of the dashboard's panels, `$instance` made a plain regex.
    public static func dashboardExpressions() throws -> [(panel: String, expr: String)] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard)) as? [String: Any] ?? [:]
        let panels = object["panels"] as? [[String: Any]] ?? []
        return panels.flatMap { p in
            (p["targets"] as? [[String: Any]] ?? []).compactMap { t in
                (t["expr"] as? String).map { (p["title"] as? String ?? "?", $0.replacingOccurrences(of: "$instance", with: ".*")) }
            }
        }
    }

    /// Every `meridian_…` series the alert rules and the dashboard name (in expressions and in the
    /// annotations that tell the operator where to look).
    public static func metricNames() throws -> Set<String> {
        let rules = try String(contentsOf: prometheusDirectory.appendingPathComponent("meridian-alerts.yml"), encoding: .utf8)
        let text = rules + "\n" + (try dashboardExpressions().map(\.expr).joined(separator: "\n"))
        return Set(text.matches(of: /meridian_[a-z0-9_]+/).map { String($0.output) })
    }
}
