// Deterministic simulation of Meridian validators (the FoundationDB / TigerBeetle way): N real
// consensus drivers (`DriverCore`, the code every validator runs) in one process, one seeded random
// generator, a virtual clock, a network that delays, loses, duplicates and reorders messages and
// partitions nodes, and in-memory journals: a crash loses what the journal had not synced, and
// some crashes lose the whole WAL (the signing guard survives). Up to f validators are Byzantine.
// The same seed replays the same run.
//
// What is simulated and what is real: the driver, the Tendermint core, the WAL records and their
// replay, the signing guard, catch-up, the wire encoding and the certificate checks are real. The
// chain is a model (a block is valid if it extends the node's committed tip and is not one a
// Byzantine proposer made invalid), and signatures are ideal (a keyed hash that only the simulator
// can compute for another validator's key), so that tens of thousands of seeds run in minutes.
public import MeridianCore
public import MeridianConsensus
import MeridianConsensusDriver
import MeridianRuntime
import MeridianModules
import HeapModule
import Foundation

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

/// A crash-restart of an honest validator.
public struct SimulatedCrash: Sendable, CustomStringConvertible {
    public var node: Int
    /// When the crash is armed; an `afterProposing` crash then fires right after the node's next
    /// proposal leaves it (or `proposalWaitMilliseconds` later).
    public var at: UInt64
    public var downMilliseconds: UInt64
    public var afterProposing: Bool
    /// The WAL is lost too (a replaced disk); only the signing guard survives. Counted as a fault.
    public var losesLog: Bool
    public static let proposalWaitMilliseconds: UInt64 = 3000
    /// The latest the node is back.
    public var latestRestart: UInt64 { at + (afterProposing ? Self.proposalWaitMilliseconds : 0) + downMilliseconds }
    public var description: String {
        "\(node)@\(at)+\(downMilliseconds)\(afterProposing ? " proposing" : "")\(losesLog ? " losing-wal" : "")"
    }
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
    public var crashes: [SimulatedCrash]
    /// Heights every honest validator must reach after the last fault heals.
    public var heightsAfterHeal: UInt64 = 3
    public var timeouts: ConsensusTimeouts
    public var blockIntervalMilliseconds: UInt64 = 20
    /// Test only: every validator's signing guard allows everything and persists nothing.
    public var brokenGuard = false

    /// The largest number of faulty validators (equal powers): f < n/3.
    public var maxFaulty: Int { (validators - 1) / 3 }
    /// When every partition has healed and every crashed validator is back.
    public var healTime: UInt64 { max(partitions.map(\.end).max() ?? 0, crashes.map(\.latestRestart).max() ?? 0) }

    public var description: String {
        "n=\(validators) byzantine=\(byzantine.map(\.rawValue)) loss=\(Int(lossProbability * 100))% dup=\(Int(duplicateProbability * 100))% "
            + "delay≤\(maxDelayMilliseconds)ms partitions=\(partitions.map { "\($0.side.sorted())@\($0.start)-\($0.end)" }) "
            + "crashes=\(crashes.map(\.description))\(brokenGuard ? " BROKEN-GUARD" : "")"
    }

    /// A hostile configuration drawn from `seed`: `validators` (else 4, 7 or 10) validators, up to f
    /// Byzantine, loss, duplication, delays, up to two partitions and up to three crash-restarts of
    /// honest validators (proposers among them; one may lose its WAL while the faults stay ≤ f).
    public static func random(seed: UInt64, validators: Int? = nil) -> SimulationConfig {
        var rng = SeededRandom(seed: seed ^ 0x5EED_C0F1_6000_0000)
        let drawn = [4, 7, 10][Int(rng.next() % 3)]
        let n = validators ?? drawn
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
        var amnesic: Set<Int> = []
        for _ in 0..<Int(rng.next() % 4) where !honest.isEmpty {
            let node = honest[Int(rng.next() % UInt64(honest.count))]
            let at = 300 + rng.next() % 8000
            let afterProposing = rng.next() % 2 == 0
            var losesLog = rng.next() % 3 == 0
            if losesLog && !amnesic.contains(node) && b + amnesic.count + 1 > f { losesLog = false }
            if losesLog { amnesic.insert(node) }
            config.crashes.append(SimulatedCrash(node: node, at: at, downMilliseconds: 200 + rng.next() % 4000,
                                                 afterProposing: afterProposing, losesLog: losesLog))
        }
        return config
    }
}

