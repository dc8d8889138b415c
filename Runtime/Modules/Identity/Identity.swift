public import MeridianCore

/// Organisations, their member keys and roles, patients and their paired devices.
///
/// Organisations and validators enter through genesis or governance; an organisation's admin
/// adds and removes its staff keys; a patient registers with an enrolment attestation signed by
/// a provider (so that only people a hospital has met hold accounts), and pairs devices itself.
public enum Identity {
    static func orgKey(_ id: OrganizationID) -> StateKey { StateKey("identity/org").appending(id.value) }
    static func memberKey(_ key: PublicKey) -> StateKey { StateKey("identity/member").appending(key) }
    static func orgMemberIndexKey(_ id: OrganizationID, _ key: PublicKey) -> StateKey { StateKey("identity/org_members").appending(id.value).appending(key) }
    static func patientKey(_ key: PublicKey) -> StateKey { StateKey("identity/patient").appending(key) }
    static func deviceKey(_ key: PublicKey) -> StateKey { StateKey("identity/device").appending(key) }
    static func patientDeviceIndexKey(_ patient: PublicKey, _ device: PublicKey) -> StateKey { StateKey("identity/patient_devices").appending(patient).appending(device) }

    /// Prefix of a patient's paired devices (for listings).
    public static func devicesPrefix(of patient: PublicKey) -> [UInt8] { StateKey("identity/patient_devices").appending(patient).bytes }
    /// Prefix of an organisation's members (for listings).
    public static func membersPrefix(of org: OrganizationID) -> [UInt8] { StateKey("identity/org_members").appending(org.value).bytes }
    /// Prefix of all organisations.
    public static let organizationsPrefix = StateKey("identity/org").bytes

    // MARK: Queries

    public static func organization(_ id: OrganizationID, in s: some StateReader) throws(RuntimeError) -> Organization? {
        try s.read(Organization.self, orgKey(id))
    }
    public static func member(_ key: PublicKey, in s: some StateReader) throws(RuntimeError) -> Member? {
        try s.read(Member.self, memberKey(key))
    }
    public static func patient(_ key: PublicKey, in s: some StateReader) throws(RuntimeError) -> PatientAccount? {
        try s.read(PatientAccount.self, patientKey(key))
    }
    public static func device(_ key: PublicKey, in s: some StateReader) throws(RuntimeError) -> DevicePairing? {
        try s.read(DevicePairing.self, deviceKey(key))
    }
    /// Whether `key` may sign transactions at all: registered patients and members.
    public static func isRegistered(_ key: PublicKey, in s: some StateReader) throws(RuntimeError) -> Bool {
        if try s.load(memberKey(key).bytes) != nil { return true }
        return try s.load(patientKey(key).bytes) != nil
    }

    /// The member record of the signer, required to hold `role`.
    static func requireMember(_ ctx: ExecutionContext, role: MemberRole) throws(RuntimeError) -> Member {
        guard let m = try member(ctx.signer, in: ctx.view) else {
            throw RuntimeError("identity.not_a_member", "\(Address(ctx.signer)) is not a member of any organisation")
        }
        guard m.has(role) else { throw RuntimeError("identity.missing_role", "\(Address(ctx.signer)) lacks the \(role.name) role") }
        return m
    }

    static func requirePatient(_ ctx: ExecutionContext) throws(RuntimeError) -> PatientAccount {
        guard let p = try patient(ctx.signer, in: ctx.view) else {
            throw RuntimeError("identity.not_a_patient", "\(Address(ctx.signer)) is not a registered patient")
        }
        return p
    }

    /// The message a provider signs to enrol a patient key on this chain.
    public static func enrolmentMessage(chainID: String, patient: PublicKey) -> Bytes32 {
        var w = CanonicalWriter(); w.write(chainID); w.write(patient)
        return SHA256.tagged("meridian/enrolment", w.bytes)
    }

    // MARK: Writes used by genesis and governance

    static func putOrganization(_ org: Organization, _ ctx: ExecutionContext) { ctx.write(orgKey(org.id), org) }

