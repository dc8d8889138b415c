/// Meridian's one canonical binary encoding: everything that is hashed or signed goes through it.
///
/// Rules (each value has exactly one encoding, and the decoder refuses every other):
/// - unsigned integers: LEB128 varint, minimal (no trailing zero groups), at most 10 bytes for 64 bits;
/// - booleans and optional tags: one byte, 0 or 1;
/// - fixed-size byte strings (hashes, keys, signatures): raw, no length;
/// - byte strings, strings (UTF-8) and arrays: varint length, then the content, within a stated bound;
/// - sets: arrays in strictly increasing order (no duplicates);
/// - enums: a varint variant tag, unknown tags refused;
/// - structs: fields in declaration order, no names, no padding;
/// - a whole value must consume the input exactly: trailing bytes are refused.
public protocol CanonicalEncodable {
    func encode(to writer: inout CanonicalWriter)
}

public protocol CanonicalDecodable {
    init(from reader: inout CanonicalReader) throws(CodecError)
}

public typealias Canonical = CanonicalEncodable & CanonicalDecodable

extension CanonicalEncodable {
    /// The canonical bytes of this value.
    public var canonicalBytes: [UInt8] {
        var writer = CanonicalWriter()
        encode(to: &writer)
        return writer.bytes
    }
}

extension CanonicalDecodable {
    /// Decodes bytes the node itself validated and stored (see `CanonicalReader.trusted`).
    public init(trustedCanonicalBytes bytes: [UInt8]) throws(CodecError) {
        var reader = CanonicalReader(bytes)
        reader.trusted = true
        self = try Self(from: &reader)
        try reader.finish()
    }

    /// Decodes a whole value; refuses trailing bytes.
    public init<C: Collection>(canonicalBytes bytes: C) throws(CodecError) where C.Element == UInt8 {
        var reader = CanonicalReader(Array(bytes))
        self = try Self(from: &reader)
        try reader.finish()
    }
}

