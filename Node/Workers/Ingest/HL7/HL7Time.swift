public import MeridianCore

/// HL7 v2 DTM values (YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]) as Unix milliseconds.
/// A value without an offset is read in the feed's configured offset (UTC unless set), since HL7
/// defines it as the sender's local time.
public enum HL7Time {
    public static func parse(_ text: String, defaultOffsetMinutes: Int = 0) -> Timestamp? {
        guard text.utf8.count <= 32 else { return nil }
        var copy = text
        return copy.withUTF8 { parse($0[...], defaultOffsetMinutes: defaultOffsetMinutes) }
    }

    static func parse(_ whole: Slice<UnsafeBufferPointer<UInt8>>, defaultOffsetMinutes: Int) -> Timestamp? {
        var bytes = whole
        var offsetMinutes = defaultOffsetMinutes
        if let signAt = bytes.lastIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }) {
            let zone = bytes[(signAt + 1)...]
            guard zone.count == 4, let z = Int(String(decoding: zone, as: UTF8.self)), z % 100 < 60, z / 100 <= 14 else { return nil }
            offsetMinutes = (z / 100 * 60 + z % 100) * (bytes[signAt] == UInt8(ascii: "-") ? -1 : 1)
            bytes = bytes[..<signAt]
        }
        var fraction = 0, fractionDigits = 0
        if let dot = bytes.firstIndex(of: UInt8(ascii: ".")) {
            let f = bytes[(dot + 1)...]
            guard (1...4).contains(f.count), f.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            for d in f { fraction = fraction * 10 + Int(d - 48) }
            fractionDigits = f.count
            bytes = bytes[..<dot]
            guard bytes.count == 14 else { return nil }   // a fraction only after seconds
        }
        guard [4, 6, 8, 10, 12, 14].contains(bytes.count), bytes.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let base = bytes.startIndex
        func number(_ at: Int, _ n: Int, default d: Int) -> Int {
            guard at + n <= bytes.count else { return d }
            var v = 0
            for k in 0..<n { v = v * 10 + Int(bytes[base + at + k] - 48) }
            return v
        }
        let year = number(0, 4, default: 0), month = number(4, 2, default: 1), day = number(6, 2, default: 1)
        let hour = number(8, 2, default: 0), minute = number(10, 2, default: 0), second = number(12, 2, default: 0)
        guard year >= 1970, (1...12).contains(month), day >= 1, day <= Int(CivilDate.daysInMonth(Int64(year), Int64(month))), hour < 24, minute < 60, second < 60 else { return nil }
        let days = Int(CivilDate.toDays(Int64(year), Int64(month), Int64(day)))
        var ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 - offsetMinutes * 60_000
        var f = fraction
        for _ in min(fractionDigits, 3)..<3 { f *= 10 }
        if fractionDigits == 4 { f /= 10 }
        ms += f
        guard ms >= 0 else { return nil }
        return Timestamp(unixMilliseconds: UInt64(ms))
    }

    /// The offset a DTM states (`+0100` → 60, `-0500` → -300), or nil when it states none.
    public static func offsetMinutes(_ text: String) -> Int? {
        guard text.utf8.count <= 32, let signAt = text.lastIndex(where: { $0 == "+" || $0 == "-" }) else { return nil }
        let zone = text[text.index(after: signAt)...]
        guard zone.count == 4, zone.allSatisfy({ $0.isASCII && $0.isNumber }), let z = Int(zone), z % 100 < 60, z / 100 <= 14 else { return nil }
        return (z / 100 * 60 + z % 100) * (text[signAt] == "-" ? -1 : 1)
    }

    /// YYYYMMDDHHMMSS+0000 (UTC), for the acknowledgements Meridian sends.
    public static func format(_ t: Timestamp) -> String {
        let totalSeconds = Int(t.unixMilliseconds / 1000)
        let (y64, m64, d64) = CivilDate.fromDays(Int64(totalSeconds / 86_400))
        let y = Int(y64), m = Int(m64), d = Int(d64)
        let s = totalSeconds % 86_400
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)\(two(m))\(two(d))\(two(s / 3600))\(two(s / 60 % 60))\(two(s % 60))+0000"
    }
}
