// The off-chain workers' ingestion, per core: device frames parsed and validated, then with
// signatures verified and persisted (synced group commits to RocksDB); FHIR Observations parsed;
// HL7 ORU^R01 messages parsed and read into readings beside python-hl7 parsing the same messages
// in the same run.
import Foundation
import MeridianCore
import MeridianVitals
import MeridianIngest
import MeridianStorage
import MeridianWorkers
import MeridianDemo
import MeridianRisk
import MeridianModel
import MeridianState
import MeridianModules
import MeridianRuntime

struct IngestResult {
    let readingsPerFrame: Int
    let parsedPointsPerSecond: Double
    let persistedPointsPerSecond: Double
    let signatureCeilingPointsPerSecond: Double
    let fhirPerSecond: Double
    let hl7PerSecond: Double
    let pythonHL7PerSecond: Double?
    let hl7Messages: Int
    /// One hostile ORU whose PID-3 has 100,000 repetitions (the Meridian identifier last), parsed and read: median ms of 5.
    let hostilePIDMilliseconds: Double
    let hostilePIDBytes: Int
    let assessmentP50Microseconds: Double
    let assessmentP99Microseconds: Double
    let assessments: Int
}

func ingestBench(quick: Bool, rawVerifyRate: Double) throws -> IngestResult {
    let device = DemoCast.key("bench/device"), patient = DemoCast.key("bench/patient").publicKey
    let t0 = Timestamp(unixMilliseconds: 1_795_515_290_000)
    let perFrame = 16
    let frameCount = quick ? 1_000 : 4_000
    // A monitor's one-second snapshot: SpO2, pulse, respiration, temperature, blood pressure, repeated at offsets.
    let codes: [(UInt32, String, String)] = [(150456, "%", "97"), (149530, "/min", "72"), (151562, "/min", "16"), (150364, "Cel", "36.8"),
                                             (150021, "mm[Hg]", "121"), (150022, "mm[Hg]", "79"), (147842, "/min", "73"), (150456, "%", "96")]
    let frames = try (0..<frameCount).map { i in
        try DeviceFrame.encode(kind: .readings, device: device, sequence: UInt64(i + 1), time: t0.adding(milliseconds: UInt64(i) * 1000), entries: (0..<perFrame).map { k in
            let c = codes[k % codes.count]
            return .reading(offsetMilliseconds: UInt16(k * 60), mdc: c.0, unit: c.1, value: Measurement(decimal: c.2)!)
        })
    }
    let points = frameCount * perFrame
    // 1. Parse and validate (structure, codes, units, limits), one thread.
    let parsed = rate(rounds: 5, units: points) {
        for f in frames { precondition((try? DeviceFrame(parsing: f))?.readings.count == perFrame) }
    }
    // 2. Parse, verify the signature and persist: synced group commits of 256 frames, one thread.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-bench-vitals-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    var round = 0
    let persisted = try rate(rounds: 3, units: points) {
        round += 1
        let store = ReadingStore(db: try RocksDB(path: dir.appendingPathComponent("r\(round)").path, columnFamilies: ReadingStore.columns))
        for chunk in stride(from: 0, to: frames.count, by: 256) {
            var batches: [ReadingBatch] = []
            for f in frames[chunk..<min(chunk + 256, frames.count)] {
                let frame = try DeviceFrame(parsing: f)
                precondition(frame.verifySignature())
                batches.append(frame.batch(patient: patient))
            }
            let outcomes = try store.persist(batches)
            precondition(outcomes.allSatisfy { $0 == .stored })
        }
    }
    // 3. FHIR Observations (one per document), one thread.
    let fhirDocs = (0..<(quick ? 2_000 : 10_000)).map { i in
        FHIRObservation.encode(VitalReading(sign: .heartRate, value: Measurement(whole: Int64(60 + i % 60)), time: t0.adding(milliseconds: UInt64(i))),
                               patient: patient, id: "o\(i)")
    }
    let fhir = rate(rounds: 3, units: fhirDocs.count) {
        for d in fhirDocs { precondition((try? FHIRObservation.batches(parsing: d, feed: "bench"))?.count == 1) }
    }
    // 4. HL7 ORU^R01 with 10 OBX each: Meridian (parse + ORU extraction) beside python-hl7 (parse, and read OBX-5 of each OBX).
    let hl7Count = quick ? 1_000 : 4_000
    let messages: [String] = (0..<hl7Count).map { i in
        var m = "MSH|^~\\&|MONITOR|WARD7|MERIDIAN|H|20261124101500+0000||ORU^R01^ORU_R01|M\(i)|P|2.6|||NE|AL||UNICODE UTF-8|||PCD_DEC_001\r"
        m += "PID|||\(patient.hex)^^^MERIDIAN\rOBR|1|A\(i)|B\(i)|182777000^monitoring of patient^SCT|||20261124101455+0000\r"
        for k in 0..<10 {
            let c = codes[k % codes.count]
            m += "OBX|\(k + 1)|NM|\(c.0)^MDC^MDC|1.1.1.\(k)|\(c.2)|\(c.1)^\(c.1)^UCUM|||||F|||20261124101450+0000\r"
        }
        return m
    }
    let bytes = messages.map { Array($0.utf8) }
    let hl7 = rate(rounds: 3, units: hl7Count) {
        for b in bytes { precondition((try? ObservationResult.batches(of: HL7Message(parsing: b)))?.first?.readings.count == 10) }
    }
    if ProcessInfo.processInfo.environment["MERIDIAN_BENCH_HL7_LOOP"] != nil {
        // Profiling aid: only the HL7 path, for a few seconds (perf record over it).
        for _ in 0..<40 { for b in bytes { precondition((try? ObservationResult.batches(of: HL7Message(parsing: b)))?.first?.readings.count == 10) } }
        exit(0)
    }
    if ProcessInfo.processInfo.environment["MERIDIAN_BENCH_HL7_PHASES"] != nil {
        // Profiling aid: the parse alone, and the parse with each OBX's values read but not converted.
        let parseOnly = rate(rounds: 3, units: hl7Count) { for b in bytes { precondition((try? HL7Message(parsing: b))?.segments.count == 13) } }
        let values = rate(rounds: 3, units: hl7Count) {
            for b in bytes {
                let m = try! HL7Message(parsing: b)
                for seg in m.segments where seg.name == "OBX" { for f in [2, 3, 5, 6, 11, 14] { precondition(seg.value(f).utf8.count < 1000) } }
            }
        }
        print("hl7 phases: parse \(Int(parseOnly))/s, parse+values \(Int(values))/s, full \(Int(hl7))/s")
    }
    let python = pythonHL7Rate(messages)
    // 4b. The hostile message of issue 19: PID-3 with 100,000 repetitions before ours (read in one pass).
    let hostile = Array((["MSH|^~\\&|GW|W|M|H|20261124101500+0000||ORU^R01|X1|P|2.5",
                          "PID|||" + Array(repeating: "1^^^L", count: 100_000).joined(separator: "~") + "~\(patient.hex)^^^MERIDIAN",
                          "OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F|||20261124101450+0000"]).joined(separator: "\r").utf8)
    var hostileMillis: [Double] = []
    for _ in 0..<5 {
        let start = now()
        precondition((try? ObservationResult.batches(of: HL7Message(parsing: hostile)))?.first?.patient == patient)
        hostileMillis.append(Double(now() - start) / 1e6)
    }
    // 5. One full risk assessment (latest values, NEWS2, 82 trend variables, the cardiovascular model on
    //    the patient's profile and latest blood pressure and pulse) per batch of one reading of each of
    //    six signs, a patient's stream at one batch a minute; each timed on its own.
    let model = try CardiovascularModel(model: ONNXModel(contentsOf: modelDirectory.appendingPathComponent("cvd/cvd-logistic.onnx")))
    let worker = try! RiskWorker(inbox: ScoringInbox(capacity: 1), model: model)
    try worker.setProfile(RiskProfile(values: ["male": 1, "age": 71, "currentSmoker": 0, "cigsPerDay": 0, "BPMeds": 1, "prevalentStroke": 0,
                                               "prevalentHyp": 1, "diabetes": 0, "totChol": 240, "BMI": 27.5, "glucose": 95]), of: patient)
    let assessCount = quick ? 5_000 : 20_000
    var micros: [Double] = []
    micros.reserveCapacity(assessCount)
    for k in 0..<assessCount {
        let t = t0.adding(milliseconds: UInt64(k) * 60_000)
        let readings = codes.prefix(6).map { c in VitalReading(sign: VitalSign.fromMDC(c.0)!, value: Measurement(decimal: c.2)!, time: t) }
        let batch = ReadingBatch(patient: patient, source: .device(device.publicKey, sequence: UInt64(k + 1)), readings: readings)
        let start = now()
        let a = worker.assess(batch)
        precondition(a.features.count == TrendFeatures.names.count && a.modelRisk != nil)
        micros.append(Double(now() - start) / 1000)
    }
    return IngestResult(readingsPerFrame: perFrame, parsedPointsPerSecond: parsed, persistedPointsPerSecond: persisted,
                        signatureCeilingPointsPerSecond: rawVerifyRate * Double(perFrame), fhirPerSecond: fhir, hl7PerSecond: hl7,
                        pythonHL7PerSecond: python, hl7Messages: hl7Count,
                        hostilePIDMilliseconds: percentile(hostileMillis, 0.5), hostilePIDBytes: hostile.count,
                        assessmentP50Microseconds: percentile(micros, 0.5), assessmentP99Microseconds: percentile(micros, 0.99), assessments: assessCount)
}