/// What a run found. `violations` is empty when agreement, validity, liveness, the signing guard
/// and every invariant held.
public struct SimulationOutcome: Sendable {
    public let seed: UInt64
    public let config: String
    public let validators: Int
    public let violations: [String]
    public let heights: [UInt64]
    public let virtualMilliseconds: UInt64
    public let messagesDelivered: Int
    public let evidence: Int
    public let maxRound: UInt32
    public let crashes: Int
    public let guardRefusals: Int
    /// Compact proposals honest validators rebuilt from their mempools alone, and those they
    /// completed by asking the sender for missing transactions.
    public let compactRebuilt: Int
    public let compactCompleted: Int
}

/// Ideal signatures: SHA-256 of a validator's secret and the digest, which only the simulator knows
/// for every key; a Byzantine validator signs only as itself, and anything forged fails `verify`.
struct SimulatedSigner: ConsensusSigner {
    let publicKey: PublicKey
    let secrets: [PublicKey: Bytes32]
    func sign(proposal: MeridianConsensus.Proposal, chainID: String) throws -> Bytes64 { Self.mac(secrets[publicKey]!, proposalSigningHash(proposal, chainID: chainID)) }
    func sign(vote: Vote, chainID: String) throws -> Bytes64 { Self.mac(secrets[publicKey]!, voteSigningHash(vote, chainID: chainID)) }
    func verify(_ signature: Bytes64, by key: PublicKey, message digest: Bytes32) -> Bool {
        guard let secret = secrets[key] else { return false }
        return signature == Self.mac(secret, digest)
    }
    static func mac(_ secret: Bytes32, _ digest: Bytes32) -> Bytes64 {
        let h = SHA256.hash(prefix: 0x5A, secret, digest)
        return Bytes64(high: h, low: SHA256.hash(prefix: 0xA5, secret, digest))
    }
}

/// A validator's chain, modelled: its committed blocks (durable: a crash keeps them), and block
/// building and validation (a block is valid if it extends this node's tip and is not marked invalid).
final class SimulatedChain {
    static let chainID = "meridian-sim"
    var committed: [(block: Block, certificate: CommitCertificate)] = []
    var height: UInt64 { UInt64(committed.count) }
    /// Blocks on disk: a commit returns before its block is written (as `ChainService`'s does), and
    /// the write completes at the next commit, when the validator signs (the driver waits for it
    /// then), or `writeMilliseconds` later, whichever is first. A crash loses a block not yet written.
    private(set) var durableHeight: UInt64 = 0
    static let writeMilliseconds: UInt64 = 25

    func awaitDurable() { durableHeight = height }

    /// A crash: what was not written is gone.
    func crash() { committed.removeLast(committed.count - Int(durableHeight)) }
    var tip: Bytes32 { committed.last?.block.hash ?? .zero }

    func build(proposer: PublicKey, round: UInt32, now: UInt64, stateRoot: Bytes32, transactions: [SignedTransaction] = []) -> Block {
        let header = BlockHeader(chainID: Self.chainID, height: height + 1, time: Timestamp(unixMilliseconds: now), parentHash: tip,
                                 lastCommitHash: committed.last?.certificate.hash ?? .zero, transactionsRoot: Block.transactionsRoot(transactions),
                                 receiptsRoot: .zero, stateRoot: stateRoot, validatorsHash: .zero, proposer: proposer)
        return Block(header: header, transactions: transactions, lastCommit: committed.last?.certificate)
    }

    /// Stand-in transactions for a simulated block (the modelled chain does not execute them; they
    /// make proposals compact, so rebuilding them and fetching what is missing runs).
    static func transactions(_ count: Int, proposer: PublicKey, tag: UInt64) -> [SignedTransaction] {
        (0..<count).map { i in
            SignedTransaction(transaction: Transaction(chainID: chainID, signer: proposer, nonce: tag &* 8 &+ UInt64(i),
                                                       call: .revokeConsent(SHA256.hash(Array("sim-tx/\(tag)/\(i)".utf8)))),
                              signature: Bytes64(high: .zero, low: .zero))
        }
    }

    func validate(_ block: Block, invalidRoots: Set<Bytes32>) -> Bool {
        block.header.chainID == Self.chainID && block.header.height == height + 1 && block.header.parentHash == tip
            && !invalidRoots.contains(block.header.stateRoot)
    }

