import Testing
import MeridianCore
import MeridianVitals
import MeridianIngest

@Suite(.timeLimit(.minutes(5))) struct DeviceFrameTests {
    static let t0 = Timestamp(unixMilliseconds: 1_795_515_290_000)

    static func frame(sequence: UInt64 = 7, entries: [DeviceFrame.Entry]? = nil) throws -> [UInt8] {
        try DeviceFrame.encode(kind: .readings, device: Fixtures.device, sequence: sequence, time: t0, entries: entries ?? [
            .reading(offsetMilliseconds: 0, mdc: 150456, unit: "%", value: Measurement(whole: 97)),
            .reading(offsetMilliseconds: 0, mdc: 149530, unit: "/min", value: Measurement(whole: 72)),
            .reading(offsetMilliseconds: 1000, mdc: 150364, unit: "Cel", value: Measurement(decimal: "36.8")!),
        ])
    }

    @Test func aSignedFrameParsesVerifiesAndBecomesABatch() throws {
        let bytes = try Self.frame()
        let f = try DeviceFrame(parsing: bytes)
        #expect(f.verifySignature())
        #expect(f.device == Fixtures.device.publicKey && f.sequence == 7 && f.time == Self.t0)
        #expect(f.readings.map(\.sign) == [.oxygenSaturation, .heartRate, .bodyTemperature])
        #expect(f.readings[2].value.description == "36.8" && f.readings[2].time == Self.t0.adding(milliseconds: 1000))
        let batch = f.batch(patient: Fixtures.patient.publicKey)
        #expect(batch.source == .device(Fixtures.device.publicKey, sequence: 7) && !batch.mayBeCritical)
    }

    @Test func everyFlippedBitIsRefusedOrFailsTheSignature() throws {
        let bytes = try Self.frame()
        for i in 0..<bytes.count {
            for bit in 0..<8 {
                var b = bytes; b[i] ^= 1 << bit
                guard let f = try? DeviceFrame(parsing: b) else { continue }
                #expect(!f.verifySignature(), "byte \(i) bit \(bit) still verifies")
            }
        }
    }

    @Test func badFramesAreRefusedWithTheReason() throws {
        let good = try Self.frame()
        func refusal(_ b: [UInt8]) -> VitalsError.Code? { do { _ = try DeviceFrame(parsing: b); return nil } catch { return error.code } }
        #expect(refusal([]) == .malformed)
        #expect(refusal(Array(good.dropLast())) == .malformed)
        #expect(refusal(good + [0]) == .malformed)
        var v = good; v[0] = 9
        #expect(refusal(v) == .unsupported)
        #expect(refusal([UInt8](repeating: 1, count: DeviceFrame.maxBytes + 1)) == .tooLarge)
        #expect(refusal(try Self.frame(entries: [.reading(offsetMilliseconds: 0, mdc: 999, unit: "%", value: Measurement(whole: 1))])) == .unknownCode)
        #expect(refusal(try Self.frame(entries: [.reading(offsetMilliseconds: 0, mdc: 150456, unit: "ppm", value: Measurement(whole: 97))])) == .unknownUnit)
        #expect(refusal(try Self.frame(entries: [.reading(offsetMilliseconds: 0, mdc: 149530, unit: "/min", value: Measurement(whole: 0))])) == .impossibleValue)
        #expect(refusal(try Self.frame(entries: [])) == .malformed)
    }

    @Test func deviceFloatsAreExactDecimalsAndSpecialValuesAreRefused() throws {
        #expect(try DeviceFloat.decode(0xFF00_016E).description == "36.6")   // 366 × 10^-1
        #expect(try DeviceFloat.decode(0x0000_0048).description == "72")
        #expect(try DeviceFloat.decode(0xFEFF_FFFB).description == "-0.05")  // -5 × 10^-2
        for special: UInt32 in [0x007F_FFFF, 0x0080_0000, 0x007F_FFFE, 0x0080_0002, 0x0080_0001] {
            #expect(throws: VitalsError(.impossibleValue, "")) { try DeviceFloat.decode(special) }
        }
        for text in ["36.6", "-0.005", "120", "0.000001"] {
            let m = Measurement(decimal: text)!
            #expect(try DeviceFloat.decode(DeviceFloat.encode(m)!) == m)
        }
    }

    @Test func bluetoothHeartRateMeasurementsDecodeEveryFlagCombination() throws {
        let eight = try HeartRateMeasurement(parsing: [0x06, 72])   // uint8, contact supported and detected
        #expect(eight.heartRate == 72 && eight.rrIntervals.isEmpty && eight.energyExpended == nil)
        let full = try HeartRateMeasurement(parsing: [0x1F, 0x2C, 0x01, 0x10, 0x00, 0x00, 0x04, 0x00, 0x02])   // uint16 300, energy 16, RR 1024 and 512
        #expect(full.heartRate == 300 && full.energyExpended == 16 && full.rrIntervals == [1024, 512])
        let readings = full.readings(at: Self.t0)
        #expect(readings.map(\.sign) == [.heartRate, .rrInterval, .rrInterval] && readings[1].value == Measurement(whole: 1000) && readings[2].value == Measurement(whole: 500))
        #expect(try HeartRateMeasurement(parsing: HeartRateMeasurement.encode(heartRate: 61, rrIntervals: [983])).rrIntervals == [983])
        func refusal(_ b: [UInt8]) -> VitalsError.Code? { do { _ = try HeartRateMeasurement(parsing: b); return nil } catch { return error.code } }
        #expect(refusal([0x04, 72]) == .impossibleValue, "contact supported but not detected")
        #expect(refusal([0x10, 72, 0x00]) == .malformed, "half an RR interval")
        #expect(refusal([0x01, 72]) == .malformed, "uint16 flag with one byte")
        #expect(refusal([0x00, 72, 1]) == .malformed, "trailing byte")
        #expect(refusal([0x80, 72]) == .malformed, "reserved bit")
        #expect(refusal([0x00, 0]) == .impossibleValue, "0 bpm")
        #expect(refusal([0x10, 72, 0x10, 0x00]) == .impossibleValue, "RR of 16/1024 s")
    }

    @Test func aGatewayRelaysBluetoothPayloadsInASignedFrame() throws {
        let bytes = try DeviceFrame.encode(kind: .bluetoothRelay, device: Fixtures.gateway, sequence: 1, time: Self.t0, entries: [
            .bluetooth(offsetMilliseconds: 0, payload: HeartRateMeasurement.encode(heartRate: 64, rrIntervals: [960])),
            .bluetooth(offsetMilliseconds: 1000, payload: HeartRateMeasurement.encode(heartRate: 135)),
        ])
        let f = try DeviceFrame(parsing: bytes)
        #expect(f.verifySignature() && f.kind == .bluetoothRelay)
        #expect(f.readings.map(\.sign) == [.heartRate, .rrInterval, .heartRate])
        #expect(f.batch(patient: Fixtures.patient.publicKey).mayBeCritical, "135 /min scores 3")
    }
}
