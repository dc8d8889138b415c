public import MeridianCore

/// The Tendermint consensus algorithm of "The latest gossip on BFT consensus" (Buchman, Kwon,
/// Milosevic, arXiv 1807.04938, Algorithm 1) as a pure state machine: `handle(event)` returns the
/// effects the driver must perform. No clock, socket, disk or signature lives here: the driver
/// authenticates messages before they arrive, re-executes proposed blocks to say whether they are
/// valid, signs and sends the votes and proposals it is told to (after its WAL and signing guard),
/// runs the timers, and commits decided blocks. Seeded simulation drives many cores in one process.
///
/// The rules are the paper's, line numbers in the comments; "2f+1" is more than 2/3 of the voting
/// power and "f+1" more than 1/3 (`ValidatorSet`). Values are block hashes.
///
/// Bounds: messages are kept for the current height only, for rounds up to `maxRoundsAhead` past
/// the current one, one vote per validator, kind and round (a second, different one is
/// equivocation: reported as evidence, not counted) and one proposal per round.
public struct TendermintCore: Sendable {
    public enum Step: UInt8, Sendable, Comparable {
        case propose, prevote, precommit, decided
        public static func < (a: Step, b: Step) -> Bool { a.rawValue < b.rawValue }
    }

    public enum Event: Sendable {
        /// Begin `height` at round 0 with its validator set (after the previous height was committed).
        case start(height: UInt64, validators: ValidatorSet)
        /// A proposal from the network (or this node's own), with the driver's verdict on the block.
        case proposal(Proposal, valid: Bool)
        case vote(Vote)
        case timeout(Timeout)
        /// The block the driver built after `.buildProposal`.
        case proposalBuilt(height: UInt64, round: UInt32, value: Bytes32)
    }

    public enum Effect: Sendable, Equatable {
        /// Build a block for (height, round) and answer with `.proposalBuilt`.
        case buildProposal(height: UInt64, round: UInt32)
        case broadcastProposal(Proposal)
        /// Sign (through the signing guard, after the WAL) and send; the core has counted it already.
        case broadcastVote(Vote)
        case scheduleTimeout(Timeout, milliseconds: UInt64)
        /// The value is decided: `precommits` are the quorum for it (the commit certificate).
        case decide(height: UInt64, round: UInt32, value: Bytes32, precommits: [Vote])
        /// Two different votes of one validator for one (height, round, kind).
        case evidence(Vote, Vote)
        /// The core no longer holds this conflicting vote (an equivocator's, beyond the cap, evicted
        /// for one whose value more validators back): a gossip layer may offer it again later.
        case forget(Vote)
    }

    /// What the core would do with a vote: nothing (`ignore`: not for this height, a duplicate, or
    /// an equivocator's beyond the cap whose value is backed no better than those kept), hold it as
    /// the validator's first vote, or as one of its conflicting votes (`replacing` the kept one
    /// whose value others back least, when the cap is reached).
    public enum VoteAdmission: Equatable, Sendable {
        case ignore, first, conflicting, replacing(Vote)
    }

    public static let maxRoundsAhead: UInt32 = 64

    /// True while the core waits for `.proposalBuilt` (a driver replaying its WAL asks again only
    /// if the WAL holds no built proposal for this round).
    public var isAwaitingProposal: Bool { awaitingBuild }

    public let me: PublicKey
    public let timeouts: ConsensusTimeouts
    public private(set) var height: UInt64 = 0
    public private(set) var round: UInt32 = 0
    public private(set) var step: Step = .decided
    public private(set) var validators: ValidatorSet?
    public private(set) var lockedValue: Bytes32?
    public private(set) var lockedRound: Int32 = -1
    public private(set) var validValue: Bytes32?
    public private(set) var validRound: Int32 = -1

