import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianNode
import MeridianWorkers

/// Hub subscriptions: what is published between subscribing and reading is delivered (routes
/// subscribe before their 101, and a client that acts at once must still see its action), a
/// dropped subscription leaves the hub, and finishing the hub (at shutdown) ends every reader.
@Suite(.timeLimit(.minutes(5))) struct SubscriptionTests {
    static func event(_ height: UInt64) -> CommittedEvent {
        CommittedEvent(height: height, transaction: SHA256.hash(Array("tx-\(height)".utf8)), event: .contractDeployed(code: SHA256.hash([UInt8(height)]), deployer: PublicKey.generatorX))
    }

    @Test func eventsPublishedBeforeTheFirstReadAreDelivered() async throws {
        let hub = EventHub()
        let subscription = hub.subscribe()
        hub.publish([Self.event(1), Self.event(2)])
        var heights: [UInt64] = []
        for await e in subscription { heights.append(e.height); if heights.count == 2 { break } }
        #expect(heights == [1, 2])
    }

    @Test func aDroppedSubscriptionLeavesTheHub() async throws {
        let hub = EventHub()
        do {
            let unused = hub.subscribe()
            #expect(hub.subscriberCount == 1)
            _ = unused
        }
        #expect(hub.subscriberCount == 0, "a subscription nobody holds still receives events")
        let alerts = AlertHub()
        do { _ = alerts.subscribe(organization: OrganizationID("hospital-ribeira")!) }
        #expect(alerts.subscriberCount == 0)
    }

    @Test func finishingTheHubEndsEveryReader() async throws {
        let hub = EventHub()
        let readers = (0..<3).map { _ in
            let s = hub.subscribe()
            return Task { var n = 0; for await _ in s { n += 1 }; return n }
        }
        hub.publish([Self.event(7)])
        hub.finish()
        for r in readers { #expect(await r.value == 1) }
        #expect(hub.subscriberCount == 0)
    }
}
