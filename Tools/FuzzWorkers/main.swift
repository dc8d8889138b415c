// libFuzzer target over every ingestion parser of the off-chain workers. One binary, one parser
// per run: `-meridian_parser=frame|hl7|fhir|ble|wfdb-header|wfdb-signal|onnx` (make fuzz-workers runs
// each in turn with its own corpus). A parser must refuse bad bytes with a typed error or accept
// them; a crash, a trap or an accepted value that breaks an invariant stops the fuzzer with the
// input saved.
import MeridianCore
import MeridianVitals
import MeridianIngest
import Foundation
import MeridianFuzzing
import MeridianModel

enum Parser: String, CaseIterable { case frame, hl7, fhir, ble, wfdbHeader = "wfdb-header", wfdbSignal = "wfdb-signal", onnx }

nonisolated(unsafe) var parser = Parser.frame

@inline(never)
func check(_ batch: ReadingBatch) {
    // Invariant: whatever is accepted is inside its sign's hard limits and re-encodes canonically.
    for r in batch.readings where !r.sign.hardLimits.contains(r.value) { fatalError("accepted \(r.sign.name) \(r.value) outside its limits") }
    guard (try? ReadingBatch(canonicalBytes: batch.canonicalBytes)) == batch else { fatalError("batch does not round-trip") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let patient = Seeds.patient
    switch parser {
    case .frame:
        if let f = try? DeviceFrame(parsing: bytes) { _ = f.verifySignature(); check(f.batch(patient: patient)) }
    case .hl7:
        if let m = try? HL7Message(parsing: bytes) {
            if let batches = try? ObservationResult.batches(of: m) { batches.forEach(check) }
            // The acknowledgement must itself parse, whatever the message held.
            let ack = Acknowledgement.build(for: m, code: .error, error: HL7Error(.dataType, location: "OBX[1]-5", reason: "fuzz"), sendingFacility: "F", now: Timestamp(unixMilliseconds: 0), ackID: "1")
            guard (try? HL7Message(parsing: ack)) != nil else { fatalError("an ACK that does not parse") }
        }
        var mllp = MLLPDecoder(maxMessageBytes: 4096)
        _ = try? mllp.feed(bytes)
    case .fhir:
        if let batches = try? FHIRObservation.batches(parsing: bytes, feed: "fuzz") { batches.forEach(check) }
    case .ble:
        if let m = try? HeartRateMeasurement(parsing: bytes) { check(ReadingBatch(patient: patient, source: .feed("f", messageID: "1"), readings: m.readings(at: Timestamp(unixMilliseconds: 0)))) }
    case .wfdbHeader:
        _ = try? WFDBHeader(parsing: String(decoding: bytes, as: UTF8.self))
    case .wfdbSignal:
        // The first bytes choose a header shape; the rest is the signal file.
        guard size >= 2 else { return 0 }
        let shapes = ["r 1 360\nr.dat 212\n", "r 2 360\nr.dat 212 200(1024)/mV 12 0\nr.dat 212\n", "r 1 360\nr.dat 16 200(0)/mV\n",
                      "r 3 500\nr.dat 16\nr.dat 16\nr.dat 16\n", "r 1 360 7\nr.dat 212 200 12 0 5 100\n", "r 1 100\nr.dat 16+3\n"]
        guard let header = try? WFDBHeader(parsing: shapes[Int(bytes[0]) % shapes.count]) else { fatalError("seed header refused") }
        if let signals = try? WFDBSignals.decode(header: header, file: "r.dat", bytes: Array(bytes.dropFirst())) {
            for s in signals where !s.samples.isEmpty { _ = s.physical(s.samples.count - 1) }
        }
    case .onnx:
        // A model file (the node loads the one its hospital configured): refused with a reason, or
        // loaded and then evaluated without a trap on rows of the width it states.
        if let model = try? ONNXModel(bytes: Data(bytes)) {
            let width = model.featureCount ?? 4
            for row in [[Float](repeating: 0, count: width), [Float](repeating: .nan, count: width), (0..<width).map { Float($0) * 37.5 }] {
                if let result = try? model.classify(FloatMatrix(row: row)), result.labels.count != 1 { fatalError("one row, \(result.labels.count) labels") }
            }
        }
    }
    return 0
}

/// Valid inputs of the chosen parser, as seeds.
enum Seeds {
    static let device = try! PrivateKey(secret: Bytes32([UInt8](repeating: 12, count: 32))!)
    static let patient = try! PrivateKey(secret: Bytes32([UInt8](repeating: 11, count: 32))!).publicKey

    static func inputs(_ p: Parser) -> [[UInt8]] {
        let t = Timestamp(unixMilliseconds: 1_795_515_290_000)
        switch p {
        case .frame:
            return [
                try! DeviceFrame.encode(kind: .readings, device: device, sequence: 1, time: t, entries: [
                    .reading(offsetMilliseconds: 0, mdc: 150456, unit: "%", value: Measurement(whole: 97)),
                    .reading(offsetMilliseconds: 10, mdc: 150364, unit: "[degF]", value: Measurement(decimal: "99.1")!)]),
                try! DeviceFrame.encode(kind: .bluetoothRelay, device: device, sequence: 2, time: t, entries: [
                    .bluetooth(offsetMilliseconds: 0, payload: HeartRateMeasurement.encode(heartRate: 70, energyExpended: 3, rrIntervals: [900, 910]))]),
            ]
        case .hl7:
            let msg = "MSH|^~\\&|GW|WARD|MERIDIAN|H|20261124101500+0000||ORU^R01|M1|P|2.6\rPID|||\(patient.hex)^^^MERIDIAN\rOBR|1||||||20261124101455\r"
                + "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|94|262688^MDC_DIM_PERCENT^MDC|||||F|||20261124101450.25+0100\rOBX|2|ST|80288-4^ACVPU^LN||V||||||F\r"
            // And one near the frame limit: PID-3 with 100,000 repetitions before ours (issue 19: it
            // took 23 s to acknowledge before the one-pass read).
            let hostile = "MSH|^~\\&|GW|WARD|MERIDIAN|H|20261124101500+0000||ORU^R01|M2|P|2.6\rPID|||"
                + Array(repeating: "1^^^L", count: 100_000).joined(separator: "~") + "~\(patient.hex)^^^MERIDIAN\r"
                + "OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F|||20261124101450\r"
            return [Array(msg.utf8), MLLPDecoder.frame(Array(msg.utf8)), Array(hostile.utf8)]
        case .fhir:
            let o = """
                {"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","id":"a","status":"final",
                "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
                "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/\(patient.hex)"},
                "effectiveDateTime":"2026-11-24T10:14:50.123+01:00","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
                "valueQuantity":{"value":120,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}}]}
                """
            return [Array(o.utf8), FHIRObservation.encode(VitalReading(sign: .bodyTemperature, value: Measurement(decimal: "37.2")!, time: t), patient: patient, id: "b")]
        case .ble:
            return [HeartRateMeasurement.encode(heartRate: 72), HeartRateMeasurement.encode(heartRate: 300, contact: nil, energyExpended: 9, rrIntervals: [800, 1000])]
        case .wfdbHeader:
            return [Array("# c\nrec 2 360/1(0) 108000 10:00:00 24/11/2026\nrec.dat 212x1:0+0 200(1024)/mV 12 0 975 5363 0 MLII\nrec.dat 16 100/uV 16 0 -3 7 0 V5\n".utf8)]
        case .wfdbSignal:
            return (0..<6).map { [UInt8($0)] + [0x01, 0xF0, 0xFF, 0xFF, 0x87, 0x00, 0x2C, 0x01, 0x38, 0xFF, 0x10, 0x20, 0x30] }
        case .onnx:
            // The shipped logistic model and the small fixtures (under -max_len=4096).
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            return ["Tools/Model/cvd/cvd-logistic.onnx", "Tests/Fixtures/onnx/fixture-normalizer.onnx", "Tests/Fixtures/onnx/fixture-small-trees.onnx"]
                .compactMap { FileManager.default.contents(atPath: root.appendingPathComponent($0).path).map(Array.init) }
        }
    }
}

/// Takes `-meridian_parser=` and `-meridian_seeds=DIR` (writes that parser's seeds into DIR).
func configure() -> [String] {
    var rest: [String] = []
    var seedsDir: String?
    for a in CommandLine.arguments {
        if a.hasPrefix("-meridian_parser=") {
            guard let p = Parser(rawValue: String(a.dropFirst("-meridian_parser=".count))) else {
                FileHandle.standardError.write(Data("unknown parser in \(a); one of \(Parser.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8)); exit(64)
            }
            parser = p
        } else if a.hasPrefix("-meridian_seeds=") { seedsDir = String(a.dropFirst("-meridian_seeds=".count)) }
        else { rest.append(a) }
    }
    if let dir = seedsDir {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (i, s) in Seeds.inputs(parser).enumerated() { FileManager.default.createFile(atPath: "\(dir)/seed-\(i)", contents: Data(s)) }
    }
    return rest
}

// With no inputs, a normal build runs every parser over its own seeds (a smoke test).
let arguments = configure()
#if !FUZZING
if arguments.count == 1 {
    for p in Parser.allCases { parser = p; for s in Seeds.inputs(p) { _ = s.withUnsafeBufferPointer { fuzzOne($0.baseAddress!, $0.count) } }; print("\(p.rawValue): seeds ok") }
}
#endif
FuzzDriver.run(arguments: arguments, fuzzOne)