    func commit(_ block: Block, _ certificate: CommitCertificate) throws(InvariantViolation) {
        // The block store's invariants: heights follow one another and each block names its parent.
        try invariant(block.header.height == height + 1, "blocks.height_sequence", "committing height \(block.header.height) on \(height)")
        try invariant(block.header.parentHash == tip, "blocks.parent_hash", "block \(block.hash.hex.prefix(8)) names parent \(block.header.parentHash.hex.prefix(8)), tip \(tip.hex.prefix(8))")
        try invariant(certificate.blockHash == block.hash && certificate.height == block.header.height, "blocks.certificate_matches",
                      "certificate for \(certificate.blockHash.hex.prefix(8)) at \(certificate.height)")
        awaitDurable()
        committed.append((block, certificate))
    }
}

struct SimulatedNode {
    let index: Int
    let key: PublicKey
    let byzantine: ByzantineBehaviour?
    let signer: SimulatedSigner
    var driver: DriverCore
    let journal = MemoryJournal()
    let chain = SimulatedChain()
    var up = true
    /// This node lost its WAL in a crash (its guard may then refuse; it counts as a fault).
    var amnesic = false
    var guardRefusals = 0
    /// Compact proposal counts of earlier incarnations (a restart starts a fresh driver).
    var compactRebuilt = 0
    var compactCompleted = 0
    var crashOnProposal: (downMilliseconds: UInt64, losesLog: Bool)?
    /// What it signed, by slot: (height, round, step) → payload (the double-signing check).
    var signed: [SignedSlot: Bytes32] = [:]
    var evidence: Set<[UInt8]> = []
}

struct SignedSlot: Hashable { let height: UInt64; let round: UInt32; let step: UInt8 }

/// One simulated network of validators, run to completion by `run()`.
public final class Simulation {
    enum Event {
        case deliver(to: Int, from: Int, [UInt8])
        case timer(node: Int, DriverTimer, incarnation: Int)
        case gossip(node: Int)
        case crash(node: Int, losesLog: Bool, armed: Bool)
        case restart(node: Int)
        case written(node: Int, height: UInt64, incarnation: Int)
        case armCrash(node: Int, downMilliseconds: UInt64, losesLog: Bool)
    }

    struct Scheduled: Comparable {
        let time: UInt64
        let sequence: UInt64
        let event: Event
        static func < (a: Scheduled, b: Scheduled) -> Bool { (a.time, a.sequence) < (b.time, b.sequence) }
        static func == (a: Scheduled, b: Scheduled) -> Bool { a.time == b.time && a.sequence == b.sequence }
    }

    public let seed: UInt64
    public let config: SimulationConfig
    var rng: SeededRandom
    var now: UInt64 = 0
    var sequence: UInt64 = 0
    var queue = Heap<Scheduled>()
    var nodes: [SimulatedNode] = []
    var incarnation: [Int] = []
    let powers: [ValidatorPower]
    let secrets: [PublicKey: Bytes32]
    let indexOf: [PublicKey: Int]
    /// State roots of blocks a Byzantine proposer made invalid (what re-execution would reject).
    var invalidRoots: Set<Bytes32> = []
    var delivered = 0
    var blockCounter: UInt64 = 0
    var crashCount = 0
    /// The first block an honest validator finalised at each height, and who.
    var finalised: [UInt64: (id: Bytes32, node: Int)] = [:]
    var violations: [String] = []
    /// Every transaction a simulated block carried: what the validators' mempools could hold.
    var transactionBodies: [Bytes32: SignedTransaction] = [:]
    /// Byzantine equivocations already made, so that re-gossip repeats the same split.
    var equivocations: [Bytes32: (SignedProposal, Block)] = [:]
    static let gossipMilliseconds: UInt64 = 250
    static let maxVirtualMilliseconds: UInt64 = 600_000

    static let keys: [PublicKey] = (0..<10).map { i in
        (try! PrivateKey(secret: SHA256.hash(Array("meridian-sim/validator/\(i)".utf8)))).publicKey
    }

    public init(seed: UInt64, config: SimulationConfig? = nil) {
        self.seed = seed
        self.config = config ?? SimulationConfig.random(seed: seed)
        rng = SeededRandom(seed: seed)
        let n = self.config.validators
        powers = (0..<n).map { ValidatorPower(key: Self.keys[$0], power: 10) }
        secrets = Dictionary(uniqueKeysWithValues: (0..<n).map { (Self.keys[$0], SHA256.hash(Array("meridian-sim/secret/\(seed)/\($0)".utf8))) })
        indexOf = Dictionary(uniqueKeysWithValues: (0..<n).map { (Self.keys[$0], $0) })
        for i in 0..<n {
            let behaviour = i < self.config.byzantine.count ? self.config.byzantine[i] : nil
            let signer = SimulatedSigner(publicKey: Self.keys[i], secrets: secrets)
            nodes.append(SimulatedNode(index: i, key: Self.keys[i], byzantine: behaviour, signer: signer,
                                       driver: makeDriver(signer, guardState: SigningGuardState())))
        }
        incarnation = Array(repeating: 0, count: n)
    }

