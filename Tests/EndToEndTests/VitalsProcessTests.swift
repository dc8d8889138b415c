import Foundation
import MeridianTestSupport
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

@Suite(.serialized, .timeLimit(.minutes(10))) struct VitalsProcessTests {
    /// A gateway streams a paired device's frames to the real node, out of order and with
    /// duplicates, and the node is killed with SIGKILL mid-stream, five times: every frame the node
    /// acknowledged (stored or duplicate) is there after each restart, none is stored twice, and
    /// the device's gaps are exactly the frames never acknowledged.
    @Test func acknowledgedReadingsSurviveKillNine() async throws {
        let (seedRng, seed) = SeededGenerator.fromEnvironment()
        var rng = seedRng
        print("acknowledgedReadingsSurviveKillNine: MERIDIAN_SEED=\(seed)")
        let node = try await NodeProcess("vitals-kill9")
        try await node.start(blockIntervalMilliseconds: 50)
        defer { node.terminate() }
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
            let sent = Mutex(false)
            let sender = Task {
                defer { sent.withLock { $0 = true } }
                for (s, bytes) in frames {
                    guard let (status, body) = try? await http(client, "POST", "/v1/vitals/frames", body: Data(bytes), contentType: "application/octet-stream") else { return }
                    let result = (body["results"] as? [[String: Any]])?.first?["status"] as? String
                    if status == 200, result == "stored" || result == "duplicate" { acks.withLock { $0.append(s) } }
                }
            }
            while acks.withLock({ $0.count }) < killAfter, !sent.withLock({ $0 }) {
                try stillWaiting("\(killAfter) acknowledged frames")
                try await Task.sleep(for: .milliseconds(2))
            }
            await node.kill9()
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
            let stored = try await storedSequences(api.signed(by: patient), patient: patient.publicKey)
            #expect(Set(stored).count == stored.count, "cycle \(cycle) seed \(seed): a frame stored twice")
            #expect(acknowledged.isSubset(of: Set(stored)), "cycle \(cycle) seed \(seed)")
            #expect(UInt64(progress["received"] as? Int ?? -1) == UInt64(stored.count), "cycle \(cycle) seed \(seed): received count")
        }
        print("acknowledgedReadingsSurviveKillNine: 5 kills, \(acknowledged.count) acknowledged frames all present")
    }

    /// The device sequences stored for `patient`, read as `api`'s signer (the patient).
    func storedSequences(_ api: NodeClient, patient: PublicKey) async throws -> [UInt64] {
        let path = "/v1/vitals/\(Address(patient))?limit=1000"
        let (_, data) = try await api.exchange("GET", path, headers: try await api.signatureHeaders("GET", path, body: nil))
        let batches = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
        return batches.compactMap { ($0["sequence"] as? Int).map(UInt64.init) }
    }

    /// The regulator's view: the node's worker anchors stored readings; `meridian-audit verify --vitals`
    /// verifies the chain from genesis, proves each anchor against the verified head and each stored
    /// batch against its anchored root.
    @Test func storedReadingsAreAnchoredAndTheLightClientProvesThem() async throws {
        let node = try await NodeProcess("vitals-anchor")
        // Anchor every 200 ms (the default is 10 s).
        let configPath = node.dataDir + "/node.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        var workers = config["workers"] as? [String: Any] ?? [:]
        workers["anchorIntervalMilliseconds"] = 200
        config["workers"] = workers
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        try await node.start(blockIntervalMilliseconds: 50)
        defer { node.terminate() }
        let api = try node.api()
        // A demo actor's key (as a keystore), so that the patient can verify their own vital signs with the CLI.
        let patientActor = "sensors/77/patient/0"
        let patient = DemoCast.key(patientActor)
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
        // Poll until the worker has anchored all six batches and their six assessments (bounded by the test's time limit).
        for kind in ["readings", "assessments"] {
            while true {
                let proofs = try await httpArray(api.signed(by: patient), "/v1/vitals/\(Address(patient.publicKey))/proofs?kind=\(kind)").1
                if proofs.count == 6, proofs.allSatisfy({ $0["anchored"] as? Bool == true }) { break }
                try stillWaiting("\(kind) not anchored: \(proofs.map { $0["anchored"] ?? "?" }) \(node.logText)")
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let dir = try TemporaryDirectory("vitals-verify")
        // The patient verifies their own vital signs (nobody else may read them without the chain's leave).
        let verified = try await run("meridian-audit", ["verify", "--node", api.base.absoluteString, "--vitals", Address(patient.publicKey).description,
                                                        "--keystore", DemoKeys.keystore(patientActor)],
                                     environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], in: dir)
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stdout.contains("vitals    6 stored batch(es)"), "\(verified)")
        #expect(verified.stdout.contains("vitals    6 assessment(s)"), "\(verified)")
        #expect(verified.stdout.contains(" assessments by worker "), "the assessments have an anchor of their own: \(verified)")
        #expect(verified.stdout.contains("by worker \(Address(DemoCast.staff("hospital-ribeira", "worker").publicKey)) of hospital-ribeira"), "\(verified)")
    }

    /// The sensor simulator against a real node: both devices of each patient stream, the gateway's
    /// out-of-order uploads with duplicates are stored once, every corrupted frame is refused, and
    /// the deteriorating patient's NEWS2 rises to high.
    @Test func theSensorSimulatorStreamsAndTheNodeKeepsEverySoundFrameOnce() async throws {
        // The node takes a ward feed (FHIR, bulk WFDB) and HL7 over MLLP on a free port.
        let node = try await NodeProcess("vitals-sensors")
        let configPath = node.dataDir + "/node.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        var workers = config["workers"] as? [String: Any] ?? [:]
        workers["feeds"] = ["ward": SHA256.hash(Array("ward-token".utf8)).hex]
        workers["mllpPort"] = 0
        config["workers"] = workers
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        try await node.start(blockIntervalMilliseconds: 50)
        defer { node.terminate() }
        let mllpFile = node.dataDir + "/mllp.address"
        while (try? String(contentsOfFile: mllpFile, encoding: .utf8))?.isEmpty ?? true {
            try stillWaiting("no MLLP listener address")
            try await Task.sleep(for: .milliseconds(20))
        }
        let mllp = try String(contentsOfFile: mllpFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let dir = try TemporaryDirectory("vitals-sensors-run")
        // CI replays 3 patients for 120 simulated seconds; `make alert-quality` replays longer
        // (MERIDIAN_REPLAY_PATIENTS, MERIDIAN_REPLAY_SECONDS) for the alerts-per-hour figures.
        let environment = ProcessInfo.processInfo.environment
        let patients = environment["MERIDIAN_REPLAY_PATIENTS"].flatMap(Int.init) ?? 3
        let seconds = environment["MERIDIAN_REPLAY_SECONDS"].flatMap(Int.init) ?? 120
        let r = try await run("meridian-sensors", ["--node", try node.api().base.absoluteString, "--patients", String(patients), "--seconds", String(seconds),
                                             "--corrupt-per-thousand", "50", "--seed", "7", "--feed-token", "ward-token", "--mllp", mllp], in: dir)
        #expect(r.status == 0, "\(r)")
        func numbers(_ prefix: String) -> [Int] {
            (r.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) } ?? "").split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        }
        // "frames    sent N: stored S, duplicates D, busy B, refused R (C of C corrupted on purpose)"
        let frames = numbers("frames")
        #expect(frames.count == 7, "\(r.stdout)")
        if frames.count == 7 {
            let (stored, busy, refused, corrupted) = (frames[1], frames[3], frames[4], frames[6])
            #expect(corrupted > 0 && refused == corrupted && busy == 0, "\(r.stdout)")
            #expect(stored + corrupted == patients * seconds * 2, "every sound frame stored exactly once: \(r.stdout)")
        }
        // "fhir      sent N blood-pressure Bundles: stored S, busy B, refused R (C of C with an impossible unit on purpose)"
        let fhir = numbers("fhir")
        #expect(fhir.count == 6 && fhir[0] == patients * (0..<seconds).filter { $0 % 15 == 7 }.count && fhir[1] + fhir[3] == fhir[0] && fhir[3] == fhir[4] && fhir[4] == fhir[5], "\(r.stdout)")
        // "hl7       sent N ORU^R01 over MLLP: A AA, E AE/AR (G of G garbled on purpose)": the digits of "hl7" and "R01" come first
        let hl7 = numbers("hl7")
        #expect(hl7.count == 7 && hl7[1] == patients * (0..<seconds).filter { $0 % 10 == 3 }.count && hl7[3] + hl7[4] == hl7[1] && hl7[4] == hl7[5] && hl7[5] == hl7[6], "\(r.stdout)")
        #expect(r.stdout.contains("(format 212) in 4 batches: 4 stored"), "\(r.stdout)")
        #expect(r.stdout.contains("(high)"), "\(r.stdout)")
        // The deteriorating patient's alert reached the hospital her consent covers, over its WebSocket.
        let alerts = numbers("alerts    ")
        #expect((alerts.first ?? 0) >= 1 && r.stdout.contains("alert     -> sakura-general (WebSocket)"), "\(r.stdout)")
        // Alert quality: the deteriorating patient raised an alert, the stable ones none. The tool
        // lists the cast first ("patient <address>  (deteriorates)"), then each patient's alerts
        // under their line in the summary ("patient <20 characters>…  NEWS2 …", "alert     …").
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let cast = lines.filter { $0.hasPrefix("patient   mer1") && !$0.contains("NEWS2") }
        let deteriorating = Set(cast.filter { $0.contains("(deteriorates)") }.map { String($0.dropFirst(10).prefix(20)) })
        var alertsOf: [String: Int] = [:], current: String?
        for line in lines {
            if line.hasPrefix("patient   "), line.contains("NEWS2") { current = String(line.dropFirst(10).prefix(20)); alertsOf[current!, default: 0] += 0 }
            else if line.hasPrefix("alert     20"), let c = current { alertsOf[c, default: 0] += 1 }
        }
        #expect(cast.count == patients && deteriorating.count == (patients + 2) / 3 && alertsOf.count == patients, "\(r.stdout)")
        let trueAlerts = alertsOf.filter { deteriorating.contains($0.key) }.values.reduce(0, +)
        let falseAlerts = alertsOf.filter { !deteriorating.contains($0.key) }.values.reduce(0, +)
        #expect(trueAlerts >= 1, "the deteriorating patient raised no alert: \(r.stdout)")
        #expect(falseAlerts == 0, "stable patients raised \(falseAlerts) alerts: \(r.stdout)")
        // The tool's own account agrees: every alert inside the deterioration window, none outside.
        let quality = numbers("quality")
        #expect(quality.count >= 2 && quality[0] == trueAlerts && quality[1] == 0, "\(r.stdout)")
        #expect(r.stdout.contains("\(deteriorating.count) of \(deteriorating.count) deteriorating patient(s) alerted in their window"), "\(r.stdout)")
        print("alert quality (seed 7, \(patients) patients, \(seconds) simulated seconds): \(trueAlerts) alerts for the deteriorating patient(s), \(falseAlerts) for the stable ones\n"
              + (lines.first { $0.hasPrefix("quality") } ?? "") + "\n"
              + lines.filter { $0.hasPrefix("alert     20") }.joined(separator: "\n"))
    }

    /// A PhysioNet WFDB record through the provider's command: printed as CSV, then imported into
    /// the node as a feed (twice: the second time every batch is a duplicate).
    @Test func aWFDBRecordIsPrintedAsCSVAndImportedOnce() async throws {
        let node = try await NodeProcess("vitals-wfdb")
        let configPath = node.dataDir + "/node.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        config["workers"] = ["feeds": ["cardiology": SHA256.hash(Array("holter-token".utf8)).hex]]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        try await node.start(blockIntervalMilliseconds: 50)
        defer { node.terminate() }
        let api = try node.api()
        let patient = try PrivateKey(secret: SHA256.hash(Array("wfdb-patient".utf8)))
        let reg = try registration(of: patient)
        _ = try await http(api, "POST", "/v1/transactions", body: Data(reg.canonicalBytes), contentType: "application/octet-stream")
        try await waitCommitted(api, [reg.hash.hex])

        // A two-lead record, format 16, 1,500 frames at 250 Hz: lead I a ramp, lead II its negative.
        let dir = try TemporaryDirectory("wfdb-record")
        var dat: [UInt8] = []
        for i in 0..<1500 {
            for v in [Int16(i % 400 - 200), Int16(-(i % 400 - 200))] { dat += [UInt8(UInt16(bitPattern: v) & 0xff), UInt8(UInt16(bitPattern: v) >> 8)] }
        }
        try Data(dat).write(to: URL(fileURLWithPath: dir.path("rec.dat")))
        let sum = (0..<1500).reduce(0) { $0 + ($1 % 400 - 200) }
        let checksumI = sum & 0xFFFF, checksumII = (-sum) & 0xFFFF   // WFDB's 16-bit checksums of each signal
        try Data("rec 2 250 1500\nrec.dat 16 200(0)/mV 16 0 -200 \(checksumI) 0 I\nrec.dat 16 200(0)/mV 16 0 200 \(checksumII) 0 II\n".utf8)
            .write(to: URL(fileURLWithPath: dir.path("rec.hea")))

        let csv = try await run("meridian-provider", ["vitals", "wfdb-csv", dir.path("rec.hea")], in: dir)
        let lines = csv.stdout.split(separator: "\n")
        #expect(csv.status == 0 && lines.count == 1501, "\(csv.stderr)")
        #expect(lines.first == "sample,seconds,I (mV),II (mV)" && lines[1] == "0,0,-1,1" && lines[2] == "1,0.004,-0.995,0.995", "\(lines.prefix(3))")

        let environment = ["MERIDIAN_FEED_TOKEN": "holter-token"]
        let arguments = ["vitals", "import-wfdb", dir.path("rec.hea"), "--patient", Address(patient.publicKey).description, "--node", api.base.absoluteString,
                         "--start", "2026-01-01T00:00:00Z"]
        let first = try await run("meridian-provider", arguments, environment: environment, in: dir)
        #expect(first.status == 0 && first.stdout.contains("3000 samples at 250.0 Hz in 4 batches") && first.stdout.contains("4 stored"), "\(first)")
        let again = try await run("meridian-provider", arguments, environment: environment, in: dir)
        #expect(again.status == 0 && again.stdout.contains("4 duplicate"), "a re-import stores nothing twice: \(again)")
        // The same record dated differently is a different content under the same ids: refused, not stored.
        let moved = try await run("meridian-provider", Array(arguments.dropLast()) + ["2026-02-01T00:00:00Z"], environment: environment, in: dir)
        #expect(moved.status != 0 && moved.stderr.contains("vitals.conflict"), "\(moved)")
        let wrong = try await run("meridian-provider", arguments, environment: ["MERIDIAN_FEED_TOKEN": "guess"], in: dir)
        #expect(wrong.status != 0 && wrong.stderr.contains("vitals.unauthorized"), "\(wrong)")
    }
}
