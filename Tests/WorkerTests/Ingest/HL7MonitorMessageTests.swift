import Foundation
import Testing
import MeridianCore
import MeridianVitals
import MeridianIngest

/// HL7 v2 ORU^R01 shaped like real bedside monitors' and NEWS2 charts': a message keeps what it can
/// read and names, as warnings in an AA, what it skipped; one rule per test.
@Suite(.timeLimit(.minutes(5))) struct HL7MonitorMessageTests {
    static let patient = Fixtures.patient.publicKey.hex

    static func message(_ obx: [String], msh7: String = "20261124101500+0000") -> HL7Message {
        let lines = [#"MSH|^~\&|IntelliVue GW|ICU^LISBON|MERIDIAN|HOSP-LIS|"# + msh7 + "||ORU^R01^ORU_R01|M7|P|2.6|||NE|AL",
                     "PID|||\(patient)^^^MERIDIAN~778812^^^HOSP^MR||Doe^Jane",
                     "OBR|1|||182777000^monitoring of patient^SCT|||20261124101455+0000"] + obx
        return try! HL7Message(parsing: Array((lines.joined(separator: "\r") + "\r").utf8))
    }

    static func read(_ obx: [String], msh7: String = "20261124101500+0000") throws -> ObservationResult.Result {
        try ObservationResult.read(message(obx, msh7: msh7))
    }

    /// A monitor's message with a rhythm, an ST segment and a local alarm row beside its vitals:
    /// the vitals are stored, the others skipped, each named in an ERR of severity W in an AA.
    @Test func observationsOutsideTheVitalSignSetAreSkippedWithWarnings() throws {
        let r = try Self.read([
            "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|95|262688^MDC_DIM_PERCENT^MDC|||||F|||20261124101450+0000",
            "OBX|2|CWE|8884-9^Heart rhythm^LN||52753-4^Sinus rhythm^LN||||||F|||20261124101450+0000",
            "OBX|3|NM|131841^MDC_ECG_AMPL_ST_II^MDC|1.2.1.1|0.1|266418^MDC_DIM_MILLI_M^MDC|||||F|||20261124101450+0000",
            "OBX|4|ST|ALM01^Lead off^L||V5 lead off||||||F|||20261124101450+0000",
            "OBX|5|NM|8867-4^Heart rate^LN||88|/min|||||F|||20261124101450+0000",
            "OBX|6|ED|18750-0^ECG study^LN||^application^pdf^Base64^JVBERi0=||||||F",
        ])
        #expect(r.batches.count == 1 && r.batches[0].readings.map(\.sign) == [.oxygenSaturation, .heartRate])
        #expect(r.skipped == 4 && r.warnings.map(\.location) == ["OBX[2]-3", "OBX[3]-3", "OBX[4]-3", "OBX[6]-3"], "\(r.warnings)")
        let ack = String(decoding: Acknowledgement.build(for: Self.message([]), code: .accept, error: nil, warnings: r.warnings,
                                                          sendingFacility: "MERIDIAN", now: Timestamp(unixMilliseconds: 1_795_515_300_000), ackID: "1"), as: UTF8.self)
        let segments = ack.split(separator: "\r")
        #expect(segments[1].hasPrefix("MSA|AA|M7"))
        let errs = segments.filter { $0.hasPrefix("ERR|") }.map { $0.split(separator: "|", omittingEmptySubsequences: false) }
        #expect(errs.count == 4 && errs.allSatisfy { $0[4] == "W" } && errs[0][2] == "OBX^2^3", "\(ack)")
        #expect(try HL7Message(parsing: Array(ack.utf8)).segments(named: "ERR").count == 4, "the ACK parses")
    }

    /// Consciousness as the NHS NEWS2 chart codes it (SNOMED CT ACVPU observable and value set, CWE),
    /// as LOINC with a coded or a text value, and as a bare letter.
    @Test func consciousnessIsReadFromSNOMEDAndLOINCCodedValues() throws {
        let cases: [(String, Int64)] = [
            ("OBX|1|CWE|1104441000000107^ACVPU scale score^SCT||248234008^Mentally alert^SCT||||||F|||20261124101450+0000", 0),
            ("OBX|1|CWE|1104441000000107^ACVPU scale score^SCT||130987000^Acute confusion^SCT||||||F|||20261124101450+0000", 1),
            ("OBX|1|CE|1104441000000107^ACVPU scale score^SNM||300202002^Responds to voice^SNM||||||F|||20261124101450+0000", 2),
            ("OBX|1|CWE|80288-4^Level of consciousness^LN||P^Responds to pain^L||||||F|||20261124101450+0000", 3),
            ("OBX|1|CWE|80288-4^Level of consciousness^LN||^Unresponsive||||||F|||20261124101450+0000", 4),
            ("OBX|1|ST|80288-4^Level of consciousness^LN||new confusion||||||F|||20261124101450+0000", 1),
            ("OBX|1|CNE|80288-4^Level of consciousness^LN||422768004^Unresponsive^SCT||||||F|||20261124101450+0000", 4),
        ]
        for (obx, level) in cases {
            let r = try Self.read([obx])
            #expect(r.batches.first?.readings.first?.sign == .consciousness && r.skipped == 0, "\(obx): \(r.warnings)")
            #expect(r.batches.first?.readings.first?.sign == .consciousness && r.batches.first?.readings.first?.value == Measurement(whole: level), "\(obx)")
        }
        // Another SNOMED CT observable is not consciousness: skipped.
        #expect(try Self.read(["OBX|1|CWE|364075005^Heart rate^SCT||88||||||F"]).skipped == 1)
    }

    /// SN values: exact (`=^84`, `^84`), a bound at the edge of a measuring range as its number, a
    /// range skipped; a bad comparator is an error.
    @Test func structuredNumericValuesAreRead() throws {
        let r = try Self.read([
            "OBX|1|SN|8867-4^Heart rate^LN||=^84|/min|||||F|||20261124101450+0000",
            "OBX|2|SN|9279-1^Respiratory rate^LN||<^5|/min|||||F|||20261124101450+0000",
            "OBX|3|SN|59408-5^SpO2^LN||^97|%|||||F|||20261124101450+0000",
            "OBX|4|SN|8480-6^Systolic BP^LN||^110^-^120|mm[Hg]|||||F|||20261124101450+0000",
        ])
        #expect(r.batches.first?.readings.map(\.value) == [Measurement(whole: 84), Measurement(whole: 5), Measurement(whole: 97)])
        #expect(r.skipped == 1 && r.warnings.first?.location == "OBX[4]-5")
        #expect(throws: HL7Error.self) { try Self.read(["OBX|1|SN|8867-4^Heart rate^LN||<>^84|/min|||||F"]) }
    }

    /// A monitor that sends local times (no offset in OBX-14) in a message whose MSH-7 says −0500:
    /// the local times are read in −0500, not as UTC.
    @Test func anObservationTimeWithoutOffsetTakesTheHeadersOffset() throws {
        let r = try Self.read(["OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F|||20261124051450"], msh7: "20261124051500-0500")
        #expect(r.batches.first?.readings.first?.time == HL7Time.parse("20261124101450+0000"))
        let utc = try Self.read(["OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F|||20261124101450"], msh7: "20261124101500")
        #expect(utc.batches.first?.readings.first?.time == HL7Time.parse("20261124101450+0000"), "no offset anywhere: the feed's (UTC)")
        #expect(HL7Time.offsetMinutes("20261124051500-0500") == -300 && HL7Time.offsetMinutes("20261124101500+0530") == 330
                && HL7Time.offsetMinutes("20261124101500") == nil)
    }

    /// Result status (table 0085): a preliminary value is not scored, a correction replaces the value
    /// it corrects, "cannot obtain" carries nothing.
    @Test func resultStatusIsHonoured() throws {
        let r = try Self.read([
            "OBX|1|NM|8867-4^Heart rate^LN||150|/min|||||P|||20261124101450+0000",
            "OBX|2|NM|8867-4^Heart rate^LN||112|/min|||||F|||20261124101450+0000",
            "OBX|3|NM|8867-4^Heart rate^LN||92|/min|||||C|||20261124101450+0000",
            "OBX|4|NM|59408-5^SpO2^LN||0|%|||||X|||20261124101450+0000",
            "OBX|5|NM|9279-1^Respiratory rate^LN||18|/min|||||U|||20261124101450+0000",
            "OBX|6|NM|8480-6^Systolic BP^LN||60|mm[Hg]|||||R|||20261124101450+0000",
        ])
        let readings = try #require(r.batches.first?.readings)
        #expect(readings.map(\.sign) == [.heartRate, .respiratoryRate] && readings[0].value == Measurement(whole: 92), "\(readings)")
        #expect(r.skipped == 3 && r.warnings.map(\.location) == ["OBX[1]-11", "OBX[4]-11", "OBX[6]-11"])
    }

    /// A message whose observations are all skipped is still acknowledged (nothing stored), and at
    /// most `maxWarnings` are named; the rest are counted.
    @Test func warningsAreBounded() throws {
        let rows = (1...30).map { "OBX|\($0)|ST|ALM\($0)^Alarm^L||text||||||F" }
        let r = try Self.read(rows)
        #expect(r.batches.isEmpty && r.skipped == 30 && r.warnings.count == ObservationResult.maxWarnings)
        let ack = String(decoding: Acknowledgement.build(for: Self.message([]), code: .accept, error: nil, warnings: r.warnings,
                                                          unnamedWarnings: r.skipped - r.warnings.count, sendingFacility: "M",
                                                          now: Timestamp(unixMilliseconds: 1_795_515_300_000), ackID: "1"), as: UTF8.self)
        #expect(ack.split(separator: "\r").filter { $0.hasPrefix("ERR|") }.count == ObservationResult.maxWarnings + 1)
        #expect(ack.contains("10 more observations skipped"))
    }
}
