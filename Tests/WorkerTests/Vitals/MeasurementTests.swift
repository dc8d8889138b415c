import Testing
import MeridianCore
import MeridianVitals

@Suite(.timeLimit(.minutes(5))) struct MeasurementTests {
    @Test func decimalTextParsesExactlyAndRoundsBeyondMicro() {
        let cases: [(String, Int64?)] = [
            ("36.6", 36_600_000), ("-0.125", -125_000), ("+7", 7_000_000), ("1e2", 100_000_000), ("1.5E-3", 1_500),
            ("0.0000005", 1), ("0.0000004", 0), ("-0.0000005", -1), ("007.50", 7_500_000), (".5", 500_000), ("5.", 5_000_000),
            ("", nil), ("-", nil), ("1.2.3", nil), ("NaN", nil), ("Infinity", nil), ("1e", nil), ("1e1000", nil), ("0x10", nil),
            (" 1", nil), ("1,5", nil), ("99999999999999999999", nil), ("1e13", nil),
        ]
        for (text, micro) in cases { #expect(Measurement(decimal: text)?.micro == micro, "'\(text)'") }
        #expect(Measurement(micro: 36_600_000).description == "36.6")
        #expect(Measurement(micro: -5_000).description == "-0.005")
        #expect(Measurement(whole: 120).description == "120")
    }

    @Test func unitsConvertExactlyToTheCanonicalUnit() throws {
        func c(_ v: String, _ u: String, _ s: VitalSign) throws -> String { try UnitConversion.canonical(Measurement(decimal: v)!, unit: u, sign: s).description }
        #expect(try c("98.6", "[degF]", .bodyTemperature) == "37")
        #expect(try c("310.15", "K", .bodyTemperature) == "37")
        #expect(try c("16", "kPa", .systolicPressure) == "120.009872")
        #expect(try c("1.2", "/s", .heartRate) == "72")
        #expect(try c("154", "[lb_av]", .bodyWeight) == "69.853225")
        #expect(try c("0.8", "s", .rrInterval) == "800")
        #expect(try c("1.75", "m", .bodyHeight) == "175")
        #expect(try c("97", "%", .oxygenSaturation) == "97")
    }

    @Test func unknownUnitsAndImpossibleValuesAreRefusedWithTheReason() {
        #expect(throws: VitalsError(.unknownUnit, "")) { try UnitConversion.canonical(Measurement(whole: 97), unit: "ppm", sign: .oxygenSaturation) }
        #expect(throws: VitalsError(.impossibleValue, "")) { try UnitConversion.canonical(Measurement(whole: 400), unit: "/min", sign: .heartRate) }
        #expect(throws: VitalsError(.impossibleValue, "")) { try UnitConversion.canonical(Measurement(whole: 101), unit: "%", sign: .oxygenSaturation) }
        do { _ = try UnitConversion.canonical(Measurement(whole: 60), unit: "[degF]", sign: .bodyTemperature); Issue.record("60 °F accepted") }
        catch { #expect(error.description.contains("temperature 15.555556 Cel is outside 20...46")) }
    }

    @Test func readingBatchesRoundTripCanonically() throws {
        let key = try PrivateKey(secret: Bytes32([UInt8](repeating: 7, count: 32))!).publicKey
        let batch = ReadingBatch(patient: key, source: .device(key, sequence: 42), readings: [
            VitalReading(sign: .heartRate, value: Measurement(whole: 72), time: Timestamp(unixMilliseconds: 1_000)),
            VitalReading(sign: .ecgSample, value: Measurement(micro: -5_000), time: Timestamp(unixMilliseconds: 1_003)),
        ])
        #expect(try ReadingBatch(canonicalBytes: batch.canonicalBytes) == batch)
        let feed = ReadingBatch(patient: key, source: .feed("MONITOR^WARD7", messageID: "MSG0001"), readings: [])
        #expect(try ReadingBatch(canonicalBytes: feed.canonicalBytes) == feed)
        var bad = batch.canonicalBytes; bad[32 + 1 + 32 + 1 + 1] = 0x7f   // patient, source tag, device, sequence, count: then an unknown sign tag
        #expect(throws: CodecError(.unknownVariant, field: "reading.sign", offset: 0)) { try ReadingBatch(canonicalBytes: bad) }
    }

    @Test func criticalReadingsAreFlaggedByTheNEWS2ThreeThresholds() {
        let t = Timestamp(unixMilliseconds: 0)
        #expect(VitalReading(sign: .heartRate, value: Measurement(whole: 131), time: t).mayBeCritical)
        #expect(!VitalReading(sign: .heartRate, value: Measurement(whole: 130), time: t).mayBeCritical)
        #expect(VitalReading(sign: .oxygenSaturation, value: Measurement(whole: 91), time: t).mayBeCritical)
        #expect(VitalReading(sign: .bodyTemperature, value: Measurement(whole: 35), time: t).mayBeCritical)
        #expect(!VitalReading(sign: .bodyWeight, value: Measurement(whole: 300), time: t).mayBeCritical)
    }
}