    /// Per round: the proposer's proposal and whether its block is valid.
    private var proposals: [UInt32: (proposal: Proposal, valid: Bool)] = [:]
    /// Per round and kind: each validator's first vote.
    private var votes: [UInt32: [VoteKind: [PublicKey: Vote]]] = [:]
    /// Per round and kind: a validator's further, conflicting votes. They count toward their own
    /// value, as the paper counts messages: two quorums still intersect in an honest validator, who
    /// never votes twice, so safety holds, and a validator that saw an equivocator's other vote first
    /// can still recognise a quorum (a proof of lock) that includes it. At most
    /// `maxConflictingVotes` per validator and slot.
    private var conflicting: [UInt32: [VoteKind: [PublicKey: [Vote]]]] = [:]
    public static let maxConflictingVotes = 8
    /// Per round: validators heard from (any message), for the round skip of line 55.
    private var senders: [UInt32: Set<PublicKey>] = [:]
    /// "For the first time" guards of lines 34, 36 and 47.
    private var prevoteTimeoutScheduled: Set<UInt32> = []
    private var precommitTimeoutScheduled: Set<UInt32> = []
    private var lockedOrValidUpdated: Set<UInt32> = []
    private var awaitingBuild = false

    public init(me: PublicKey, timeouts: ConsensusTimeouts = ConsensusTimeouts()) {
        self.me = me; self.timeouts = timeouts
    }

    /// Every vote of one kind held for `round` of the current height, conflicting ones included
    /// (what a gossip layer relays, e.g. the prevote quorum that justifies a lock).
    public func votes(_ kind: VoteKind, round r: UInt32) -> [Vote] {
        let first = (votes[r]?[kind] ?? [:]).values
        let extra = (conflicting[r]?[kind] ?? [:]).values.joined()
        return (Array(first) + extra).sorted { ($0.validator.hex, $0.value?.hex ?? "") < ($1.validator.hex, $1.value?.hex ?? "") }
    }

    /// The votes of one kind for (round, value) in the current height, one per validator.
    public func votes(_ kind: VoteKind, round r: UInt32, value: Bytes32?) -> [Vote] {
        let extra = conflicting[r]?[kind] ?? [:]
        return (votes[r]?[kind] ?? [:]).values.compactMap { v in
            v.value == value ? v : extra[v.validator]?.first { $0.value == value }
        }.sorted { $0.validator.hex < $1.validator.hex }
    }

    public mutating func handle(_ event: Event) -> [Effect] {
        var out: [Effect] = []
        switch event {
        case .start(let h, let set):
            height = h; validators = set
            lockedValue = nil; lockedRound = -1; validValue = nil; validRound = -1
            proposals = [:]; votes = [:]; conflicting = [:]; senders = [:]
            prevoteTimeoutScheduled = []; precommitTimeoutScheduled = []; lockedOrValidUpdated = []
            startRound(0, &out)
        case .proposal(let p, let valid):
            guard step != .decided, let set = validators, p.height == height, p.round <= round + Self.maxRoundsAhead,
                  p.validRound >= -1, p.validRound < Int32(clamping: p.round),
                  set.proposer(height: p.height, round: p.round) == p.proposer, proposals[p.round] == nil else { return [] }
            proposals[p.round] = (p, valid)
            senders[p.round, default: []].insert(p.proposer)
        case .vote(let v):
            guard step != .decided, let set = validators, v.height == height, v.round <= round + Self.maxRoundsAhead,
                  set.contains(v.validator) else { return [] }
            if let existing = votes[v.round]?[v.kind]?[v.validator] {
                // Kept whether or not a proposal for its value is known yet (one dropped here could
                // complete a proof of lock later). Beyond the cap, a vote whose value others back more
                // than the least-backed kept one replaces it (`forget`), so an equivocator's spray of
                // values cannot crowd out the one vote an honest quorum needs (make sim, n=7 seed
                // 1431: a height stalled for good on it); the driver feeds a vote the core ignores
                // again when it comes again.
                let admission = admission(of: v)
                guard admission != .ignore else { return [] }
                var others = conflicting[v.round]?[v.kind]?[v.validator] ?? []
                if others.isEmpty { out.append(.evidence(existing, v)) }
                if case .replacing(let weakest) = admission {
                    others.removeAll { $0 == weakest }
                    out.append(.forget(weakest))
                }
                others.append(v)
                conflicting[v.round, default: [:]][v.kind, default: [:]][v.validator] = others
                evaluate(&out)
                return out
            }
            votes[v.round, default: [:]][v.kind, default: [:]][v.validator] = v
            senders[v.round, default: []].insert(v.validator)
        case .timeout(let t):
            guard step != .decided, t.height == height, t.round == round else { return [] }
            switch t.step {
            case .propose where step == .propose:             // line 57
                castVote(.prevote, nil, &out); step = .prevote
            case .prevote where step == .prevote:             // line 61
                castVote(.precommit, nil, &out); step = .precommit
            case .precommit:                                  // line 65
                startRound(round + 1, &out)
            default: break
            }
        case .proposalBuilt(let h, let r, let value):
            guard awaitingBuild, h == height, r == round, step == .propose else { return [] }
            awaitingBuild = false
            let p = Proposal(height: h, round: r, value: value, validRound: -1, proposer: me)
            out.append(.broadcastProposal(p))
            if proposals[r] == nil { proposals[r] = (p, true); senders[r, default: []].insert(me) }
        }
        evaluate(&out)
        return out
    }

