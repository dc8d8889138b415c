// Deterministic simulation of Tendermint validators (the FoundationDB / TigerBeetle way): many
// consensus cores in one process, one seeded random generator, a virtual clock, and a network that
// delays, loses, duplicates and reorders messages and partitions nodes; validators crash and restart
// from what they persisted; up to f validators are Byzantine. The same seed replays the same run.
//
// Messages are authenticated by construction (the simulated network tells the true sender, and a
// vote in a certificate counts only if that validator really emitted it): signatures are the real
// driver's job and tested there, and leaving them out lets thousands of seeds run in CI.
import MeridianCore
public import MeridianConsensus
import HeapModule

/// SplitMix64: small, fast, and the same sequence on every machine.
public struct SimulationRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func chance(_ p: Double) -> Bool { p > 0 && Double(next() >> 11) / Double(1 << 53) < p }
}

/// What a Byzantine validator does.
public enum ByzantineBehaviour: String, CaseIterable, Sendable {
    /// Sends nothing at all.
    case silent
    /// As proposer, sends one block to half the validators and another to the rest.
    case equivocatingProposer
    /// Every vote it casts goes to half the validators; the other half get a conflicting vote.
    case doubleVoter
    /// Proposes invalid blocks and prevotes and precommits every proposal it sees, invalid ones too.
    case invalidBlocks
    /// Random votes for random values and rounds, forged certificates in answer to catch-up requests.
    case chaos
}

/// One run's shape, drawn from the seed (or given).
public struct SimulationConfig: Sendable, CustomStringConvertible {
    public var validators: Int
    public var byzantine: [ByzantineBehaviour]
    public var lossProbability: Double
    public var duplicateProbability: Double
    public var maxDelayMilliseconds: UInt64
    /// Partitions: (start, end, nodes cut off as one side).
    public var partitions: [(start: UInt64, end: UInt64, side: Set<Int>)]
    /// Crashes of honest validators: (node, crash time, restart time).
    public var crashes: [(node: Int, at: UInt64, restart: UInt64)]
    /// Heights every honest validator must reach after the last fault heals.
    public var heightsAfterHeal: UInt64 = 3
    public var timeouts: ConsensusTimeouts

    /// The largest number of faulty validators (equal powers): f < n/3.
    public var maxFaulty: Int { (validators - 1) / 3 }
    /// When every partition has healed and every crashed validator is back.
    public var healTime: UInt64 { max(partitions.map(\.end).max() ?? 0, crashes.map(\.restart).max() ?? 0) }

    public var description: String {
        "n=\(validators) byzantine=\(byzantine.map(\.rawValue)) loss=\(Int(lossProbability * 100))% dup=\(Int(duplicateProbability * 100))% "
            + "delay≤\(maxDelayMilliseconds)ms partitions=\(partitions.map { "\($0.side.sorted())@\($0.start)-\($0.end)" }) "
            + "crashes=\(crashes.map { "\($0.node)@\($0.at)-\($0.restart)" })"
    }

    /// A hostile configuration drawn from `seed`: 4, 7 or 10 validators, up to f Byzantine, loss,
    /// duplication, delays, up to two partitions and two crash-restarts of honest validators.
    public static func random(seed: UInt64) -> SimulationConfig {
        var rng = SimulationRandom(seed: seed ^ 0x5EED_C0F1_6000_0000)
        let n = [4, 7, 10][Int(rng.next() % 3)]
        let f = (n - 1) / 3
        let b = Int(rng.next() % UInt64(f + 1))
        let behaviours = (0..<b).map { _ in ByzantineBehaviour.allCases[Int(rng.next() % UInt64(ByzantineBehaviour.allCases.count))] }
        var timeouts = ConsensusTimeouts()
        timeouts.proposeMilliseconds = 400; timeouts.proposeDeltaMilliseconds = 100
        timeouts.prevoteMilliseconds = 200; timeouts.prevoteDeltaMilliseconds = 50
        timeouts.precommitMilliseconds = 200; timeouts.precommitDeltaMilliseconds = 50
        var config = SimulationConfig(validators: n, byzantine: behaviours, lossProbability: Double(rng.next() % 21) / 100,
                                      duplicateProbability: Double(rng.next() % 11) / 100, maxDelayMilliseconds: 5 + rng.next() % 196,
                                      partitions: [], crashes: [], timeouts: timeouts)
        let honest = Array(b..<n)   // nodes 0..<b are the Byzantine ones
        for _ in 0..<Int(rng.next() % 3) {
            let start = 500 + rng.next() % 8000, length = 500 + rng.next() % 6000
            let size = 1 + Int(rng.next() % UInt64(n / 2))
            var side: Set<Int> = []
            while side.count < size { side.insert(Int(rng.next() % UInt64(n))) }
            config.partitions.append((start, start + length, side))
        }
        for _ in 0..<Int(rng.next() % 3) where !honest.isEmpty {
            let node = honest[Int(rng.next() % UInt64(honest.count))]
            let at = 300 + rng.next() % 8000
            config.crashes.append((node, at, at + 200 + rng.next() % 4000))
        }
        return config
    }
}

