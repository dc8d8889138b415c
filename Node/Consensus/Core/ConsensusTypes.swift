public import MeridianCore

/// The two kinds of vote of the Tendermint algorithm.
public enum VoteKind: UInt8, Hashable, Sendable, Comparable {
    case prevote = 1, precommit = 2
    public static func < (a: VoteKind, b: VoteKind) -> Bool { a.rawValue < b.rawValue }
}

/// A vote as the consensus core sees it: already authenticated by the driver (its signature checked
/// against `validator`). `value` is a block hash, or nil for a vote for nil.
public struct Vote: Hashable, Sendable, CustomStringConvertible {
    public let kind: VoteKind
    public let height: UInt64
    public let round: UInt32
    public let value: Bytes32?
    public let validator: PublicKey

    public init(kind: VoteKind, height: UInt64, round: UInt32, value: Bytes32?, validator: PublicKey) {
        self.kind = kind; self.height = height; self.round = round; self.value = value; self.validator = validator
    }

    public var description: String {
        "\(kind == .prevote ? "prevote" : "precommit")(h\(height) r\(round) \(value.map { String($0.hex.prefix(8)) } ?? "nil") by \(validator.hex.prefix(8)))"
    }
}

/// A proposal ⟨PROPOSAL, h, r, v, vr⟩: the proposer of (height, round) proposes the block whose hash
/// is `value`; `validRound` is the round in which it saw that value get a prevote quorum (-1: none).
public struct Proposal: Hashable, Sendable {
    public let height: UInt64
    public let round: UInt32
    public let value: Bytes32
    public let validRound: Int32
    public let proposer: PublicKey

    public init(height: UInt64, round: UInt32, value: Bytes32, validRound: Int32, proposer: PublicKey) {
        self.height = height; self.round = round; self.value = value; self.validRound = validRound; self.proposer = proposer
    }
}

/// The validators of one height with their voting power, and who proposes in each round.
///
/// Quorums are by voting power: a quorum ("2f+1") is more than 2/3 of the total, "f+1" more than
/// 1/3. The proposer follows Tendermint's weighted round robin (proposer priority: every slot each
/// validator's priority grows by its power, the highest proposes and drops by the total power;
/// ties go to the lowest key). The sequence is a pure function of the set, indexed by
/// `height + round`, so every node computes the same proposer without shared history; over one
/// period of `totalPower` slots (powers divided by their gcd) each validator proposes exactly as
/// many times as its power.
public struct ValidatorSet: Hashable, Sendable {
    public struct Member: Hashable, Sendable {
        public let key: PublicKey
        public let power: UInt64
        public init(key: PublicKey, power: UInt64) { self.key = key; self.power = power }
    }

    /// Members sorted by key bytes.
    public let members: [Member]
    public let totalPower: UInt64
    private let index: [PublicKey: Int]
    private let proposerSlots: [Int]
    /// The longest proposer sequence kept (a larger period repeats its first slots).
    public static let maxProposerSlots = 1 << 16
    /// Validators at most (as the runtime's `Validators.maxValidators`).
    public static let maxMembers = 128

    /// A set of 1...128 validators with distinct keys and positive powers (nil otherwise).
    public init?(_ members: [Member]) {
        guard !members.isEmpty, members.count <= Self.maxMembers, members.allSatisfy({ $0.power > 0 && $0.power <= UInt64(1) << 48 }) else { return nil }
        let sorted = members.sorted { $0.key.bytes32.bytes.lexicographicallyPrecedes($1.key.bytes32.bytes) }
        var index: [PublicKey: Int] = [:]
        for (i, m) in sorted.enumerated() { guard index.updateValue(i, forKey: m.key) == nil else { return nil } }
        self.members = sorted
        self.index = index
        totalPower = sorted.reduce(0) { $0 + $1.power }
        // Proposer priority over one period of the gcd-reduced powers.
        func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 { b == 0 ? a : gcd(b, a % b) }
        let g = sorted.reduce(0) { gcd($0, $1.power) }
        let powers = sorted.map { Int64($0.power / g) }
        let period = Int(min(UInt64(Self.maxProposerSlots), totalPower / g))
        let total = powers.reduce(0, +)
        var priority = [Int64](repeating: 0, count: sorted.count)
        var slots: [Int] = []
        slots.reserveCapacity(period)
        for _ in 0..<period {
            for i in priority.indices { priority[i] += powers[i] }
            var best = 0
            for i in priority.indices where priority[i] > priority[best] { best = i }
            priority[best] -= total
            slots.append(best)
        }
        proposerSlots = slots
    }

    public func contains(_ key: PublicKey) -> Bool { index[key] != nil }
    public func power(of key: PublicKey) -> UInt64 { index[key].map { members[$0].power } ?? 0 }

    public func proposer(height: UInt64, round: UInt32) -> PublicKey {
        let slot = (height &+ UInt64(round)) % UInt64(proposerSlots.count)
        return members[proposerSlots[Int(slot)]].key
    }

    /// More than 2/3 of the voting power.
    public func isQuorum(_ power: UInt64) -> Bool { power * 3 > totalPower * 2 }
    /// More than 1/3 of the voting power (at least one honest validator when f < n/3).
    public func exceedsOneThird(_ power: UInt64) -> Bool { power * 3 > totalPower }
}

/// Round timeouts that grow with the round, so that a round eventually lasts long enough for a
/// partially synchronous network (the paper's timeoutX(r) = base + r · delta).
public struct ConsensusTimeouts: Hashable, Sendable, Codable {
    public var proposeMilliseconds: UInt64 = 3000
    public var proposeDeltaMilliseconds: UInt64 = 500
    public var prevoteMilliseconds: UInt64 = 1000
    public var prevoteDeltaMilliseconds: UInt64 = 500
    public var precommitMilliseconds: UInt64 = 1000
    public var precommitDeltaMilliseconds: UInt64 = 500
    public init() {}

    enum CodingKeys: String, CodingKey {
        case proposeMilliseconds, proposeDeltaMilliseconds, prevoteMilliseconds, prevoteDeltaMilliseconds, precommitMilliseconds, precommitDeltaMilliseconds
    }

    /// Missing keys take the defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ConsensusTimeouts()
        proposeMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .proposeMilliseconds) ?? d.proposeMilliseconds
        proposeDeltaMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .proposeDeltaMilliseconds) ?? d.proposeDeltaMilliseconds
        prevoteMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .prevoteMilliseconds) ?? d.prevoteMilliseconds
        prevoteDeltaMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .prevoteDeltaMilliseconds) ?? d.prevoteDeltaMilliseconds
        precommitMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .precommitMilliseconds) ?? d.precommitMilliseconds
        precommitDeltaMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .precommitDeltaMilliseconds) ?? d.precommitDeltaMilliseconds
    }

    public func milliseconds(_ step: TimeoutStep, round: UInt32) -> UInt64 {
        let r = UInt64(min(round, 10_000))
        switch step {
        case .propose: return proposeMilliseconds + r * proposeDeltaMilliseconds
        case .prevote: return prevoteMilliseconds + r * prevoteDeltaMilliseconds
        case .precommit: return precommitMilliseconds + r * precommitDeltaMilliseconds
        }
    }
}

public enum TimeoutStep: UInt8, Hashable, Sendable { case propose, prevote, precommit }

/// A timeout the driver must deliver back as `.timeout` after its duration.
public struct Timeout: Hashable, Sendable {
    public let step: TimeoutStep
    public let height: UInt64
    public let round: UInt32
    public init(step: TimeoutStep, height: UInt64, round: UInt32) { self.step = step; self.height = height; self.round = round }
}
