import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianVitals
import MeridianIngest
import MeridianDemo

@Suite(.serialized) struct VitalsProcessTests {
    /// A gateway streams a paired device's frames to the real node, out of order and with
    /// duplicates, and the node is killed with SIGKILL mid-stream, five times: every frame the node
    /// acknowledged (stored or duplicate) is there after each restart, none is stored twice, and
    /// the device's gaps are exactly the frames never acknowledged.
    @Test func acknowledgedReadingsSurviveKillNine() async throws {
        let (seedRng, seed) = SeededGenerator.fromEnvironment()
        var rng = seedRng
        print("acknowledgedReadingsSurviveKillNine: MERIDIAN_SEED=\(seed)")
        let node = try NodeProcess("vitals-kill9")
        try await node.start(blockIntervalMilliseconds: 50)
        defer { node.stop() }
        let patient = try PrivateKey(secret: SHA256.hash(Array("kill9-patient-\(seed)".utf8)))
        let device = try PrivateKey(secret: SHA256.hash(Array("kill9-oximeter-\(seed)".utf8)))
        var api = try node.api()
        let registration = try registration(of: patient)
        let pairing = try signed(patient, .pairDevice(.init(device: device.publicKey, kind: .pulseOximeter)), nonce: 1)
        for tx in [registration, pairing] {   // the pairing is admitted once the patient is registered
            let (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(tx.canonicalBytes), contentType: "application/octet-stream")
            #expect(status == 202, "\(body)")
            try await waitCommitted(api, [tx.hash.hex])
        }

        let t0 = Timestamp(unixMilliseconds: 1_795_515_290_000)
        func frame(_ s: UInt64) throws -> [UInt8] {
            try DeviceFrame.encode(kind: .readings, device: device, sequence: s, time: t0.adding(milliseconds: s * 1000), entries: [
                .reading(offsetMilliseconds: 0, mdc: 150456, unit: "%", value: Measurement(whole: 90 + Int64(s % 10))),
                .reading(offsetMilliseconds: 0, mdc: 149530, unit: "/min", value: Measurement(whole: 60 + Int64(s % 50)))])
        }
        var acknowledged = Set<UInt64>()
        var next: UInt64 = 1
        for cycle in 0..<5 {
            // The gateway's backlog: the next 40 sequence numbers shuffled, with some resent.
            var backlog = Array(next..<(next + 40))
            next += 40
            backlog += backlog.filter { _ in Int.random(in: 0..<4, using: &rng) == 0 }
            backlog.shuffle(using: &rng)
            let killAfter = Int.random(in: 5...35, using: &rng)
            let acks = Mutex<[UInt64]>([])
            let client = api
            let frames = try backlog.map { ($0, try frame($0)) }
            let sender = Task {
                for (s, bytes) in frames {
                    guard let (status, body) = try? await http(client, "POST", "/v1/vitals/frames", body: Data(bytes), contentType: "application/octet-stream") else { return }
                    let result = (body["results"] as? [[String: Any]])?.first?["status"] as? String
                    if status == 200, result == "stored" || result == "duplicate" { acks.withLock { $0.append(s) } }
                }
            }
            let deadline = Date().addingTimeInterval(30)
            while acks.withLock({ $0.count }) < killAfter, Date() < deadline { try await Task.sleep(for: .milliseconds(2)) }
            node.kill9()
            await sender.value
            acknowledged.formUnion(acks.withLock { $0 })
            try await node.start(blockIntervalMilliseconds: 50)
            api = try node.api()

            let (status, progress) = try await http(api, "GET", "/v1/devices/\(Address(device.publicKey))/progress")
            #expect(status == 200, "cycle \(cycle) seed \(seed): \(progress)")
            let highWater = UInt64(progress["highWater"] as? Int ?? 0)
            let gaps = (progress["gaps"] as? [[String: Any]] ?? []).map { UInt64($0["from"] as? Int ?? 0)...UInt64($0["to"] as? Int ?? 0) }
            let lost = acknowledged.filter { s in s > highWater || gaps.contains { $0.contains(s) } }
            #expect(lost.isEmpty, "cycle \(cycle) seed \(seed): acknowledged frames missing after kill -9: \(lost.sorted())")
            let stored = try await storedSequences(api, patient: patient.publicKey)
            #expect(Set(stored).count == stored.count, "cycle \(cycle) seed \(seed): a frame stored twice")
            #expect(acknowledged.isSubset(of: Set(stored)), "cycle \(cycle) seed \(seed)")
            #expect(UInt64(progress["received"] as? Int ?? -1) == UInt64(stored.count), "cycle \(cycle) seed \(seed): received count")
        }
        print("acknowledgedReadingsSurviveKillNine: 5 kills, \(acknowledged.count) acknowledged frames all present")
    }