/// What a run found. `violations` is empty when agreement, validity, liveness and the signing
/// guard all held.
public struct SimulationOutcome: Sendable {
    public let seed: UInt64
    public let config: String
    public let violations: [String]
    public let heights: [UInt64]
    public let virtualMilliseconds: UInt64
    public let messagesDelivered: Int
    public let evidence: Int
    public let maxRound: UInt32
}

/// A block of the simulation: an id and whether re-executing it succeeds.
struct SimBlock: Hashable, Sendable { let id: Bytes32; let valid: Bool }

enum Message: Sendable {
    case proposal(Proposal, SimBlock)
    case vote(Vote)
    case syncRequest(height: UInt64)
    case syncResponse(height: UInt64, block: SimBlock, precommits: [Vote])

    var height: UInt64? {
        switch self {
        case .proposal(let p, _): p.height
        case .vote(let v): v.height
        case .syncRequest, .syncResponse: nil
        }
    }
}

/// What a validator keeps across a crash: its decided chain, blocks, the WAL of the current height
/// and the signing guard.
struct Persisted {
    var decided: [UInt64: (block: SimBlock, round: UInt32, precommits: [Vote])] = [:]
    var blocks: [Bytes32: SimBlock] = [:]
    var wal: [TendermintCore.Event] = []
    var signed: [VoteSlot: Vote] = [:]
    var nextHeight: UInt64 { (decided.keys.max() ?? 0) + 1 }
}

struct VoteSlot: Hashable { let height: UInt64; let round: UInt32; let kind: VoteKind }

struct SimNode {
    let index: Int
    let key: PublicKey
    let byzantine: ByzantineBehaviour?
    var core: TendermintCore
    var disk = Persisted()
    var up = true
    /// Messages for later heights, replayed when that height starts (bounded).
    var future: [(from: Int, message: Message)] = []
    var replaying = false
    var guardRefusals = 0
    var lastSyncRequest: UInt64?
    var evidence: Set<[Vote]> = []
    static let maxFuture = 4096
}

/// One simulated network of validators, run to completion by `run()`.
public final class Simulation {
    enum Action {
        case deliver(to: Int, from: Int, Message)
        case timeout(node: Int, Timeout, incarnation: Int)
        case gossip(node: Int)
        case crash(node: Int)
        case restart(node: Int)
    }

    struct Scheduled: Comparable {
        let time: UInt64
        let sequence: UInt64
        let action: Action
        static func < (a: Scheduled, b: Scheduled) -> Bool { (a.time, a.sequence) < (b.time, b.sequence) }
        static func == (a: Scheduled, b: Scheduled) -> Bool { a.time == b.time && a.sequence == b.sequence }
    }

    public let seed: UInt64
    public let config: SimulationConfig
    var rng: SimulationRandom
    var now: UInt64 = 0
    var sequence: UInt64 = 0
    var queue = Heap<Scheduled>()
    var nodes: [SimNode] = []
    var incarnation: [Int] = []
    let set: ValidatorSet
    /// Every vote any validator really emitted (what a signature would prove).
    var emitted: Set<Vote> = []
    /// Every block ever built, with its validity.
    var allBlocks: [Bytes32: SimBlock] = [:]
    var delivered = 0
    var blockCounter: UInt64 = 0
    /// The first block an honest validator finalised at each height, and who.
    var finalised: [UInt64: (id: Bytes32, node: Int)] = [:]
    var agreementViolation: String?
    static let gossipMilliseconds: UInt64 = 250
    static let maxVirtualMilliseconds: UInt64 = 600_000

    static let keys: [PublicKey] = (0..<10).map { i in
        (try! PrivateKey(secret: SHA256.hash(Array("meridian-sim/validator/\(i)".utf8)))).publicKey
    }

