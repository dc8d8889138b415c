import Foundation
import Testing
import MeridianCore
import MeridianVitals
import MeridianIngest

@Suite(.timeLimit(.minutes(5))) struct HL7Tests {
    static let patientHex = Fixtures.patient.publicKey.hex

    /// An IHE PCD-01 style ORU^R01 from a bedside-monitor gateway: MDC codes, device hierarchy rows
    /// without values, a LOINC row, an escaped text, and a second patient.
    static var pcd01: String {
        [
            #"MSH|^~\&|MONITOR GW|WARD7^LISBON|MERIDIAN|HOSP-LIS|20261124101500+0000||ORU^R01^ORU_R01|MSG00042|P|2.6|||NE|AL||UNICODE UTF-8|||PCD_DEC_001"#,
            "PID|||\(patientHex)^^^MERIDIAN^PT~12345^^^LOCAL^MR||Doe^J\\S\\ohn||19400101|M",
            "PV1||I|WARD7^BED3",
            "OBR|1|A1^GW|B1^GW|182777000^monitoring of patient^SCT|||20261124101455+0000",
            "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X",
            "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|94|262688^MDC_DIM_PERCENT^MDC|90-100||||F|||20261124101450+0000",
            "OBX|3|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.2|118|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F|||20261124101450+0000",
            "OBX|4|NM|8310-5^Body temperature^LN||101.3|[degF]^degF^UCUM|||||F",
            "OBX|5|ST|80288-4^Level of consciousness^LN||A||||||F",
            "PID|||\(Fixtures.key(21).publicKey.hex)^^^MERIDIAN",
            "OBX|1|NM|9279-1^Respiratory rate^LN||26|/min^breaths/min^UCUM|||||F|||20261124101400",
        ].joined(separator: "\r") + "\r"
    }

    /// A hostile PID-3 of 100,000 repetitions (about 1 MB at the frame limit) is read in one pass:
    /// the Meridian identifier after them is found, and a field with none is refused. (Reading
    /// repetition r rescanned the field from its start: 23 s for one such message; the time is
    /// measured by `meridian-bench hl7-repetitions`, not asserted here.)
    @Test func aPIDWithOneHundredThousandRepetitionsIsReadInOnePass() throws {
        let filler = Array(repeating: "1^^^L", count: 100_000).joined(separator: "~")
        func message(_ pid3: String) -> [UInt8] {
            Array(["MSH|^~\\&|GW|W|M|H|20261124101500+0000||ORU^R01|X1|P|2.5", "PID|||" + pid3,
                   "OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F|||20261124101450+0000"].joined(separator: "\r").utf8)
        }
        let found = try ObservationResult.batches(of: try HL7Message(parsing: message(filler + "~\(Self.patientHex)^^^MERIDIAN")))
        #expect(found.first?.patient == Fixtures.patient.publicKey)
        let bare = try ObservationResult.batches(of: try HL7Message(parsing: message(filler + "~\(Self.patientHex)")))
        #expect(bare.first?.patient == Fixtures.patient.publicKey, "a 64-hex identifier without an authority is ours")
        #expect(throws: HL7Error.self) { try ObservationResult.batches(of: try HL7Message(parsing: message(filler))) }
        let segment = try HL7Message(parsing: message(filler)).segments(named: "PID")[0]
        #expect(segment.repetitionRanges(3).count == 100_000 && segment.repetitionCount(3) == 100_000)
    }

    @Test func aPCD01MessageBecomesOneBatchPerPatientInCanonicalUnits() throws {
        let message = try HL7Message(parsing: Array(Self.pcd01.utf8))
        #expect(message.messageType == "ORU^R01" && message.controlID == "MSG00042")
        #expect(message.segments(named: "PID")[0].value(5, component: 2) == "J^ohn")   // escape decoded
        let batches = try ObservationResult.batches(of: message)
        #expect(batches.count == 2)
        let first = batches[0]
        #expect(first.patient == Fixtures.patient.publicKey)
        #expect(first.source == .feed("MONITOR GW^WARD7", messageID: "MSG00042"))
        #expect(first.readings.map(\.sign) == [.oxygenSaturation, .heartRate, .bodyTemperature, .consciousness])
        #expect(first.readings.map(\.value.description) == ["94", "118", "38.5", "0"])
        #expect(first.readings[0].time == HL7Time.parse("20261124101450+0000"))
        #expect(first.readings[2].time == HL7Time.parse("20261124101455+0000"), "no OBX-14: OBR-7")
        #expect(batches[1].source == .feed("MONITOR GW^WARD7", messageID: "MSG00042#2"))
        #expect(batches[1].readings.first?.value == Measurement(whole: 26) && batches[1].mayBeCritical)
    }

    @Test func errorsNameTheCodeAndTheLocationForTheERRSegment() throws {
        func error(_ replace: (String) -> String) -> HL7Error? {
            do { _ = try ObservationResult.batches(of: try HL7Message(parsing: Array(replace(Self.pcd01).utf8))); return nil }
            catch { return error }
        }
        let cases: [(String, (String) -> String, HL7Error.Code, String)] = [
            ("ADT", { $0.replacingOccurrences(of: "ORU^R01^ORU_R01", with: "ADT^A01") }, .unsupportedMessageType, "MSH-9"),
            ("event", { $0.replacingOccurrences(of: "ORU^R01^ORU_R01", with: "ORU^R30") }, .unsupportedEventCode, "MSH-9"),
            ("version", { $0.replacingOccurrences(of: "|P|2.6|", with: "|P|3.0|") }, .unsupportedVersionID, "MSH-12"),
            ("value", { $0.replacingOccurrences(of: "|94|", with: "|9x4|") }, .dataType, "OBX[2]-5"),
            ("unit", { $0.replacingOccurrences(of: "[degF]^degF^UCUM", with: "furlong^^UCUM") }, .tableValueNotFound, "OBX[4]-6"),
            ("impossible", { $0.replacingOccurrences(of: "|118|", with: "|900|") }, .dataType, "OBX[3]-5"),
            ("consciousness", { $0.replacingOccurrences(of: "LN||A||", with: "LN||Sleepy||") }, .dataType, "OBX[5]-5"),
            ("key", { $0.replacingOccurrences(of: Self.patientHex, with: "nothex") }, .unknownKey, "PID[1]-3"),
            ("time", { $0.replacingOccurrences(of: "20261124101450+0000", with: "20261341") }, .dataType, "OBX[2]-14"),
        ]
        for (name, edit, code, location) in cases {
            let e = error(edit)
            #expect(e?.code == code && e?.location == location, "\(name): \(e.map(String.init(describing:)) ?? "accepted")")
        }
        #expect(throws: HL7Error(.segmentSequence, reason: "")) { try HL7Message(parsing: Array("PID|||x".utf8)) }
        #expect(throws: HL7Error(.dataType, reason: "")) { try HL7Message(parsing: Array("MSH|^~^&|A".utf8)) }
    }

    /// Inputs the fuzzer found crashing the parser (fixed); each must now parse or be refused.
    @Test func fuzzFindingsAreHandled() throws {
        let findings = [
            "4d53487c5e7e5c267c4757323631314d53487c5e7e5c267c47577c574152447c4d4552494449414e7c487c3530302b303030307c7c4f52555e5230317c4d317c507c322e360d4d53487c3030307c7c4f52555e5230317c4d3234b6b3cfcecaf5f5ce83507c322e360d4d53480a214d353364135c267c4757317c507c7c324132",   // a second MSH line shorter than its separator (index out of bounds)
            "4d53487c5e7e5c267c410d4d53480d4d53487c0d",   // bare "MSH" lines
            "4d53487c5e7e5c267c410d4d5348cc817c41",       // a combining mark after "MSH"
            "4d53487c5e7e5c267c47577c4d535c487c5e7e5c267c7c5757415244417e5c267c7c5757415244417ca9ffff7f5c5c5c5c5c5c565c5c5c5c5c5c5c5c5c5830305c5c5c5c5c5c7c5c525c",   // a NUL (from an X00 escape) in MSH-3, echoed into the ACK, which then did not parse
            "4d53487c5e7e5d267c47577ccfcfcfcfcfcfcfcfcf0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818180b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0bcfcfcf4646464646464646464646464646464646464646464646464646464646464646464646464646464646cfcfcfcfcfcfcfcfcfb7cfcfcfcfcfcfcfcfcfcfcfcfcfcfcf57c552447c4d4552494449414e7c487c32303236313132343130313530302b303030307c7c4f52555e5230317c4d317c507c322e360d5049447c7c7c353532633633306236346235346266353032313063396532333562333438646439343963373265323238373335303066363238356332626564653331326138345e5e5e4d4552494449414e0d4f42527c317c7c3934494d5f50455243454e545e4d44437c7c7c7c7c467c7c7c3132343130313435302e32352b303130300d4f42587c327c53547c38303238382d345e41435650555e4c4e7c7c567c7c7c7c7c7c460d",   // a feed name too long for the reading store's source id (accepted, then not decodable)
        ]
        for hex in findings {
            guard let m = try? HL7Message(parsing: Hex.decode(hex)!) else { continue }
            for b in (try? ObservationResult.batches(of: m)) ?? [] { #expect(try ReadingBatch(canonicalBytes: b.canonicalBytes) == b) }
            let ack = Acknowledgement.build(for: m, code: .error, error: HL7Error(.dataType, location: "MSH-3", reason: "x\u{0}y\r"), sendingFacility: "F",
                                            now: Timestamp(unixMilliseconds: 0), ackID: "1")
            let parsed = try HL7Message(parsing: ack)
            #expect(parsed.segments(named: "ERR").first?.value(8) == "x\u{0}y\r", "control characters survive as hex escapes")
            for segment in m.segments { for f in 0...segment.fieldCount + 1 { _ = segment.value(f); _ = segment.components(f) } }
        }
    }

    @Test func acknowledgementsSayAAOrAEWithAnERRSegment() throws {
        let message = try HL7Message(parsing: Array(Self.pcd01.utf8))
        let now = Timestamp(unixMilliseconds: 1_795_000_000_000)
        let aa = try HL7Message(parsing: Acknowledgement.build(for: message, code: .accept, error: nil, sendingFacility: "HOSP-LIS", now: now, ackID: "A1"))
        #expect(aa.messageType == "ACK^R01" && aa.segments(named: "MSA")[0].value(1) == "AA" && aa.segments(named: "MSA")[0].value(2) == "MSG00042")
        #expect(aa.header.value(5) == "MONITOR GW" && aa.segments(named: "ERR").isEmpty)
        let error = HL7Error(.dataType, location: "OBX[2]-5", reason: "'9x4' is not a number | really")
        let ae = try HL7Message(parsing: Acknowledgement.build(for: message, code: .error, error: error, sendingFacility: "HOSP-LIS", now: now, ackID: "A2"))
        let err = ae.segments(named: "ERR")[0]
        #expect(ae.segments(named: "MSA")[0].value(1) == "AE")
        #expect(err.value(2, component: 1) == "OBX" && err.value(2, component: 2) == "2" && err.value(2, component: 3) == "5")
        #expect(err.value(3, component: 1) == "102" && err.value(3, component: 3) == "HL70357" && err.value(4) == "E")
        #expect(err.value(8) == "'9x4' is not a number | really", "the reason survives escaping")
    }

    @Test func mllpFramesSplitAcrossReadsAndRefuseGarbageAndOversize() throws {
        let a = Array("MSH|^~\\&|A\rPID|1\r".utf8), b = Array("MSH|^~\\&|B\r".utf8)
        let stream = MLLPDecoder.frame(a) + MLLPDecoder.frame(b)
        var decoder = MLLPDecoder()
        var got: [[UInt8]] = []
        for chunk in stride(from: 0, to: stream.count, by: 5) { got += try decoder.feed(stream[chunk..<min(chunk + 5, stream.count)]) }
        #expect(got == [a, b])
        var garbage = MLLPDecoder()
        #expect(throws: VitalsError(.malformed, "")) { try garbage.feed(Array("GET / HTTP/1.1".utf8)) }
        var small = MLLPDecoder(maxMessageBytes: 8)
        #expect(throws: VitalsError(.tooLarge, "")) { try small.feed(MLLPDecoder.frame([UInt8](repeating: 65, count: 20))) }
    }

    @Test func hl7TimesIncludeOffsetsAndFractions() {
        #expect(HL7Time.parse("20261124101450+0000")?.unixMilliseconds == 1_795_515_290_000)
        #expect(HL7Time.parse("20261124111450+0100")?.unixMilliseconds == 1_795_515_290_000)
        #expect(HL7Time.parse("20261124101450.25+0000")?.unixMilliseconds == 1_795_515_290_250)
        #expect(HL7Time.parse("202611241014")?.unixMilliseconds == 1_795_515_240_000)
        #expect(HL7Time.parse("20261124101450.2509+0000")?.unixMilliseconds == 1_795_515_290_250)
        for bad in ["2026112410145", "20260230", "20261124101460", "2026112410.5", "x", "20261124101450+25"] { #expect(HL7Time.parse(bad) == nil, "\(bad)") }
        #expect(HL7Time.format(Timestamp(unixMilliseconds: 1_795_515_290_000)) == "20261124101450+0000")
    }

    /// Field extraction against python-hl7 (PyPI `hl7`, written elsewhere) on a corpus of the samples
    /// its source package ships (tests/samples.py) and Meridian's own ORU messages: every field count
    /// and the decoded value at every field, repetition, component and subcomponent must agree.
    @Test func fieldExtractionEqualsPythonHL7OnItsSamplesAndOurs() async throws {
        let sdist = try await HL7Reference.sourceDistribution()
        let ours = [Self.pcd01, #"MSH|^~\&|X|Y|||20250101||ORU^R01|1|P|2.5\#rPID|1|a\T\b&c~d\E\e|\X41\\X4243\|\.br\|\H\hi\N\|^^"#,
                    "MSH|$%*!@|AP$P|F*G|||2025||ORU$R01|9|P|2.4\rOBX|1$1|NM|x!y$z|%%|5"]
        let script = """
            import json, sys, tarfile, hl7
            src = tarfile.open(sys.argv[1]).extractfile([n for n in tarfile.open(sys.argv[1]).getnames() if n.endswith('tests/samples.py')][0]).read().decode()
            ns = {}
            exec(src, ns)
            request = json.load(sys.stdin)
            corpus = [v for k, v in sorted(ns.items()) if isinstance(v, str) and v.startswith('MSH')] + request['ours']
            print(json.dumps({'corpus': corpus}))
            for q in request['queries']:
                m = hl7.parse(corpus[q[0]])
                if q[1] == 'count':
                    print(json.dumps(len(m.segments(q[2])(q[3])) - 1)); continue
                try: print(json.dumps(m.extract_field(q[1], q[2], q[3], q[4], q[5], q[6])))
                except Exception as e: print(json.dumps('!' + type(e).__name__))
            """
        // First call: the corpus itself (python reads the samples); second: the queries on it.
        let first = try await PythonReference.run(script, input: try JSONSerialization.data(withJSONObject: ["ours": ours, "queries": []]), package: "hl7", arguments: [sdist.path])
        let corpus = try JSONDecoder().decode([String: [String]].self, from: Data(first[0].utf8))["corpus"]!
        #expect(corpus.count >= 5, "the samples of python-hl7 and ours")
        var queries: [[Any]] = [], expected: [String] = []
        for (i, text) in corpus.enumerated() {
            let m = try HL7Message(parsing: Array(text.utf8))
            var occurrence: [String: Int] = [:]
            for segment in m.segments {
                occurrence[segment.name, default: 0] += 1
                let k = occurrence[segment.name]!
                queries.append([i, "count", segment.name, k]); expected.append("\(segment.fieldCount)")
                for f in 1...max(segment.fieldCount, 1) {
                    let reps = segment.repetitions(f)
                    for (r, rep) in reps.enumerated() {
                        let comps = segment.name == "MSH" && f <= 2 ? [rep] : rep.utf8.split(separator: m.encoding.component, omittingEmptySubsequences: false).map { Substring($0) }
                        for (c, comp) in comps.enumerated() {
                            let subs = segment.name == "MSH" && f <= 2 ? 1 : comp.utf8.split(separator: m.encoding.subcomponent, omittingEmptySubsequences: false).count
                            for s in 1...subs {
                                queries.append([i, segment.name, k, f, r + 1, c + 1, s])
                                expected.append(segment.value(f, repetition: r + 1, component: c + 1, subcomponent: s))
                            }
                        }
                    }
                }
            }
        }
        let answers = try await PythonReference.run(script, input: try JSONSerialization.data(withJSONObject: ["ours": ours, "queries": queries]), package: "hl7", arguments: [sdist.path]).dropFirst()
        #expect(answers.count == expected.count)
        var mismatches = 0
        for (q, (answer, mine)) in zip(queries, zip(answers, expected)) {
            let theirs: String
            if let n = try? JSONDecoder().decode(Int.self, from: Data(answer.utf8)) { theirs = "\(n)" } else { theirs = (try? JSONDecoder().decode(String.self, from: Data(answer.utf8))) ?? "?" }
            if theirs != mine { mismatches += 1; if mismatches <= 10 { Issue.record("\(q): python-hl7 '\(theirs)' Meridian '\(mine)'") } }
        }
        #expect(mismatches == 0, "\(mismatches) of \(expected.count) positions differ")
        #expect(expected.count > 300)
    }
}

/// The python-hl7 source distribution (its tests/samples.py is the corpus), fetched once by
/// `make setup` into .build/reference, or here if it is missing.
enum HL7Reference {
    static let version = "0.4.5"
    static func sourceDistribution() async throws -> URL {
        let dir = Fixtures.repositoryRoot.appendingPathComponent(".build/reference")
        let file = dir.appendingPathComponent("hl7-\(version).tar.gz")
        if FileManager.default.fileExists(atPath: file.path) { return file }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        _ = try await PythonReference.run("import subprocess, sys; subprocess.check_call([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-binary', ':all:', '--no-deps', 'hl7==\(version)', '-d', sys.argv[1]])",
                                    input: Data(), package: "hl7 (source distribution)", arguments: [dir.path])
        return file
    }
}
