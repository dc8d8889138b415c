import Foundation
import Testing
import MeridianCore
import MeridianVitals
import MeridianIngest

@Suite(.timeLimit(.minutes(5))) struct FHIRObservationTests {
    static let patientHex = Fixtures.patient.publicKey.hex

    static func observation(id: String = "obs-1", loinc: String = "8867-4", value: String = "72", unit: String = "/min",
                            time: String = "2026-11-24T10:14:50+01:00", status: String = "final", subject: String? = nil) -> String {
        """
        {"resourceType":"Observation","id":"\(id)","status":"\(status)",
         "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
         "code":{"coding":[{"system":"http://loinc.org","code":"\(loinc)"}]},
         "subject":{"reference":"\(subject ?? "Patient/" + patientHex)"},
         "effectiveDateTime":"\(time)",
         "valueQuantity":{"value":\(value),"unit":"\(unit)","system":"http://unitsofmeasure.org","code":"\(unit)"}}
        """
    }

    static let bloodPressure = """
        {"resourceType":"Observation","id":"bp-1","status":"final",
         "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
         "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
         "subject":{"identifier":{"system":"urn:meridian:patient-key","value":"\(patientHex)"}},
         "effectiveInstant":"2026-11-24T09:14:50.5Z",
         "component":[
           {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":16.0,"system":"http://unitsofmeasure.org","code":"kPa"}},
           {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}
        """

    @Test func observationsAndBundlesBecomeBatchesInCanonicalUnits() throws {
        let single = try FHIRObservation.batches(parsing: Array(Self.observation(loinc: "8310-5", value: "98.6", unit: "[degF]").utf8), feed: "api:hosp-lis")
        #expect(single.count == 1 && single[0].readings[0].value.description == "37" && single[0].readings[0].sign == .bodyTemperature)
        #expect(single[0].readings[0].time == FHIRDateTime.parse("2026-11-24T09:14:50Z"))
        #expect(single[0].source == .feed("api:hosp-lis", messageID: "obs-1"))
        let other = Fixtures.key(21).publicKey.hex
        let bundle = """
            {"resourceType":"Bundle","type":"collection","entry":[{"resource":\(Self.observation())},{"resource":\(Self.bloodPressure)},
             {"resource":\(Self.observation(id: "o3", loinc: "9279-1", value: "30", subject: "Patient/" + other))}]}
            """
        let batches = try FHIRObservation.batches(parsing: Array(bundle.utf8), feed: "api:hosp-lis")
        #expect(batches.count == 2)
        #expect(batches[0].readings.map(\.sign) == [.heartRate, .systolicPressure, .diastolicPressure])
        #expect(batches[0].readings[1].value.description == "120.009872" && batches[0].readings[1].time.unixMilliseconds % 1000 == 500)
        #expect(batches[0].source == .feed("api:hosp-lis", messageID: "obs-1,bp-1"))
        #expect(batches[1].patient.hex == other && batches[1].mayBeCritical)
    }

    @Test func badObservationsAreRefusedWithTheReason() {
        func refusal(_ json: String) -> VitalsError? { do { _ = try FHIRObservation.batches(parsing: Array(json.utf8), feed: "t"); return nil } catch { return error } }
        let cases: [(String, VitalsError.Code, String)] = [
            ("{", .malformed, "resourceType"),
            (#"{"resourceType":"Patient"}"#, .unsupported, "Patient"),
            (Self.observation(loinc: "1234-5"), .unknownCode, "LOINC 1234-5"),
            (Self.observation(unit: "ppm"), .unknownUnit, "ppm"),
            (Self.observation(value: "900"), .impossibleValue, "heart-rate 900"),
            (Self.observation(value: "\"72\""), .malformed, "valueQuantity.value"),
            (Self.observation(time: "2026-11-24"), .malformed, "dateTime"),
            (Self.observation(time: "2026-11-24T10:14:50"), .malformed, "dateTime"),
            (Self.observation(status: "entered-in-error"), .unsupported, "entered-in-error"),
            (Self.observation(subject: "Patient/john-doe"), .malformed, "patient key"),
            (Self.observation().replacingOccurrences(of: "vital-signs", with: "laboratory"), .malformed, "vital-signs"),
            (#"{"resourceType":"Bundle","type":"document","entry":[]}"#, .unsupported, "document"),
            (#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}"#, .unsupported, "entry 0"),
        ]
        for (json, code, mention) in cases {
            let e = refusal(json)
            #expect(e?.code == code && e?.reason.contains(mention) == true, "\(mention): \(e.map(String.init(describing:)) ?? "accepted")")
        }
    }

    @Test func fhirDateTimesNeedATimeAndAZone() {
        #expect(FHIRDateTime.parse("2026-11-24T10:14:50Z")?.unixMilliseconds == 1_795_515_290_000)
        #expect(FHIRDateTime.parse("2026-11-24T11:14:50.123456+01:00")?.unixMilliseconds == 1_795_515_290_123)
        #expect(FHIRDateTime.format(Timestamp(unixMilliseconds: 1_795_515_290_007)) == "2026-11-24T10:14:50.007Z")
        for bad in ["2026-11-24", "2026-11-24T10:14:50", "2026-02-30T10:14:50Z", "2026-11-24T10:14:50+1:00", "2026-11-24T10:14:50.Z", "2026-11-24T10:14:50Zjunk"] {
            #expect(FHIRDateTime.parse(bad) == nil, "\(bad)")
        }
    }

    /// The Observations the node emits, one per vital sign, validate with `fhir.resources` (PyPI,
    /// its R4B models) and read back to the same readings.
    @Test func emittedObservationsValidateWithFhirResourcesR4B() async throws {
        let t = Timestamp(unixMilliseconds: 1_795_515_290_250)
        let readings: [VitalReading] = VitalSign.allCases.map { sign in
            let v: MeridianVitals.Measurement = sign == .consciousness ? .init(whole: 2) : sign.hardLimits.lowerBound
            return VitalReading(sign: sign, value: v, time: t)
        } + [VitalReading(sign: .bodyTemperature, value: .init(micro: 36_600_000), time: t)]
        let documents = readings.enumerated().map { String(decoding: FHIRObservation.encode($1, patient: Fixtures.patient.publicKey, id: "r\($0)"), as: UTF8.self) }
        let script = """
            import json, sys
            from fhir.resources.R4B.observation import Observation
            for doc in json.load(sys.stdin):
                try:
                    o = Observation.model_validate_json(doc) if hasattr(Observation, 'model_validate_json') else Observation.parse_raw(doc)
                    print('ok', o.code.coding[0].code)
                except Exception as e:
                    print('invalid', str(e).replace('\\n', ' ')[:300])
            """
        let lines = try await PythonReference.run(script, input: try JSONSerialization.data(withJSONObject: documents), package: "fhir.resources")
        #expect(lines.count == documents.count)
        for (line, reading) in zip(lines, readings) { #expect(line == "ok \(reading.sign.loinc ?? String(reading.sign.mdcCodes[0]))", "\(reading.sign.name): \(line)") }
        // And back through the parser (consciousness carries a code; the rest quantities).
        for (doc, reading) in zip(documents, readings) where reading.sign != .ecgSample {
            let back = try FHIRObservation.batches(parsing: Array(doc.utf8), feed: "t")
            #expect(back.first?.readings == [reading], "\(reading.sign.name)")
        }
    }
}
