/// An HL7 v2 message parsed by Meridian's own code: segments, fields, repetitions, components and
/// subcomponents with the separators the message declares in MSH-1 and MSH-2, and escape
/// sequences decoded on extraction (HL7 v2.5 §2.7: \F\ \S\ \T\ \R\ \E\, \Xhh..\, formatting).
///
/// Field numbering is HL7's: MSH-1 is the field separator itself and MSH-2 the encoding
/// characters, so `MSH-9` is the message type as in the standard. Every index is 1-based and every
/// access is bounds-checked (a missing field, repetition or component reads as empty).
public struct HL7Message: Sendable {
    public struct Encoding: Sendable, Hashable {
        public let field: UInt8, component: UInt8, repetition: UInt8, escape: UInt8, subcomponent: UInt8
    }

    /// One segment: byte ranges of its fields in the message's bytes. Nothing is split or decoded
    /// until a value is asked for, and then only that value's bytes are scanned (a parser that
    /// allocates per field was the HL7 hot path).
    public struct Segment: Sendable {
        /// The segment id's three bytes packed big-endian (`Segment.code("OBX")`): compared without strings.
        public let nameCode: UInt32
        /// The segment id ("MSH", "PID", "OBX").
        public var name: String { String(decoding: [UInt8(nameCode >> 16), UInt8(nameCode >> 8 & 0xff), UInt8(nameCode & 0xff)], as: UTF8.self) }
        var isHeader: Bool { nameCode == Segment.code("MSH") }

        /// The packed code of a three-letter segment id.
        public static func code(_ id: StaticString) -> UInt32 {
            id.withUTF8Buffer { b in b.count == 3 ? UInt32(b[0]) << 16 | UInt32(b[1]) << 8 | UInt32(b[2]) : 0 }
        }
        let bytes: [UInt8]
        /// `fields[fields.startIndex + n]` is field n's byte range (n = 0 the name; for MSH, n = 1 the
        /// separator itself). A slice of one array holding every segment's ranges (one allocation per message).
        let fields: ArraySlice<Range<Int>>
        let encoding: Encoding
        let latin1: Bool

        /// The number of fields after the name.
        public var fieldCount: Int { fields.count - 1 }

        func fieldRange(_ n: Int) -> Range<Int> { n >= 1 && n < fields.count ? fields[fields.startIndex + n] : 0..<0 }

        /// Raw (still escaped) text of field `n` (1-based), empty if absent.
        public func raw(_ n: Int) -> String { decode(fieldRange(n)) }

        /// The `k`-th (1-based) piece of `range` split on `delimiter`, or nil if there are fewer.
        /// Scans by index (no slices: this runs several times per observation).
        func piece(_ range: Range<Int>, _ delimiter: UInt8, _ k: Int) -> Range<Int>? {
            var start = range.lowerBound, index = 1, i = range.lowerBound
            let end = range.upperBound
            while index < k {
                while i < end, bytes[i] != delimiter { i += 1 }
                guard i < end else { return nil }
                i += 1; start = i; index += 1
            }
            while i < end, bytes[i] != delimiter { i += 1 }
            return start..<i
        }

        func count(_ range: Range<Int>, _ delimiter: UInt8) -> Int {
            var n = 1
            for i in range where bytes[i] == delimiter { n += 1 }
            return n
        }

        /// How many repetitions field `n` has (1 for an empty or absent field).
        public func repetitionCount(_ n: Int) -> Int {
            if isHeader && n <= 2 { return 1 }
            return count(fieldRange(n), encoding.repetition)
        }

        /// The raw repetitions of field `n` (MSH-1 and MSH-2 never split).
        public func repetitions(_ n: Int) -> [Substring] {
            let f = fieldRange(n)
            if isHeader && n <= 2 { return [Substring(decode(f))] }
            return (1...count(f, encoding.repetition)).map { Substring(decode(piece(f, encoding.repetition, $0)!)) }
        }

