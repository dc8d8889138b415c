public import MeridianVitals

/// IEEE 11073-20601 FLOAT-Type: a 32-bit number, 8-bit signed exponent and 24-bit signed
/// mantissa, value = mantissa × 10^exponent. Decimal by construction, so a device's 36.6 is
/// exactly 366 × 10^-1, never a binary approximation. The reserved mantissas (NaN, NRes, ±INFINITY,
/// reserved) are refused: a device that could not measure sends no value.
public enum DeviceFloat {
    static let nan: Int32 = 0x007F_FFFF, nres: Int32 = -0x0080_0000, plusInfinity: Int32 = 0x007F_FFFE
    static let minusInfinity: Int32 = -0x007F_FFFE, reserved: Int32 = -0x007F_FFFF

    public static func decode(_ raw: UInt32) throws(VitalsError) -> Measurement {
        let exponent = Int(Int8(bitPattern: UInt8(raw >> 24)))
        var mantissa = Int32(raw & 0x00FF_FFFF)
        if mantissa & 0x0080_0000 != 0 { mantissa -= 0x0100_0000 }   // sign-extend 24 bits
        switch mantissa {
        case nan, nres, plusInfinity, minusInfinity, reserved:
            throw VitalsError(.impossibleValue, "device FLOAT 0x\(String(raw, radix: 16)) is a special value (NaN, NRes or infinity), not a measurement")
        default: break
        }
        // mantissa × 10^(exponent + 6) in micro-units; exponents far outside a vital sign's range are refused.
        let shift = exponent + 6
        guard shift >= -8, shift <= 12 else { throw VitalsError(.impossibleValue, "device FLOAT exponent \(exponent) is out of range") }
        var value = Int64(mantissa)
        if shift >= 0 { for _ in 0..<shift { value *= 10 } }
        else {
            var divisor: Int64 = 1
            for _ in 0..<(-shift) { divisor *= 10 }
            let q = value / divisor, r = value % divisor
            value = q + (r.magnitude * 2 >= divisor.magnitude ? (value < 0 ? -1 : 1) : 0)
        }
        return Measurement(micro: value)
    }

    /// Encodes a value with the fewest decimals that keep it exact (at most 6); nil if the
    /// mantissa cannot hold it.
    public static func encode(_ m: Measurement) -> UInt32? {
        var mantissa = m.micro, exponent = -6
        while exponent < 0, mantissa % 10 == 0 { mantissa /= 10; exponent += 1 }
        guard mantissa > -0x007F_FFFD, mantissa < 0x007F_FFFD else { return nil }
        return UInt32(UInt8(bitPattern: Int8(exponent))) << 24 | UInt32(bitPattern: Int32(mantissa)) & 0x00FF_FFFF
    }
}
