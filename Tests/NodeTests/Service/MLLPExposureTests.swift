import Foundation
import Testing
@testable import MeridianNode

/// MLLP has no TLS here yet, so its senders are trusted by network position: a node refuses to
/// start with the listener on a non-loopback address unless the operator explicitly accepts
/// unauthenticated senders from the network (issue 19, transport).
@Suite(.timeLimit(.minutes(5))) struct MLLPExposureTests {
    func config(host: String, allowRemote: Bool? = nil) throws -> NodeConfig {
        var workers: [String: Any] = ["mllpPort": 0, "mllpHost": host]
        if let allowRemote { workers["mllpAllowRemote"] = allowRemote }
        return try JSONDecoder().decode(NodeConfig.self, from: JSONSerialization.data(withJSONObject: ["workers": workers]))
    }

    @Test func aListenerOffLoopbackIsRefusedUnlessAllowedExplicitly() throws {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1"] {
            #expect(throws: Never.self, "\(host) is loopback") { try config(host: host).validate() }
        }
        for host in ["0.0.0.0", "10.0.0.5", "192.168.1.20", "::", "127.0.0.1.evil.test", "mllp.hospital.example"] {
            let c = try config(host: host)
            do {
                try c.validate()
                Issue.record("\(host) was accepted without mllpAllowRemote")
            } catch {
                #expect(error.field == "config.workers.mllpHost" && error.message.contains("mllpAllowRemote"), "\(error)")
            }
            #expect(throws: Never.self, "\(host) with mllpAllowRemote") { try config(host: host, allowRemote: true).validate() }
        }
    }
}
