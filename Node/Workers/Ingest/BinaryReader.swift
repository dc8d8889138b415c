public import MeridianVitals

/// A bounds-checked big- or little-endian reader over untrusted bytes: every read checks the
/// remaining length first and names the field it was reading when it refuses.
struct BinaryReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let format: String

    init(_ bytes: [UInt8], format: String, offset: Int = 0) { self.bytes = bytes; self.offset = offset; self.format = format }

    var remaining: Int { bytes.count - offset }

    func truncated(_ field: String) -> VitalsError {
        VitalsError(.malformed, "\(format): truncated at byte \(offset) reading \(field)")
    }

    mutating func u8(_ field: String) throws(VitalsError) -> UInt8 {
        guard remaining >= 1 else { throw truncated(field) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16be(_ field: String) throws(VitalsError) -> UInt16 {
        guard remaining >= 2 else { throw truncated(field) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u16le(_ field: String) throws(VitalsError) -> UInt16 {
        guard remaining >= 2 else { throw truncated(field) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    mutating func u32be(_ field: String) throws(VitalsError) -> UInt32 {
        guard remaining >= 4 else { throw truncated(field) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func u64be(_ field: String) throws(VitalsError) -> UInt64 {
        let high = try u32be(field), low = try u32be(field)
        return UInt64(high) << 32 | UInt64(low)
    }

    mutating func take(_ n: Int, _ field: String) throws(VitalsError) -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw truncated(field) }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }
}

/// Big-endian appends, for the encoders beside each parser.
extension Array where Element == UInt8 {
    mutating func appendBE(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xff)) }
    mutating func appendBE(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { append(UInt8((v >> UInt32(s)) & 0xff)) } }
    mutating func appendBE(_ v: UInt64) { appendBE(UInt32(v >> 32)); appendBE(UInt32(v & 0xffff_ffff)) }
}