    public init(seed: UInt64, config: SimulationConfig? = nil) {
        self.seed = seed
        self.config = config ?? SimulationConfig.random(seed: seed)
        rng = SimulationRandom(seed: seed)
        let n = self.config.validators
        set = ValidatorSet((0..<n).map { ValidatorSet.Member(key: Self.keys[$0], power: 10) })!
        for i in 0..<n {
            let behaviour = i < self.config.byzantine.count ? self.config.byzantine[i] : nil
            nodes.append(SimNode(index: i, key: Self.keys[i], byzantine: behaviour, core: TendermintCore(me: Self.keys[i], timeouts: self.config.timeouts)))
        }
        incarnation = Array(repeating: 0, count: n)
    }

    func schedule(after delay: UInt64, _ action: Action) {
        sequence += 1
        queue.insert(Scheduled(time: now + delay, sequence: sequence, action: action))
    }

    func partitioned(_ a: Int, _ b: Int) -> Bool {
        config.partitions.contains { now >= $0.start && now < $0.end && ($0.side.contains(a) != $0.side.contains(b)) }
    }

    /// Sends over the hostile network: loss, delay (hence reordering), duplication, partitions.
    func send(from: Int, to: Int, _ message: Message) {
        guard from != to else { return }
        if partitioned(from, to) || rng.chance(config.lossProbability) { return }
        schedule(after: 1 + rng.next() % config.maxDelayMilliseconds, .deliver(to: to, from: from, message))
        if rng.chance(config.duplicateProbability) {
            schedule(after: 1 + rng.next() % config.maxDelayMilliseconds, .deliver(to: to, from: from, message))
        }
    }

    func broadcast(from: Int, _ message: Message) { for j in nodes.indices { send(from: from, to: j, message) } }

    // MARK: Running

    public func run() -> SimulationOutcome {
        for i in nodes.indices {
            start(i, height: 1)
            schedule(after: rng.next() % Self.gossipMilliseconds, .gossip(node: i))
        }
        for c in config.crashes {
            sequence += 1; queue.insert(Scheduled(time: c.at, sequence: sequence, action: .crash(node: c.node)))
            sequence += 1; queue.insert(Scheduled(time: c.restart, sequence: sequence, action: .restart(node: c.node)))
        }
        var heightAtHeal: UInt64?
        var violations: [String] = []
        while let next = queue.popMin() {
            now = next.time
            if heightAtHeal == nil && now >= config.healTime { heightAtHeal = honestHeights().max() ?? 0 }
            if let h = heightAtHeal, honestHeights().allSatisfy({ $0 >= h + config.heightsAfterHeal }) { break }
            if now > Self.maxVirtualMilliseconds { break }
            perform(next.action)
            if let v = agreementViolation { violations.append(v); break }
        }
        violations += finalChecks(heightAtHeal: heightAtHeal ?? 0)
        return SimulationOutcome(seed: seed, config: config.description, violations: violations, heights: honestHeights(),
                                 virtualMilliseconds: now, messagesDelivered: delivered,
                                 evidence: nodes.filter { $0.byzantine == nil }.reduce(0) { $0 + $1.evidence.count },
                                 maxRound: nodes.map(\.core.round).max() ?? 0)
    }

    /// Each validator's consensus state, for replaying a failing seed.
    public func summaries() -> [String] {
        nodes.map { n in
            let c = n.core
            let pv = c.votes(.prevote, round: c.round).count
            let pc = c.votes(.precommit, round: c.round).count
            return "node \(n.index)\(n.byzantine.map { " [\($0.rawValue)]" } ?? "")\(n.up ? "" : " DOWN"): decided \(n.disk.nextHeight - 1), core h\(c.height) r\(c.round) \(c.step), "
                + "locked r\(c.lockedRound) \(c.lockedValue.map { String($0.hex.prefix(6)) } ?? "-"), valid r\(c.validRound) \(c.validValue.map { String($0.hex.prefix(6)) } ?? "-"), "
                + "prevotes \(pv) precommits \(pc) this round, proposer \(nodes.firstIndex { $0.key == set.proposer(height: c.height, round: c.round) } ?? -1), future \(n.future.count)"
        }
    }

    func honestHeights() -> [UInt64] { nodes.filter { $0.byzantine == nil }.map { $0.disk.nextHeight - 1 } }

