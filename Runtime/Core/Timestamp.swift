/// A point in time as whole milliseconds since the Unix epoch (UTC). In the runtime, time only
/// ever comes from the block header; the node's clock sets it when proposing.
public struct Timestamp: Hashable, Sendable, Comparable, Canonical, CustomStringConvertible {
    public let unixMilliseconds: UInt64

    public init(unixMilliseconds: UInt64) { self.unixMilliseconds = unixMilliseconds }
    public init(unixSeconds: UInt64) { self.unixMilliseconds = unixSeconds &* 1000 }

    public static let zero = Timestamp(unixMilliseconds: 0)
    public static func < (l: Timestamp, r: Timestamp) -> Bool { l.unixMilliseconds < r.unixMilliseconds }

    public func adding(milliseconds: UInt64) -> Timestamp {
        let (sum, overflow) = unixMilliseconds.addingReportingOverflow(milliseconds)
        return Timestamp(unixMilliseconds: overflow ? .max : sum)
    }

    public func encode(to writer: inout CanonicalWriter) { writer.write(varint: unixMilliseconds) }
    public init(from reader: inout CanonicalReader) throws(CodecError) { unixMilliseconds = try reader.readVarint("timestamp") }

    /// ISO 8601 in UTC with milliseconds, computed without Foundation so the runtime stays deterministic.
    public var iso8601: String {
        let ms = unixMilliseconds % 1000
        let secs = Int64(unixMilliseconds / 1000)
        let days = secs / 86_400, rem = secs % 86_400
        let (y, m, d) = CivilDate.fromDays(days)
        func pad(_ v: Int64, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem % 3600 / 60, 2)):\(pad(rem % 60, 2)).\(pad(Int64(ms), 3))Z"
    }

    /// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SS[.mmm]Z`; nil otherwise.
    public init?(iso8601 text: String) {
        let u = Array(text.utf8)
        func num(_ r: Range<Int>) -> Int64? {
            guard r.upperBound <= u.count else { return nil }
            var v: Int64 = 0
            for i in r { guard (48...57).contains(u[i]) else { return nil }; v = v * 10 + Int64(u[i] - 48) }
            return v
        }
        guard u.count >= 10, u[4] == 45, u[7] == 45, let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10),
              (1...12).contains(mo), d >= 1, d <= CivilDate.daysInMonth(y, mo), y >= 1970 else { return nil }
        var seconds = CivilDate.toDays(y, mo, d) * 86_400
        var millis: Int64 = 0
        if u.count > 10 {
            guard u.count >= 20, u[10] == 84, u[13] == 58, u[16] == 58, u.last == 90,
                  let h = num(11..<13), let mi = num(14..<16), let s = num(17..<19), h < 24, mi < 60, s < 60 else { return nil }
            seconds += h * 3600 + mi * 60 + s
            if u.count == 24, u[19] == 46, let f = num(20..<23) { millis = f }
            else if u.count != 20 { return nil }
        }
        self.unixMilliseconds = UInt64(seconds) * 1000 + UInt64(millis)
    }

    public var description: String { iso8601 }
}

/// Days-from-civil conversions (proleptic Gregorian), after Howard Hinnant's public-domain algorithms.
/// Public for the node's parsers of dated formats (HL7 DTM, FHIR dateTime), so there is one copy.
public enum CivilDate {
    public static func toDays(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func fromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
