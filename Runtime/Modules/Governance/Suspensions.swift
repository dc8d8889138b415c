public import MeridianCore

/// A validator's suspension for equivocation: its voting power is taken out of the set at a fixed
/// height after the evidence is committed (the same delay as a governance change, so every node
/// applies it at once), and given back only by a governance vote (`readmitValidator`).
public struct Suspension: Hashable, Sendable, Canonical {
    /// The validator as it was in the set (organisation and power kept for readmission).
    public let validator: Validator
    /// The height of the block that recorded the evidence.
    public let evidenceHeight: UInt64
    /// From this height its power no longer counts.
    public let effectiveHeight: UInt64
    /// Whether the suspension took effect (false while scheduled).
    public let inEffect: Bool

    public init(validator: Validator, evidenceHeight: UInt64, effectiveHeight: UInt64, inEffect: Bool) {
        self.validator = validator; self.evidenceHeight = evidenceHeight; self.effectiveHeight = effectiveHeight; self.inEffect = inEffect
    }
    public func encode(to w: inout CanonicalWriter) { w.write(validator); w.write(varint: evidenceHeight); w.write(varint: effectiveHeight); w.write(inEffect) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        validator = try r.read(Validator.self); evidenceHeight = try r.readVarint("suspension.evidence_height")
        effectiveHeight = try r.readVarint("suspension.effective_height"); inEffect = try r.readBool("suspension.in_effect")
    }
}

/// Suspensions of validators caught equivocating: scheduled when evidence is committed, applied
/// at the start of the block at their effective height (before any transaction), undone by
/// governance. A suspension that would leave the set with less than one validator, or take away
/// a third or more of the power at once beside other suspensions, is still recorded but keeps the
/// last validator in: a chain cannot be halted by evidence alone.
public enum Suspensions {
    public static func key(_ validator: PublicKey) -> StateKey { StateKey("governance/suspended").appending(validator) }
    static func scheduleKey(_ height: UInt64) -> StateKey { StateKey("governance/suspension_schedule").appending(height) }

    public static func suspension(of validator: PublicKey, in s: some StateReader) throws(RuntimeError) -> Suspension? {
        try s.read(Suspension.self, key(validator))
    }

    /// Called when evidence against `validator` is recorded: schedules its suspension (once).
    static func schedule(_ validator: PublicKey, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard try suspension(of: validator, in: ctx.view) == nil,
              let v = try Validators.current(in: ctx.view).first(where: { $0.key == validator }) else { return }
        let effective = ctx.height + max(1, ctx.parameters.governanceActivationDelayBlocks)
        ctx.write(key(validator), Suspension(validator: v, evidenceHeight: ctx.height, effectiveHeight: effective, inEffect: false))
        var scheduled = try ctx.read(CanonicalList<PublicKey>.self, scheduleKey(effective)) ?? CanonicalList()
        scheduled.items.append(validator)
        ctx.write(scheduleKey(effective), scheduled)
    }

    /// Applies the suspensions due at this height (start of block).
    public static func beginBlock(_ ctx: ExecutionContext) throws(RuntimeError) {
        guard let due = try ctx.read(CanonicalList<PublicKey>.self, scheduleKey(ctx.height)) else { return }
        for validator in due.items {
            guard let s = try suspension(of: validator, in: ctx.view), !s.inEffect else { continue }
            var set = try Validators.current(in: ctx.view)
            guard set.count > 1, set.contains(where: { $0.key == validator }) else { continue }
            set.removeAll { $0.key == validator }
            ctx.write(Validators.setKey, CanonicalList(set))
            ctx.write(key(validator), Suspension(validator: s.validator, evidenceHeight: s.evidenceHeight, effectiveHeight: s.effectiveHeight, inEffect: true))
        }
        ctx.delete(scheduleKey(ctx.height))
        ctx.view.commitTransaction()
    }

    /// Governance readmits a suspended validator with the power it had.
    static func readmit(_ validator: PublicKey, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard let s = try suspension(of: validator, in: ctx.view) else { throw RuntimeError("governance.not_suspended", "\(Address(validator)) is not suspended") }
        var set = try Validators.current(in: ctx.view)
        if s.inEffect, !set.contains(where: { $0.key == validator }) {
            guard set.count < Validators.maxValidators else { throw RuntimeError("governance.too_many_validators", "at most \(Validators.maxValidators)") }
            set.append(s.validator); set.sort()
            ctx.write(Validators.setKey, CanonicalList(set))
        }
        ctx.delete(key(validator))
    }
}
