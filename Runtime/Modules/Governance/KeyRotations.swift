public import MeridianCore

/// One of an organisation's validator or worker keys replaced by a new one (issue 24): when staff
/// leave or a server is compromised, the hospital's admin moves the key's role (and a validator's
/// voting power) to a key the old host never held, without retiring the validator.
public struct KeyRotation: Hashable, Sendable, Canonical {
    public enum Role: UInt8, CanonicalEnum, CaseIterable {
        case validator = 0, worker = 1
        public var name: String { self == .validator ? "validator" : "worker" }
        public init?(name: String) { guard let r = Self.allCases.first(where: { $0.name == name }) else { return nil }; self = r }
    }
    public let role: Role
    public let old: PublicKey
    public let new: PublicKey
    /// The new key's signature over `KeyRotations.possessionMessage`: the rotation is made by whoever
    /// holds the new key, so no one can move a validator's power to a key nobody can use, or claim a
    /// key that is not theirs.
    public let possession: Bytes64

    public init(role: Role, old: PublicKey, new: PublicKey, possession: Bytes64) {
        self.role = role; self.old = old; self.new = new; self.possession = possession
    }
    public func encode(to w: inout CanonicalWriter) { w.write(role); w.write(old); w.write(new); w.write(possession) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        role = try r.read(Role.self); old = try r.read(PublicKey.self); new = try r.read(PublicKey.self); possession = try r.readBytes64("rotation.possession")
    }
}

/// A rotation waiting for its height.
public struct ScheduledRotation: Hashable, Sendable, Canonical {
    public let rotation: KeyRotation
    public let organization: OrganizationID
    public let scheduledAt: UInt64
    public let effectiveHeight: UInt64
    public init(rotation: KeyRotation, organization: OrganizationID, scheduledAt: UInt64, effectiveHeight: UInt64) {
        self.rotation = rotation; self.organization = organization; self.scheduledAt = scheduledAt; self.effectiveHeight = effectiveHeight
    }
    public func encode(to w: inout CanonicalWriter) { w.write(rotation); w.write(organization); w.write(varint: scheduledAt); w.write(varint: effectiveHeight) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        rotation = try r.read(KeyRotation.self); organization = try r.read(OrganizationID.self)
        scheduledAt = try r.readVarint("rotation.scheduled_at"); effectiveHeight = try r.readVarint("rotation.effective_height")
    }
}

/// Key rotations: scheduled by a transaction of the organisation's admin, applied at the start of the
/// block at a fixed later height (the chain's `governanceActivationDelayBlocks`, as every change of
/// the validator set), before any transaction, so every node switches at once. From that height the
/// old key holds no role: a validator's votes and certificates signed with it are refused like any
/// non-validator's, a worker's anchors and API-read records like any stranger's; a light client sees
/// the change as any other change of the set (the header's validators hash and the set's proof).
public enum KeyRotations {
    static func pendingKey(_ old: PublicKey) -> StateKey { StateKey("governance/rotation").appending(old) }
    static func claimKey(_ new: PublicKey) -> StateKey { StateKey("governance/rotation_to").appending(new) }
    static func scheduleKey(_ height: UInt64) -> StateKey { StateKey("governance/rotation_schedule").appending(height) }

    /// What the new key signs: the chain, the role and both keys.
    public static func possessionMessage(chainID: String, role: KeyRotation.Role, old: PublicKey, new: PublicKey) -> Bytes32 {
        var w = CanonicalWriter()
        w.write(chainID); w.write(role); w.write(old); w.write(new)
        return SHA256.tagged("meridian/key-rotation", w.bytes)
    }

    public static func pending(of old: PublicKey, in s: some StateReader) throws(RuntimeError) -> ScheduledRotation? {
        try s.read(ScheduledRotation.self, pendingKey(old))
    }