    func makeDriver(_ signer: SimulatedSigner, guardState: SigningGuardState) -> DriverCore {
        var options = DriverCore.Options(timeouts: config.timeouts, blockIntervalMilliseconds: config.blockIntervalMilliseconds)
        options.gossipMilliseconds = Self.gossipMilliseconds
        options.brokenGuardForTesting = config.brokenGuard
        return DriverCore(chainID: SimulatedChain.chainID, signer: signer, guardState: guardState, options: options, now: now)
    }

    func schedule(after delay: UInt64, _ event: Event) {
        sequence += 1
        queue.insert(Scheduled(time: now + delay, sequence: sequence, event: event))
    }

    func partitioned(_ a: Int, _ b: Int) -> Bool {
        config.partitions.contains { now >= $0.start && now < $0.end && ($0.side.contains(a) != $0.side.contains(b)) }
    }

    /// Sends over the hostile network: loss, delay (hence reordering), duplication, partitions.
    func transmit(from: Int, to: Int, _ bytes: [UInt8]) {
        guard from != to else { return }
        if partitioned(from, to) || rng.chance(config.lossProbability) { return }
        schedule(after: 1 + rng.next() % config.maxDelayMilliseconds, .deliver(to: to, from: from, bytes))
        if rng.chance(config.duplicateProbability) {
            schedule(after: 1 + rng.next() % config.maxDelayMilliseconds, .deliver(to: to, from: from, bytes))
        }
    }

    // MARK: Running

    public func run() -> SimulationOutcome {
        for i in nodes.indices {
            boot(i)
            schedule(after: rng.next() % Self.gossipMilliseconds, .gossip(node: i))
        }
        for c in config.crashes {
            sequence += 1
            let event: Event = c.afterProposing ? .armCrash(node: c.node, downMilliseconds: c.downMilliseconds, losesLog: c.losesLog)
                                                : .crash(node: c.node, losesLog: c.losesLog, armed: false)
            queue.insert(Scheduled(time: c.at, sequence: sequence, event: event))
            if !c.afterProposing { sequence += 1; queue.insert(Scheduled(time: c.at + c.downMilliseconds, sequence: sequence, event: .restart(node: c.node))) }
        }
        var heightAtHeal: UInt64?
        while let next = queue.popMin() {
            now = next.time
            if heightAtHeal == nil && now >= config.healTime { heightAtHeal = honestHeights().max() ?? 0 }
            if let h = heightAtHeal, honestHeights().allSatisfy({ $0 >= h + config.heightsAfterHeal }) { break }
            if now > Self.maxVirtualMilliseconds { break }
            handle(next.event)
            if !violations.isEmpty { break }
        }
        violations += finalChecks(heightAtHeal: heightAtHeal ?? 0)
        return SimulationOutcome(seed: seed, config: config.description, validators: config.validators, violations: violations, heights: honestHeights(),
                                 virtualMilliseconds: now, messagesDelivered: delivered,
                                 evidence: nodes.filter { $0.byzantine == nil }.reduce(0) { $0 + $1.evidence.count },
                                 maxRound: nodes.map(\.driver.core.round).max() ?? 0, crashes: crashCount,
                                 guardRefusals: nodes.reduce(0) { $0 + $1.guardRefusals + $1.driver.guardRefusals },
                                 compactRebuilt: nodes.filter { $0.byzantine == nil }.reduce(0) { $0 + $1.compactRebuilt + $1.driver.status.compactProposalsAssembled },
                                 compactCompleted: nodes.filter { $0.byzantine == nil }.reduce(0) { $0 + $1.compactCompleted + $1.driver.status.compactProposalsFetched })
    }

