/// A measured value as a fixed-point number of millionths of its unit (`micro`). Parsing decimal
/// text ("36.6", "-0.125", "1e2") is exact up to six decimals and rounds half away from zero
/// beyond; nothing goes through binary floating point, so a value read from HL7 text, FHIR JSON
/// or a device frame stores, hashes and compares the same on every machine.
public struct Measurement: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Millionths of the unit.
    public let micro: Int64
    public static let scale: Int64 = 1_000_000
    /// The largest magnitude accepted (10^12 units): far beyond any vital sign, far from overflow.
    static let maxMagnitude: Int64 = 1_000_000_000_000 * scale

    public init(micro: Int64) { self.micro = micro }
    public init(whole: Int64) { micro = whole * Self.scale }

    public static func < (a: Measurement, b: Measurement) -> Bool { a.micro < b.micro }

    /// The value as a Double, for scoring and model features only (never stored or hashed).
    public var doubleValue: Double { Double(micro) / Double(Self.scale) }

    /// The value rounded to the nearest whole unit, halves away from zero (as charts record them).
    public var roundedWhole: Int64 {
        let half = Self.scale / 2
        return micro >= 0 ? (micro + half) / Self.scale : -((-micro + half) / Self.scale)
    }

    /// The value rounded to a tenth of the unit (temperature on a NEWS2 chart).
    public var roundedTenths: Int64 {
        let step = Self.scale / 10, half = step / 2
        return micro >= 0 ? (micro + half) / step : -((-micro + half) / step)
    }

    /// Shortest decimal text: "36.6", "-0.005", "120".
    public var description: String {
        let sign = micro < 0 ? "-" : ""
        let magnitude = micro.magnitude
        let whole = magnitude / UInt64(Self.scale), fraction = magnitude % UInt64(Self.scale)
        guard fraction != 0 else { return "\(sign)\(whole)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 6 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(sign)\(whole).\(digits)"
    }

    /// Parses decimal text: optional sign, digits with an optional fraction, optional exponent.
    /// Refuses anything else (spaces, "NaN", "Infinity", hex, commas) and magnitudes beyond 10^12.
    public init?(decimal text: some StringProtocol) {
        var bytes = Array(text.utf8)[...]
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        var negative = false
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { negative = bytes.first == UInt8(ascii: "-"); bytes = bytes.dropFirst() }
        var digits: [UInt8] = [], pointAt: Int? = nil, exponent = 0
        while let c = bytes.first, c != UInt8(ascii: "e"), c != UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if c == UInt8(ascii: ".") { guard pointAt == nil else { return nil }; pointAt = digits.count; continue }
            guard c >= 48, c <= 57 else { return nil }
            digits.append(c - 48)
        }
        guard !digits.isEmpty else { return nil }
        if !bytes.isEmpty {
            bytes = bytes.dropFirst()   // the 'e'
            var expNegative = false
            if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { expNegative = bytes.first == UInt8(ascii: "-"); bytes = bytes.dropFirst() }
            guard !bytes.isEmpty, bytes.count <= 3 else { return nil }
            for c in bytes { guard c >= 48, c <= 57 else { return nil }; exponent = exponent * 10 + Int(c - 48) }
            if expNegative { exponent = -exponent }
        }
        // value = digits × 10^(exponent - fractionDigits); in micro-units shift by 6 more.
        let fractionDigits = digits.count - (pointAt ?? digits.count)
        let shift = exponent - fractionDigits + 6
        while digits.count > 1, digits.first == 0 { digits.removeFirst() }   // leading zeros carry nothing
        var value: Int64 = 0
        if shift >= 0 {
            guard digits.count + shift <= 19 || digits == [0] else { return nil }
            for d in digits { value = value * 10 + Int64(d) }
            for _ in 0..<shift { guard value <= Int64.max / 10 else { return nil }; value *= 10 }
        } else {
            let keep = digits.count + shift   // digits before the rounding point
            if keep < 0 { value = 0 }
            else {
                guard keep <= 18 else { return nil }
                for d in digits[..<keep] { value = value * 10 + Int64(d) }
                if keep < digits.count, digits[keep] >= 5 { value += 1 }   // half away from zero
            }
        }
        guard value <= Self.maxMagnitude else { return nil }
        micro = negative ? -value : value
    }

    /// `self × numerator ÷ denominator + offset`, rounded half away from zero; nil on overflow.
    func scaled(_ numerator: Int64, _ denominator: Int64, offsetMicro: Int64 = 0) -> Measurement? {
        let (product, overflow) = micro.multipliedReportingOverflow(by: numerator)
        guard !overflow else { return nil }
        let q = product / denominator, r = product % denominator
        var rounded = q
        if r.magnitude * 2 >= denominator.magnitude { rounded += (product < 0) != (denominator < 0) ? -1 : 1 }
        let (sum, overflow2) = rounded.addingReportingOverflow(offsetMicro)
        return overflow2 ? nil : Measurement(micro: sum)
    }
}