    /// The ordering the algorithm keeps between its round variables: a lock and a valid value are
    /// set together in the prevote step (line 36) and the valid value alone after it, so
    /// -1 ≤ lockedRound ≤ validRound ≤ round, and a value is held exactly when its round is set.
    public func checkInvariants() throws(InvariantViolation) {
        try invariant(lockedRound >= -1 && lockedRound <= validRound && validRound <= Int32(clamping: round),
                      "consensus.round_order", "lockedRound \(lockedRound) validRound \(validRound) round \(round) at height \(height)")
        try invariant((lockedRound >= 0) == (lockedValue != nil) && (validRound >= 0) == (validValue != nil),
                      "consensus.value_with_round", "lockedRound \(lockedRound) lockedValue \(lockedValue?.hex ?? "nil") validRound \(validRound) validValue \(validValue?.hex ?? "nil")")
    }

    // MARK: The rules

    private mutating func startRound(_ r: UInt32, _ out: inout [Effect]) {       // line 11
        guard let set = validators else { return }
        round = r; step = .propose; awaitingBuild = false
        if set.proposer(height: height, round: r) == me {
            if let v = validValue {
                let p = Proposal(height: height, round: r, value: v, validRound: validRound, proposer: me)
                out.append(.broadcastProposal(p))
                if proposals[r] == nil { proposals[r] = (p, true); senders[r, default: []].insert(me) }
            } else {
                awaitingBuild = true
                out.append(.buildProposal(height: height, round: r))
            }
        } else {
            out.append(.scheduleTimeout(Timeout(step: .propose, height: height, round: r), milliseconds: timeouts.milliseconds(.propose, round: r)))
        }
    }

    /// Casts this node's vote (a node outside the validator set follows the rules but never votes).
    private mutating func castVote(_ kind: VoteKind, _ value: Bytes32?, _ out: inout [Effect]) {
        guard validators?.contains(me) == true, votes[round]?[kind]?[me] == nil else { return }
        let v = Vote(kind: kind, height: height, round: round, value: value, validator: me)
        out.append(.broadcastVote(v))
        votes[round, default: [:]][kind, default: [:]][me] = v
        senders[round, default: []].insert(me)
    }

    /// What `handle(.vote(v))` would do with `v` (pure: the driver asks before it journals a vote).
    public func admission(of v: Vote) -> VoteAdmission {
        guard step != .decided, let set = validators, v.height == height, v.round <= round + Self.maxRoundsAhead,
              set.contains(v.validator) else { return .ignore }
        guard let existing = votes[v.round]?[v.kind]?[v.validator] else { return .first }
        let others = conflicting[v.round]?[v.kind]?[v.validator] ?? []
        guard existing != v, !others.contains(v) else { return .ignore }
        guard others.count >= Self.maxConflictingVotes else { return .conflicting }
        // Backing by the others: the power of the validators besides this one voting the value.
        let mine = set.power(of: v.validator)
        func backing(_ vote: Vote) -> UInt64 {
            let p = power(vote.kind, vote.round, value: vote.value)
            return vote == v ? p : p - min(p, mine)
        }
        let order = { (a: Vote, b: Vote) in (backing(a), a.value?.hex ?? "") < (backing(b), b.value?.hex ?? "") }
        guard let weakest = others.min(by: order), backing(weakest) < backing(v) else { return .ignore }
        return .replacing(weakest)
    }

