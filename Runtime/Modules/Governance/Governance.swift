public import MeridianCore

/// What a proposal does when it passes.
public enum GovernanceAction: Hashable, Sendable, Canonical {
    case addValidator(Validator)
    case removeValidator(PublicKey)
    /// A new organisation (hospital or regulator) with its first admin key.
    case addOrganization(Organization, admin: PublicKey)
    case removeOrganization(OrganizationID)
    /// A regulator officer key for a regulator organisation.
    case addRegulator(organization: OrganizationID, key: PublicKey)
    case setTransferRule(TransferRule)
    case removeTransferRule(String)
    /// Gives a validator suspended for equivocation its voting power back (`Suspensions`).
    case readmitValidator(PublicKey)
    /// Registers (or rotates the key of) a data-protection authority's witness of the audit log.
    case setWitness(WitnessRegistration)
    /// Retires an authority's witness.
    case removeWitness(OrganizationID)
    /// Schedules a software upgrade (`Upgrades`): at its height, nodes not running the release stop.
    case scheduleUpgrade(UpgradePlan)
    /// Cancels the pending upgrade of this name.
    case cancelUpgrade(String)

    /// Regulators may propose only changes to the transfer rules.
    public var isRuleChange: Bool {
        switch self { case .setTransferRule, .removeTransferRule: true; default: false }
    }

    /// The regulator organisation this action registers or retires the witness of, if any: an
    /// authority may propose its own witness; the validators vote.
    public var witnessOrganization: OrganizationID? {
        switch self { case .setWitness(let w): w.organization; case .removeWitness(let id): id; default: nil }
    }

    public func encode(to w: inout CanonicalWriter) {
        switch self {
        case .addValidator(let v): w.write(varint: 0); w.write(v)
        case .removeValidator(let k): w.write(varint: 1); w.write(k)
        case .addOrganization(let o, let a): w.write(varint: 2); w.write(o); w.write(a)
        case .removeOrganization(let id): w.write(varint: 3); w.write(id)
        case .addRegulator(let o, let k): w.write(varint: 4); w.write(o); w.write(k)
        case .setTransferRule(let r): w.write(varint: 5); w.write(r)
        case .removeTransferRule(let n): w.write(varint: 6); w.write(n)
        case .readmitValidator(let k): w.write(varint: 7); w.write(k)
        case .setWitness(let r): w.write(varint: 8); w.write(r)
        case .removeWitness(let id): w.write(varint: 9); w.write(id)
        case .scheduleUpgrade(let p): w.write(varint: 10); w.write(p)
        case .cancelUpgrade(let n): w.write(varint: 11); w.write(n)
        }
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        let at = r.offset
        switch try r.readVarint("governance.action") {
        case 0: self = .addValidator(try r.read(Validator.self))
        case 1: self = .removeValidator(try r.read(PublicKey.self))
        case 2: self = .addOrganization(try r.read(Organization.self), admin: try r.read(PublicKey.self))
        case 3: self = .removeOrganization(try r.read(OrganizationID.self))
        case 4: self = .addRegulator(organization: try r.read(OrganizationID.self), key: try r.read(PublicKey.self))
        case 5: self = .setTransferRule(try r.read(TransferRule.self))
        case 6: self = .removeTransferRule(try r.readString("rule.name", max: 64))
        case 7: self = .readmitValidator(try r.read(PublicKey.self))
        case 8: self = .setWitness(try r.read(WitnessRegistration.self))
        case 9: self = .removeWitness(try r.read(OrganizationID.self))
        case 10: self = .scheduleUpgrade(try r.read(UpgradePlan.self))
        case 11: self = .cancelUpgrade(try r.readString("upgrade.name", max: UpgradePlan.maxNameBytes))
        default: throw CodecError(.unknownVariant, field: "governance.action", offset: at)
        }
    }
}

public enum ProposalStatus: UInt8, CanonicalEnum {
    case open = 0, passed = 1, applied = 2, expired = 3, failed = 4
    public var name: String { ["open", "passed", "applied", "expired", "failed"][Int(rawValue)] }
}

/// A governance proposal and its tally.
public struct Proposal: Hashable, Sendable, Canonical {
    public let id: Bytes32
    public let proposer: PublicKey
    public let action: GovernanceAction
    public let createdHeight: UInt64
    public let deadlineHeight: UInt64
    public var status: ProposalStatus
    /// Validators that voted yes / no (sets).
    public var yes: [PublicKey]
    public var no: [PublicKey]
    /// When passed: the height at whose start the action takes effect.
    public var effectiveHeight: UInt64?
    public var failure: String?

