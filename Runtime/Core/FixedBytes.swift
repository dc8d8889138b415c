/// 32 bytes held inline (no heap): hashes, x-only public keys, secret scalars, commitments.
///
/// The four words hold the bytes in memory order, so `withUnsafeBytes(of:)` sees exactly the
/// 32 bytes; equality and hashing compare words. Ordering is lexicographic over the bytes.
public struct Bytes32: Hashable, Sendable, Comparable, CustomStringConvertible {
    @usableFromInline var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public static let zero = Bytes32(w0: 0, w1: 0, w2: 0, w3: 0)

    @inlinable init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// Copies exactly 32 bytes; returns nil for any other length.
    @inlinable public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard bytes.count == 32 else { return nil }
        self = .zero
        withUnsafeMutableBytes(of: &self) { dst in
            var i = 0
            for b in bytes { dst[i] = b; i += 1 }
        }
    }

    /// Builds the value by letting `body` fill the 32 bytes.
    @inlinable public static func filling(_ body: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> Bytes32 {
        var value = Bytes32.zero
        try withUnsafeMutableBytes(of: &value) { try body($0) }
        return value
    }

    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: self) { try body($0) }
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Byte `index` (0...31).
    @inlinable public subscript(byte index: Int) -> UInt8 {
        withUnsafeBytes { $0[index] }
    }

    /// Bit `index` (0...255), most significant bit of byte 0 first: the path order of the state tree.
    @inlinable public func bit(_ index: Int) -> Bool {
        (self[byte: index >> 3] >> (7 - UInt8(index & 7))) & 1 == 1
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    public init?(hex: String) {
        guard let bytes = Hex.decode(hex), let value = Bytes32(bytes) else { return nil }
        self = value
    }

    public static func < (lhs: Bytes32, rhs: Bytes32) -> Bool {
        // Byte order is big-endian per word when compared lexicographically.
        let l = (lhs.w0.bigEndian, lhs.w1.bigEndian, lhs.w2.bigEndian, lhs.w3.bigEndian)
        let r = (rhs.w0.bigEndian, rhs.w1.bigEndian, rhs.w2.bigEndian, rhs.w3.bigEndian)
        return l < r
    }
}

/// 64 bytes held inline: BIP-340 signatures.
public struct Bytes64: Hashable, Sendable, CustomStringConvertible {
    public var high: Bytes32
    public var low: Bytes32

    public static let zero = Bytes64(high: .zero, low: .zero)

    public init(high: Bytes32, low: Bytes32) { self.high = high; self.low = low }

    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard bytes.count == 64 else { return nil }
        let array = Array(bytes)
        high = Bytes32(array[0..<32])!
        low = Bytes32(array[32..<64])!
    }

    public var bytes: [UInt8] { high.bytes + low.bytes }
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    public init?(hex: String) {
        guard let bytes = Hex.decode(hex), let value = Bytes64(bytes) else { return nil }
        self = value
    }

    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: self) { try body($0) }
    }
}

/// Lower-case hexadecimal, the only text form of bytes in Meridian's JSON and CLIs.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Accepts upper or lower case; nil on odd length or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
