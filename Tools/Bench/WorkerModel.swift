// The workers' risk model: the native ONNX evaluator's rows per second beside onnxruntime (one
// thread each, same rows, same run).
import Foundation
import MeridianModel

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