    public func encode(to w: inout CanonicalWriter) {
        w.write(id); w.write(proposer); w.write(action); w.write(varint: createdHeight); w.write(varint: deadlineHeight)
        w.write(status); w.write(yes); w.write(no); w.write(effectiveHeight); w.write(failure)
    }
    public init(id: Bytes32, proposer: PublicKey, action: GovernanceAction, createdHeight: UInt64, deadlineHeight: UInt64) {
        self.id = id; self.proposer = proposer; self.action = action; self.createdHeight = createdHeight; self.deadlineHeight = deadlineHeight
        status = .open; yes = []; no = []; effectiveHeight = nil; failure = nil
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        id = try r.readBytes32("proposal.id"); proposer = try r.read(PublicKey.self); action = try r.read(GovernanceAction.self)
        createdHeight = try r.readVarint("proposal.created"); deadlineHeight = try r.readVarint("proposal.deadline")
        status = try r.read(ProposalStatus.self)
        yes = try r.readSortedSet(PublicKey.self, "proposal.yes", max: Validators.maxValidators)
        no = try r.readSortedSet(PublicKey.self, "proposal.no", max: Validators.maxValidators)
        effectiveHeight = try r.readOptional(UInt64.self, "proposal.effective_height")
        failure = try r.readOptional(String.self, "proposal.failure")
    }
}

/// Proposals and votes. Validators propose anything and vote with their power; regulators propose
/// rule changes. A proposal passes once yes-votes hold more than 2/3 of the current voting power,
/// and its action is applied at the start of block `passed + activationDelay`, on every node alike.
public enum Governance {
    static func proposalKey(_ id: Bytes32) -> StateKey { StateKey("governance/proposal").appending(id) }
    static func scheduleKey(_ height: UInt64) -> StateKey { StateKey("governance/schedule").appending(height) }
    public static let proposalsPrefix = StateKey("governance/proposal").bytes

    public static func proposal(_ id: Bytes32, in s: some StateReader) throws(RuntimeError) -> Proposal? {
        try s.read(Proposal.self, proposalKey(id))
    }

    public static func propose(_ action: GovernanceAction, _ ctx: ExecutionContext) throws(RuntimeError) -> Bytes32 {
        guard let m = try Identity.member(ctx.signer, in: ctx.view) else {
            throw RuntimeError("identity.not_a_member", "\(Address(ctx.signer)) is not a member of any organisation")
        }
        let isValidator = try Validators.current(in: ctx.view).contains { $0.key == ctx.signer }
        guard isValidator || (m.has(.regulator) && (action.isRuleChange || action.witnessOrganization == m.organization)) else {
            throw RuntimeError("governance.not_allowed", isValidator ? "" : "only validators propose this; regulators propose rule changes and their own authority's witness")
        }
        try precheck(action, ctx)
        let id = ctx.transactionHash
        let p = Proposal(id: id, proposer: ctx.signer, action: action, createdHeight: ctx.height,
                         deadlineHeight: ctx.height + ctx.parameters.governanceVotingPeriodBlocks)
        ctx.write(proposalKey(id), p)
        ctx.emit(.proposalChanged(proposal: id, status: .open, effectiveHeight: nil))
        return id
    }

    /// Refuses proposals that could never apply (bad rule, unknown organisation) before anyone votes.
    static func precheck(_ action: GovernanceAction, _ ctx: ExecutionContext) throws(RuntimeError) {
        switch action {
        case .setTransferRule(let rule): try rule.validate()
        case .addOrganization(let org, _):
            if try Identity.organization(org.id, in: ctx.view) != nil { throw RuntimeError("governance.organization_exists", "'\(org.id)' exists") }
        case .removeOrganization(let id), .addRegulator(let id, _):
            if try Identity.organization(id, in: ctx.view) == nil { throw RuntimeError("governance.unknown_organization", "no organisation '\(id)'") }
        case .addValidator(let v):
            guard v.power > 0, v.power <= Validators.maxPower else { throw RuntimeError("governance.bad_power", "power must be 1...\(Validators.maxPower)") }
        case .removeValidator, .removeTransferRule: break
        case .readmitValidator(let k):
            guard try Suspensions.suspension(of: k, in: ctx.view) != nil else { throw RuntimeError("governance.not_suspended", "\(Address(k)) is not suspended") }
        case .setWitness(let w): try Witnesses.check(w, in: ctx.view)
        case .removeWitness(let id):
            guard try Witnesses.all(in: ctx.view).contains(where: { $0.organization == id }) else { throw RuntimeError("witness.unknown", "'\(id)' has no registered witness") }
        case .scheduleUpgrade(let plan): try Upgrades.check(plan, ctx, applying: false)
        case .cancelUpgrade(let name):
            guard try Upgrades.pending(in: ctx.view)?.name == name else { throw RuntimeError("upgrade.unknown", "no pending upgrade named '\(name)'") }
        }
    }

    public struct Vote: Hashable, Sendable, Canonical {
        public let proposal: Bytes32
        public let approve: Bool
        public init(proposal: Bytes32, approve: Bool) { self.proposal = proposal; self.approve = approve }
        public func encode(to w: inout CanonicalWriter) { w.write(proposal); w.write(approve) }
        public init(from r: inout CanonicalReader) throws(CodecError) { proposal = try r.readBytes32("proposal"); approve = try r.readBool("approve") }
    }

