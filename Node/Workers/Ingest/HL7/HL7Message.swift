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

    public struct Segment: Sendable {
        /// The segment id ("MSH", "PID", "OBX").
        public let name: String
        /// Raw (still escaped) fields, `fields[0]` is the name, so `fields[n]` is field n.
        public let fields: [Substring]
        let encoding: Encoding

        /// The number of fields after the name.
        public var fieldCount: Int { fields.count - 1 }

        /// Raw text of field `n` (1-based), empty if absent.
        public func raw(_ n: Int) -> Substring { n >= 1 && n < fields.count ? fields[n] : "" }

        /// The repetitions of field `n` (MSH-1 and MSH-2 never split).
        public func repetitions(_ n: Int) -> [Substring] {
            let f = raw(n)
            if name == "MSH" && n <= 2 { return [f] }
            return f.splitBytes(encoding.repetition)
        }

        /// The decoded value at field `n`, repetition `r`, component `c`, subcomponent `s` (1-based).
        public func value(_ n: Int, repetition r: Int = 1, component c: Int = 1, subcomponent s: Int = 1) -> String {
            if name == "MSH" && n <= 2 { return r == 1 && c == 1 && s == 1 ? String(raw(n)) : "" }
            let reps = repetitions(n)
            guard r >= 1, r <= reps.count else { return "" }
            let comps = reps[r - 1].splitBytes(encoding.component)
            guard c >= 1, c <= comps.count else { return "" }
            let subs = comps[c - 1].splitBytes(encoding.subcomponent)
            guard s >= 1, s <= subs.count else { return "" }
            return HL7Message.unescape(subs[s - 1], encoding)
        }

        /// Components of the first repetition of field `n`, decoded (a CWE, XCN, CX...).
        public func components(_ n: Int) -> [String] {
            let reps = repetitions(n)
            guard let first = reps.first else { return [] }
            if name == "MSH" && n <= 2 { return [String(first)] }
            return first.splitBytes(encoding.component).map { HL7Message.unescape($0.splitBytes(encoding.subcomponent)[0], encoding) }
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
        let delimiters = [bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
        let allowed: (UInt8) -> Bool = { c in c > 0x20 && c < 0x7f && !(c >= 48 && c <= 57) && !(c >= 65 && c <= 90) && !(c >= 97 && c <= 122) }
        guard delimiters.allSatisfy(allowed), Set(delimiters).count == 5 else {
            throw HL7Error(.dataType, location: "MSH-2", reason: "MSH-1 and MSH-2 must be five distinct delimiter characters")
        }
        let encoding = Encoding(field: bytes[3], component: bytes[4], repetition: bytes[5], escape: bytes[6], subcomponent: bytes[7])
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) ?? Self.latin1(bytes) else {
            throw HL7Error(.dataType, reason: "the message contains a NUL byte")
        }
        // Segments end with CR; LF and CRLF are tolerated (files and terminals), empty lines skipped.
        var segments: [Segment] = []
        for lineBytes in text.utf8.split(whereSeparator: { $0 == 0x0D || $0 == 0x0A }) {
            let line = Substring(lineBytes)
            guard segments.count < Self.maxSegments else { throw HL7Error(.applicationError, reason: "more than \(Self.maxSegments) segments") }
            var fields = line.splitBytes(encoding.field)
            let name = String(fields[0])
            guard name.utf8.count == 3, name.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) }) else {
                throw HL7Error(.segmentSequence, location: "segment \(segments.count + 1)", reason: "'\(name.prefix(16))' is not a segment id (three upper-case letters or digits)")
            }
            if name == "MSH" {
                // MSH-1 is the separator itself: re-split so that fields[1] is "|" and fields[2] the encoding characters.
                // Indexed on UTF-8 bytes: "MSH" and its separator are four ASCII bytes, whatever follows.
                let separator = Substring(String(UnicodeScalar(encoding.field)))
                if line.utf8.count >= 4, line.utf8[line.utf8.index(line.startIndex, offsetBy: 3)] == encoding.field {
                    let rest = Substring(line.utf8[line.utf8.index(line.startIndex, offsetBy: 4)...]).splitBytes(encoding.field)
                    fields = [fields[0], separator] + rest
                } else {
                    fields = [fields[0]]   // a bare "MSH" line has no fields
                }
            }
            segments.append(Segment(name: name, fields: fields, encoding: encoding))
        }
        self.encoding = encoding
        self.segments = segments
    }

    /// Bytes that are not UTF-8 are read as ISO 8859-1 (HL7's default character set, MSH-18 empty).
    static func latin1(_ bytes: [UInt8]) -> String? {
        String(String.UnicodeScalarView(bytes.map { UnicodeScalar($0) }))
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

extension Substring {
    /// Splits on an ASCII delimiter byte, keeping empty pieces. Works on UTF-8 bytes: a delimiter is
    /// ASCII and never part of a multi-byte character, and no grapheme clustering can hide it.
    func splitBytes(_ delimiter: UInt8) -> [Substring] {
        utf8.split(separator: delimiter, omittingEmptySubsequences: false).map { Substring($0) }
    }
}