    func perform(_ action: Action) {
        switch action {
        case .deliver(let to, let from, let message):
            guard nodes[to].up else { return }
            delivered += 1
            receive(to, from: from, message)
        case .timeout(let i, let t, let inc):
            guard nodes[i].up, inc == incarnation[i] else { return }
            feed(i, .timeout(t))
        case .gossip(let i):
            if nodes[i].up { gossip(i) }
            schedule(after: Self.gossipMilliseconds, .gossip(node: i))
        case .crash(let i):
            nodes[i].up = false
            incarnation[i] += 1
            // Everything in memory is lost; what was persisted stays.
            nodes[i].core = TendermintCore(me: nodes[i].key, timeouts: config.timeouts)
            nodes[i].future = []
        case .restart(let i):
            nodes[i].up = true
            recover(i)
        }
    }

    // MARK: A validator's driver

    func start(_ i: Int, height: UInt64) {
        nodes[i].disk.wal = []
        feed(i, .start(height: height, validators: set))
        let pending = nodes[i].future
        nodes[i].future = []
        for (from, m) in pending { receive(i, from: from, m) }
    }

    /// Restart: a fresh core, the WAL of the current height replayed into it (votes the guard already
    /// signed are signed again identically, anything else different would be refused).
    func recover(_ i: Int) {
        let height = nodes[i].disk.nextHeight
        let wal = nodes[i].disk.wal
        nodes[i].replaying = true
        nodes[i].disk.wal = []
        feed(i, .start(height: height, validators: set))
        for e in wal where !isStart(e) { feed(i, e) }
        nodes[i].replaying = false
        if nodes[i].core.isAwaitingProposal { perform(effect: .buildProposal(height: nodes[i].core.height, round: nodes[i].core.round), node: i) }
    }

    func isStart(_ e: TendermintCore.Event) -> Bool { if case .start = e { return true } else { return false } }

    /// The driver's one entry: persist the event (WAL, before any effect leaves), run the core,
    /// perform the effects.
    func feed(_ i: Int, _ event: TendermintCore.Event) {
        nodes[i].disk.wal.append(event)
        let effects = nodes[i].core.handle(event)
        for e in effects { perform(effect: e, node: i) }
    }

    func perform(effect: TendermintCore.Effect, node i: Int) {
        let behaviour = nodes[i].byzantine
        if behaviour == .silent { return }
        switch effect {
        case .buildProposal(let h, let r):
            if nodes[i].replaying { return }
            blockCounter += 1
            let valid = behaviour != .invalidBlocks
            let block = SimBlock(id: SHA256.hash(Array("block/\(seed)/\(h)/\(r)/\(i)/\(blockCounter)".utf8)), valid: valid)
            allBlocks[block.id] = block
            nodes[i].disk.blocks[block.id] = block
            feed(i, .proposalBuilt(height: h, round: r, value: block.id))
        case .broadcastProposal(let p):
            guard let block = nodes[i].disk.blocks[p.value] else { return }
            if behaviour == .equivocatingProposer {
                blockCounter += 1
                let other = SimBlock(id: SHA256.hash(Array("equivocation/\(seed)/\(blockCounter)".utf8)), valid: true)
                allBlocks[other.id] = other
                let p2 = Proposal(height: p.height, round: p.round, value: other.id, validRound: -1, proposer: p.proposer)
                for j in nodes.indices { send(from: i, to: j, j % 2 == 0 ? .proposal(p, block) : .proposal(p2, other)) }
            } else {
                broadcast(from: i, .proposal(p, block))
            }
        case .broadcastVote(let v):
            // The signing guard: never two different votes for one (height, round, kind).
            let slot = VoteSlot(height: v.height, round: v.round, kind: v.kind)
            if let previous = nodes[i].disk.signed[slot], previous != v { nodes[i].guardRefusals += 1; return }
            nodes[i].disk.signed[slot] = v
            emitted.insert(v)
            if behaviour == .doubleVoter {
                let other = Vote(kind: v.kind, height: v.height, round: v.round, value: v.value == nil ? SHA256.hash(Array("dv/\(seed)/\(v.round)".utf8)) : nil, validator: v.validator)
                emitted.insert(other)
                for j in nodes.indices { send(from: i, to: j, .vote(j % 2 == 0 ? v : other)) }
            } else {
                broadcast(from: i, .vote(v))
            }
        case .scheduleTimeout(let t, let ms):
            schedule(after: ms, .timeout(node: i, t, incarnation: incarnation[i]))
        case .decide(let h, let r, let value, let precommits):
            guard let block = nodes[i].disk.blocks[value] ?? allBlocks[value] else { return }
            nodes[i].disk.decided[h] = (block, r, precommits)
            noteFinalised(i, height: h, block.id)
            start(i, height: h + 1)
        case .evidence(let a, let b):
            nodes[i].evidence.insert([a, b].sorted { $0.description < $1.description })
        }
    }

