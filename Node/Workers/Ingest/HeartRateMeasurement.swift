public import MeridianCore
public import MeridianVitals

/// The Bluetooth Heart Rate Measurement characteristic (0x2A37, Heart Rate Service 1.0),
/// little-endian: a flags byte (bit 0 heart rate as uint16 else uint8; bits 1-2 sensor contact,
/// bit 2 "supported" and bit 1 "detected"; bit 3 energy expended uint16 present; bit 4 RR
/// intervals present, uint16 each in 1/1024 s), then the fields in that order.
public struct HeartRateMeasurement: Sendable, Hashable {
    public static let characteristic: UInt16 = 0x2A37
    /// Beats per minute.
    public let heartRate: UInt16
    /// Kilojoules, if the strap reports it (kept for completeness; not a vital sign).
    public let energyExpended: UInt16?
    /// RR intervals in units of 1/1024 s, oldest first.
    public let rrIntervals: [UInt16]

    public init(parsing payload: some Collection<UInt8>) throws(VitalsError) {
        var r = BinaryReader(Array(payload), format: "heart rate measurement")
        let flags = try r.u8("flags")
        guard flags & 0xE0 == 0 else { throw VitalsError(.malformed, "heart rate measurement: reserved flag bits set (0x\(String(flags, radix: 16)))") }
        heartRate = flags & 0x01 != 0 ? try r.u16le("heart rate") : UInt16(try r.u8("heart rate"))
        if flags & 0x06 == 0x04 {   // contact supported and not detected: the value is not a measurement
            throw VitalsError(.impossibleValue, "heart rate measurement: the sensor reports no skin contact")
        }
        energyExpended = flags & 0x08 != 0 ? try r.u16le("energy expended") : nil
        var rr: [UInt16] = []
        if flags & 0x10 != 0 {
            guard r.remaining >= 2, r.remaining % 2 == 0 else { throw VitalsError(.malformed, "heart rate measurement: \(r.remaining) bytes of RR intervals (pairs of bytes expected)") }
            while r.remaining > 0 { rr.append(try r.u16le("RR interval")) }
        }
        guard r.remaining == 0 else { throw VitalsError(.malformed, "heart rate measurement: \(r.remaining) trailing bytes") }
        rrIntervals = rr
        guard VitalSign.heartRate.hardLimits.contains(Measurement(whole: Int64(heartRate))) else {
            throw VitalsError(.impossibleValue, "heart rate measurement: \(heartRate) /min is outside \(VitalSign.heartRate.hardLimits)")
        }
        for v in rr where !VitalSign.rrInterval.hardLimits.contains(Self.milliseconds(v)) {
            throw VitalsError(.impossibleValue, "heart rate measurement: RR interval \(Self.milliseconds(v)) ms is outside \(VitalSign.rrInterval.hardLimits)")
        }
    }

    /// An RR interval in 1/1024 s as milliseconds, exact to the micro-unit (rounded half away from zero).
    static func milliseconds(_ v: UInt16) -> Measurement { Measurement(micro: (Int64(v) * 1_000_000_000 + 512) / 1024) }

    public func readings(at time: Timestamp) -> [VitalReading] {
        [VitalReading(sign: .heartRate, value: Measurement(whole: Int64(heartRate)), time: time)]
            + rrIntervals.map { VitalReading(sign: .rrInterval, value: Self.milliseconds($0), time: time) }
    }

    /// Encodes a measurement (simulators and tests), choosing uint8 when the rate fits.
    public static func encode(heartRate: UInt16, contact: Bool? = true, energyExpended: UInt16? = nil, rrIntervals: [UInt16] = []) -> [UInt8] {
        var flags: UInt8 = heartRate > 255 ? 0x01 : 0
        if let contact { flags |= 0x04 | (contact ? 0x02 : 0) }
        if energyExpended != nil { flags |= 0x08 }
        if !rrIntervals.isEmpty { flags |= 0x10 }
        var out: [UInt8] = [flags]
        if heartRate > 255 { out += [UInt8(heartRate & 0xff), UInt8(heartRate >> 8)] } else { out.append(UInt8(heartRate)) }
        if let e = energyExpended { out += [UInt8(e & 0xff), UInt8(e >> 8)] }
        for v in rrIntervals { out += [UInt8(v & 0xff), UInt8(v >> 8)] }
        return out
    }
}