    static func putMember(_ m: Member, _ ctx: ExecutionContext) throws(RuntimeError) {
        if try patient(m.key, in: ctx.view) != nil {
            throw RuntimeError("identity.key_in_use", "\(Address(m.key)) is a patient key")
        }
        if let existing = try member(m.key, in: ctx.view), existing.organization != m.organization {
            throw RuntimeError("identity.key_in_use", "\(Address(m.key)) belongs to \(existing.organization)")
        }
        ctx.write(memberKey(m.key), m)
        ctx.write(orgMemberIndexKey(m.organization, m.key), m)
    }

    static func deleteMember(_ key: PublicKey, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard let m = try member(key, in: ctx.view) else { return }
        ctx.delete(memberKey(key))
        ctx.delete(orgMemberIndexKey(m.organization, key))
    }

    // MARK: Calls

    /// A patient registers its own key, with a provider's enrolment attestation.
    public struct RegisterPatient: Hashable, Sendable, Canonical {
        public let attestor: PublicKey
        public let attestation: Bytes64
        public init(attestor: PublicKey, attestation: Bytes64) { self.attestor = attestor; self.attestation = attestation }
        public func encode(to w: inout CanonicalWriter) { w.write(attestor); w.write(attestation) }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            attestor = try r.read(PublicKey.self); attestation = try r.readBytes64("attestation")
        }
    }

    /// Why an enrolment (`registerPatient`) is refused, if it is: the key must be new (neither a
    /// patient nor a member), attested by a provider whose attestation verifies for this key and
    /// chain. Shared by execution and the mempool's admission (one rule, one place).
    public static func enrolmentRefusal(_ call: RegisterPatient, patient: PublicKey, chainID: String,
                                        isPatient: Bool, isMember: Bool, attestorIsProvider: Bool) -> RuntimeError? {
        if isPatient { return RuntimeError("identity.already_registered", "\(Address(patient)) is already a patient") }
        if isMember { return RuntimeError("identity.key_in_use", "\(Address(patient)) is a member key") }
        guard attestorIsProvider else { return RuntimeError("identity.bad_attestor", "\(Address(call.attestor)) is not a provider") }
        guard call.attestor.verify(call.attestation, message: enrolmentMessage(chainID: chainID, patient: patient)) else {
            return RuntimeError("identity.bad_attestation", "the enrolment attestation does not verify")
        }
        return nil
    }

    public static func registerPatient(_ call: RegisterPatient, _ ctx: ExecutionContext) throws(RuntimeError) {
        let attestor = try member(call.attestor, in: ctx.view)
        if let refusal = enrolmentRefusal(call, patient: ctx.signer, chainID: ctx.chainID, isPatient: try patient(ctx.signer, in: ctx.view) != nil,
                                          isMember: try member(ctx.signer, in: ctx.view) != nil, attestorIsProvider: attestor?.has(.provider) == true) {
            throw refusal
        }
        guard let attestor else { throw RuntimeError("identity.bad_attestor", "\(Address(call.attestor)) is not a provider") }
        ctx.write(patientKey(ctx.signer), PatientAccount(key: ctx.signer, registeredAt: ctx.time, enrolledBy: attestor.organization))
        ctx.emit(.patientRegistered(patient: ctx.signer, enrolledBy: attestor.organization))
    }

    public struct PairDevice: Hashable, Sendable, Canonical {
        public let device: PublicKey
        public let kind: DeviceKind
        public init(device: PublicKey, kind: DeviceKind) { self.device = device; self.kind = kind }
        public func encode(to w: inout CanonicalWriter) { w.write(device); w.write(kind) }
        public init(from r: inout CanonicalReader) throws(CodecError) { device = try r.read(PublicKey.self); kind = try r.read(DeviceKind.self) }
    }

    public static func pairDevice(_ call: PairDevice, _ ctx: ExecutionContext) throws(RuntimeError) {
        _ = try requirePatient(ctx)
        if let existing = try device(call.device, in: ctx.view) {
            throw RuntimeError("identity.device_paired", "device \(Address(call.device)) is already paired\(existing.patient == ctx.signer ? " to you" : "")")
        }
        if try isRegistered(call.device, in: ctx.view) { throw RuntimeError("identity.key_in_use", "a device key cannot be an account key") }
        let pairing = DevicePairing(device: call.device, patient: ctx.signer, kind: call.kind, pairedAt: ctx.time)
        ctx.write(deviceKey(call.device), pairing)
        ctx.write(patientDeviceIndexKey(ctx.signer, call.device), pairing)
        ctx.emit(.devicePaired(patient: ctx.signer, device: call.device))
    }

    public static func unpairDevice(_ device: PublicKey, _ ctx: ExecutionContext) throws(RuntimeError) {
        _ = try requirePatient(ctx)
        guard let pairing = try Self.device(device, in: ctx.view), pairing.patient == ctx.signer else {
            throw RuntimeError("identity.device_not_paired", "device \(Address(device)) is not paired to you")
        }
        ctx.delete(deviceKey(device))
        ctx.delete(patientDeviceIndexKey(ctx.signer, device))
        ctx.emit(.deviceUnpaired(patient: ctx.signer, device: device))
    }

    public struct AddMember: Hashable, Sendable, Canonical {
        public let key: PublicKey
        public let roles: [MemberRole]
        public init(key: PublicKey, roles: [MemberRole]) { self.key = key; self.roles = roles.canonicalSet }
        public func encode(to w: inout CanonicalWriter) { w.write(key); w.write(roles) }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            key = try r.read(PublicKey.self); roles = try r.readSortedSet(MemberRole.self, "roles", max: MemberRole.allCases.count)
        }
    }

    public static func addMember(_ call: AddMember, _ ctx: ExecutionContext) throws(RuntimeError) {
        let admin = try requireMember(ctx, role: .admin)
        guard !call.roles.isEmpty else { throw RuntimeError("identity.no_roles", "a member needs at least one role") }
        guard !call.roles.contains(.validator) else {
            throw RuntimeError("identity.validator_by_governance", "validators are added by governance vote")
        }
        guard let org = try organization(admin.organization, in: ctx.view) else { throw RuntimeError.corrupt("organisation") }
        if call.roles.contains(.regulator) && org.kind != .regulator {
            throw RuntimeError("identity.role_not_allowed", "only a regulator organisation has regulator members")
        }
        if call.roles.contains(.provider) && org.kind != .hospital {
            throw RuntimeError("identity.role_not_allowed", "only a hospital has provider members")
        }
        if let existing = try member(call.key, in: ctx.view), existing.has(.validator) {
            throw RuntimeError("identity.validator_by_governance", "a validator key's roles change by governance")
        }
        try putMember(Member(key: call.key, organization: admin.organization, roles: call.roles), ctx)
        ctx.emit(.memberChanged(organization: admin.organization, key: call.key, removed: false))
    }

    public static func removeMember(_ key: PublicKey, _ ctx: ExecutionContext) throws(RuntimeError) {
        let admin = try requireMember(ctx, role: .admin)
        guard key != ctx.signer else { throw RuntimeError("identity.cannot_remove_self", "an admin cannot remove its own key") }
        guard let m = try member(key, in: ctx.view), m.organization == admin.organization else {
            throw RuntimeError("identity.not_a_member", "\(Address(key)) is not a member of \(admin.organization)")
        }
        guard !m.has(.validator) else { throw RuntimeError("identity.validator_by_governance", "validators are removed by governance vote") }
        try deleteMember(key, ctx)
        ctx.emit(.memberChanged(organization: admin.organization, key: key, removed: true))
    }
}

extension Identity {
    /// Genesis writes organisations and members directly (there is no signer yet).
    public static func putOrganizationAtGenesis(_ org: Organization, _ ctx: ExecutionContext) { putOrganization(org, ctx) }
    public static func putMemberAtGenesis(_ m: Member, _ ctx: ExecutionContext) throws(RuntimeError) { try putMember(m, ctx) }
}