    /// Each validator's consensus state, for replaying a failing seed.
    public func summaries() -> [String] {
        nodes.map { n in
            let c = n.driver.core
            return "node \(n.index)\(n.byzantine.map { " [\($0.rawValue)]" } ?? "")\(n.up ? "" : " DOWN")\(n.amnesic ? " amnesic" : ""): "
                + "committed \(n.chain.height), core h\(c.height) r\(c.round) \(c.step), "
                + "locked r\(c.lockedRound) \(c.lockedValue.map { String($0.hex.prefix(6)) } ?? "-"), valid r\(c.validRound) \(c.validValue.map { String($0.hex.prefix(6)) } ?? "-"), "
                + "prevotes \(c.votes(.prevote, round: c.round).count) precommits \(c.votes(.precommit, round: c.round).count) this round, "
                + "journal \(n.journal.durable.count)+\(n.journal.unsynced.count) records, guard refusals \(n.guardRefusals + n.driver.guardRefusals)"
                + (0...3).map { r in "\n    r\(r) prevotes " + c.votes(.prevote, round: UInt32(r)).map { "\(indexOf[$0.validator]!):\($0.value.map { String($0.hex.prefix(6)) } ?? "nil")" }.joined(separator: " ")
                    + " precommits " + c.votes(.precommit, round: UInt32(r)).map { "\(indexOf[$0.validator]!):\($0.value.map { String($0.hex.prefix(6)) } ?? "nil")" }.joined(separator: " ") }.joined()
        }
    }

    func honestHeights() -> [UInt64] { nodes.filter { $0.byzantine == nil }.map(\.chain.height) }

    func handle(_ event: Event) {
        switch event {
        case .deliver(let to, let from, let bytes):
            guard nodes[to].up else { return }
            delivered += 1
            if let b = nodes[to].byzantine, b == .invalidBlocks || b == .chaos { byzantineReaction(to, to: bytes) }
            process(to, .message(from: nodes[from].key, bytes: bytes))
        case .timer(let i, let timer, let inc):
            guard nodes[i].up, inc == incarnation[i] else { return }
            process(i, .timer(timer))
        case .gossip(let i):
            if nodes[i].up { process(i, .gossipTick) }
            schedule(after: Self.gossipMilliseconds, .gossip(node: i))
        case .armCrash(let i, let down, let losesLog):
            nodes[i].crashOnProposal = (down, losesLog)
            schedule(after: SimulatedCrash.proposalWaitMilliseconds, .crash(node: i, losesLog: losesLog, armed: true))
        case .crash(let i, let losesLog, let armed):
            if armed {
                // The armed crash's deadline: it did not propose in time, so it crashes now.
                guard let pending = nodes[i].crashOnProposal else { return }
                nodes[i].crashOnProposal = nil
                schedule(after: pending.downMilliseconds, .restart(node: i))
            }
            crash(i, losesLog: losesLog)
        case .restart(let i):
            guard !nodes[i].up else { return }
            nodes[i].up = true
            incarnation[i] += 1
            let contents = nodes[i].journal.load(resuming: nodes[i].chain.height + 1)
            nodes[i].driver = makeDriver(nodes[i].signer, guardState: contents.guardState)
            process(i, .begin(height: nodes[i].chain.height + 1, validators: powers, journal: contents.records))
        case .written(let i, let height, let inc):
            guard nodes[i].up, inc == incarnation[i], nodes[i].chain.height == height else { return }
            nodes[i].chain.awaitDurable()
        }
    }

    func crash(_ i: Int, losesLog: Bool) {
        guard nodes[i].up else { return }
        crashCount += 1
        nodes[i].guardRefusals += nodes[i].driver.guardRefusals
        nodes[i].compactRebuilt += nodes[i].driver.status.compactProposalsAssembled
        nodes[i].compactCompleted += nodes[i].driver.status.compactProposalsFetched
        nodes[i].up = false
        incarnation[i] += 1
        nodes[i].journal.crash(losingLog: losesLog)
        nodes[i].chain.crash()
        if losesLog { nodes[i].amnesic = true }
        // Everything in memory is lost with the driver; the journal and the chain keep what they synced.
        nodes[i].driver = makeDriver(nodes[i].signer, guardState: nodes[i].journal.guardState)
    }

    func boot(_ i: Int) {
        let contents = nodes[i].journal.load(resuming: nodes[i].chain.height + 1)
        process(i, .begin(height: nodes[i].chain.height + 1, validators: powers, journal: contents.records))
    }

    // MARK: A validator's shell

