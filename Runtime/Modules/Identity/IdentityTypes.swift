public import MeridianCore

/// An organisation's on-chain identifier: lower-case letters, digits and dashes, 2 to 48
/// characters, e.g. `hospital-ribeira`. Names of organisations are not personal data.
public struct OrganizationID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable, Canonical {
    public let value: String

    public init?(_ value: String) {
        let u = Array(value.utf8)
        guard (2...48).contains(u.count),
              u.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 45 }),
              u.first != 45, u.last != 45 else { return nil }
        self.value = value
    }

    public var description: String { value }
    public static func < (l: OrganizationID, r: OrganizationID) -> Bool { l.value < r.value }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = OrganizationID(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(s)' is not an organisation id (a-z, 0-9, '-', 2-48 chars)"))
        }
        self = id
    }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(value) }

    public func encode(to w: inout CanonicalWriter) { w.write(value) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        let start = r.offset
        let s = try r.readString("organization_id", max: 48)
        guard let id = OrganizationID(s) else { throw CodecError(.invalidValue, field: "organization_id", offset: start) }
        self = id
    }
}

/// What an organisation is.
public enum OrganizationKind: UInt8, CanonicalEnum, Codable, CaseIterable {
    case hospital = 0
    case regulator = 1
}

/// What a member key of an organisation may do.
public enum MemberRole: UInt8, CanonicalEnum, Codable, CaseIterable {
    /// Manages the organisation's members.
    case admin = 0
    /// Clinical staff: registers records, requests access, shares.
    case provider = 1
    /// Signs consensus votes and governance votes for the organisation.
    case validator = 2
    /// A data-protection authority's officer: proposes rule changes, audits.
    case regulator = 3
    /// An off-chain worker of the organisation's node: submits anchors.
    case worker = 4

    public var name: String { ["admin", "provider", "validator", "regulator", "worker"][Int(rawValue)] }
    public init?(name: String) { guard let i = ["admin", "provider", "validator", "regulator", "worker"].firstIndex(of: name) else { return nil }; self.init(rawValue: UInt8(i)) }
}

/// A hospital or an authority: its jurisdiction is its country.
public struct Organization: Hashable, Sendable, Canonical {
    public static let maxNameBytes = 128

    public let id: OrganizationID
    public let name: String
    public let country: CountryCode
    public let kind: OrganizationKind

    public init(id: OrganizationID, name: String, country: CountryCode, kind: OrganizationKind) {
        self.id = id; self.name = name; self.country = country; self.kind = kind
    }

    public func encode(to w: inout CanonicalWriter) { w.write(id); w.write(name); w.write(country); w.write(kind) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        id = try r.read(OrganizationID.self)
        name = try r.readString("organization.name", max: Self.maxNameBytes)
        country = try r.read(CountryCode.self)
        kind = try r.read(OrganizationKind.self)
    }
}

/// A key acting for an organisation, with its roles.
public struct Member: Hashable, Sendable, Canonical {
    public let key: PublicKey
    public let organization: OrganizationID
    /// A set, sorted.
    public let roles: [MemberRole]

    public init(key: PublicKey, organization: OrganizationID, roles: [MemberRole]) {
        self.key = key; self.organization = organization; self.roles = roles.canonicalSet
    }

    public func has(_ role: MemberRole) -> Bool { roles.contains(role) }

    public func encode(to w: inout CanonicalWriter) { w.write(key); w.write(organization); w.write(roles) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        key = try r.read(PublicKey.self)
        organization = try r.read(OrganizationID.self)
        roles = try r.readSortedSet(MemberRole.self, "member.roles", max: MemberRole.allCases.count)
    }
}

/// A patient: only a public key and when it was registered. No name, birth date or any other
/// personal data is ever on chain; those live in the wallet and in the custodian's off-chain records.
public struct PatientAccount: Hashable, Sendable, Canonical {
    public let key: PublicKey
    public let registeredAt: Timestamp
    /// The organisation that enrolled the patient (attested the key).
    public let enrolledBy: OrganizationID

    public func encode(to w: inout CanonicalWriter) { w.write(key); w.write(registeredAt); w.write(enrolledBy) }
    public init(key: PublicKey, registeredAt: Timestamp, enrolledBy: OrganizationID) {
        self.key = key; self.registeredAt = registeredAt; self.enrolledBy = enrolledBy
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        key = try r.read(PublicKey.self); registeredAt = try r.read(Timestamp.self); enrolledBy = try r.read(OrganizationID.self)
    }
}

/// Kinds of biosensor a patient can pair.
public enum DeviceKind: UInt8, CanonicalEnum, Codable, CaseIterable {
    case pulseOximeter = 0, bloodPressureCuff = 1, heartRateMonitor = 2, thermometer = 3, ecgPatch = 4, gateway = 5
    public var name: String { ["pulse-oximeter", "blood-pressure-cuff", "heart-rate-monitor", "thermometer", "ecg-patch", "gateway"][Int(rawValue)] }
    public init?(name: String) {
        guard let i = ["pulse-oximeter", "blood-pressure-cuff", "heart-rate-monitor", "thermometer", "ecg-patch", "gateway"].firstIndex(of: name) else { return nil }
        self.init(rawValue: UInt8(i))
    }
}

/// A device key paired to a patient by the patient.
public struct DevicePairing: Hashable, Sendable, Canonical {
    public let device: PublicKey
    public let patient: PublicKey
    public let kind: DeviceKind
    public let pairedAt: Timestamp

    public init(device: PublicKey, patient: PublicKey, kind: DeviceKind, pairedAt: Timestamp) {
        self.device = device; self.patient = patient; self.kind = kind; self.pairedAt = pairedAt
    }
    public func encode(to w: inout CanonicalWriter) { w.write(device); w.write(patient); w.write(kind); w.write(pairedAt) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        device = try r.read(PublicKey.self); patient = try r.read(PublicKey.self)
        kind = try r.read(DeviceKind.self); pairedAt = try r.read(Timestamp.self)
    }
}
