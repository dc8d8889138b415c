public import Foundation

/// A JSON document as a value: what the summary code reads, rewrites and writes, Sendable and
/// comparable. Written here because writing `[String: Any]` with Foundation's `JSONSerialization` on
/// Linux bridges every value through NSObject (over half of a summary's translation, perf); this enum
/// is read by `JSONSerialization` plus one conversion (`init(parsing:)`) and written by its own
/// one-pass writer (`bytes()`). Numbers are `Decimal`, so FHIR decimals keep their digits.
public enum JSONValue: Sendable, Equatable, Codable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Decimal)
    case bool(Bool)
    case null

    struct Name: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Name.self) {
            var out: [String: JSONValue] = [:]
            for key in container.allKeys { out[key.stringValue] = try container.decode(JSONValue.self, forKey: key) }
            self = .object(out)
        } else if var container = try? decoder.unkeyedContainer() {
            var out: [JSONValue] = []
            while !container.isAtEnd { out.append(try container.decode(JSONValue.self)) }
            self = .array(out)
        } else {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let b = try? container.decode(Bool.self) { self = .bool(b) }
            else if let s = try? container.decode(String.self) { self = .string(s) }
            else { self = .number(try container.decode(Decimal.self)) }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .object(let o):
            var container = encoder.container(keyedBy: Name.self)
            for (k, v) in o { try container.encode(v, forKey: Name(stringValue: k)) }
        case .array(let a):
            var container = encoder.unkeyedContainer()
            for v in a { try container.encode(v) }
        case .string(let s): var c = encoder.singleValueContainer(); try c.encode(s)
        case .number(let n): var c = encoder.singleValueContainer(); try c.encode(n)
        case .bool(let b): var c = encoder.singleValueContainer(); try c.encode(b)
        case .null: var c = encoder.singleValueContainer(); try c.encodeNil()
        }
    }

    /// Parses JSON bytes (bounded by the caller's size limits). Parsed by `JSONSerialization` and
    /// converted: decoding this enum through `Decodable` tries each container kind in turn, and every
    /// failed try builds an error (42% of a translation's time, perf).
    public init(parsing bytes: [UInt8]) throws {
        let object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        self = try Self.convert(object, depth: 0)
    }

    /// Nesting bound: a hostile document cannot exhaust the stack.
    public static let maxDepth = 128

    struct TooDeep: Error {}

    static func convert(_ any: Any, depth: Int) throws -> JSONValue {
        guard depth < maxDepth else { throw TooDeep() }
        switch any {
        case let s as String: return .string(s)
        case let o as [String: Any]:
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(o.count)
            for (k, v) in o { out[k] = try convert(v, depth: depth + 1) }
            return .object(out)
        case let a as [Any]: return .array(try a.map { try convert($0, depth: depth + 1) })
        case is NSNull: return .null
        case let b as Bool where type(of: any) == Bool.self: return .bool(b)
        case let n as NSNumber:
            let kind = String(cString: n.objCType)
            if kind == "c" { return .bool(n.boolValue) }   // JSON true/false on platforms that box them as NSNumber
            if kind == "q" || kind == "l" || kind == "i" || kind == "s" { return .number(Decimal(n.int64Value)) }
            // A double: its shortest round-trip text, so 37.2 stays 37.2 (not 37.2000000000000028...).
            return .number(Decimal(string: "\(n.doubleValue)") ?? n.decimalValue)
        default: return .null
        }
    }

    /// The JSON bytes, object keys sorted by their UTF-8 bytes: the same value always gives the same
    /// bytes. Written by hand in one pass into one buffer: `JSONEncoder` (sorted keys) took 1.8 ms of a
    /// 100-entry summary's 2.9 ms (BENCHMARKS.md, "where a summary's time goes"), most of it in its
    /// generic containers; this is RFC 8259 output with nothing to configure. Strings escape `"`, `\`
    /// and control characters only; everything else is written as UTF-8.
    public func bytes() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(into: &out)
        return out
    }

    func write(into out: inout [UInt8]) {
        switch self {
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in o.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                o[key]!.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let s): Self.writeString(s, into: &out)
        case .number(let n): out.append(contentsOf: n.description.utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8)); out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    public subscript(key: String) -> JSONValue? {
        get { if case .object(let o) = self { o[key] } else { nil } }
        set {
            guard case .object(var o) = self else { return }
            o[key] = newValue
            self = .object(o)
        }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(Dictionary(elements, uniquingKeysWith: { $1 })) }
}