    /// Hands node `i`'s driver one input and performs its actions; the chain's answers go back in the
    /// order they were asked for, each after the whole list that asked (as `ConsensusDriver` does).
    func process(_ i: Int, _ input: DriverInput) {
        var pending = [input]
        var next = 0
        while next < pending.count, nodes[i].up {
            let current = pending[next]
            next += 1
            let actions: [DriverAction]
            do { actions = try nodes[i].driver.handle(current, now: now) } catch {
                violations.append("node \(i) stopped: \(error)")
                return
            }
            trace(i, current, actions)
            for action in actions where nodes[i].up { if let answer = perform(i, action) { pending.append(answer) } }
        }
    }

    func trace(_ i: Int, _ input: DriverInput, _ actions: [DriverAction]) {
        if Self.trace, Self.traceNode == i {
            var what = "\(input)".prefix(60)
            if case .message(_, let bytes) = input, let sp = (try? WireMessage(canonicalBytes: bytes))?.signedProposal { what = "proposal r\(sp.proposal.round) vr\(sp.proposal.validRound) \(sp.proposal.value.hex.prefix(6)) by \(indexOf[sp.proposal.proposer]!)" }
            if case .message(_, let bytes) = input, case .vote(let sv)? = try? WireMessage(canonicalBytes: bytes) { what = "vote \(sv.vote)" }
            print("\(now) node \(i) r\(nodes[i].driver.core.round) \(nodes[i].driver.core.step) <- \(what) -> \(actions.map { "\($0)".prefix(40) })")
        }
    }
    static let trace = getenv("MERIDIAN_SIM_TRACE") != nil
    /// With `MERIDIAN_SIM_TRACE`, every input and its actions of this validator (`MERIDIAN_SIM_TRACE_NODE`).
    static let traceNode = getenv("MERIDIAN_SIM_TRACE_NODE").flatMap { Int(String(cString: $0)) } ?? -1

    /// Performs one action; one the chain answers returns the answer.
    func perform(_ i: Int, _ action: DriverAction) -> DriverInput? {
        let node = nodes[i]
        switch action {
        case .append(let record): node.journal.append(record)
        case .syncJournal: node.journal.sync()
        case .resetJournal: node.journal.reset()
        case .persistGuard(let state):
            node.chain.awaitDurable()   // as ConsensusDriver: nothing is signed before the last block is written
            node.journal.persistGuard(state)
        case .broadcast(let bytes): outgoing(i, to: Array(nodes.indices), bytes)
        case .send(let bytes, let peer): if let j = indexOf[peer] { outgoing(i, to: [j], bytes) }
        case .schedule(let timer, let ms): schedule(after: ms, .timer(node: i, timer, incarnation: incarnation[i]))
        case .countPending(let height, let round): return .pendingTransactions(0, height: height, round: round)
        case .build(let round, _, let probe):
            blockCounter += 1
            let root = SHA256.hash(Array("state/\(seed)/\(blockCounter)".utf8))
            if node.byzantine == .invalidBlocks { invalidRoots.insert(root) }
            let transactions = SimulatedChain.transactions(Int(rng.next() % 4), proposer: node.key, tag: blockCounter)
            for t in transactions { transactionBodies[t.hash] = t }
            return .built(node.chain.build(proposer: node.key, round: round, now: now, stateRoot: root, transactions: transactions), round: round, probe: probe)
        case .validate(let block, let reason):
            let valid = node.byzantine == .invalidBlocks || node.chain.validate(block, invalidRoots: invalidRoots)
            return .validated(block, valid: valid, for: reason)
        case .commit(let block, let certificate):
            do { try node.chain.commit(block, certificate) } catch { violations.append("node \(i): \(error)"); return nil }
            noteFinalised(i, height: block.header.height, block)
            schedule(after: SimulatedChain.writeMilliseconds, .written(node: i, height: block.header.height, incarnation: incarnation[i]))
            return .begin(height: node.chain.height + 1, validators: powers, journal: nil)
        case .serveBlock(let height, let peer):
            guard let j = indexOf[peer] else { return nil }
            if node.byzantine == .chaos {
                outgoing(i, to: [j], forgedCatchUp(height: height))
            } else if height >= 1, height <= node.chain.durableHeight {
                let (block, certificate) = node.chain.committed[Int(height - 1)]
                outgoing(i, to: [j], WireMessage.syncResponse(block, certificate).canonicalBytes)
            }
        case .submitEvidence(let evidence):
            nodes[i].evidence.insert(evidence.canonicalBytes)
            if node.byzantine == nil, nodes[indexOf[evidence.first.validator] ?? 0].byzantine == nil {
                violations.append("evidence: validator \(i) reports honest validator \(indexOf[evidence.first.validator] ?? -1) for \(evidence.first.height)/\(evidence.first.round)")
            }
        case .log(let line):
            if Self.trace, line.level == .critical { print("\(now) node \(i): \(line.message) \(line.metadata.sorted { $0.key < $1.key })") }
        case .assemble(let sp, let compact, let peer):
            // Gossip is not modelled: each transaction is in this validator's mempool with
            // probability 3/4, so proposals are rebuilt whole, or completed by asking the sender.
            let bodies = compact.transactions.map { h in rng.chance(0.75) ? transactionBodies[h] : nil }
            return .assembled(sp, compact, bodies, from: peer)
        case .admit, .evict, .dropPeersOutside: break
        }
        return nil
    }

