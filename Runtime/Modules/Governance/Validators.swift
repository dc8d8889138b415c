public import MeridianCore

/// A validator: a consensus key of a hospital with voting power.
public struct Validator: Hashable, Sendable, Canonical, Comparable {
    public let key: PublicKey
    public let organization: OrganizationID
    public let power: UInt64
    public init(key: PublicKey, organization: OrganizationID, power: UInt64) { self.key = key; self.organization = organization; self.power = power }
    public static func < (l: Validator, r: Validator) -> Bool { l.key < r.key }
    public func encode(to w: inout CanonicalWriter) { w.write(key); w.write(organization); w.write(varint: power) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        key = try r.read(PublicKey.self); organization = try r.read(OrganizationID.self); power = try r.readVarint("validator.power")
    }
}

/// The validator set in state, sorted by key.
public enum Validators {
    public static let setKey = StateKey("governance/validators")
    public static let maxValidators = 128
    public static let maxPower: UInt64 = 1 << 40

    public static func current(in s: some StateReader) throws(RuntimeError) -> [Validator] {
        try s.read(CanonicalList<Validator>.self, setKey)?.items ?? []
    }

    /// The set as a light client checks commits against it.
    public static func powers(in s: some StateReader) throws(RuntimeError) -> [ValidatorPower] {
        try current(in: s).map { ValidatorPower(key: $0.key, power: $0.power) }
    }

    public static func totalPower(in s: some StateReader) throws(RuntimeError) -> UInt64 {
        try current(in: s).reduce(0) { $0 + $1.power }
    }

    static func add(_ v: Validator, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard v.power > 0, v.power <= maxPower else { throw RuntimeError("governance.bad_power", "power must be 1...\(maxPower)") }
        guard let org = try Identity.organization(v.organization, in: ctx.view), org.kind == .hospital else {
            throw RuntimeError("governance.validator_org", "'\(v.organization)' is not a hospital")
        }
        var set = try current(in: ctx.view)
        guard !set.contains(where: { $0.key == v.key }) else { throw RuntimeError("governance.validator_exists", "\(Address(v.key)) is already a validator") }
        guard set.count < maxValidators else { throw RuntimeError("governance.too_many_validators", "at most \(maxValidators)") }
        var roles: [MemberRole] = [.validator]
        if let m = try Identity.member(v.key, in: ctx.view) {
            guard m.organization == v.organization else { throw RuntimeError("identity.key_in_use", "\(Address(v.key)) belongs to \(m.organization)") }
            roles += m.roles
        }
        try Identity.putMember(Member(key: v.key, organization: v.organization, roles: roles), ctx)
        set.append(v); set.sort()
        ctx.write(setKey, CanonicalList(set))
    }

    static func remove(_ key: PublicKey, _ ctx: ExecutionContext) throws(RuntimeError) {
        var set = try current(in: ctx.view)
        guard set.contains(where: { $0.key == key }) else { throw RuntimeError("governance.not_a_validator", "\(Address(key)) is not a validator") }
        guard set.count > 1 else { throw RuntimeError("governance.last_validator", "the last validator cannot be removed") }
        set.removeAll { $0.key == key }
        ctx.write(setKey, CanonicalList(set))
        if let m = try Identity.member(key, in: ctx.view) {
            let roles = m.roles.filter { $0 != .validator }
            if roles.isEmpty { try Identity.deleteMember(key, ctx) } else { try Identity.putMember(Member(key: key, organization: m.organization, roles: roles), ctx) }
        }
    }
}

extension Validators {
    public static func addAtGenesis(_ v: Validator, _ ctx: ExecutionContext) throws(RuntimeError) { try add(v, ctx) }
}