    /// The power of the validators with a vote (first or conflicting) of `kind` for `value` in round `r`.
    private func power(_ kind: VoteKind, _ r: UInt32, value: Bytes32?) -> UInt64 {
        guard let set = validators else { return 0 }
        let extra = conflicting[r]?[kind] ?? [:]
        return (votes[r]?[kind] ?? [:]).values.reduce(0) { total, v in
            v.value == value || (extra[v.validator]?.contains { $0.value == value } ?? false) ? total + set.power(of: v.validator) : total
        }
    }

    private func anyPower(_ kind: VoteKind, _ r: UInt32) -> UInt64 {
        guard let set = validators else { return 0 }
        return (votes[r]?[kind] ?? [:]).keys.reduce(0) { $0 + set.power(of: $1) }
    }

    /// Applies every rule whose condition holds until none does (one event can enable several).
    private mutating func evaluate(_ out: inout [Effect]) {
        guard let set = validators else { return }
        var changed = true
        while changed && step != .decided {
            changed = false
            let current = proposals[round]

            // Line 22: a fresh proposal in the propose step.
            if step == .propose, let (p, valid) = current, p.validRound == -1 {
                castVote(.prevote, valid && (lockedRound == -1 || lockedValue == p.value) ? p.value : nil, &out)
                step = .prevote; changed = true; continue
            }
            // Line 28: a re-proposal with a prevote quorum from its valid round.
            if step == .propose, let (p, valid) = current, p.validRound >= 0, UInt32(p.validRound) < round,
               set.isQuorum(power(.prevote, UInt32(p.validRound), value: p.value)) {
                castVote(.prevote, valid && (lockedRound <= p.validRound || lockedValue == p.value) ? p.value : nil, &out)
                step = .prevote; changed = true; continue
            }
            // Line 34: any prevote quorum starts the prevote timeout.
            if step == .prevote, !prevoteTimeoutScheduled.contains(round), set.isQuorum(anyPower(.prevote, round)) {
                prevoteTimeoutScheduled.insert(round)
                out.append(.scheduleTimeout(Timeout(step: .prevote, height: height, round: round), milliseconds: timeouts.milliseconds(.prevote, round: round)))
                changed = true
            }
            // Line 36: a valid proposal with a prevote quorum locks (in prevote) and becomes the valid value.
            if step >= .prevote, !lockedOrValidUpdated.contains(round), let (p, valid) = current, valid,
               set.isQuorum(power(.prevote, round, value: p.value)) {
                lockedOrValidUpdated.insert(round)
                if step == .prevote {
                    lockedValue = p.value; lockedRound = Int32(round)
                    castVote(.precommit, p.value, &out)
                    step = .precommit
                }
                validValue = p.value; validRound = Int32(round)
                changed = true; continue
            }
            // Line 44: a prevote quorum for nil.
            if step == .prevote, set.isQuorum(power(.prevote, round, value: nil)) {
                castVote(.precommit, nil, &out)
                step = .precommit; changed = true; continue
            }
            // Line 47: any precommit quorum starts the precommit timeout.
            if !precommitTimeoutScheduled.contains(round), set.isQuorum(anyPower(.precommit, round)) {
                precommitTimeoutScheduled.insert(round)
                out.append(.scheduleTimeout(Timeout(step: .precommit, height: height, round: round), milliseconds: timeouts.milliseconds(.precommit, round: round)))
                changed = true
            }
            // Line 49: a precommit quorum for a proposal of any round decides it.
            for (r, entry) in proposals.sorted(by: { $0.key < $1.key }) where entry.valid {
                if set.isQuorum(power(.precommit, r, value: entry.proposal.value)) {
                    step = .decided
                    out.append(.decide(height: height, round: r, value: entry.proposal.value, precommits: votes(.precommit, round: r, value: entry.proposal.value)))
                    return
                }
            }
            // Line 55: f+1 of the power is already in a later round: join the latest such round.
            if let r = senders.keys.filter({ $0 > round }).sorted(by: >).first(where: { r in
                set.exceedsOneThird(senders[r]!.reduce(0) { $0 + set.power(of: $1) })
            }) {
                startRound(r, &out)
                changed = true
            }
        }
    }
}
