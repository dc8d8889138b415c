import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianVitals
import MeridianWorkers
import MeridianNode
import MeridianDemo
import Prometheus

/// Clinical alerts end to end in one node: a deteriorating patient's alert reaches the hospital her
/// consent covers for TREAT/ETREAT and nobody else, ahead of a routine backlog; each delivery lands
/// on her audit trail; the alert is stored and queued for anchoring.
@Suite(.timeLimit(.minutes(5))) struct AlertTests {
    static func now() -> Timestamp { Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)) }

    static func feed(_ patient: PublicKey, _ readings: [(VitalSign, Int64)], at time: Timestamp) -> ReadingBatch {
        ReadingBatch(patient: patient, source: .feed("ward", messageID: UUID().uuidString),
                     readings: readings.map { VitalReading(sign: $0.0, value: MeridianVitals.Measurement(whole: $0.1), time: time) })
    }

    /// A critical batch is acknowledged as stored only with its place in the scoring queue
    /// promised: with the critical lane full it is answered "busy" and nothing is written (the
    /// gateway retries), so nothing stored as critical goes unscored; once a place frees, the retry
    /// is stored and queued.
    @Test func aCriticalBatchAcknowledgedAsStoredIsAlwaysQueuedForScoring() async throws {
        var config = NodeConfig()
        config.workers.scoringQueueCapacity = 2
        let node = try TestNode(config: config)
        let (maria, _, _) = try await node.seedMaria()
        let t = Self.now()
        let critical = (0..<3).map { i in Self.feed(maria.publicKey, [(.oxygenSaturation, 80 + Int64(i)), (.respiratoryRate, 28)], at: t) }
        #expect(try critical.allSatisfy { try $0.mayBeCritical })
        let outcomes = try await node.workers.ingestor.ingest(feedBatches: critical)
        #expect(outcomes.map(\.status) == [.stored, .stored, .busy], "\(outcomes)")
        #expect(node.workers.risk.inbox.count == 2, "every batch acknowledged as stored is queued")
        _ = await node.workers.risk.inbox.next()
        let retried = try await node.workers.ingestor.ingest(feedBatches: [critical[2]])
        #expect(retried.first?.status == .stored, "\(retried)")
        #expect(node.workers.risk.inbox.count == 2)
    }

    /// Maria seeded, plus a consent for her vital signs to Sakura General (JP) for TREAT and ETREAT.
    static func seeded() async throws -> (TestNode, PrivateKey) {
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.vitalSigns], purposes: [.treat, .emergencyTreatment],
                                 countries: [CountryCode("JP")!], validFrom: Timestamp(iso8601: "2026-01-01")!,
                                 validUntil: Timestamp(iso8601: "2027-06-30")!, emergencyAccess: true)
        try await node.submit(maria, .grantConsent(terms))
        return (node, maria)
    }

    @Test func aCriticalAlertOvertakesARoutineBacklogAndReachesOnlyTheCoveredHospital() async throws {
        let (node, maria) = try await Self.seeded()
        // Twenty more patients, whose routine readings fill the risk worker's queue.
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        var others: [PrivateKey] = []
        for i in 0..<20 {
            let p = try PrivateKey(secret: SHA256.hash(Array("flood-patient-\(i)".utf8)))
            let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: p.publicKey))
            try await node.submit(p, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)))
            others.append(p)
        }
        let sakura = node.workers.alerts.subscribe(organization: OrganizationID("sakura-general")!)
        let spree = node.workers.alerts.subscribe(organization: OrganizationID("klinikum-spree")!)
        let t = Self.now()
        var routine: [ReadingBatch] = []
        for round in 0..<250 {
            for p in others { routine.append(Self.feed(p.publicKey, [(.heartRate, 70 + Int64(round % 5)), (.oxygenSaturation, 97)], at: t)) }
        }
        let outcomes = try await node.workers.ingestor.ingest(feedBatches: routine)
        #expect(outcomes.allSatisfy { $0.status == .stored }, "\(outcomes.first { $0.status != .stored }.map { "\($0)" } ?? "")")
        #expect(node.workers.risk.inbox.count == 5_000)
        // Maria in Tokyo: SpO2 85 %, respiration 27/min, pulse 135: three parameters at 3.
        let critical = Self.feed(maria.publicKey, [(.oxygenSaturation, 85), (.respiratoryRate, 27), (.heartRate, 135), (.systolicPressure, 95)], at: t)
        #expect(try await node.workers.ingestor.ingest(feedBatches: [critical]).first?.status == .stored)

        // The worker's next batch is the critical one, ahead of all 5,000 routine batches; scored
        // and dispatched as the running worker does, its alert is published while they all still wait.
        let next = try #require(await node.workers.risk.inbox.next())
        #expect(next.patient == maria.publicKey)
        _ = try node.workers.alertDispatcher.consider(node.workers.risk.assess(next))
        var iterator = sakura.makeAsyncIterator()
        let first = try #require(await iterator.next())
        #expect(node.workers.risk.inbox.count == 5_000)
        #expect(first.alert.patient == maria.publicKey)
        #expect(first.alert.reasons.contains(.parameterAtThree) && first.alert.reasons.contains(.bandRose))
        #expect(first.alert.score.band == .high && first.alert.recipients == [OrganizationID("sakura-general")!])
        // Klinikum Spree is not covered: it received nothing.
        node.workers.alerts.finish()
        var spreeIterator = spree.makeAsyncIterator()
        #expect(await spreeIterator.next() == nil)

        // Stored and queued for anchoring in the same write.
        #expect(try node.workers.assessments.alerts(patient: maria.publicKey).map(\.hash) == [first.alert.hash])
        #expect(try node.workers.anchors.queued(.alerts) == 1)
    }

    @Test func eachDeliveryIsAnAuditEntryAndAStillAtHighPatientDoesNotPageAgain() async throws {
        let (node, maria) = try await Self.seeded()
        let t = Self.now()
        let a1 = node.workers.risk.assess(Self.feed(maria.publicKey, [(.oxygenSaturation, 85), (.heartRate, 135)], at: t))
        let alert = try #require(try node.workers.alertDispatcher.consider(a1))
        // Still at the same scores a second later: no new alert.
        let a2 = node.workers.risk.assess(Self.feed(maria.publicKey, [(.oxygenSaturation, 85)], at: t.adding(milliseconds: 1000)))
        #expect(try node.workers.alertDispatcher.consider(a2) == nil)

        let recorder = try #require(node.workers.alertRecorder)
        let running = Task { try await recorder.run(metrics: WorkerMetrics(registry: PrometheusCollectorRegistry(), worker: "alert-audit")) }
        while try node.disclosures.pendingCount() == 0 {
            if Task.isCancelled { throw TestFailure("stopped by the time limit: no delivery record was logged") }
            try await Task.sleep(for: .milliseconds(5))
        }
        running.cancel()
        // Logged for the trail (kept until committed), then off the alert store's queue.
        try await node.commitDisclosures()
        #expect(try node.disclosures.pendingCount() == 0)
        let trail = try Audit.byPatient(maria.publicKey, in: node.chain.query.reader).entries
        let deliveries = trail.filter { $0.kind == .alertDelivery }
        #expect(deliveries.count == 1)
        let entry = try #require(deliveries.first)
        #expect(entry.organization.value == "sakura-general" && entry.record == alert.hash && entry.allowed)
        #expect(entry.actor == DemoCast.staff("hospital-ribeira", "worker").publicKey && entry.category == .vitalSigns)
        #expect(try node.workers.assessments.pendingDeliveries(limit: 10).isEmpty)
    }

    @Test func theRuntimeRecordsAnUncoveredDeliveryAsDeniedAndRefusesANonWorker() async throws {
        let (node, maria) = try await Self.seeded()
        let worker = DemoCast.staff("hospital-ribeira", "worker")
        let uncovered = AlertDelivery(patient: maria.publicKey, recipient: OrganizationID("chao-phraya")!, alert: SHA256.hash([1]), purpose: .treat)
        let receipt = try await node.submit(worker, .recordAlertDelivery(uncovered))
        #expect(receipt.error == nil)
        let entry = try #require(try Audit.byPatient(maria.publicKey, in: node.chain.query.reader).entries.last)
        #expect(entry.kind == .alertDelivery && !entry.allowed && entry.organization.value == "chao-phraya")
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let refused = try await node.submit(clinician, .recordAlertDelivery(uncovered))
        #expect(refused.error?.code == "alert.not_a_worker")
    }

    /// The alert stream's upgrade request is signed (RFC 9421, this chain, this node, a nonce) by a
    /// clinician, who receives their own organisation's alerts only. Without an upgrade the route
    /// answers why: 401 unsigned, 403 to a non-clinician or for another organisation, 426 otherwise.
    @Test func onlyAClinicianSubscribesToItsOrganisationsAlerts() async throws {
        let (node, maria) = try await Self.seeded()
        let app = Application(router: node.api.router())
        func get(_ uri: String, as key: PrivateKey?) async throws -> Int {
            var fields: HTTPFields = [:]
            if let key {
                for (n, v) in try TestNode.signed(key, "GET", uri) { fields.append(HTTPFields.Element(name: HTTPFields.Element.Name(n)!, value: v)) }
            }
            let headers = fields
            return try await app.test(.router) { client in
                try await client.execute(uri: uri, method: .get, headers: headers) { Int($0.status.code) }
            }
        }
        let clinician = DemoCast.staff("sakura-general", "clinician")
        #expect(try await get("/v1/alerts", as: nil) == 401)
        #expect(try await get("/v1/alerts", as: clinician) == 426)
        #expect(try await get("/v1/alerts?organization=sakura-general", as: clinician) == 426)
        #expect(try await get("/v1/alerts?organization=klinikum-spree", as: clinician) == 403, "another organisation's alerts")
        #expect(try await get("/v1/alerts", as: DemoCast.staff("hospital-ribeira", "admin")) == 403, "an operator is not a clinician")
        #expect(try await get("/v1/alerts", as: maria) == 403, "a patient reads her alerts at /v1/vitals/{patient}/alerts")
    }
}