    /// A message leaving node `i` for `recipients`: checked for double signing if `i` is honest,
    /// rewritten for half the recipients if `i` is an equivocating Byzantine validator, then put on
    /// the network.
    func outgoing(_ i: Int, to recipients: [Int], _ bytes: [UInt8]) {
        var other: [UInt8]?
        switch nodes[i].byzantine {
        case nil:
            if bytes.first == 0 || bytes.first == 1 || bytes.first == 5 { checkSigned(i, bytes) }
        case .silent?: return
        case .equivocatingProposer?:
            if bytes.first == 0 || bytes.first == 5, let message = try? WireMessage(canonicalBytes: bytes), let sp = message.signedProposal,
               sp.proposal.proposer == nodes[i].key {
                let (signed, block) = equivocation(i, sp)
                if case .proposal = message { other = WireMessage.proposal(signed, block).canonicalBytes }
                else { other = WireMessage.compactProposal(signed, CompactBlock(block)).canonicalBytes }
            }
        case .doubleVoter?:
            if bytes.first == 1, case .vote(let sv)? = try? WireMessage(canonicalBytes: bytes), sv.vote.validator == nodes[i].key {
                other = conflictingVote(i, sv)
            }
        case .invalidBlocks?, .chaos?: break
        }
        for j in recipients where j != i { transmit(from: i, to: j, j % 2 == 1 ? other ?? bytes : bytes) }
    }

    /// The double-signing check: an honest validator never signs two different proposals or votes
    /// for one (height, round, step). An armed crash fires right after a proposal leaves.
    func checkSigned(_ i: Int, _ bytes: [UInt8]) {
        guard let message = try? WireMessage(canonicalBytes: bytes) else { return }
        let slot: SignedSlot, payload: Bytes32
        switch message {
        case .proposal(let sp, _) where sp.proposal.proposer == nodes[i].key, .compactProposal(let sp, _) where sp.proposal.proposer == nodes[i].key:
            slot = SignedSlot(height: sp.proposal.height, round: sp.proposal.round, step: 0)
            payload = proposalSigningHash(sp.proposal, chainID: SimulatedChain.chainID)
            if let pending = nodes[i].crashOnProposal {
                nodes[i].crashOnProposal = nil
                sequence += 1; queue.insert(Scheduled(time: now, sequence: sequence, event: .crash(node: i, losesLog: pending.losesLog, armed: false)))
                schedule(after: pending.downMilliseconds, .restart(node: i))
            }
        case .vote(let sv) where sv.vote.validator == nodes[i].key:
            slot = SignedSlot(height: sv.vote.height, round: sv.vote.round, step: sv.vote.kind == .prevote ? 1 : 2)
            payload = voteSigningHash(sv.vote, chainID: SimulatedChain.chainID)
        default: return
        }
        if let earlier = nodes[i].signed[slot], earlier != payload {
            violations.append("double signing: honest validator \(i)\(nodes[i].amnesic ? " (lost its WAL)" : "") signed two different messages at height \(slot.height) round \(slot.round) step \(slot.step)")
        }
        nodes[i].signed[slot] = payload
    }

    // MARK: Byzantine behaviour

    /// The other proposal an equivocating proposer sends half the validators: another valid block for
    /// the same (height, round), signed with its key.
    func equivocation(_ i: Int, _ sp: SignedProposal) -> (SignedProposal, Block) {
        if let known = equivocations[SHA256.hash(sp.canonicalBytes)] { return known }
        blockCounter += 1
        let other = nodes[i].chain.build(proposer: nodes[i].key, round: sp.proposal.round, now: now,
                                         stateRoot: SHA256.hash(Array("equivocation/\(seed)/\(blockCounter)".utf8)))
        let p = Proposal(height: sp.proposal.height, round: sp.proposal.round, value: other.hash, validRound: -1, proposer: nodes[i].key)
        let signed = SignedProposal(proposal: p, signature: try! nodes[i].signer.sign(proposal: p, chainID: SimulatedChain.chainID))
        equivocations[SHA256.hash(sp.canonicalBytes)] = (signed, other)
        return (signed, other)
    }