    func receive(_ i: Int, from: Int, _ message: Message) {
        let behaviour = nodes[i].byzantine
        let myHeight = nodes[i].core.height
        if let h = message.height {
            if h > myHeight {
                if nodes[i].future.count < SimNode.maxFuture { nodes[i].future.append((from, message)) }
                if nodes[i].lastSyncRequest.map({ now >= $0 + Self.gossipMilliseconds }) ?? true {
                    nodes[i].lastSyncRequest = now
                    send(from: i, to: from, .syncRequest(height: myHeight))
                }
                return
            }
            if h < myHeight {
                // A peer is behind: help it catch up with the decided block and its certificate.
                if let d = nodes[i].disk.decided[h], behaviour == nil { send(from: i, to: from, .syncResponse(height: h, block: d.block, precommits: d.precommits)) }
                return
            }
        }
        switch message {
        case .proposal(let p, let block):
            nodes[i].disk.blocks[block.id] = block
            if behaviour == .invalidBlocks || behaviour == .chaos { byzantineVotes(i, for: p) }
            feed(i, .proposal(p, valid: block.valid))
        case .vote(let v):
            // Relayed votes are accepted only if their validator really cast them (a signature).
            guard emitted.contains(v) else { return }
            feed(i, .vote(v))
        case .syncRequest(let h):
            if behaviour == .chaos {
                let fake = SimBlock(id: SHA256.hash(Array("forged/\(seed)/\(h)".utf8)), valid: false)
                let forged = nodes.map { Vote(kind: .precommit, height: h, round: 0, value: fake.id, validator: $0.key) }
                send(from: i, to: from, .syncResponse(height: h, block: fake, precommits: forged))
            } else if behaviour == nil, let d = nodes[i].disk.decided[h] {
                send(from: i, to: from, .syncResponse(height: h, block: d.block, precommits: d.precommits))
            }
        case .syncResponse(let h, let block, let precommits):
            guard behaviour == nil, h == myHeight, nodes[i].disk.decided[h] == nil, certificateIsValid(h, block, precommits) else { return }
            nodes[i].disk.blocks[block.id] = block
            nodes[i].disk.decided[h] = (block, precommits.first?.round ?? 0, precommits)
            noteFinalised(i, height: h, block.id)
            start(i, height: h + 1)
        }
    }

    /// A commit certificate: precommits of distinct validators of the set, all for this block at
    /// this height and one round, each really emitted, more than 2/3 of the power; the block executes.
    func certificateIsValid(_ h: UInt64, _ block: SimBlock, _ precommits: [Vote]) -> Bool {
        guard let round = precommits.first?.round, block.valid else { return false }
        var seen: Set<PublicKey> = []
        var power: UInt64 = 0
        for v in precommits {
            guard v.kind == .precommit, v.height == h, v.round == round, v.value == block.id, set.contains(v.validator),
                  emitted.contains(v), seen.insert(v.validator).inserted else { return false }
            power += set.power(of: v.validator)
        }
        return set.isQuorum(power)
    }

    /// Byzantine voting: prevote and precommit whatever was proposed, valid or not; chaos adds
    /// random votes for random values and rounds.
    func byzantineVotes(_ i: Int, for p: Proposal) {
        var votes = [Vote(kind: .prevote, height: p.height, round: p.round, value: p.value, validator: nodes[i].key),
                     Vote(kind: .precommit, height: p.height, round: p.round, value: p.value, validator: nodes[i].key)]
        if nodes[i].byzantine == .chaos {
            for _ in 0..<3 {
                votes.append(Vote(kind: rng.next() % 2 == 0 ? .prevote : .precommit, height: p.height, round: UInt32(rng.next() % 4) + p.round,
                                  value: rng.next() % 3 == 0 ? nil : SHA256.hash(Array("chaos/\(rng.next())".utf8)), validator: nodes[i].key))
            }
        }
        for v in votes { emitted.insert(v); broadcast(from: i, .vote(v)) }
    }