    func storedSequences(_ api: NodeClient, patient: PublicKey) async throws -> [UInt64] {
        var req = URLRequest(url: URL(string: "/v1/vitals/\(Address(patient))?limit=1000", relativeTo: api.base)!)
        req.httpMethod = "GET"
        let (data, _) = try await URLSession.shared.data(for: req)
        let batches = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
        return batches.compactMap { ($0["sequence"] as? Int).map(UInt64.init) }
    }

    /// The regulator's view: the node's worker anchors stored readings; `meridian-audit verify --vitals`
    /// verifies the chain from genesis, proves each anchor against the verified head and each stored
    /// batch against its anchored root.
    @Test func storedReadingsAreAnchoredAndTheLightClientProvesThem() async throws {
        let node = try NodeProcess("vitals-anchor")
        // Anchor every 200 ms (the default is 10 s).
        let configPath = node.dataDir + "/node.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        var workers = config["workers"] as? [String: Any] ?? [:]
        workers["anchorIntervalMilliseconds"] = 200
        config["workers"] = workers
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        try await node.start(blockIntervalMilliseconds: 50)
        defer { node.stop() }
        let api = try node.api()
        let patient = try PrivateKey(secret: SHA256.hash(Array("anchor-e2e-patient".utf8)))
        let device = try PrivateKey(secret: SHA256.hash(Array("anchor-e2e-oximeter".utf8)))
        for tx in [try registration(of: patient), try signed(patient, .pairDevice(.init(device: device.publicKey, kind: .pulseOximeter)), nonce: 1)] {
            let (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(tx.canonicalBytes), contentType: "application/octet-stream")
            #expect(status == 202, "\(body)")
            try await waitCommitted(api, [tx.hash.hex])
        }
        let t0 = Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000) - 60_000)
        for s in UInt64(1)...6 {
            let frame = try DeviceFrame.encode(kind: .readings, device: device, sequence: s, time: t0.adding(milliseconds: s * 1000),
                                               entries: [.reading(offsetMilliseconds: 0, mdc: 150456, unit: "%", value: Measurement(whole: 96))])
            let (status, _) = try await http(api, "POST", "/v1/vitals/frames", body: Data(frame), contentType: "application/octet-stream")
            #expect(status == 200)
        }
        // Poll until the worker has anchored all six (deadline 30 s).
        let deadline = Date().addingTimeInterval(30)
        while true {
            var req = URLRequest(url: URL(string: "/v1/vitals/\(Address(patient.publicKey))/proofs", relativeTo: api.base)!)
            req.httpMethod = "GET"
            let proofs = try JSONSerialization.jsonObject(with: try await URLSession.shared.data(for: req).0) as? [[String: Any]] ?? []
            if proofs.count == 6, proofs.allSatisfy({ $0["anchored"] as? Bool == true }) { break }
            guard Date() < deadline else { throw HarnessError("not anchored within 30 s: \(proofs.map { $0["anchored"] ?? "?" }) \(node.logText)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let dir = try TemporaryDirectory("vitals-verify")
        let verified = try run("meridian-audit", ["verify", "--node", api.base.absoluteString, "--vitals", Address(patient.publicKey).description], in: dir)
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stdout.contains("vitals    6 stored batch(es)"), "\(verified)")
        #expect(verified.stdout.contains("by worker \(Address(DemoCast.staff("hospital-ribeira", "worker").publicKey)) of hospital-ribeira"), "\(verified)")
    }

    /// The sensor simulator against a real node: both devices of each patient stream, the gateway's
    /// out-of-order uploads with duplicates are stored once, every corrupted frame is refused, and
    /// the deteriorating patient's NEWS2 rises to high.
    @Test func theSensorSimulatorStreamsAndTheNodeKeepsEverySoundFrameOnce() async throws {
        let node = try NodeProcess("vitals-sensors")
        try await node.start(blockIntervalMilliseconds: 50)
        defer { node.stop() }
        let dir = try TemporaryDirectory("vitals-sensors-run")
        let r = try run("meridian-sensors", ["--node", try node.api().base.absoluteString, "--patients", "3", "--seconds", "120",
                                             "--corrupt-per-thousand", "50", "--seed", "7"], in: dir)
        #expect(r.status == 0, "\(r)")
        let frames = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("frames") })
        // "frames    sent N: stored S, duplicates D, busy B, refused R (C of C corrupted on purpose)"
        let numbers = frames.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(numbers.count == 7, "\(frames)")
        if numbers.count == 7 {
            let (stored, busy, refused, corrupted) = (numbers[1], numbers[3], numbers[4], numbers[6])
            #expect(corrupted > 0 && refused == corrupted && busy == 0, "\(frames)")
            #expect(stored + corrupted == 3 * 120 * 2, "every sound frame stored exactly once: \(frames)")
        }
        #expect(r.stdout.contains("(high)"), "\(r.stdout)")
    }
}
