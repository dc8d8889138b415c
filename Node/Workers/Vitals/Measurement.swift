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
        var copy = String(text)
        guard let m = copy.withUTF8({ Measurement.parse($0) }) else { return nil }
        self = m
    }

    /// Parses decimal text given as UTF-8 bytes (parsers that hold bytes avoid building a string).
    public init?(decimalUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        guard let m = Measurement.parse(bytes) else { return nil }
        self = m
    }

    /// Parses decimal text in UTF-8 bytes; the digits go to a stack buffer (this runs once per
    /// ingested value, so it allocates nothing).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Measurement? {
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { digits -> Measurement? in
            var i = 0, n = 0
            var negative = false
            if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") { negative = bytes[0] == UInt8(ascii: "-"); i = 1 }
            var pointAt: Int? = nil, exponent = 0
            while i < bytes.count, bytes[i] != UInt8(ascii: "e"), bytes[i] != UInt8(ascii: "E") {
                let c = bytes[i]; i += 1
                if c == UInt8(ascii: ".") { guard pointAt == nil else { return nil }; pointAt = n; continue }
                guard c >= 48, c <= 57 else { return nil }
                digits[n] = c - 48; n += 1
            }
            guard n > 0 else { return nil }
            if i < bytes.count {
                i += 1   // the 'e'
                var expNegative = false
                if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { expNegative = bytes[i] == UInt8(ascii: "-"); i += 1 }
                let count = bytes.count - i
                guard count >= 1, count <= 3 else { return nil }
                while i < bytes.count { let c = bytes[i]; guard c >= 48, c <= 57 else { return nil }; exponent = exponent * 10 + Int(c - 48); i += 1 }
                if expNegative { exponent = -exponent }
            }
            // value = digits × 10^(exponent - fractionDigits); in micro-units shift by 6 more.
            let fractionDigits = n - (pointAt ?? n)
            let shift = exponent - fractionDigits + 6
            var first = 0
            while n - first > 1, digits[first] == 0 { first += 1 }   // leading zeros carry nothing
            let significant = n - first
            var value: Int64 = 0
            if shift >= 0 {
                guard significant + shift <= 19 || (significant == 1 && digits[first] == 0) else { return nil }
                for k in first..<n { value = value * 10 + Int64(digits[k]) }
                for _ in 0..<shift { guard value <= Int64.max / 10 else { return nil }; value *= 10 }
            } else {
                let keep = significant + shift   // digits before the rounding point
                if keep >= 0 {
                    guard keep <= 18 else { return nil }
                    for k in first..<(first + keep) { value = value * 10 + Int64(digits[k]) }
                    if keep < significant, digits[first + keep] >= 5 { value += 1 }   // half away from zero
                }
            }
            guard value <= maxMagnitude else { return nil }
            return Measurement(micro: negative ? -value : value)
        }
    }

    /// `self × numerator ÷ denominator`, rounded half away from zero; nil on overflow.
    func scaled(_ numerator: Int64, _ denominator: Int64) -> Measurement? {
        let (product, overflow) = micro.multipliedReportingOverflow(by: numerator)
        guard !overflow else { return nil }
        let q = product / denominator, r = product % denominator
        var rounded = q
        if r.magnitude * 2 >= denominator.magnitude { rounded += (product < 0) != (denominator < 0) ? -1 : 1 }
        return Measurement(micro: rounded)
    }
}
