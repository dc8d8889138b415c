import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianDemo
import MeridianNode

/// Committed events reach subscribers in block order: every event of block h before any of h+1
/// (they were published from a detached task per block, which could run out of order).
@Suite(.timeLimit(.minutes(5))) struct EventOrderTests {
    @Test func eventsOfABlockArePublishedBeforeThoseOfTheNext() async throws {
        let node = try TestNode()
        let stream = node.chain.events.subscribe()
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        var patients: [PrivateKey] = []
        for i in 0..<60 {
            let p = try PrivateKey(secret: SHA256.hash(Array("event-order-\(i)".utf8)))
            let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: p.publicKey))
            try await node.submit(p, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)))
            patients.append(p)
        }
        let last = await node.chain.tip.height
        var heights: [UInt64] = []
        for await e in stream {
            heights.append(e.height)
            if e.height == last { break }
        }
        #expect(heights == heights.sorted(), "events out of block order: \(heights)")
        #expect(Set(heights).count == patients.count, "every block's events arrived")
    }
}