        /// The byte ranges of field `n`'s repetitions, found in one pass. Reading repetition after
        /// repetition with `value(_:repetition:)` rescans the field from its start each time
        /// (quadratic: 100,000 repetitions of PID-3 took 23 s); iterate these ranges instead.
        public func repetitionRanges(_ n: Int) -> [Range<Int>] {
            let f = fieldRange(n)
            if isHeader && n <= 2 { return [f] }
            var out: [Range<Int>] = []
            var start = f.lowerBound
            for i in f where bytes[i] == encoding.repetition { out.append(start..<i); start = i + 1 }
            out.append(start..<f.upperBound)
            return out
        }

        /// The decoded value at component `c`, first subcomponent, of one repetition's range.
        public func value(inRepetition rep: Range<Int>, component c: Int) -> String {
            guard c >= 1, let comp = piece(rep, encoding.component, c), let sub = piece(comp, encoding.subcomponent, 1) else { return "" }
            return unescaped(sub)
        }

        /// Whether component `c` (first subcomponent) of one repetition's range is exactly `text`,
        /// compared on bytes (an escaped value never equals plain text here; an absent component is empty).
        public func value(inRepetition rep: Range<Int>, component c: Int, is text: StaticString) -> Bool {
            guard c >= 1, let comp = piece(rep, encoding.component, c), let sub = piece(comp, encoding.subcomponent, 1) else {
                return text.utf8CodeUnitCount == 0
            }
            guard sub.count == text.utf8CodeUnitCount else { return false }
            return text.withUTF8Buffer { t in
                var k = 0
                for i in sub { if bytes[i] != t[k] { return false }; k += 1 }
                return true
            }
        }

        /// The decoded value at field `n`, repetition `r`, component `c`, subcomponent `s` (1-based).
        public func value(_ n: Int, repetition r: Int = 1, component c: Int = 1, subcomponent s: Int = 1) -> String {
            let f = fieldRange(n)
            if isHeader && n <= 2 { return r == 1 && c == 1 && s == 1 ? decode(f) : "" }
            guard r >= 1, c >= 1, s >= 1, let rep = piece(f, encoding.repetition, r), let comp = piece(rep, encoding.component, c),
                  let sub = piece(comp, encoding.subcomponent, s) else { return "" }
            return unescaped(sub)
        }

        /// Whether the value at field `n`, first repetition, component `c`, first subcomponent is
        /// exactly `text` (ASCII, compared on bytes without building a string: the hot path's codes).
        public func valueIs(_ n: Int, component c: Int = 1, _ text: StaticString) -> Bool {
            let f = fieldRange(n)
            guard let rep = piece(f, encoding.repetition, 1), let comp = piece(rep, encoding.component, c),
                  let sub = piece(comp, encoding.subcomponent, 1), sub.count == text.utf8CodeUnitCount else { return false }
            return text.withUTF8Buffer { t in
                var k = 0
                for i in sub { if bytes[i] != t[k] { return false }; k += 1 }
                return true
            }
        }

        /// Whether field `n` is empty or absent (no component, no repetition holds anything).
        public func isEmpty(_ n: Int) -> Bool { fieldRange(n).isEmpty }

        /// The raw bytes at field `n`, first repetition, component `c`, first subcomponent, when they
        /// hold no escape sequence (then they are the value itself); nil otherwise.
        public func plainBytes(_ n: Int, component c: Int = 1) -> ArraySlice<UInt8>? {
            if isHeader && n <= 2 { return nil }
            guard let rep = piece(fieldRange(n), encoding.repetition, 1), let comp = piece(rep, encoding.component, c),
                  let sub = piece(comp, encoding.subcomponent, 1) else { return nil }
            for i in sub where bytes[i] == encoding.escape { return nil }
            return bytes[sub]
        }

        /// Components of the first repetition of field `n`, decoded (a CWE, XCN, CX...).
        public func components(_ n: Int) -> [String] {
            let f = fieldRange(n)
            if isHeader && n <= 2 { return [decode(f)] }
            guard let rep = piece(f, encoding.repetition, 1) else { return [] }
            return (1...count(rep, encoding.component)).map { k in
                let comp = piece(rep, encoding.component, k)!
                return unescaped(piece(comp, encoding.subcomponent, 1)!)
            }
        }

        func decode(_ r: Range<Int>) -> String {
            latin1 ? String(String.UnicodeScalarView(bytes[r].map { UnicodeScalar($0) })) : String(decoding: bytes[r], as: UTF8.self)
        }

