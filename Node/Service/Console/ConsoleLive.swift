import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import MeridianCore
import MeridianModules
import MeridianWorkers

/// The console's live views over WebSocket at `/console/live?view=network|alerts`: the session
/// cookie authenticates the upgrade (a browser cannot sign a subscription), and the role decides
/// the view. `network` sends the chain's committed events as they come (and the consensus round
/// each second); `alerts` sends a clinician's organisation's alerts as the risk worker raises them.
/// A bad or missing session, or the wrong role, is refused before the upgrade.
enum ConsoleLive {
    static let path = "/console/live"

    struct Tick: Encodable { let type: String; let height: UInt64; let time: String; let round: UInt32?; let kind: String? }
    /// A live alert row: its cells as text, and what the row's Acknowledge form posts.
    struct Alert: Encodable { let type = "alert"; let cells: [String]; let patient: String; let alert: String }

    static func shouldUpgrade(_ request: HTTPRequest, console: NodeConsole, events: EventHub, alerts: AlertHub?)
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>? {
        guard let target = request.path, let components = URLComponents(string: target), components.path == path else { return nil }
        let view = components.queryItems?.first { $0.name == "view" }?.value
        let token = ConsoleHeaders.cookie(NodeConsole.sessionCookie, in: request.headerFields[.cookie])
        guard let viewer = (try? console.viewer(token: token)) ?? nil else { return .dontUpgrade }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        switch view {
        case "network" where !viewer.roleNames.isDisjoint(with: ["operator", "regulator"]):
            let stream = events.subscribe()   // before the 101, as EventStream does
            return .upgrade([:]) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { for try await _ in inbound {} }
                    group.addTask {
                        for await e in stream {
                            let tip = await console.api.chain.tip
                            let t = Tick(type: "event", height: e.height, time: tip.time.iso8601, round: console.api.consensusStatus?().round, kind: e.event.kind)
                            try await outbound.write(.text(String(decoding: try encoder.encode(t), as: UTF8.self)))
                        }
                    }
                    group.addTask {
                        var last: UInt64 = .max
                        while !Task.isCancelled {
                            try await Task.sleep(for: .seconds(1))
                            let tip = await console.api.chain.tip
                            let round = console.api.consensusStatus?().round
                            if tip.height != last {
                                last = tip.height
                                let t = Tick(type: "status", height: tip.height, time: tip.time.iso8601, round: round, kind: nil)
                                try await outbound.write(.text(String(decoding: try encoder.encode(t), as: UTF8.self)))
                            }
                        }
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
        case "alerts":
            guard let org = viewer.clinicianOrganization, let alerts else { return .dontUpgrade }
            let stream = alerts.subscribe(organization: org, clinician: viewer.key)   // before the 101, as EventStream does
            return .upgrade([:]) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { for try await _ in inbound {} }
                    group.addTask {
                        for await d in stream {
                            let message = Alert(cells: NodeConsole.alertCells(d.alert, escalation: d.escalation), patient: Address(d.alert.patient).description, alert: d.alert.hash.hex)
                            try await outbound.write(.text(String(decoding: try encoder.encode(message), as: UTF8.self)))
                        }
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
        default:
            return .dontUpgrade
        }
    }
}
