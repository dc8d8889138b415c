// meridian-sensors: simulated patients' biosensors against a Meridian node, in every format the
// node takes. Each patient has a pulse oximeter that sends signed binary frames directly, and a
// phone gateway that relays a Bluetooth heart-rate strap's 0x2A37 payloads; gateways go offline and
// upload their backlog later, shuffled and with duplicates. The ward adds blood pressure as FHIR
// Bundles (a feed's token), monitor readings as HL7 v2 ORU^R01 over MLLP, and a Holter recorder's
// WFDB record. Some patients deteriorate; a few frames, bundles and messages are bad on purpose and
// must be refused. Patients consent to an alert hospital receiving their vital signs, whose clinician
// watches the alert stream. Everything is seeded: the same --seed gives the same streams.
import ArgumentParser
import NIOSSL
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
    @Option(help: "The ward feed's bearer token, for FHIR Bundles and the Holter record (default: MERIDIAN_FEED_TOKEN; none: those are skipped).")
    var feedToken: String?
    @Option(help: "The node's HL7 v2 MLLP listener, HOST:PORT (default: MERIDIAN_MLLP; none: HL7 is skipped).") var mllp: String?
    @Option(help: "MLLP over TLS: the gateway's client certificate, PEM (registered on the node for the feed; with --mllp-key).") var mllpCertificate: String?
    @Option(help: "The client certificate's private key, PEM.") var mllpKey: String?
    @Option(help: "CA certificate (PEM) the node's certificates must chain to (default: $MERIDIAN_CA).") var ca: String?
    @Option(help: "The hospital the patients consent to for their vital signs (TREAT, ETREAT); its clinician watches the alert stream.")
    var alertHospital: String = "sakura-general"

    struct Patient {
        let key: PrivateKey, oximeter: PrivateKey, gateway: PrivateKey
        let deteriorates: Bool
        var oximeterSequence: UInt64 = 0, gatewaySequence: UInt64 = 0
        var backlog: [[UInt8]] = []   // gateway frames buffered while offline
        var offlineUntil = 0
    }

    struct Tally { var sent = 0, stored = 0, duplicate = 0, refused = 0, busy = 0, corruptedSent = 0, corruptedRefused = 0 }
    struct HL7Tally { var sent = 0, accepted = 0, errors = 0, garbledSent = 0, garbledRefused = 0 }

    func run() async throws {
        guard patients >= 1, patients <= 1000, seconds >= 1, seconds <= 86_400, (0...1000).contains(corruptPerThousand) else {
            throw ValidationError("--patients 1...1000, --seconds 1...86400, --corrupt-per-thousand 0...1000")
        }
        let api = try NodeClient.resolve(node, ca: ca)
        var rng = SeededRandom(seed: seed)
        let token = feedToken ?? ProcessInfo.processInfo.environment["MERIDIAN_FEED_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let mllpAddress = mllp ?? ProcessInfo.processInfo.environment["MERIDIAN_MLLP"].flatMap { $0.isEmpty ? nil : $0 }
        guard let alertTo = DemoCast.hospitals.first(where: { $0.id == alertHospital }), let alertCountry = CountryCode(alertTo.country) else {
            throw ValidationError("--alert-hospital: no demo hospital '\(alertHospital)'")
        }
        let watch = try AlertWatch(node: api.base, ca: api.ca, hospital: alertHospital, clinician: DemoCast.staff(alertHospital, "clinician"))
        defer { watch.stop() }
        let clinician = DemoCast.staff(hospital, "clinician")
        let chain = try await api.chainID()
        var cast: [Patient] = []
        for i in 0..<patients {
            cast.append(Patient(key: DemoCast.key("sensors/\(seed)/patient/\(i)"), oximeter: DemoCast.key("sensors/\(seed)/oximeter/\(i)"),
                                gateway: DemoCast.key("sensors/\(seed)/gateway/\(i)"), deteriorates: i % 3 == 0))
        }
        // Enrol and pair once (idempotent across runs of the same seed), in two batches for all the
        // patients: the registrations, then (signed by registered patients) the pairings and consents.
        var fresh: [Patient] = []
        for p in cast where try await api.signed(by: p.key).nextNonce(p.key.publicKey) == 0 { fresh.append(p) }
        if !fresh.isEmpty {
            _ = try await api.submitAll(try fresh.map { p in
                (Call.registerPatient(.init(attestor: clinician.publicKey, attestation: try clinician.sign(Identity.enrolmentMessage(chainID: chain, patient: p.key.publicKey)))), p.key)
            })
            let today = Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
            let consent = ConsentTerms(grantees: [OrganizationID(alertHospital)!], categories: [.vitalSigns], purposes: [.treat, .emergencyTreatment],
                                       countries: [alertCountry], validFrom: Timestamp(unixMilliseconds: today.unixMilliseconds - 86_400_000),
                                       validUntil: today.adding(milliseconds: 365 * 86_400_000), emergencyAccess: true)
            _ = try await api.submitAll(fresh.flatMap { p -> [(call: Call, key: PrivateKey)] in
                [(.pairDevice(.init(device: p.oximeter.publicKey, kind: .pulseOximeter)), p.key),
                 (.pairDevice(.init(device: p.gateway.publicKey, kind: .gateway)), p.key),
                 (.grantConsent(consent), p.key)]
            })
        }
        for p in cast { print("patient   \(Address(p.key.publicKey))\(p.deteriorates ? "  (deteriorates)" : "")") }
        var tally = Tally(), fhir = Tally(), hl7 = HL7Tally()
        // Streams end now: the node refuses readings dated in its future.
        let start = UInt64(Date().timeIntervalSince1970 * 1000) - UInt64(seconds) * 1000
        var mllpTLS: TLSConfiguration?
        if mllpCertificate != nil || mllpKey != nil {
            guard let mllpCertificate, let mllpKey else { throw ValidationError("--mllp-certificate and --mllp-key go together") }
            var c = TLSConfiguration.makeClientConfiguration()
            c.minimumTLSVersion = .tlsv12
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(mllpCertificate).map { .certificate($0) }
            c.privateKey = .privateKey(try NIOSSLPrivateKey(file: mllpKey, format: .pem))
            if let authority = api.ca { c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(authority)) }
            mllpTLS = c
        }
        let monitor = try await mllpAddress.asyncMap { [mllpTLS] in try await MLLPConnection(address: $0, tls: mllpTLS) }
        if let token {
            // Each traveller's cardiovascular risk factors, as their hospital records them (the model's
            // other inputs come from the stream). Seeded: the same --seed gives the same people.
            for p in cast {
                let profile: [String: Double] = [
                    "male": Double(Int.random(in: 0...1, using: &rng)), "age": Double(Int.random(in: 70...85, using: &rng)),
                    "currentSmoker": 0, "cigsPerDay": 0, "BPMeds": Double(Int.random(in: 0...1, using: &rng)), "prevalentStroke": 0,
                    "prevalentHyp": Double(Int.random(in: 0...1, using: &rng)), "diabetes": Double(Int.random(in: 0...1, using: &rng)),
                    "totChol": Double(Int.random(in: 180...290, using: &rng)), "BMI": Double(Int.random(in: 220...320, using: &rng)) / 10,
                    "glucose": Double(Int.random(in: 75...140, using: &rng)),
                ]
                // A node without a model answers 409; the rest still runs.
                _ = try await api.exchange("PUT", "/v1/vitals/\(Address(p.key.publicKey))/risk-profile", body: try JSONEncoder().encode(profile),
                                           headers: ["Authorization": "Bearer \(token)"])
            }
            // The Holter recorder: ten seconds of the first patient's ECG as a WFDB record (format 212),
            // decoded by the node's own WFDB parser and imported through the bulk endpoint.
            let record = holterRecord(name: "holter\(seed)", seconds: 10, heartRate: 72)
            let header = try WFDBHeader(parsing: record.header)
            let signals = try WFDBSignals.decode(header: header, file: header.signals[0].file, bytes: record.signal)
            let batches = try WFDBImport.batches(record: header, signals: signals, patient: cast[0].key.publicKey, start: Timestamp(unixMilliseconds: start))
            let statuses = try await postFeed("/v1/vitals/batches", body: batches.flatMap { b -> [UInt8] in
                let bytes = b.canonicalBytes
                return [UInt8(bytes.count >> 24 & 0xff), UInt8(bytes.count >> 16 & 0xff), UInt8(bytes.count >> 8 & 0xff), UInt8(bytes.count & 0xff)] + bytes
            }, contentType: "application/x-meridian-batches", token: token, api: api)
            print("wfdb      \(header.name): \(signals[0].samples.count) samples at \(header.samplingFrequency) Hz (format 212) in \(batches.count) batches: "
                  + Dictionary(grouping: statuses, by: { $0 }).sorted { $0.key < $1.key }.map { "\($0.value.count) \($0.key)" }.joined(separator: ", "))
        }
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
                // The ward: blood pressure as a FHIR Bundle every 15 s (one in twenty with an impossible unit).
                if let token, second % 15 == 7 {
                    let bad = Int.random(in: 0..<20, using: &rng) == 0
                    let systolic = Int64(128 - 38 * worse) + Int64.random(in: 0...4, using: &rng), diastolic = Int64(80 - 15 * worse)
                    var bundle = fhirBundle([VitalReading(sign: .systolicPressure, value: Measurement(whole: systolic), time: t),
                                             VitalReading(sign: .diastolicPressure, value: Measurement(whole: diastolic), time: t)],
                                            patient: cast[i].key.publicKey, idPrefix: "bp-\(seed)-\(i)-\(second)")
                    if bad { bundle = Array(String(decoding: bundle, as: UTF8.self).replacingOccurrences(of: "mm[Hg]", with: "furlong").utf8); fhir.corruptedSent += 1 }
                    fhir.add(try await postFeed("/v1/vitals/fhir", body: bundle, contentType: "application/fhir+json", token: token, api: api), corrupt: bad)
                }
                // The bedside monitor's gateway: pulse and respiration as HL7 ORU^R01 over MLLP every 10 s
                // (one in twenty-five with a non-numeric value, to be answered AE).
                if let monitor, second % 10 == 3 {
                    let garble = Int.random(in: 0..<25, using: &rng) == 0
                    let message = oruMessage([VitalReading(sign: .heartRate, value: Measurement(whole: Int64(pulse)), time: t),
                                              VitalReading(sign: .respiratoryRate, value: Measurement(whole: resp), time: t)],
                                             patient: cast[i].key.publicKey, controlID: "S\(seed)P\(i)T\(second)", garble: garble)
                    let code = try await monitor.send(message)
                    hl7.sent += 1
                    if code == "AA" { hl7.accepted += 1 } else { hl7.errors += 1 }
                    if garble { hl7.garbledSent += 1; if code != "AA" { hl7.garbledRefused += 1 } }
                }
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
        await monitor?.close()
        print("frames    sent \(tally.sent): stored \(tally.stored), duplicates \(tally.duplicate), busy \(tally.busy), refused \(tally.refused) (\(tally.corruptedRefused) of \(tally.corruptedSent) corrupted on purpose)")
        if token != nil {
            print("fhir      sent \(fhir.sent) blood-pressure Bundles: stored \(fhir.stored), busy \(fhir.busy), refused \(fhir.refused) (\(fhir.corruptedRefused) of \(fhir.corruptedSent) with an impossible unit on purpose)")
        } else { print("fhir      skipped (no feed token: --feed-token or MERIDIAN_FEED_TOKEN)") }
        if monitor != nil {
            print("hl7       sent \(hl7.sent) ORU^R01 over MLLP: \(hl7.accepted) AA, \(hl7.errors) AE/AR (\(hl7.garbledRefused) of \(hl7.garbledSent) garbled on purpose)")
        } else { print("hl7       skipped (no MLLP address: --mllp or MERIDIAN_MLLP)") }
        // The deteriorating patients' alerts reach the alert hospital's clinician over the WebSocket.
        let expected = cast.filter(\.deteriorates).count
        let deadline = Date().addingTimeInterval(15)
        while watch.count < expected, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        print("alerts    \(watch.count) received by \(alertHospital) over its WebSocket (\(expected) patient(s) deteriorated)")
        // Alert quality: a deteriorating patient's alert is true only inside the deterioration
        // window (from its onset, half-way, to the end of the replay); any other alert is false.
        let onset = start + UInt64(seconds / 2) * 1000, end = start + UInt64(seconds) * 1000
        var trueAlerts = 0, falseAlerts = 0, missed = 0
        var delays: [Double] = []
        for p in cast {
            let api = api.signed(by: p.key)   // each patient reads their own (signed requests)
            struct A: Decodable {
                let news2: Int?; let partialTotal: Int; let band: String; let variables: Int; let incomplete: [I]
                struct I: Decodable { let parameter: String }
            }
            struct D: Decodable { let highWater: UInt64; let missing: UInt64 }
            let a = try? await api.get("/v1/vitals/\(Address(p.key.publicKey))/assessment", as: A.self)
            let d = try? await api.get("/v1/devices/\(Address(p.gateway.publicKey))/progress", as: D.self)
            print("patient   \(Address(p.key.publicKey).description.prefix(20))…  NEWS2 \(a.map { a in a.news2.map { "\($0) (\(a.band))" } ?? "incomplete: \(a.partialTotal) from the parameters measured (\(a.band)), not measured: \(a.incomplete.map(\.parameter).joined(separator: ", "))" } ?? "—"), \(a?.variables ?? 0) variables; gateway high-water \(d?.highWater ?? 0), missing \(d?.missing ?? 0)")
            struct Alert: Decodable { let time: String; let reasons: [String]; let news2: Int; let band: String; let recipients: [String] }
            var first: UInt64?
            for alert in (try? await api.get("/v1/vitals/\(Address(p.key.publicKey))/alerts", as: [Alert].self)) ?? [] {
                let to = alert.recipients.isEmpty ? "no organisation (no consent covers vital signs for TREAT/ETREAT)" : alert.recipients.joined(separator: ", ")
                print("alert     \(alert.time)  NEWS2 \(alert.news2) (\(alert.band)): \(alert.reasons.joined(separator: ", ")) -> \(to)")
                let t = Timestamp(iso8601: alert.time)?.unixMilliseconds ?? 0
                if p.deteriorates && t >= onset && t <= end { trueAlerts += 1; first = min(first ?? t, t) } else { falseAlerts += 1 }
            }
            if p.deteriorates { if let first { delays.append(Double(first - onset) / 1000) } else { missed += 1 } }
        }
        let patientHours = Double(patients * seconds) / 3600
        let firstAfterOnset = delays.isEmpty ? "—" : delays.map { String(format: "%.0f", $0) }.joined(separator: "/")
        print(String(format: "quality   %d true, %d false alerts over %.2f patient-hours (%.2f true/h, %.2f false/h); ",
                     trueAlerts, falseAlerts, patientHours, Double(trueAlerts) / patientHours, Double(falseAlerts) / patientHours)
              + "\(expected - missed) of \(expected) deteriorating patient(s) alerted in their window (onset at half-time to the end), first alert \(firstAfterOnset) s after onset")
        // Bad input accepted anywhere is a failure of the node.
        if tally.corruptedRefused != tally.corruptedSent || fhir.corruptedRefused != fhir.corruptedSent || hl7.garbledRefused != hl7.garbledSent { throw ExitCode(3) }
    }

    /// Posts a feed's body (FHIR, bulk batches) with its bearer token; the node's per-item statuses
    /// (a body refused whole, e.g. unparseable, counts as one refused item).
    func postFeed(_ path: String, body: [UInt8], contentType: String, token: String, api: NodeClient) async throws -> [String] {
        let (status, data) = try await api.exchange("POST", path, body: Data(body), contentType: contentType, headers: ["Authorization": "Bearer \(token)"])
        struct R: Decodable { let results: [S]; struct S: Decodable { let status: String } }
        if let r = try? JSONDecoder().decode(R.self, from: data) { return r.results.map(\.status) }
        guard (400..<500).contains(status), status != 401 else {
            throw ValidationError("\(path): the node answered \(status): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        return ["refused"]
    }

    /// Posts frames (one, or a gateway upload) and returns the node's per-frame statuses.
    func post(_ frames: [[UInt8]], gatewayBatch: Bool, api: NodeClient) async throws -> [String] {
        let (_, data) = gatewayBatch
            ? try await api.exchange("POST", "/v1/vitals/frames", body: Data(frames.flatMap { [UInt8($0.count >> 8), UInt8($0.count & 0xff)] + $0 }),
                                     contentType: "application/x-meridian-frames")
            : try await api.exchange("POST", "/v1/vitals/frames", body: Data(frames[0]), contentType: "application/octet-stream")
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

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