    /// Re-sends this validator's messages of the current height (the network loses messages).
    func gossip(_ i: Int) {
        guard nodes[i].byzantine != .silent else { return }
        let core = nodes[i].core
        // Sorted: Swift seeds every Dictionary's and Set's iteration order per instance, and the order
        // of sends decides what the seeded network does with them.
        let mine = nodes[i].disk.signed.filter { $0.key.height == core.height && $0.key.round + 1 >= core.round }
            .sorted { ($0.key.round, $0.key.kind) < ($1.key.round, $1.key.kind) }
        for (_, v) in mine where nodes[i].byzantine != .doubleVoter { broadcast(from: i, .vote(v)) }
        if let p = proposalSeen(i, round: core.round), let block = nodes[i].disk.blocks[p.value] { broadcast(from: i, .proposal(p, block)) }
        // Relay the prevote quorums behind this node's lock and valid value, so that validators
        // locked in an earlier round can see the newer proof of lock (line 28) despite lost messages.
        for r in Set([core.lockedRound, core.validRound]).sorted() where r >= 0 {
            for v in core.votes(.prevote, round: UInt32(r)) { broadcast(from: i, .vote(v)) }
        }
        // And the precommits of the current round: a quorum among them decides (line 49).
        for v in core.votes(.precommit, round: core.round) where v.validator != nodes[i].key { broadcast(from: i, .vote(v)) }
    }

    func proposalSeen(_ i: Int, round: UInt32) -> Proposal? {
        for e in nodes[i].disk.wal.reversed() {
            if case .proposal(let p, _) = e, p.round == round { return p }
            if case .proposalBuilt(let h, let r, let v) = e, r == round {
                return Proposal(height: h, round: r, value: v, validRound: -1, proposer: nodes[i].key)
            }
        }
        if nodes[i].core.validValue != nil, set.proposer(height: nodes[i].core.height, round: round) == nodes[i].key, let v = nodes[i].core.validValue {
            return Proposal(height: nodes[i].core.height, round: round, value: v, validRound: nodes[i].core.validRound, proposer: nodes[i].key)
        }
        return nil
    }

    // MARK: Checks

    /// Records a finalised block; two honest validators finalising different blocks at one height
    /// is an agreement violation.
    func noteFinalised(_ i: Int, height h: UInt64, _ id: Bytes32) {
        guard nodes[i].byzantine == nil else { return }
        if let first = finalised[h] {
            if first.id != id && agreementViolation == nil {
                agreementViolation = "agreement: validators \(first.node) and \(i) finalised different blocks at height \(h)"
            }
        } else {
            finalised[h] = (id, i)
        }
    }

    func checkAgreement() -> String? {
        if let v = agreementViolation { return v }
        for n in nodes where n.byzantine == nil {
            for (h, d) in n.disk.decided.sorted(by: { $0.key < $1.key }) where finalised[h]?.id != d.block.id {
                return "agreement: validator \(n.index) holds \(d.block.id.hex.prefix(8)) at height \(h), another \(finalised[h].map { String($0.id.hex.prefix(8)) } ?? "none")"
            }
        }
        return nil
    }

    func finalChecks(heightAtHeal: UInt64) -> [String] {
        var out: [String] = []
        if let a = checkAgreement() { out.append(a) }
        for n in nodes where n.byzantine == nil {
            for (h, d) in n.disk.decided.sorted(by: { $0.key < $1.key }) where !(allBlocks[d.block.id]?.valid ?? false) {
                out.append("validity: validator \(n.index) finalised an invalid block at height \(h)")
            }
            if n.guardRefusals > 0 { out.append("signing guard: validator \(n.index) tried to sign \(n.guardRefusals) conflicting vote(s)") }
            for pair in n.evidence.sorted(by: { $0.description < $1.description }) where pair.contains(where: { v in nodes.first { $0.key == v.validator }?.byzantine == nil }) {
                out.append("evidence: validator \(n.index) holds evidence against an honest validator: \(pair)")
            }
        }
        let heights = honestHeights()
        if heights.contains(where: { $0 < heightAtHeal + config.heightsAfterHeal }) {
            out.append("liveness: after healing at height \(heightAtHeal) the honest heights are \(heights) at \(now) ms (need +\(config.heightsAfterHeal))")
        }
        return out
    }
}