    /// Why `old` cannot move to `new` now, if it cannot (checked when scheduled and again when applied).
    static func refusal(_ r: KeyRotation, organization: OrganizationID, in s: some StateReader) throws(RuntimeError) -> RuntimeError? {
        guard r.old != r.new else { return RuntimeError("rotation.same_key", "the new key is the old key") }
        guard let m = try Identity.member(r.old, in: s), m.organization == organization else {
            return RuntimeError("rotation.not_a_member", "\(Address(r.old)) is not a key of \(organization)")
        }
        switch r.role {
        case .validator:
            guard m.has(.validator), try Validators.current(in: s).contains(where: { $0.key == r.old }) else {
                return RuntimeError("rotation.not_a_validator", "\(Address(r.old)) is not in the validator set")
            }
            if try Suspensions.suspension(of: r.old, in: s) != nil {
                return RuntimeError("rotation.suspended", "\(Address(r.old)) is suspended for equivocation: governance readmits it first")
            }
        case .worker:
            guard m.has(.worker) else { return RuntimeError("rotation.not_a_worker", "\(Address(r.old)) has no worker role") }
        }
        if try Identity.isRegistered(r.new, in: s) { return RuntimeError("identity.key_in_use", "\(Address(r.new)) is already a key on this chain") }
        return nil
    }

    /// The admin of the key's organisation schedules the rotation.
    public static func rotate(_ r: KeyRotation, _ ctx: ExecutionContext) throws(RuntimeError) {
        let admin = try Identity.requireMember(ctx, role: .admin)
        guard r.new.verify(r.possession, message: possessionMessage(chainID: ctx.chainID, role: r.role, old: r.old, new: r.new)) else {
            throw RuntimeError("rotation.bad_possession", "the new key's signature over the rotation does not verify")
        }
        if let refusal = try refusal(r, organization: admin.organization, in: ctx.view) { throw refusal }
        guard try pending(of: r.old, in: ctx.view) == nil else { throw RuntimeError("rotation.pending", "a rotation of \(Address(r.old)) is already scheduled") }
        guard try ctx.read(ScheduledRotation.self, claimKey(r.new)) == nil else {
            throw RuntimeError("rotation.pending", "\(Address(r.new)) is already the new key of a scheduled rotation")
        }
        let effective = ctx.height + max(1, ctx.parameters.governanceActivationDelayBlocks)
        let scheduled = ScheduledRotation(rotation: r, organization: admin.organization, scheduledAt: ctx.height, effectiveHeight: effective)
        ctx.write(pendingKey(r.old), scheduled)
        ctx.write(claimKey(r.new), scheduled)
        var due = try ctx.read(CanonicalList<PublicKey>.self, scheduleKey(effective)) ?? CanonicalList()
        due.items.append(r.old)
        ctx.write(scheduleKey(effective), due)
        ctx.emit(.keyRotation(organization: admin.organization, old: r.old, new: r.new, effectiveHeight: effective, applied: false))
    }

    /// Applies the rotations due at this height (start of block). One that no longer holds (the key
    /// was removed, suspended, or the new key registered meanwhile) is dropped, and says so.
    public static func beginBlock(_ ctx: ExecutionContext) throws(RuntimeError) {
        guard let due = try ctx.read(CanonicalList<PublicKey>.self, scheduleKey(ctx.height)) else { return }
        for old in due.items {
            guard let s = try pending(of: old, in: ctx.view) else { continue }
            let r = s.rotation
            ctx.delete(pendingKey(old))
            ctx.delete(claimKey(r.new))
            if try refusal(r, organization: s.organization, in: ctx.view) != nil {
                ctx.emit(.keyRotation(organization: s.organization, old: old, new: r.new, effectiveHeight: ctx.height, applied: false))
                continue
            }
            guard let m = try Identity.member(old, in: ctx.view) else { continue }
            let role: MemberRole = r.role == .validator ? .validator : .worker
            let kept = m.roles.filter { $0 != role }
            if kept.isEmpty { try Identity.deleteMember(old, ctx) } else { try Identity.putMember(Member(key: old, organization: m.organization, roles: kept), ctx) }
            try Identity.putMember(Member(key: r.new, organization: m.organization, roles: [role]), ctx)
            if r.role == .validator {
                var set = try Validators.current(in: ctx.view)
                guard let i = set.firstIndex(where: { $0.key == old }) else { throw RuntimeError.corrupt("validator \(Address(old))") }
                set[i] = Validator(key: r.new, organization: set[i].organization, power: set[i].power)
                set.sort()
                ctx.write(Validators.setKey, CanonicalList(set))
            }
            ctx.emit(.keyRotation(organization: s.organization, old: old, new: r.new, effectiveHeight: ctx.height, applied: true))
        }
        ctx.delete(scheduleKey(ctx.height))
        ctx.view.commitTransaction()
    }
}