/// python-hl7 on the same messages in this run: messages per second (median of 3), or nil if unavailable.
func pythonHL7Rate(_ messages: [String]) -> Double? {
    let script = """
        import json, sys, time, hl7
        msgs = json.load(sys.stdin)
        rates = []
        for _ in range(3):
            t = time.perf_counter()
            for m in msgs:
                h = hl7.parse(m)
                for obx in h.segments('OBX'):
                    _ = (str(obx[3][0][0]), str(obx[5]), str(obx[6][0][0]))
            rates.append(len(msgs) / (time.perf_counter() - t))
        print(sorted(rates)[1])
        """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script]
    let input = Pipe(), output = Pipe()
    p.standardInput = input; p.standardOutput = output; p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    let request = (try? JSONSerialization.data(withJSONObject: messages)) ?? Data()
    let writer = Thread { input.fileHandleForWriting.write(request); try? input.fileHandleForWriting.close() }
    writer.start()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return Double(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}

/// What anchoring costs block execution: blocks of `submitAnchor` transactions from a worker key,
/// executed and committed like any block (in memory); returns microseconds per anchor transaction.
func anchorCostBench(quick: Bool) throws -> Double {
    let state = try AuthenticatedState(storage: InMemoryStateStorage())
    let g = try Genesis.initialize(DemoCast.genesisSpec(), into: state)
    let executor = try BlockExecutor(state: state, tip: g.tip, verificationThreads: 1)
    let proposer = DemoCast.staff("hospital-ribeira", "validator").publicKey
    let worker = DemoCast.staff("hospital-ribeira", "worker")
    var time = g.tip.time, nonce: UInt64 = 0
    var perAnchor: [Double] = []
    for block in 0..<(quick ? 3 : 7) {
        time = time.adding(milliseconds: 1000)
        let txs = try (0..<50).map { i -> SignedTransaction in   // within the per-account limit of a block (64)
            defer { nonce += 1 }
            let root = MerkleTree.root(leaves: [Array("block \(block) anchor \(i)".utf8)])
            return try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: worker.publicKey, nonce: nonce, call: .submitAnchor(
                AnchorSubmission(kind: .readings, root: root, count: 1000, from: time, to: time, producer: SHA256.hash(Array("meridian-ingest/1".utf8))))), with: worker)
        }
        let t0 = now()
        let executed = try executor.propose(time: time, proposer: proposer, transactions: txs, lastCommit: nil)
        try executor.commit(executed)
        precondition(executed.receipts.allSatisfy { $0.succeeded })
        perAnchor.append(Double(now() - t0) / 1000 / Double(txs.count))
    }
    return median(perAnchor)
}
