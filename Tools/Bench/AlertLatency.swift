// Alert latency end to end: a real `meridian-node` (release, demo validators, its worker key), a
// hospital subscribed to `/v1/alerts` over a real WebSocket, and a routine backlog posted through the
// API ahead of each critical reading. Measured: from posting the critical batch to its alert's
// WebSocket message arriving.
import Foundation
import Logging
import Synchronization
import HummingbirdWSClient
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianVitals
import MeridianNode
import MeridianClient
import HTTPTypes
import MeridianWorkers
import MeridianDemo

struct AlertLatency { let p50Milliseconds: Double; let p99Milliseconds: Double; let samples: Int; let backlog: Int }

func alertLatencyBench(quick: Bool) async throws -> AlertLatency {
    let nodes = try BenchNodes(label: "alerts")
    defer { nodes.remove() }
    let token = "bench-feed-token"
    let anchor = ProcessInfo.processInfo.environment["MERIDIAN_BENCH_ALERT_ANCHOR_MS"].flatMap(Int.init)
    let (node, _, port) = try nodes.startFeedNode(token: token, blockIntervalMilliseconds: ProcessInfo.processInfo.environment["MERIDIAN_BENCH_ALERT_BLOCK_MS"] ?? "200",
                                                  workers: anchor.map { ["anchorIntervalMilliseconds": $0] } ?? [:])
    defer { node.terminate(); node.waitUntilExit() }
    let http = try HTTPConnection(port: port)

    // Setup (not measured): Maria and 20 routine patients registered; Maria's consent covers her vital
    // signs for Sakura General (Tokyo) for TREAT and ETREAT.
    let clinician = DemoCast.staff("hospital-ribeira", "clinician")
    let maria = DemoCast.patient("maria")
    let routine = (0..<20).map { DemoCast.key("bench/alerts/routine/\($0)") }
    func signed(_ key: PrivateKey, _ nonce: UInt64, _ call: Call) throws -> [UInt8] {
        try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: key.publicKey, nonce: nonce, call: call), with: key).canonicalBytes
    }
    let before = try http.committedTotal()
    for key in [maria] + routine {
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: key.publicKey))
        _ = try http.request("POST", "/v1/transactions", body: try signed(key, 0, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation))))
    }
    try http.waitCommitted(atLeast: before + 1 + routine.count)
    let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.vitalSigns], purposes: [.treat, .emergencyTreatment],
                             countries: [CountryCode("JP")!], validFrom: Timestamp(iso8601: "2026-01-01")!,
                             validUntil: Timestamp(iso8601: "2030-01-01")!, emergencyAccess: true)
    _ = try http.request("POST", "/v1/transactions", body: try signed(maria, 1, .grantConsent(terms)))
    try http.waitCommitted(atLeast: before + 2 + routine.count)

    // Sakura General's clinician subscribes with a signed request.
    let sakura = DemoCast.staff("sakura-general", "clinician")
    let alertsPath = "/v1/alerts?organization=sakura-general"
    var signature = HTTPFields()
    for (name, value) in try await NodeClient("http://127.0.0.1:\(port)").signed(by: sakura).signatureHeaders("GET", alertsPath, body: nil) {
        signature.append(HTTPField(name: HTTPField.Name(name)!, value: value))
    }
    let configuration = WebSocketClientConfiguration(additionalHeaders: signature)
    let (arrivals, arrived) = AsyncStream<UInt64>.makeStream()
    let subscribed = Mutex(false)
    var logger = Logger(label: "bench-alerts"); logger.logLevel = .warning
    let client = Task {
        _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)\(alertsPath)", configuration: configuration, logger: logger) { inbound, _, _ in
            subscribed.withLock { $0 = true }
            for try await _ in inbound.messages(maxSize: 1 << 20) { arrived.yield(now()) }
        }
    }
    defer { client.cancel() }
    while !subscribed.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }

    func batches(_ list: [ReadingBatch]) -> [UInt8] {
        list.flatMap { b -> [UInt8] in let bytes = b.canonicalBytes; return [UInt8(bytes.count >> 24), UInt8((bytes.count >> 16) & 0xff), UInt8((bytes.count >> 8) & 0xff), UInt8(bytes.count & 0xff)] + bytes }
    }
    func post(_ list: [ReadingBatch]) throws {
        let (status, body) = try http.request("POST", "/v1/vitals/batches", body: batches(list), contentType: "application/x-meridian-batches",
                                              headers: ["Authorization": "Bearer \(token)"])
        guard status == 200 else { throw BenchError("vitals batches: \(status) \(String(decoding: body, as: UTF8.self))") }
    }
    func reading(_ sign: VitalSign, _ value: Int64, _ t: Timestamp) -> VitalReading { VitalReading(sign: sign, value: Measurement(whole: value), time: t) }
    let mariaAddress = Address(maria.publicKey).description
    let backlog = quick ? 2_000 : 5_000, samples = quick ? 50 : 300
    var iterator = arrivals.makeAsyncIterator()
    var millis: [Double] = [], postMillis: [Double] = []
    for k in 0..<samples {
        // Maria back to normal, scored (so that the next critical reading is a rise again).
        let calm = VitalsIngestor.systemClock()
        try post([ReadingBatch(patient: maria.publicKey, source: .feed("ward", messageID: "calm-\(k)"),
                               readings: [reading(.oxygenSaturation, 97, calm), reading(.heartRate, 72, calm), reading(.respiratoryRate, 16, calm)])])
        struct A: Decodable { let band: String; let time: String }
        // Read as Maria herself (a signed request: reads of vital signs are never anonymous); a refusal
        // is an error, not a reason to keep polling.
        while true {
            let (status, body) = try http.signedRequest("GET", "/v1/vitals/\(mariaAddress)/assessment", as: maria)
            if status == 404 { usleep(1_000); continue }   // not scored yet
            guard status == 200 else { throw BenchError("Maria's assessment: \(status) \(String(decoding: body.prefix(200), as: UTF8.self))") }
            let a = try JSONDecoder().decode(A.self, from: Data(body))
            if a.band == "low" && a.time == calm.iso8601 { break }
            usleep(1_000)
        }
        // The routine backlog, then the critical batch behind it.
        let t = calm.adding(milliseconds: 1)
        try post((0..<backlog).map { i in
            ReadingBatch(patient: routine[i % routine.count].publicKey, source: .feed("ward", messageID: "r\(k)-\(i)"),
                         readings: [reading(.heartRate, 70 + Int64(i % 5), t), reading(.oxygenSaturation, 97, t)])
        })
        let start = now()
        try post([ReadingBatch(patient: maria.publicKey, source: .feed("ward", messageID: "critical-\(k)"),
                               readings: [reading(.oxygenSaturation, 85, t), reading(.heartRate, 135, t), reading(.respiratoryRate, 27, t)])])
        let posted = now()
        guard let at = await iterator.next() else { throw BenchError("the alert stream closed") }
        millis.append(Double(at - start) / 1e6)
        postMillis.append(Double(posted - start) / 1e6)
    }
    if ProcessInfo.processInfo.environment["MERIDIAN_BENCH_ALERT_SAMPLES"] != nil {   // profiling aid: every sample, in order
        print("alert latency samples (ms): " + millis.map { fmt($0, 1) }.joined(separator: " "))
        print("of which the POST (ms): " + postMillis.map { fmt($0, 1) }.joined(separator: " "))
    }
    return AlertLatency(p50Milliseconds: percentile(millis, 0.5), p99Milliseconds: percentile(millis, 0.99), samples: samples, backlog: backlog)
}