    func conflictingVote(_ i: Int, _ sv: SignedVote) -> [UInt8] {
        let v = sv.vote
        let other = Vote(kind: v.kind, height: v.height, round: v.round,
                         value: v.value == nil ? SHA256.hash(Array("dv/\(seed)/\(v.height)/\(v.round)".utf8)) : nil, validator: v.validator)
        return vote(i, other)
    }

    func vote(_ i: Int, _ v: Vote) -> [UInt8] {
        WireMessage.vote(SignedVote(vote: v, signature: try! nodes[i].signer.sign(vote: v, chainID: SimulatedChain.chainID))).canonicalBytes
    }

    /// Byzantine voting: prevote and precommit whatever was proposed, valid or not; chaos adds
    /// random votes for random values and rounds.
    func byzantineReaction(_ i: Int, to bytes: [UInt8]) {
        guard bytes.first == 0 || bytes.first == 5, let sp = (try? WireMessage(canonicalBytes: bytes))?.signedProposal else { return }
        let p = sp.proposal
        var votes = [Vote(kind: .prevote, height: p.height, round: p.round, value: p.value, validator: nodes[i].key),
                     Vote(kind: .precommit, height: p.height, round: p.round, value: p.value, validator: nodes[i].key)]
        if nodes[i].byzantine == .chaos {
            for _ in 0..<3 {
                votes.append(Vote(kind: rng.next() % 2 == 0 ? .prevote : .precommit, height: p.height, round: UInt32(rng.next() % 4) + p.round,
                                  value: rng.next() % 3 == 0 ? nil : SHA256.hash(Array("chaos/\(rng.next())".utf8)), validator: nodes[i].key))
            }
        }
        for v in votes { let m = vote(i, v); for j in nodes.indices where j != i { transmit(from: i, to: j, m) } }
    }

    /// A forged catch-up answer: an invalid block with signatures no validator made.
    func forgedCatchUp(height: UInt64) -> [UInt8] {
        let block = SimulatedChain().build(proposer: Self.keys[0], round: 0, now: now, stateRoot: SHA256.hash(Array("forged/\(seed)/\(height)".utf8)))
        let signatures = powers.map { CommitSignature(validator: $0.key, signature: Bytes64(high: SHA256.hash(Array("f/\(rng.next())".utf8)), low: .zero)) }
        return WireMessage.syncResponse(block, CommitCertificate(height: height, round: 0, blockHash: block.hash, signatures: signatures)).canonicalBytes
    }

    // MARK: Checks

    /// Records a finalised block; two honest validators finalising different blocks at one height
    /// is an agreement violation, an invalid one a validity violation.
    func noteFinalised(_ i: Int, height h: UInt64, _ block: Block) {
        guard nodes[i].byzantine == nil else { return }
        if invalidRoots.contains(block.header.stateRoot) { violations.append("validity: validator \(i) committed an invalid block at height \(h)") }
        if let first = finalised[h] {
            if first.id != block.hash { violations.append("agreement: validators \(first.node) and \(i) committed different blocks at height \(h)") }
        } else {
            finalised[h] = (block.hash, i)
        }
    }

    func finalChecks(heightAtHeal: UInt64) -> [String] {
        var out: [String] = []
        for n in nodes where n.byzantine == nil {
            for (k, entry) in n.chain.committed.enumerated() where finalised[UInt64(k + 1)]?.id != entry.block.hash {
                out.append("agreement: validator \(n.index) holds \(entry.block.hash.hex.prefix(8)) at height \(k + 1)")
            }
            // A validator that kept its WAL re-derives what it signed: its guard never has to refuse.
            let refusals = n.guardRefusals + n.driver.guardRefusals
            if refusals > 0 && !n.amnesic { out.append("signing guard: validator \(n.index) (WAL intact) was refused \(refusals) signature(s)") }
        }
        let heights = honestHeights()
        if heights.contains(where: { $0 < heightAtHeal + config.heightsAfterHeal }) {
            out.append("liveness: after healing at height \(heightAtHeal) the honest heights are \(heights) at \(now) ms (need +\(config.heightsAfterHeal))")
        }
        return out
    }
}