/// Appends canonical encodings to a byte buffer.
public struct CanonicalWriter: Sendable {
    public var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 128) { bytes.reserveCapacity(capacity) }

    @inlinable public mutating func write(varint value: UInt64) {
        var v = value
        while v >= 0x80 {
            appendByte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        appendByte(UInt8(v))
    }

    @inlinable public mutating func write(_ value: UInt64) { write(varint: value) }
    /// A signed integer, zig-zag encoded (0, −1, 1, −2 … → 0, 1, 2, 3 …) so small magnitudes stay short.
    @inlinable public mutating func write(signed value: Int64) { write(varint: UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
    @inlinable public mutating func write(_ value: UInt32) { write(varint: UInt64(value)) }
    @inlinable public mutating func write(_ value: UInt16) { write(varint: UInt64(value)) }
    @inlinable public mutating func write(_ value: UInt8) { write(varint: UInt64(value)) }
    @inlinable public mutating func write(_ value: Bool) { appendByte(value ? 1 : 0) }

    @inlinable public mutating func write(_ value: Bytes32) {
        value.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    @inlinable public mutating func write(_ value: Bytes64) {
        value.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// A length-prefixed byte string.
    public mutating func write(bytes value: [UInt8]) {
        write(varint: UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A length-prefixed UTF-8 string.
    public mutating func write(_ value: String) {
        var s = value
        s.withUTF8 { utf8 in
            write(varint: UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func write<T: CanonicalEncodable>(_ value: T) { value.encode(to: &self) }

    public mutating func write<T: CanonicalEncodable>(_ value: T?) {
        if let value { appendByte(1); value.encode(to: &self) } else { appendByte(0) }
    }

    public mutating func write<T: CanonicalEncodable>(_ values: [T]) {
        write(varint: UInt64(values.count))
        for v in values { v.encode(to: &self) }
    }

    /// Raw bytes with no length: for fixed-size content the reader knows the size of.
    public mutating func writeRaw<C: Sequence>(_ raw: C) where C.Element == UInt8 { bytes.append(contentsOf: raw) }

    @usableFromInline mutating func appendByte(_ b: UInt8) { bytes.append(b) }
}

/// Reads canonical encodings, refusing anything non-canonical. Every length is checked against
/// both the remaining input and a caller-given bound before anything is allocated.
public struct CanonicalReader: Sendable {
    public let input: [UInt8]
    public private(set) var offset: Int = 0
    /// Set when reading bytes this node wrote itself after validating them (committed state):
    /// expensive semantic checks that cannot fail on such bytes (a public key lying on the curve)
    /// are skipped. Never set for anything that arrives from outside.
    public var trusted = false

    /// The default bound for any one length-prefixed item: larger than any valid transaction.
    public static let defaultMaxLength = 1 << 20

    public init(_ input: [UInt8]) { self.input = input }

    public var remaining: Int { input.count - offset }

    public func error(_ code: CodecError.Code, _ field: String) -> CodecError {
        CodecError(code, field: field, offset: offset)
    }

    /// Refuses trailing bytes.
    public func finish() throws(CodecError) {
        guard offset == input.count else { throw error(.trailingBytes, "end") }
    }

    public mutating func readByte(_ field: String = "byte") throws(CodecError) -> UInt8 {
        guard offset < input.count else { throw error(.truncated, field) }
        let b = input[offset]
        offset += 1
        return b
    }

    public mutating func readVarint(_ field: String = "varint") throws(CodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = offset
        while true {
            let b = try readByte(field)
            if shift == 63 && b > 1 { offset = start; throw error(.integerOverflow, field) }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 {
                // Minimal: the last group may be zero only if it is the only group.
                if b == 0 && offset - start > 1 { offset = start; throw error(.nonMinimalInteger, field) }
                return result
            }
            shift += 7
        }
    }

    public mutating func readUInt64(_ field: String = "u64") throws(CodecError) -> UInt64 { try readVarint(field) }

    /// A zig-zag encoded signed integer (`CanonicalWriter.write(signed:)`).
    public mutating func readSigned(_ field: String = "i64") throws(CodecError) -> Int64 {
        let z = try readVarint(field)
        return Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)
    }

    public mutating func readUInt32(_ field: String = "u32") throws(CodecError) -> UInt32 {
        let v = try readVarint(field)
        guard let r = UInt32(exactly: v) else { throw error(.integerOverflow, field) }
        return r
    }

    public mutating func readUInt16(_ field: String = "u16") throws(CodecError) -> UInt16 {
        let v = try readVarint(field)
        guard let r = UInt16(exactly: v) else { throw error(.integerOverflow, field) }
        return r
    }

    public mutating func readUInt8(_ field: String = "u8") throws(CodecError) -> UInt8 {
        let v = try readVarint(field)
        guard let r = UInt8(exactly: v) else { throw error(.integerOverflow, field) }
        return r
    }

    public mutating func readBool(_ field: String = "bool") throws(CodecError) -> Bool {
        switch try readByte(field) {
        case 0: return false
        case 1: return true
        default: offset -= 1; throw error(.invalidBoolean, field)
        }
    }

    public mutating func readBytes32(_ field: String = "bytes32") throws(CodecError) -> Bytes32 {
        guard remaining >= 32 else { throw error(.truncated, field) }
        let start = offset
        let v = input.withUnsafeBytes { raw in Bytes32.filling { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<start + 32])) } }
        offset += 32
        return v
    }

    public mutating func readBytes64(_ field: String = "bytes64") throws(CodecError) -> Bytes64 {
        guard remaining >= 64 else { throw error(.truncated, field) }
        let high = try readBytes32(field), low = try readBytes32(field)
        return Bytes64(high: high, low: low)
    }

    /// A length, checked against `max` and the remaining input before any allocation.
    public mutating func readLength(_ field: String, max: Int, minimumElementSize: Int = 1) throws(CodecError) -> Int {
        let start = offset
        let n = try readVarint(field)
        guard n <= UInt64(max) else { offset = start; throw error(.lengthTooLarge, field) }
        guard n * UInt64(Swift.max(minimumElementSize, 0)) <= UInt64(remaining) else { throw error(.truncated, field) }
        return Int(n)
    }

    public mutating func readByteString(_ field: String = "bytes", max: Int = defaultMaxLength) throws(CodecError) -> [UInt8] {
        let n = try readLength(field, max: max)
        let v = Array(input[offset..<offset + n])
        offset += n
        return v
    }

    /// Exactly `count` raw bytes (no length prefix).
    public mutating func readRaw(_ count: Int, _ field: String) throws(CodecError) -> [UInt8] {
        guard remaining >= count else { throw error(.truncated, field) }
        let v = Array(input[offset..<offset + count])
        offset += count
        return v
    }

    public mutating func readString(_ field: String = "string", max: Int = 4096) throws(CodecError) -> String {
        let start = offset
        let raw = try readByteString(field, max: max)
        guard let s = String(validating: raw, as: UTF8.self) else { offset = start; throw error(.invalidUTF8, field) }
        return s
    }

    public mutating func read<T: CanonicalDecodable>(_ type: T.Type) throws(CodecError) -> T {
        try T(from: &self)
    }

    public mutating func readOptional<T: CanonicalDecodable>(_ type: T.Type, _ field: String = "optional") throws(CodecError) -> T? {
        switch try readByte(field) {
        case 0: return nil
        case 1: return try T(from: &self)
        default: offset -= 1; throw error(.unknownVariant, field)
        }
    }

    /// Inlinable so that each caller's element type is specialised (unspecialised, every element
    /// went through the runtime's generic metadata and conformance lookups).
    @inlinable
    public mutating func readArray<T: CanonicalDecodable>(_ type: T.Type, _ field: String, max: Int) throws(CodecError) -> [T] {
        let n = try readLength(field, max: max)
        var out = [T]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try T(from: &self)) }
        return out
    }

    /// An array that must be strictly increasing: the canonical form of a set.
    @inlinable
    public mutating func readSortedSet<T: CanonicalDecodable & Comparable>(_ type: T.Type, _ field: String, max: Int) throws(CodecError) -> [T] {
        let start = offset
        let values = try readArray(T.self, field, max: max)
        for i in values.indices.dropFirst() where !(values[i - 1] < values[i]) {
            throw CodecError(.notSorted, field: field, offset: start)
        }
        return values
    }
}

extension Bytes32: Canonical {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CodecError) { self = try reader.readBytes32() }
}

extension Bytes64: Canonical {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CodecError) { self = try reader.readBytes64() }
}

extension UInt64: Canonical {
    public func encode(to writer: inout CanonicalWriter) { writer.write(varint: self) }
    public init(from reader: inout CanonicalReader) throws(CodecError) { self = try reader.readVarint() }
}

extension String: Canonical {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CodecError) { self = try reader.readString() }
}

extension Array where Element: CanonicalEncodable & Comparable {
    /// Sorted and de-duplicated: the canonical form of a set before encoding.
    public var canonicalSet: [Element] {
        var out = [Element]()
        for v in self.sorted() where out.last != v { out.append(v) }
        return out
    }
}

/// A type with a small closed set of variants encoded as a varint tag.
public protocol CanonicalEnum: RawRepresentable, Canonical, Comparable, Hashable, Sendable where RawValue == UInt8 {}

extension CanonicalEnum {
    public func encode(to writer: inout CanonicalWriter) { writer.write(varint: UInt64(rawValue)) }
    public init(from reader: inout CanonicalReader) throws(CodecError) {
        // The type's name goes into an error only: building it for every decode was a reflective
        // call per enum value (a tenth of a validator's CPU under load, in perf).
        let start = reader.offset
        let tag: UInt64
        do { tag = try reader.readVarint("") } catch { throw CodecError(error.code, field: String(describing: Self.self), offset: error.offset) }
        guard tag <= 255, let v = Self(rawValue: UInt8(tag)) else {
            throw CodecError(.unknownVariant, field: String(describing: Self.self), offset: start)
        }
        self = v
    }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
