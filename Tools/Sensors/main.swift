// meridian-sensors: simulated patients' biosensors against a Meridian node. Each patient has a
// pulse oximeter that sends signed binary frames directly, and a phone gateway that relays a
// Bluetooth heart-rate strap's 0x2A37 payloads; gateways go offline and upload their backlog later,
// shuffled and with duplicates; some patients deteriorate; a few frames are corrupted on purpose.
// Everything is seeded: the same --seed gives the same streams.
import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianDemo
import MeridianVitals
import MeridianIngest
import MeridianSimulation

@main
struct Sensors: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meridian-sensors",
        abstract: "Simulate patients' biosensors (signed frames, Bluetooth relays via gateways) streaming to a node.")
    @Option(help: "Node API address (default: MERIDIAN_NODE, else ./data/node's).") var node: String?
    @Option(help: "Simulated patients (registered and their devices paired on first use).") var patients: Int = 3
    @Option(help: "Simulated seconds of readings (one frame per device per simulated second).") var seconds: Int = 120
    @Option(help: "Wall-clock milliseconds per simulated second (0: as fast as the node takes them).") var pace: Int = 0
    @Option(help: "Seed of the streams.") var seed: UInt64 = 1
    @Option(help: "The hospital whose clinician enrols the simulated patients.") var hospital: String = "hospital-ribeira"
    @Option(help: "Oximeter frames per thousand corrupted on purpose (each must be refused).") var corruptPerThousand: Int = 5

    struct Patient {
        let key: PrivateKey, oximeter: PrivateKey, gateway: PrivateKey
        let deteriorates: Bool
        var oximeterSequence: UInt64 = 0, gatewaySequence: UInt64 = 0
        var backlog: [[UInt8]] = []   // gateway frames buffered while offline
        var offlineUntil = 0
    }

    struct Tally { var sent = 0, stored = 0, duplicate = 0, refused = 0, busy = 0, corruptedSent = 0, corruptedRefused = 0 }

    func run() async throws {
        guard patients >= 1, patients <= 1000, seconds >= 1, seconds <= 86_400, (0...1000).contains(corruptPerThousand) else {
            throw ValidationError("--patients 1...1000, --seconds 1...86400, --corrupt-per-thousand 0...1000")
        }
        let api = try NodeClient.resolve(node)
        var rng = SimulationRandom(seed: seed)
        let clinician = DemoCast.staff(hospital, "clinician")
        let chain = try await api.chainID()
        var cast: [Patient] = []
        for i in 0..<patients {
            let p = Patient(key: DemoCast.key("sensors/\(seed)/patient/\(i)"), oximeter: DemoCast.key("sensors/\(seed)/oximeter/\(i)"),
                            gateway: DemoCast.key("sensors/\(seed)/gateway/\(i)"), deteriorates: i % 3 == 0)
            // Enrol and pair once (idempotent across runs of the same seed).
            if try await api.nextNonce(p.key.publicKey) == 0 {
                let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: chain, patient: p.key.publicKey))
                _ = try await api.submit(.registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)), as: p.key)
                _ = try await api.submit(.pairDevice(.init(device: p.oximeter.publicKey, kind: .pulseOximeter)), as: p.key)
                _ = try await api.submit(.pairDevice(.init(device: p.gateway.publicKey, kind: .gateway)), as: p.key)
            }
            cast.append(p)
            print("patient   \(Address(p.key.publicKey))\(p.deteriorates ? "  (deteriorates)" : "")")
        }
        var tally = Tally()
        // Streams end now: the node refuses readings dated in its future.
        let start = UInt64(Date().timeIntervalSince1970 * 1000) - UInt64(seconds) * 1000
        for second in 0..<seconds {
            let t = Timestamp(unixMilliseconds: start + UInt64(second) * 1000)
            for i in cast.indices {
                // A deteriorating patient's pulse and respiration climb and SpO2 falls over the second half.
                let worse = cast[i].deteriorates ? max(0, Double(second - seconds / 2) / Double(max(1, seconds / 2))) : 0
                let spo2 = Int64(97 - 8 * worse) - Int64.random(in: 0...1, using: &rng)
                let pulse = UInt16(72 + 60 * worse) + UInt16.random(in: 0...4, using: &rng)
                let resp = Int64(15 + 12 * worse) + Int64.random(in: 0...2, using: &rng)
                cast[i].oximeterSequence += 1
                var frame = try DeviceFrame.encode(kind: .readings, device: cast[i].oximeter, sequence: cast[i].oximeterSequence, time: t, entries: [
                    .reading(offsetMilliseconds: 0, mdc: 150456, unit: "%", value: Measurement(whole: spo2)),
                    .reading(offsetMilliseconds: 0, mdc: 151562, unit: "/min", value: Measurement(whole: resp)),
                    .reading(offsetMilliseconds: 0, mdc: 150364, unit: "Cel", value: Measurement(micro: (368 + Int64(worse * 20)) * 100_000)),   // to the tenth, as a thermometer reports
                ])
                let corrupt = Int.random(in: 0..<1000, using: &rng) < corruptPerThousand
                if corrupt { frame[frame.count - 1 - Int.random(in: 0..<64, using: &rng)] ^= 0x01; tally.corruptedSent += 1 }
                let r = try await post([frame], gatewayBatch: false, api: api)
                tally.add(r, corrupt: corrupt)
                // The gateway: RR intervals from the strap, buffered while offline.
                cast[i].gatewaySequence += 1
                let rr = UInt16(61_440 / Int(pulse))   // 60 s in 1/1024 s units per beat
                let relay = try DeviceFrame.encode(kind: .bluetoothRelay, device: cast[i].gateway, sequence: cast[i].gatewaySequence, time: t, entries: [
                    .bluetooth(offsetMilliseconds: 0, payload: HeartRateMeasurement.encode(heartRate: pulse, rrIntervals: [rr, rr])),
                ])
                cast[i].backlog.append(relay)
                if second >= cast[i].offlineUntil, Int.random(in: 0..<40, using: &rng) == 0 { cast[i].offlineUntil = second + Int.random(in: 5...30, using: &rng) }
                if second >= cast[i].offlineUntil {
                    // Online: upload the backlog shuffled, with some frames resent.
                    var upload = cast[i].backlog
                    upload += upload.filter { _ in Int.random(in: 0..<5, using: &rng) == 0 }
                    upload.shuffle(using: &rng)
                    tally.add(try await post(upload, gatewayBatch: true, api: api), corrupt: false)
                    cast[i].backlog = []
                }
            }
            if pace > 0 { try await Task.sleep(for: .milliseconds(pace)) }
        }
        for i in cast.indices where !cast[i].backlog.isEmpty { tally.add(try await post(cast[i].backlog, gatewayBatch: true, api: api), corrupt: false) }
        print("frames    sent \(tally.sent): stored \(tally.stored), duplicates \(tally.duplicate), busy \(tally.busy), refused \(tally.refused) (\(tally.corruptedRefused) of \(tally.corruptedSent) corrupted on purpose)")
        for p in cast {
            struct A: Decodable { let news2: Int; let band: String; let variables: Int }
            struct D: Decodable { let highWater: UInt64; let missing: UInt64 }
            let a = try? await api.get("/v1/vitals/\(Address(p.key.publicKey))/assessment", as: A.self)
            let d = try? await api.get("/v1/devices/\(Address(p.gateway.publicKey))/progress", as: D.self)
            print("patient   \(Address(p.key.publicKey).description.prefix(20))…  NEWS2 \(a.map { "\($0.news2) (\($0.band))" } ?? "—"), \(a?.variables ?? 0) variables; gateway high-water \(d?.highWater ?? 0), missing \(d?.missing ?? 0)")
            struct Alert: Decodable { let time: String; let reasons: [String]; let news2: Int; let band: String; let recipients: [String] }
            for alert in (try? await api.get("/v1/vitals/\(Address(p.key.publicKey))/alerts", as: [Alert].self)) ?? [] {
                let to = alert.recipients.isEmpty ? "no organisation (no consent covers vital signs for TREAT/ETREAT)" : alert.recipients.joined(separator: ", ")
                print("alert     \(alert.time)  NEWS2 \(alert.news2) (\(alert.band)): \(alert.reasons.joined(separator: ", ")) -> \(to)")
            }
        }
        if tally.corruptedRefused != tally.corruptedSent { throw ExitCode(3) }   // a corrupted frame was accepted
    }

    /// Posts frames (one, or a gateway upload) and returns the node's per-frame statuses.
    func post(_ frames: [[UInt8]], gatewayBatch: Bool, api: NodeClient) async throws -> [String] {
        var req = URLRequest(url: URL(string: "/v1/vitals/frames", relativeTo: api.base)!)
        req.httpMethod = "POST"
        if gatewayBatch {
            req.setValue("application/x-meridian-frames", forHTTPHeaderField: "Content-Type")
            req.httpBody = Data(frames.flatMap { [UInt8($0.count >> 8), UInt8($0.count & 0xff)] + $0 })
        } else {
            req.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
            req.httpBody = Data(frames[0])
        }
        let (data, _) = try await URLSession.shared.data(for: req)
        struct R: Decodable { let results: [S]; struct S: Decodable { let status: String } }
        guard let r = try? JSONDecoder().decode(R.self, from: data) else { throw ValidationError("the node answered: \(String(decoding: data.prefix(200), as: UTF8.self))") }
        return r.results.map(\.status)
    }
}

extension Sensors.Tally {
    mutating func add(_ statuses: [String], corrupt: Bool) {
        for s in statuses {
            sent += 1
            switch s {
            case "stored": stored += 1
            case "duplicate": duplicate += 1
            case "busy": busy += 1
            default: refused += 1; if corrupt { corruptedRefused += 1 }
            }
        }
    }
}
