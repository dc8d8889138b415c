/// The text form of an account: the 32-byte x-only public key in Bech32m (BIP-350) with the
/// human-readable part `mer`, e.g. `mer1...` (62 characters).
///
/// Bech32m's BCH checksum detects every error of up to four characters in strings of this length,
/// so any single mistyped character is refused rather than sending consent to someone else.
/// Written here because no maintained Swift package on this machine implements Bech32m.
public struct Address: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    public static let humanReadablePart = "mer"
    public let publicKey: PublicKey

    public init(_ publicKey: PublicKey) { self.publicKey = publicKey }

    public var description: String {
        Bech32m.encode(hrp: Self.humanReadablePart, data: Bech32m.toFiveBit(publicKey.bytes32.bytes))
    }

    /// Parses and checks an address; nil on any typo, wrong prefix, mixed case or off-curve key.
    public init?(_ text: String) {
        guard case .success(let a) = Address.parse(text) else { return nil }
        self = a
    }

    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        case malformed, badChecksum, wrongPrefix(String), notAKey
        public var description: String {
            switch self {
            case .malformed: "address.malformed: not a Bech32m string"
            case .badChecksum: "address.bad_checksum: a character is mistyped"
            case .wrongPrefix(let p): "address.wrong_prefix: expected 'mer', found '\(p)'"
            case .notAKey: "address.not_a_key: the payload is not a secp256k1 x-only key"
            }
        }
    }

    public static func parse(_ text: String) -> Result<Address, ParseError> {
        switch Bech32m.decode(text) {
        case .failure(let e): return .failure(e)
        case .success(let (hrp, data)):
            guard hrp == humanReadablePart else { return .failure(.wrongPrefix(hrp)) }
            guard let bytes = Bech32m.fromFiveBit(data), let b32 = Bytes32(bytes) else { return .failure(.malformed) }
            guard let key = try? PublicKey(b32) else { return .failure(.notAKey) }
            return .success(Address(key))
        }
    }
}

/// BIP-350 Bech32m encoding.
enum Bech32m {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    static let constant: UInt32 = 0x2bc8_30a3
    static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in charset.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { chk ^= generator[i] }
        }
        return chk
    }

    static func expand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    static func encode(hrp: String, data: [UInt8]) -> String {
        let h = Array(hrp.utf8)
        let mod = polymod(expand(h) + data + [0, 0, 0, 0, 0, 0]) ^ constant
        let checksum = (0..<6).map { UInt8((mod >> (5 * (5 - UInt32($0)))) & 31) }
        return hrp + "1" + String(decoding: (data + checksum).map { charset[Int($0)] }, as: UTF8.self)
    }

    static func decode(_ text: String) -> Result<(String, [UInt8]), Address.ParseError> {
        let bytes = Array(text.utf8)
        guard bytes.count >= 8, bytes.count <= 90 else { return .failure(.malformed) }
        let hasLower = bytes.contains { $0 >= 97 && $0 <= 122 }
        let hasUpper = bytes.contains { $0 >= 65 && $0 <= 90 }
        guard !(hasLower && hasUpper) else { return .failure(.malformed) }
        let lower = bytes.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }
        guard let sep = lower.lastIndex(of: UInt8(ascii: "1")), sep >= 1, sep + 7 <= lower.count else {
            return .failure(.malformed)
        }
        let hrp = Array(lower[..<sep])
        guard hrp.allSatisfy({ $0 >= 33 && $0 <= 126 }) else { return .failure(.malformed) }
        var data = [UInt8]()
        for c in lower[(sep + 1)...] {
            guard c < 128, reverse[Int(c)] >= 0 else { return .failure(.malformed) }
            data.append(UInt8(reverse[Int(c)]))
        }
        guard polymod(expand(hrp) + data) == constant else { return .failure(.badChecksum) }
        return .success((String(decoding: hrp, as: UTF8.self), Array(data.dropLast(6))))
    }

    static func toFiveBit(_ bytes: [UInt8]) -> [UInt8] {
        var acc: UInt32 = 0, bits = 0
        var out = [UInt8]()
        for b in bytes {
            acc = acc << 8 | UInt32(b); bits += 8
            while bits >= 5 { bits -= 5; out.append(UInt8((acc >> UInt32(bits)) & 31)) }
        }
        if bits > 0 { out.append(UInt8((acc << UInt32(5 - bits)) & 31)) }
        return out
    }

    /// Inverse of `toFiveBit`; nil if the padding is not zero or too long (non-canonical).
    static func fromFiveBit(_ groups: [UInt8]) -> [UInt8]? {
        var acc: UInt32 = 0, bits = 0
        var out = [UInt8]()
        for g in groups {
            acc = (acc << 5 | UInt32(g)) & 0xfff; bits += 5
            if bits >= 8 { bits -= 8; out.append(UInt8((acc >> UInt32(bits)) & 0xff)) }
        }
        guard bits < 5, (acc << UInt32(8 - bits)) & 0xff == 0 else { return nil }
        return out
    }
}