        func unescaped(_ r: Range<Int>) -> String {
            guard bytes[r].contains(encoding.escape) else { return decode(r) }
            return HL7Message.unescape(Substring(decode(r)), encoding)
        }
    }

    public let encoding: Encoding
    public let segments: [Segment]
    /// Bound on the size of one message (a bedside gateway's ORU is a few kilobytes).
    public static let maxBytes = 1 << 20
    public static let maxSegments = 10_000

    public init(parsing bytes: [UInt8]) throws(HL7Error) {
        guard bytes.count <= Self.maxBytes else { throw HL7Error(.applicationError, reason: "message of \(bytes.count) bytes exceeds \(Self.maxBytes)") }
        guard bytes.count >= 8, bytes[0] == UInt8(ascii: "M"), bytes[1] == UInt8(ascii: "S"), bytes[2] == UInt8(ascii: "H") else {
            throw HL7Error(.segmentSequence, location: "MSH", reason: "a message starts with an MSH segment")
        }
        // MSH-1 and MSH-2: five distinct, printable, non-alphanumeric delimiters.
        let allowed: (UInt8) -> Bool = { c in c > 0x20 && c < 0x7f && !(c >= 48 && c <= 57) && !(c >= 65 && c <= 90) && !(c >= 97 && c <= 122) }
        var distinct = true
        for i in 3..<8 { for j in (i + 1)..<8 where bytes[i] == bytes[j] { distinct = false } }
        guard (3..<8).allSatisfy({ allowed(bytes[$0]) }), distinct else {
            throw HL7Error(.dataType, location: "MSH-2", reason: "MSH-1 and MSH-2 must be five distinct delimiter characters")
        }
        let encoding = Encoding(field: bytes[3], component: bytes[4], repetition: bytes[5], escape: bytes[6], subcomponent: bytes[7])
        // Segments end with CR; LF and CRLF are tolerated (files and terminals), empty lines skipped.
        // Delimiters are ASCII, so scanning bytes never splits a multi-byte character.
        var segments: [Segment] = []
        var all: [Range<Int>] = []            // every segment's field ranges, in order
        var bounds: [(UInt32, Range<Int>)] = [] // each segment's packed id and its slice of `all`
        all.reserveCapacity(bytes.count / 8)
        bounds.reserveCapacity(bytes.count / 48 + 4)
        var lineStart = 0
        var nonASCII = false
        let fieldSeparator = encoding.field
        while lineStart < bytes.count {
            // One pass over each byte: segment ends, field separators, NUL and non-ASCII bytes.
            let first = all.count
            var start = lineStart, lineEnd = lineStart
            while lineEnd < bytes.count {
                let b = bytes[lineEnd]
                if b == 0x0D || b == 0x0A { break }
                if b == fieldSeparator {
                    all.append(start..<lineEnd); start = lineEnd + 1
                    if all.count == first + 1, lineEnd == lineStart + 3, bytes[lineStart] == UInt8(ascii: "M"), bytes[lineStart + 1] == UInt8(ascii: "S"), bytes[lineStart + 2] == UInt8(ascii: "H") {
                        all.append(lineEnd..<(lineEnd + 1))   // MSH-1 is the separator itself
                    }
                } else if b == 0 {
                    throw HL7Error(.dataType, reason: "the message contains a NUL byte")
                } else if b >= 0x80 { nonASCII = true }
                lineEnd += 1
            }
            defer { lineStart = lineEnd + 1 }
            guard lineEnd > lineStart else { all.removeSubrange(first...); continue }
            guard bounds.count < Self.maxSegments else { throw HL7Error(.applicationError, reason: "more than \(Self.maxSegments) segments") }
            all.append(start..<lineEnd)
            let nameRange = all[first]
            guard nameRange.count == 3, bytes[nameRange].allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) }) else {
                let shown = String(decoding: bytes[nameRange.prefix(16)], as: UTF8.self)
                throw HL7Error(.segmentSequence, location: "segment \(bounds.count + 1)", reason: "'\(shown)' is not a segment id (three upper-case letters or digits)")
            }
            let b = nameRange.lowerBound
            bounds.append((UInt32(bytes[b]) << 16 | UInt32(bytes[b + 1]) << 8 | UInt32(bytes[b + 2]), first..<all.count))
        }
        // Text that is not UTF-8 is read as ISO 8859-1 (HL7's default character set when MSH-18 is empty).
        let latin1 = nonASCII && String(validating: bytes, as: UTF8.self) == nil
        segments.reserveCapacity(bounds.count)
        for (code, range) in bounds { segments.append(Segment(nameCode: code, bytes: bytes, fields: all[range], encoding: encoding, latin1: latin1)) }
        self.encoding = encoding
        self.segments = segments
    }

    public func segments(named name: String) -> [Segment] { segments.filter { $0.name == name } }
    public var header: Segment { segments[0] }

    /// MSH-10, the sender's message control id (echoed in MSA-2).
    public var controlID: String { header.value(10) }
    /// MSH-9 as "ORU^R01".
    public var messageType: String { "\(header.value(9, component: 1))^\(header.value(9, component: 2))" }

    /// Decodes escape sequences in one (sub)component.
    static func unescape(_ s: Substring, _ e: Encoding) -> String {
        let esc = Character(UnicodeScalar(e.escape))
        guard s.contains(esc) else { return String(s) }
        var out = "", sequence = "", inSequence = false
        for ch in s {
            if inSequence {
                if ch == esc {
                    inSequence = false
                    out += decodeEscape(sequence, e)
                    sequence = ""
                } else if sequence.count < 64 { sequence.append(ch) }
            } else if ch == esc { inSequence = true } else { out.append(ch) }
        }
        // An unterminated escape sequence is malformed and carries no text (dropped, as python-hl7 does).
        return out
    }

    static func decodeEscape(_ seq: String, _ e: Encoding) -> String {
        func char(_ b: UInt8) -> String { String(UnicodeScalar(b)) }
        switch seq {
        case "F": return char(e.field)
        case "S": return char(e.component)
        case "T": return char(e.subcomponent)
        case "R": return char(e.repetition)
        case "E": return char(e.escape)
        case "H", "N": return "_"   // highlighting on/off has no plain-text form; marked as python-hl7 marks it
        case ".br", ".sp", ".ce": return "\r"
        case ".fi", ".nf": return ""
        case ".in", ".ti": return "    "
        case ".sk": return " "
        default:
            if seq.hasPrefix("X") {
                // Hex bytes, each a character of the message's single-byte set.
                let hex = Array(seq.utf8.dropFirst())
                var out = ""
                var i = 0
                while i < hex.count {
                    let pair = hex[i..<min(i + 2, hex.count)]
                    guard let v = UInt8(String(decoding: pair, as: UTF8.self), radix: 16) else { return out }
                    out.append(Character(UnicodeScalar(v)))
                    i += 2
                }
                return out
            }
            return ""   // character-set switches (\C..\, \M..\) and unknown sequences carry no text
        }
    }

    /// Escapes text for a field value (used when Meridian writes ERR segments and ACKs).
    public static func escape(_ s: String, _ e: Encoding) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch.value {
            case UInt32(e.field): out += "\(Character(UnicodeScalar(e.escape)))F\(Character(UnicodeScalar(e.escape)))"
            case UInt32(e.component): out += "\(Character(UnicodeScalar(e.escape)))S\(Character(UnicodeScalar(e.escape)))"
            case UInt32(e.subcomponent): out += "\(Character(UnicodeScalar(e.escape)))T\(Character(UnicodeScalar(e.escape)))"
            case UInt32(e.repetition): out += "\(Character(UnicodeScalar(e.escape)))R\(Character(UnicodeScalar(e.escape)))"
            case UInt32(e.escape): out += "\(Character(UnicodeScalar(e.escape)))E\(Character(UnicodeScalar(e.escape)))"
            case 0..<0x20, 0x7F:
                // Control characters (a NUL, a segment-ending CR) travel as hex escapes.
                let e = Character(UnicodeScalar(e.escape))
                let hex = String(ch.value, radix: 16, uppercase: true)
                out += "\(e)X\(hex.count == 1 ? "0" + hex : hex)\(e)"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
