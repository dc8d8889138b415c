import Foundation
import Testing
import Synchronization
import Prometheus
import MeridianCore
import MeridianModules
import MeridianRisk
import MeridianWorkers
import MeridianStorage

/// Escalation of unacknowledged high alerts, pass by pass with a controlled clock: each step goes
/// to the next clinician of the hospital's order and to nobody else, once; an acknowledgement stops
/// it; lower bands and hospitals without an order never escalate.
@Suite(.timeLimit(.minutes(5))) struct AlertEscalatorTests {
    static let origin: UInt64 = 1_795_500_000_000
    static func at(seconds: UInt64) -> Timestamp { Timestamp(unixMilliseconds: origin + seconds * 1000) }
    let sakura = OrganizationID("sakura-general")!, spree = OrganizationID("klinikum-spree")!
    static func key(_ n: UInt8) -> PublicKey { try! PrivateKey(secret: Bytes32([UInt8](repeating: n, count: 32))!).publicKey }
    let nurse = Self.key(1), doctor = Self.key(2), other = Self.key(3)

    /// Sub-scores in `NEWS2.Parameter` order; `[3, 3, 1, 0, 0, 0, 0]` is 7, the high band.
    func alert(_ subscores: [Int], to recipients: [OrganizationID], patient: UInt8 = 10) -> AlertRecord {
        AlertRecord(patient: Self.key(patient), time: Self.at(seconds: 0), reasons: [.bandRose],
                    score: NEWS2.Score(subscores: subscores), modelRisk: nil, modelHash: .zero, scoringVersion: "test", recipients: recipients)
    }

    final class Acks: Sendable { let set = Mutex<Set<String>>([]) }

    func escalator(hub: AlertHub, acks: Acks, orders: [OrganizationID: AlertEscalation]) -> AlertEscalator {
        AlertEscalator(store: nil, hub: hub, registry: PrometheusCollectorRegistry(),
                       escalation: { orders[$0] },
                       acknowledged: { alert, org in acks.set.withLock { $0.contains(alert.hex + org.value) } })
    }

    @Test func eachStepGoesToTheNextClinicianOnceAndAnAcknowledgementStopsIt() async throws {
        let hub = AlertHub(), acks = Acks()
        let e = escalator(hub: hub, acks: acks, orders: [sakura: AlertEscalation(recipients: [nurse, doctor], afterSeconds: 300)])
        let nurseStream = hub.subscribe(organization: sakura, clinician: nurse)
        let doctorStream = hub.subscribe(organization: sakura, clinician: doctor)
        let bystander = hub.subscribe(organization: sakura, clinician: other)
        let high = alert([3, 3, 1, 0, 0, 0, 0], to: [sakura])
        e.track(high, raised: Self.at(seconds: 0))
        #expect(e.openCount == 1)
        #expect(try e.pass(now: Self.at(seconds: 299)).isEmpty, "nothing before the delay")
        let first = try e.pass(now: Self.at(seconds: 300))
        #expect(first.map(\.escalation?.recipient) == [nurse] && first.first?.escalation?.level == 1)
        #expect(try e.pass(now: Self.at(seconds: 599)).isEmpty, "each step once")
        #expect(try e.pass(now: Self.at(seconds: 600)).map(\.escalation?.recipient) == [doctor])
        #expect(try e.pass(now: Self.at(seconds: 5000)).isEmpty, "past the last clinician: nothing more")
        #expect(e.openCount == 0, "fully escalated: forgotten")
        // What each subscriber received: the nurse step 1, the doctor step 2, the bystander nothing.
        var n = nurseStream.makeAsyncIterator(), d = doctorStream.makeAsyncIterator()
        #expect(await n.next()?.escalation?.level == 1)
        #expect(await d.next()?.escalation?.level == 2)
        hub.publish(AlertHub.Delivery(alert: alert([0, 0, 0, 0, 0, 0, 0], to: [sakura], patient: 11), raisedUptimeNanoseconds: 0))
        var b = bystander.makeAsyncIterator()
        let firstForBystander = await b.next()
        #expect(firstForBystander?.escalation == nil && firstForBystander?.alert.patient == Self.key(11),
                "the bystander's first message is the ordinary alert published after the escalations")

        // Acknowledged after the first step: no second step.
        let another = alert([3, 3, 1, 0, 0, 0, 0], to: [sakura], patient: 12)
        e.track(another, raised: Self.at(seconds: 0))
        #expect(try e.pass(now: Self.at(seconds: 300)).count == 1)
        acks.set.withLock { _ = $0.insert(another.hash.hex + sakura.value) }
        #expect(try e.pass(now: Self.at(seconds: 900)).isEmpty)
        #expect(e.openCount == 0)
    }

    @Test func onlyHighAlertsOfHospitalsWithAnOrderEscalate() async throws {
        let hub = AlertHub(), acks = Acks()
        let e = escalator(hub: hub, acks: acks, orders: [sakura: AlertEscalation(recipients: [nurse], afterSeconds: 60)])
        e.track(alert([3, 0, 0, 0, 0, 0, 0], to: [sakura]), raised: Self.at(seconds: 0))      // a single red parameter: low-medium
        e.track(alert([2, 2, 1, 0, 0, 0, 0], to: [sakura]), raised: Self.at(seconds: 0))      // 5: medium
        e.track(alert([3, 3, 1, 0, 0, 0, 0], to: []), raised: Self.at(seconds: 0))            // delivered nowhere
        #expect(e.openCount == 0)
        // Two hospitals, one with an order: only its clinician is sent the alert.
        let both = alert([3, 3, 1, 0, 0, 0, 0], to: [sakura, spree])
        e.track(both, raised: Self.at(seconds: 0))
        let sent = try e.pass(now: Self.at(seconds: 60))
        #expect(sent.map(\.escalation?.organization) == [sakura])
        // Kept for the hospital without an order (it may set one) until the window ends.
        #expect(e.openCount == 1)
        #expect(try e.pass(now: Timestamp(unixMilliseconds: Self.origin + AlertEscalator.windowMilliseconds + 1)).isEmpty)
        #expect(e.openCount == 0)
    }

    @Test func theLevelIsAFunctionOfTheTimeSinceTheAlert() {
        let order = AlertEscalation(recipients: [nurse, doctor, other], afterSeconds: 120)
        #expect(order.level(raised: Self.at(seconds: 100), now: Self.at(seconds: 50)) == 0)
        #expect(order.level(raised: Self.at(seconds: 0), now: Self.at(seconds: 119)) == 0)
        #expect(order.level(raised: Self.at(seconds: 0), now: Self.at(seconds: 120)) == 1)
        #expect(order.level(raised: Self.at(seconds: 0), now: Self.at(seconds: 359)) == 2)
        #expect(order.level(raised: Self.at(seconds: 0), now: Self.at(seconds: 100_000)) == 3)
    }

    /// After a restart the escalator reads the last day's alerts back from the store: those since
    /// the cut, newest first, and a row that does not decode is counted, not taken for an alert.
    @Test func theStoreReadsRecentAlertsBackAndCountsUnreadableRows() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-alert-store-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let db = try RocksDB(path: path, columnFamilies: AssessmentStore.columns)
        let store = AssessmentStore(db: db, anchors: nil)
        func stored(_ seconds: UInt64, patient: UInt8) -> AlertRecord {
            AlertRecord(patient: Self.key(patient), time: Self.at(seconds: seconds), reasons: [.bandRose],
                        score: NEWS2.Score(subscores: [3, 3, 1, 0, 0, 0, 0]), modelRisk: nil, modelHash: .zero, scoringVersion: "test", recipients: [sakura])
        }
        for (t, p) in [(0, 20), (100, 21), (200, 22)] as [(UInt64, UInt8)] { try store.storeAlert(stored(t, patient: p), deliveries: []) }
        let wb = RocksDB.WriteBatch(for: db)
        wb.put("risk_alerts", [0xff, 0xfe], [1, 2, 3])
        try db.write(wb, sync: true)
        let (alerts, unreadable) = try store.recentAlerts(since: Self.at(seconds: 50), limit: 10)
        #expect(alerts.map(\.time) == [Self.at(seconds: 200), Self.at(seconds: 100)])
        #expect(unreadable == 1)
    }
}