    public static func vote(_ call: Vote, _ ctx: ExecutionContext) throws(RuntimeError) {
        let set = try Validators.current(in: ctx.view)
        guard set.contains(where: { $0.key == ctx.signer }) else { throw RuntimeError("governance.not_a_validator", "only validators vote") }
        guard var p = try proposal(call.proposal, in: ctx.view) else { throw RuntimeError("governance.unknown_proposal", "no proposal \(call.proposal)") }
        guard p.status == .open, ctx.height <= p.deadlineHeight else { throw RuntimeError("governance.closed", "proposal \(call.proposal) is \(p.status.name)") }
        guard !p.yes.contains(ctx.signer), !p.no.contains(ctx.signer) else { throw RuntimeError("governance.already_voted", "one vote per validator") }
        if call.approve { p.yes = (p.yes + [ctx.signer]).canonicalSet } else { p.no = (p.no + [ctx.signer]).canonicalSet }
        let total = set.reduce(UInt64(0)) { $0 + $1.power }
        let yesPower = set.filter { p.yes.contains($0.key) }.reduce(UInt64(0)) { $0 + $1.power }
        let noPower = set.filter { p.no.contains($0.key) }.reduce(UInt64(0)) { $0 + $1.power }
        if yesPower * 3 > total * 2 {
            let effective = ctx.height + max(1, ctx.parameters.governanceActivationDelayBlocks)
            p.status = .passed
            p.effectiveHeight = effective
            var scheduled = try ctx.read(CanonicalList<Bytes32>.self, scheduleKey(effective)) ?? CanonicalList()
            scheduled.items.append(p.id)
            ctx.write(scheduleKey(effective), scheduled)
        } else if noPower * 3 >= total {
            // More than 2/3 can no longer say yes.
            p.status = .failed
            p.failure = "rejected by votes"
        }
        ctx.write(proposalKey(p.id), p)
        ctx.emit(.governanceVote(proposal: p.id, voter: ctx.signer, approve: call.approve))
        if p.status != .open { ctx.emit(.proposalChanged(proposal: p.id, status: p.status, effectiveHeight: p.effectiveHeight)) }
    }

    /// Applies the actions scheduled for this height. Runs at the start of every block; an action
    /// that no longer applies (its organisation removed meanwhile) marks its proposal failed.
    public static func beginBlock(_ ctx: ExecutionContext) throws(RuntimeError) {
        guard let scheduled = try ctx.read(CanonicalList<Bytes32>.self, scheduleKey(ctx.height)) else { return }
        for id in scheduled.items {
            guard var p = try proposal(id, in: ctx.view) else { throw RuntimeError.corrupt("proposal \(id)") }
            do {
                try apply(p.action, ctx)
                ctx.view.commitTransaction()
                p.status = .applied
            } catch {
                ctx.view.rollbackTransaction()
                p.status = .failed
                p.failure = error.description
            }
            ctx.write(proposalKey(id), p)
            ctx.emit(.proposalChanged(proposal: id, status: p.status, effectiveHeight: p.effectiveHeight))
            ctx.view.commitTransaction()
        }
        ctx.delete(scheduleKey(ctx.height))
        ctx.view.commitTransaction()
    }

    static func apply(_ action: GovernanceAction, _ ctx: ExecutionContext) throws(RuntimeError) {
        switch action {
        case .addValidator(let v): try Validators.add(v, ctx)
        case .removeValidator(let k): try Validators.remove(k, ctx)
        case .addOrganization(let org, let admin):
            guard try Identity.organization(org.id, in: ctx.view) == nil else { throw RuntimeError("governance.organization_exists", "'\(org.id)' exists") }
            Identity.putOrganization(org, ctx)
            try Identity.putMember(Member(key: admin, organization: org.id, roles: org.kind == .regulator ? [.admin, .regulator] : [.admin]), ctx)
        case .removeOrganization(let id):
            guard try Identity.organization(id, in: ctx.view) != nil else { throw RuntimeError("governance.unknown_organization", "no organisation '\(id)'") }
            if try Validators.current(in: ctx.view).contains(where: { $0.organization == id }) {
                throw RuntimeError("governance.organization_has_validators", "remove '\(id)''s validators first")
            }
            if try Witnesses.all(in: ctx.view).contains(where: { $0.organization == id }) {
                throw RuntimeError("governance.organization_has_witness", "remove '\(id)''s witness first")
            }
            ctx.delete(Identity.orgKey(id))
        case .addRegulator(let orgID, let key):
            guard let org = try Identity.organization(orgID, in: ctx.view), org.kind == .regulator else {
                throw RuntimeError("governance.not_a_regulator_org", "'\(orgID)' is not a regulator")
            }
            try Identity.putMember(Member(key: key, organization: orgID, roles: [.regulator]), ctx)
        case .setTransferRule(let rule): try Jurisdictions.putRule(rule, ctx)
        case .removeTransferRule(let name): try Jurisdictions.removeRule(name, ctx)
        case .readmitValidator(let k): try Suspensions.readmit(k, ctx)
        case .setWitness(let w): try Witnesses.put(w, ctx)
        case .removeWitness(let id): try Witnesses.remove(id, ctx)
        case .scheduleUpgrade(let plan): try Upgrades.schedule(plan, ctx)
        case .cancelUpgrade(let name): try Upgrades.cancel(name, ctx)
        }
    }
}
