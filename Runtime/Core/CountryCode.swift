/// An ISO 3166-1 alpha-2 country code (officially assigned codes only), e.g. `PT`, `JP`, `TH`.
/// The jurisdiction of an organisation and the destination of a transfer.
public struct CountryCode: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// Two ASCII capitals packed big-endian, so ordering is alphabetical.
    public let packed: UInt16

    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 2, (65...90).contains(u[0]), (65...90).contains(u[1]) else { return nil }
        let p = UInt16(u[0]) << 8 | UInt16(u[1])
        guard CountryCode.assigned.contains(p) else { return nil }
        packed = p
    }

    public var code: String { String(decoding: [UInt8(packed >> 8), UInt8(packed & 0xff)], as: UTF8.self) }
    public var description: String { code }
    public static func < (l: CountryCode, r: CountryCode) -> Bool { l.packed < r.packed }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let c = CountryCode(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not an ISO 3166-1 alpha-2 code"))
        }
        self = c
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(code)
    }

    /// The 249 officially assigned alpha-2 codes (ISO 3166-1, as listed by the iso-codes project).
    static let assigned: Set<UInt16> = {
        var set = Set<UInt16>()
        for line in table { for code in line.split(separator: " ") {
            let u = Array(code.utf8); set.insert(UInt16(u[0]) << 8 | UInt16(u[1]))
        } }
        return set
    }()

    private static let table = [
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE",
        "BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD",
        "CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM",
        "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF",
        "GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU",
        "ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN",
        "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME",
        "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA",
        "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM",
        "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI",
        "SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK",
        "TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI",
        "VN VU WF WS YE YT ZA ZM ZW",
    ]
}

extension CountryCode: Canonical {
    public func encode(to writer: inout CanonicalWriter) { writer.write(varint: UInt64(packed)) }
    public init(from reader: inout CanonicalReader) throws(CodecError) {
        let start = reader.offset
        let raw = try reader.readUInt16("country")
        guard CountryCode.assigned.contains(raw) else { throw CodecError(.invalidValue, field: "country", offset: start) }
        packed = raw
    }
}
