// The workers' risk model and alerts: the native ONNX evaluator's rows per second beside onnxruntime
// (one thread each, same rows, same run), and the latency from a critical reading's arrival to its
// alert under a routine backlog.
import Foundation
import MeridianCore
import MeridianModules
import MeridianVitals
import MeridianRisk
import MeridianModel
import MeridianStorage
import MeridianWorkers
import Prometheus
import MeridianDemo

let modelDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Tools/Model")

struct ModelRate {
    let name: String
    let rows: Int
    let batchRowsPerSecond: Double
    let singleRowsPerSecond: Double
    let onnxruntimeBatch: Double?
    let onnxruntimeSingle: Double?
    let onnxruntimeVersion: String?
}

/// The test split's rows repeated with small seeded perturbations to `count` rows.
func modelRows(count: Int) throws -> FloatMatrix {
    let text = try String(contentsOf: modelDirectory.appendingPathComponent("cvd/test-split.csv"), encoding: .utf8)
    let base = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",").dropLast().map { Float($0)! } }
    var generator = SystemRandomNumberGenerator()
    var values: [Float] = []
    values.reserveCapacity(count * base[0].count)
    for i in 0..<count { values += base[i % base.count].map { $0 * Float.random(in: 0.97...1.03, using: &generator) } }
    return FloatMatrix(rows: count, columns: base[0].count, values: values)
}

func modelBench(quick: Bool) throws -> [ModelRate] {
    let rows = try modelRows(count: quick ? 2_000 : 10_000)
    var csv = ""
    for r in 0..<rows.rows { csv += rows.row(r).map { "\($0)" }.joined(separator: ",") + "\n" }
    let csvFile = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-bench-model-\(UUID().uuidString).csv")
    try csv.write(to: csvFile, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: csvFile) }
    return try ["cvd-logistic.onnx", "cvd-trees.onnx"].map { name in
        let url = modelDirectory.appendingPathComponent("cvd/\(name)")
        let model = try ONNXModel(contentsOf: url)
        let batch = try rate(rounds: 7, units: rows.rows) { let n = try model.classify(rows).labels.count; precondition(n == rows.rows) }
        let singles = min(rows.rows, 2_000)
        let single = try rate(rounds: 3, units: singles) {
            for r in 0..<singles { let n = try model.classify(FloatMatrix(row: Array(rows.row(r)))).labels.count; precondition(n == 1) }
        }
        let peer = onnxruntimeRates(model: url, csv: csvFile)
        return ModelRate(name: name, rows: rows.rows, batchRowsPerSecond: batch, singleRowsPerSecond: single,
                         onnxruntimeBatch: peer?.batch, onnxruntimeSingle: peer?.single, onnxruntimeVersion: peer?.version)
    }
}

/// onnxruntime (PyPI) with one thread on the same rows: `onnxruntime_reference.py --bench`.
func onnxruntimeRates(model: URL, csv: URL) -> (batch: Double, single: Double, version: String)? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", modelDirectory.appendingPathComponent("onnxruntime_reference.py").path, "--bench", model.path]
    process.standardInput = try? FileHandle(forReadingFrom: csv)
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    struct R: Decodable { let onnxruntime: String; let batchRowsPerSecond: Double; let singleRowCallsPerSecond: Double }
    guard process.terminationStatus == 0, let r = try? JSONDecoder().decode(R.self, from: data) else { return nil }
    return (r.batchRowsPerSecond, r.singleRowCallsPerSecond, r.onnxruntime)
}

struct AlertLatency { let p50Milliseconds: Double; let p99Milliseconds: Double; let samples: Int; let backlog: Int }

/// From a critical reading's arrival (the ingestion call: persisted synced, queued) to its alert
/// leaving the hub for the covered hospital's stream (stored synced with its pending audit record
/// and anchor leaf first), with `backlog` routine batches from 200 patients queued ahead of it each
/// time. The WebSocket write itself is not included.
func alertLatencyBench(quick: Bool) async throws -> AlertLatency {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-bench-alerts-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let db = try RocksDB(path: dir.path, columnFamilies: ReadingStore.columns + AnchorStore.columns + AssessmentStore.columns)
    let anchors = try AnchorStore(db: db)
    let inbox = ScoringInbox(capacity: 100_000)
    let ingestor = VitalsIngestor(store: ReadingStore(db: db, anchors: anchors), inbox: inbox, pairedPatient: { _ in nil }, isPatient: { _ in true })
    let hub = AlertHub()
    let sakura = OrganizationID("sakura-general")!
    let dispatcher = AlertDispatcher(rule: AlertRule(highModelRisk: 0.2), store: AssessmentStore(db: db, anchors: anchors), hub: hub,
                                     registry: PrometheusCollectorRegistry(), recipients: { _ in [(sakura, .emergencyTreatment)] })
    let worker = try RiskWorker(inbox: inbox) { current, previous in _ = try? dispatcher.consider(current, previous: previous) }
    let running = Task { try await worker.run(metrics: WorkerMetrics(registry: PrometheusCollectorRegistry(), worker: "risk")) }
    defer { running.cancel() }
    var alerts = hub.subscribe(organization: sakura).makeAsyncIterator()

    let routinePatients = (0..<200).map { DemoCast.key("bench/routine/\($0)").publicKey }
    let backlog = quick ? 2_000 : 5_000
    let samples = quick ? 50 : 200
    var millis: [Double] = []
    for k in 0..<samples {
        let t = VitalsIngestor.systemClock()
        var routine: [ReadingBatch] = []
        for i in 0..<backlog {
            routine.append(ReadingBatch(patient: routinePatients[i % routinePatients.count], source: .feed("bench", messageID: "r\(k)-\(i)"),
                                        readings: [VitalReading(sign: .heartRate, value: Measurement(whole: 72), time: t),
                                                   VitalReading(sign: .oxygenSaturation, value: Measurement(whole: 97), time: t)]))
        }
        _ = try await ingestor.ingest(feedBatches: routine)
        // A new patient each time, so that each critical batch raises an alert.
        let patient = DemoCast.key("bench/critical/\(k)").publicKey
        let critical = ReadingBatch(patient: patient, source: .feed("bench", messageID: "c\(k)"),
                                    readings: [VitalReading(sign: .oxygenSaturation, value: Measurement(whole: 85), time: t),
                                               VitalReading(sign: .heartRate, value: Measurement(whole: 135), time: t),
                                               VitalReading(sign: .respiratoryRate, value: Measurement(whole: 27), time: t)])
        let start = now()
        _ = try await ingestor.ingest(feedBatches: [critical])
        while let delivery = await alerts.next() {
            if delivery.alert.patient == patient { break }
        }
        millis.append(Double(now() - start) / 1e6)
        while inbox.count > 0 { try await Task.sleep(for: .milliseconds(1)) }   // let the backlog drain before the next round
    }
    return AlertLatency(p50Milliseconds: percentile(millis, 0.5), p99Milliseconds: percentile(millis, 0.99), samples: samples, backlog: backlog)
}
