import Foundation
public import Logging
public import MeridianCore
public import MeridianConsensus
public import MeridianRuntime
public import MeridianModules
public import MeridianP2P
import Synchronization

/// Which of the mempool's transactions a proposal may carry.
public enum BlockSelection: Sendable, Equatable {
    /// Everything but these (and their signers' later transactions, which would arrive with a nonce gap).
    case excluding(Set<Bytes32>)
    /// Only these, at most `limit` of them, in mempool order (a probe of suspected transactions).
    case only(Set<Bytes32>, limit: Int)
}

/// What the consensus driver needs of the chain (the node's `ChainService`): the seam between
/// consensus and execution.
public protocol ConsensusChain: Sendable {
    var chainID: String { get }
    /// The last committed height.
    func committedHeight() async -> UInt64
    /// The validators (with power) of the next height: the current state's set.
    func currentValidators() async throws -> [ValidatorPower]
    /// Builds and executes this node's block for the next height from the mempool (not committed),
    /// with the transactions `selection` allows.
    func buildBlock(proposer: PublicKey, selection: BlockSelection) async throws -> Block
    /// Re-executes a block proposed for the next height; true if it is valid.
    func validate(_ block: Block) async throws -> Bool
    /// Commits a block that was built or validated, with the certificate that finalised it.
    func commit(_ block: Block, certificate: CommitCertificate) async throws
    /// A committed block and its certificate.
    func committed(at height: UInt64) async throws -> (Block, CommitCertificate)?
    /// Admits a transaction a peer gossiped (hostile input: refused silently).
    func admitGossiped(_ bytes: [UInt8]) async -> Bool
    /// Signs (with `signer`) and admits a transaction putting the evidence on chain; returns its
    /// bytes for gossip, or nil if the chain already holds this evidence or it was not admitted.
    func submitEvidence(_ evidence: EquivocationEvidence, signer: PrivateKey) async -> [UInt8]?
    /// Transactions waiting in the mempool.
    func pendingTransactions() async -> Int
    /// Removes a poison transaction from the mempool and refuses it if it comes back; returns how
    /// many transactions left (it and its signer's later ones).
    func evict(_ transaction: Bytes32) async -> Int
}

/// A write-ahead-log record: what the driver fed to the core (blocks included, so a restarted
/// validator can re-propose or decide what it had).
enum WALRecord: Canonical {
    case start(height: UInt64)
    case proposal(SignedProposal, Block, valid: Bool)
    case vote(SignedVote)
    case timeout(Timeout)
    case built(Block, round: UInt32)
    /// What this validator signed, recorded (and synced) before it leaves the node.
    case signedVote(SignedVote)
    case signedProposal(SignedProposal)

    func encode(to w: inout CanonicalWriter) {
        switch self {
        case .start(let h): w.write(varint: 0); w.write(varint: h)
        case .proposal(let p, let b, let v): w.write(varint: 1); w.write(p); w.write(b); w.write(v)
        case .vote(let v): w.write(varint: 2); w.write(v)
        case .timeout(let t): w.write(varint: 3); w.write(t.step.rawValue); w.write(varint: t.height); w.write(t.round)
        case .built(let b, let r): w.write(varint: 4); w.write(b); w.write(r)
        case .signedVote(let v): w.write(varint: 5); w.write(v)
        case .signedProposal(let p): w.write(varint: 6); w.write(p)
        }
    }

    init(from r: inout CanonicalReader) throws(CodecError) {
        switch try r.readVarint("wal.kind") {
        case 0: self = .start(height: try r.readVarint("wal.height"))
        case 1: self = .proposal(try r.read(SignedProposal.self), try r.read(Block.self), valid: try r.readBool("wal.valid"))
        case 2: self = .vote(try r.read(SignedVote.self))
        case 3:
            guard let step = TimeoutStep(rawValue: try r.readUInt8("wal.step")) else { throw CodecError(.unknownVariant, field: "wal.step", offset: r.offset) }
            self = .timeout(Timeout(step: step, height: try r.readVarint("wal.height"), round: try r.readUInt32("wal.round")))
        case 4: self = .built(try r.read(Block.self), round: try r.readUInt32("wal.round"))
        case 5: self = .signedVote(try r.read(SignedVote.self))
        case 6: self = .signedProposal(try r.read(SignedProposal.self))
        default: throw CodecError(.unknownVariant, field: "wal.kind", offset: r.offset)
        }
    }
}

/// The driver of one validator: it feeds the Tendermint core with authenticated messages, timers
/// and block verdicts, and performs the core's effects — building and re-executing blocks, signing
/// through the signing guard after the WAL, sending over P2P, committing decided blocks with their
/// certificates. Inputs are handled one at a time by one loop, so awaiting the chain never
/// interleaves two messages. A node behind its peers asks them for committed blocks and applies each
/// only after checking its certificate against the validator set (catch-up).
public actor ConsensusDriver {
    enum Input: Sendable {
        case network(PublicKey, [UInt8])
        case timeout(Timeout)
        case gossip
        case transaction([UInt8])
        /// Time to build this node's proposal for (height, round).
        case buildDue(height: UInt64, round: UInt32)
        /// Time to send the batch of transactions waiting for gossip.
        case flushTransactions
    }

    /// What the node's status and metrics show of consensus.
    public struct Status: Sendable, Codable {
        public var height: UInt64 = 0
        public var round: UInt32 = 0
        public var step: String = "starting"
        public var peers: Int = 0
        public var syncing: Bool = true
        public var evidence: Int = 0
        public var roundsLastHeight: UInt32 = 0
        public var lastDecisionUnixMilliseconds: UInt64 = 0
        public var refusedMessages: Int = 0
        /// P2P connections refused or closed, by reason (e.g. `p2p.not_allowed`, `p2p.rate_limited`).
        public var connectionRefusals: [String: Int] = [:]
        /// Heights this node finalised by consensus (not by catch-up), and the rounds they took in all.
        public var heightsDecided: UInt64 = 0
        public var roundsTotal: UInt64 = 0
        /// Per validator address: decided blocks whose certificate lacks its precommit.
        public var missedPrecommits: [String: Int] = [:]
        /// Seconds spent in each step, summed over all heights.
        public var stepSeconds: [String: Double] = [:]
        /// Transactions evicted from the mempool for sitting in undecided rounds at `maxStrikes` heights.
        public var evictedTransactions: Int = 0
    }

    public static let gossipMilliseconds = 300
    public static let maxEvidence = 1000
    /// Messages of the next height kept until this node gets there.
    public static let maxBufferedNextHeight = 20_000

    let chain: any ConsensusChain
    let key: PrivateKey
    let network: P2PNetwork
    let wal: ConsensusWAL
    private let walPathForRecovery: String
    let signingGuard: SigningGuard
    let logger: Logger
    let timeouts: ConsensusTimeouts
    /// Minimum time from one commit to the next proposal (the block interval).
    let blockIntervalMilliseconds: UInt64
    private var lastCommitInstant = ContinuousClock.now
    private var nextHeight: [(PublicKey, WireMessage)] = []
    /// Admitted transactions waiting to be gossiped (sent every `transactionBatchMilliseconds` or at
    /// `WireMessage.maxTransactionsPerMessage`).
    private var outgoingTransactions: [[UInt8]] = []
    public static let transactionBatchMilliseconds = 10
    private var core: TendermintCore
    private var set: ValidatorSet?
    private var powers: [ValidatorPower] = []
    private var blocks: [Bytes32: Block] = [:]
    private var validity: [Bytes32: Bool] = [:]
    private var signatures: [Vote: Bytes64] = [:]
    private var proposals: [UInt32: SignedProposal] = [:]
    /// Proposals already fed to the core at this height (each is logged and acted on once, however
    /// often peers gossip it).
    private var fedProposals: Set<Bytes32> = []
    /// The transactions of each round's proposal at this height. A proposal of round r leaves out
    /// those of every earlier round that was not decided, so that no transaction can keep every
    /// round of a height from deciding.
    private var roundTransactions: [UInt32: Set<Bytes32>] = [:]
    /// Suspected transactions: how many times each sat in a proposal of a round that did not
    /// decide (and was not committed at that height). Probed by `buildProposal`.
    private var strikes: [Bytes32: Int] = [:]
    /// How many times each suspect's proposal failed with it alone; at `aloneFailuresToEvict` it is
    /// evicted from the mempool as poison (twice, so that one round lost to the network is not enough).
    private var aloneFailures: [Bytes32: Int] = [:]
    public static let aloneFailuresToEvict = 2
    static let maxStruckTransactions = 10_000
    private var evidence: [[SignedVote]] = []
    private var replaying = false
    private var lastSyncRequest: ContinuousClock.Instant?
    private let inputs: AsyncStream<Input>
    private let inputContinuation: AsyncStream<Input>.Continuation
    private nonisolated let statusBox = Mutex(Status())
    private var stepStarted = ContinuousClock.now
    private var lastStep = "starting"

    public init(chain: any ConsensusChain, key: PrivateKey, network: P2PNetwork, walPath: String, guardPath: String,
                timeouts: ConsensusTimeouts, blockIntervalMilliseconds: UInt64, logger: Logger) throws {
        self.chain = chain; self.key = key; self.network = network; self.logger = logger; self.timeouts = timeouts
        self.blockIntervalMilliseconds = blockIntervalMilliseconds
        wal = try ConsensusWAL(path: walPath)
        signingGuard = try SigningGuard(path: guardPath)
        core = TendermintCore(me: key.publicKey, timeouts: timeouts)
        (inputs, inputContinuation) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .bufferingNewest(200_000))
        walPathForRecovery = walPath
    }

    public nonisolated var status: Status { statusBox.withLock { $0 } }

    /// Gossips a transaction this node admitted.
    public nonisolated func gossip(transaction bytes: [UInt8]) { inputContinuation.yield(.transaction(bytes)) }

    /// Calls this node's own chain (its database and its execution). A failure there is the node's,
    /// never a peer's: it becomes an `OwnChainFault`, which stops the node.
    private func ownChain<T: Sendable>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw OwnChainFault(operation: operation, underlying: "\(error)") }
    }

    /// Runs until the task is cancelled: recovers the current height from the WAL, then handles inputs.
    public func run() async throws {
        try await startHeight(recovering: true)
        let network = self.network, continuation = self.inputContinuation, chain = self.chain
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Gossiped transactions are admitted here, beside the consensus loop (checking their
                // signatures is most of a validator's work under load); everything else goes to the loop.
                for await event in network.inbound {
                    if event.message.first == 2, case .transactions(let batch)? = try? WireMessage(canonicalBytes: event.message) {
                        for bytes in batch { _ = await chain.admitGossiped(bytes) }
                    } else {
                        continuation.yield(.network(event.peer, event.message))
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(Self.gossipMilliseconds))
                    continuation.yield(.gossip)
                }
            }
            for await input in inputs {
                if Task.isCancelled { break }
                do { try await handle(input) }
                catch let e as ConsensusStoreError {
                    // The WAL or the guard cannot be written: stop rather than sign without a record.
                    logger.critical("consensus storage failed", metadata: ["error": "\(e)"])
                    throw e
                } catch let e as OwnChainFault {
                    // This node's database or execution failed: stop before any vote depends on it
                    // (the failure policy, docs/ARCHITECTURE.md); a restart resumes from what is durable.
                    logger.critical("chain storage failed: stopping", metadata: ["error": "\(e)"])
                    throw e
                } catch {
                    logger.warning("consensus input failed", metadata: ["error": "\(error)"])
                }
                publishStatus()
            }
            group.cancelAll()
        }
    }

    private func publishStatus() {
        let c = core
        let step = switch c.step { case .propose: "propose"; case .prevote: "prevote"; case .precommit: "precommit"; case .decided: "commit" }
        var elapsed: (String, Double)?
        if step != lastStep {
            let now = ContinuousClock.now
            let d = now - stepStarted
            elapsed = (lastStep, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
            stepStarted = now; lastStep = step
        }
        statusBox.withLock { s in
            s.height = c.height; s.round = c.round
            s.step = step
            if let (name, seconds) = elapsed { s.stepSeconds[name, default: 0] += seconds }
            s.evidence = evidence.count
        }
    }

    // MARK: Heights

    private func startHeight(recovering: Bool) async throws {
        let height = await chain.committedHeight() + 1
        powers = try await ownChain("validators") { try await chain.currentValidators() }
        guard let validatorSet = ValidatorSet(powers.map { ValidatorSet.Member(key: $0.key, power: $0.power) }) else {
            throw ConsensusStoreError("consensus.validators", "the state's validator set is empty or invalid")
        }
        set = validatorSet
        // A validator removed by governance stops counting at this height and loses its connections
        // (unless it is still a registered full node, which follows without voting).
        for peer in network.peers where !validatorSet.contains(peer) && !network.isAllowed(peer) {
            logger.notice("disconnecting a peer that is no longer allowed", metadata: ["peer": "\(Address(peer))", "height": "\(height)"])
            network.disconnect(peer, reason: "p2p.not_allowed")
        }
        blocks = [:]; validity = [:]; signatures = [:]; proposals = [:]; fedProposals = []; roundTransactions = [:]
        core = TendermintCore(me: key.publicKey, timeouts: timeouts)
        var replay: [WALRecord] = []
        var torn = 0
        if recovering {
            let (records, tornBytes) = try ConsensusWAL.read(path: walPathForRecovery)
            torn = tornBytes
            if torn > 0 { logger.warning("consensus WAL: dropped a torn final record", metadata: ["bytes": "\(torn)", "file": "\(walPathForRecovery)"]) }
            var decoded: [WALRecord] = []
            for (i, r) in records.enumerated() {
                do { decoded.append(try WALRecord(canonicalBytes: r)) }
                catch { throw ConsensusStoreError("wal.corrupt", "\(walPathForRecovery): record \(i) does not decode (\(error)); refusing to start") }
            }
            if case .start(let h)? = decoded.first, h == height { replay = Array(decoded.dropFirst()) }
            if !replay.isEmpty { logger.notice("consensus WAL: replaying the current height", metadata: ["height": "\(height)", "records": "\(replay.count)"]) }
        }
        if replay.isEmpty {
            try wal.reset()
            try await feed(.start(height: height))
        } else {
            // The log is kept as it is (only a torn tail is cut): a crash during this replay must
            // find the same records again, above all the block this validator built and signed,
            // which it re-sends and never rebuilds. Replayed records are not appended again.
            try wal.dropTornTail(torn)
            // Replaying from the start record on: the core asks for a proposal as soon as the
            // height starts, and building one then (transactions gossiped in at start made it due
            // at once) signed a second block beside the one the WAL holds: the guard refused it
            // and the node stopped on every restart. While replaying, nothing is built; the block
            // in the WAL is re-proposed, and only a core still waiting after the replay builds.
            replaying = true
            try await feed(.start(height: height), persist: false)
            for record in replay { try await feed(record, persist: false) }
            replaying = false
            if core.isAwaitingProposal { try await perform(.buildProposal(height: core.height, round: core.round)) }
        }
        statusBox.withLock { $0.syncing = false }
        let buffered = nextHeight
        nextHeight = []
        for (peer, message) in buffered { try await receive(message, from: peer) }
    }

    /// Persists the record, then runs the core on it and performs its effects. Records of what this
    /// validator signed only restore its signatures (the core re-derives its votes from the rest).
    private func feed(_ record: WALRecord, persist: Bool = true) async throws {
        if persist { try wal.append(record.canonicalBytes) }
        let event: TendermintCore.Event
        switch record {
        case .signedVote(let sv):
            signatures[sv.vote] = sv.signature
            return
        case .signedProposal(let sp):
            proposals[sp.proposal.round] = sp
            return
        case .start(let h): event = .start(height: h, validators: set!)
        case .proposal(let sp, let block, let valid):
            blocks[sp.proposal.value] = block; validity[sp.proposal.value] = valid
            fedProposals.insert(SHA256.hash(sp.canonicalBytes))
            roundTransactions[sp.proposal.round, default: []].formUnion(block.transactions.map(\.hash))
            proposals[sp.proposal.round] = proposals[sp.proposal.round] ?? sp
            event = .proposal(sp.proposal, valid: valid)
        case .vote(let sv):
            signatures[sv.vote] = sv.signature
            event = .vote(sv.vote)
        case .timeout(let t): event = .timeout(t)
        case .built(let block, let round):
            blocks[block.hash] = block; validity[block.hash] = true
            roundTransactions[round, default: []].formUnion(block.transactions.map(\.hash))
            event = .proposalBuilt(height: block.header.height, round: round, value: block.hash)
        }
        for effect in core.handle(event) { try await perform(effect) }
    }

    private func perform(_ effect: TendermintCore.Effect) async throws {
        switch effect {
        case .buildProposal(let height, let round):
            if replaying { return }   // the WAL holds the built block if one was built
            // Pace empty blocks: with nothing pending, the first round's proposal waits for the block
            // interval since the last commit; with transactions waiting it is built at once.
            let pending = await chain.pendingTransactions()
            let due = lastCommitInstant + .milliseconds(round == 0 && pending == 0 ? Int(blockIntervalMilliseconds) : 0)
            if ContinuousClock.now >= due {
                try await feed(.built(try await buildProposal(round: round), round: round))
            } else {
                let continuation = inputContinuation
                Task { try? await Task.sleep(until: due); continuation.yield(.buildDue(height: height, round: round)) }
            }
        case .broadcastProposal(let p):
            guard let block = blocks[p.value] else { return }
            let digest = proposalSigningHash(p, chainID: chain.chainID)
            try signingGuard.authorize(height: p.height, round: p.round, step: 0, payload: digest)
            let sp = SignedProposal(proposal: p, signature: try key.sign(digest))
            proposals[p.round] = sp
            // Synced before it leaves. A replay re-derives it from the records already in the log
            // and re-sends it without logging it again (the WAL writes each message once).
            if !replaying { try wal.append(WALRecord.signedProposal(sp).canonicalBytes) }
            network.broadcast(WireMessage.proposal(sp, block).canonicalBytes)
        case .broadcastVote(let v):
            let digest = voteSigningHash(v, chainID: chain.chainID)
            do { try signingGuard.authorize(height: v.height, round: v.round, step: v.kind == .prevote ? 1 : 2, payload: digest) }
            catch {
                // Any guard error but a refusal (its file cannot be written) stops the node before
                // the vote leaves it: the failure policy (docs/ARCHITECTURE.md).
                guard error.code == "guard.double_sign" || error.code == "guard.regression" else { throw error }
                // A refusal keeps this validator safe: it does not vote, and goes on.
                logger.critical("signing guard refused a vote", metadata: ["vote": "\(v)", "error": "\(error)"])
                return
            }
            let signature = try key.sign(digest)
            signatures[v] = signature
            let signed = SignedVote(vote: v, signature: signature)
            if !replaying { try wal.append(WALRecord.signedVote(signed).canonicalBytes) }   // synced before the vote leaves
            network.broadcast(WireMessage.vote(signed).canonicalBytes)
        case .scheduleTimeout(let t, let ms):
            let continuation = inputContinuation
            Task { try? await Task.sleep(for: .milliseconds(ms)); continuation.yield(.timeout(t)) }
        case .decide(let height, let round, let value, let precommits):
            guard let block = blocks[value] else { return }
            let certificate = CommitCertificate(height: height, round: round, blockHash: value,
                signatures: precommits.compactMap { v in signatures[v].map { CommitSignature(validator: v.validator, signature: $0) } }
                    .sorted { $0.validator < $1.validator })
            try await ownChain("commit") { try await chain.commit(block, certificate: certificate) }
            lastCommitInstant = ContinuousClock.now
            let signed = Set(certificate.signatures.map(\.validator))
            let missed = powers.map(\.key).filter { !signed.contains($0) }.map { Address($0).description }
            statusBox.withLock { s in
                s.roundsLastHeight = round; s.lastDecisionUnixMilliseconds = UInt64(Date().timeIntervalSince1970 * 1000)
                s.heightsDecided += 1; s.roundsTotal += UInt64(round) + 1
                for m in missed { s.missedPrecommits[m, default: 0] += 1 }
            }
            logger.info("finalised", metadata: ["height": "\(height)", "round": "\(round)", "block": "\(value.hex.prefix(16))", "txs": "\(block.transactions.count)"])
            await strikeUndecided(decided: block, round: round)
            try await startHeight(recovering: false)
        case .evidence(let a, let b):
            logger.warning("equivocation", metadata: ["validator": "\(Address(a.validator))", "first": "\(a)", "second": "\(b)"])
            guard evidence.count < Self.maxEvidence, let sa = signatures[a], let sb = signatures[b] else { return }
            evidence.append([SignedVote(vote: a, signature: sa), SignedVote(vote: b, signature: sb)])
            // Kept, and put on chain (where regulators see it) by a transaction gossiped like any other.
            func record(_ v: Vote, _ s: Bytes64) -> SignedConsensusVote {
                SignedConsensusVote(kind: v.kind.rawValue, height: v.height, round: v.round, value: v.value, validator: v.validator, signature: s)
            }
            if let bytes = await chain.submitEvidence(EquivocationEvidence(first: record(a, sa), second: record(b, sb)), signer: key) {
                network.broadcast(WireMessage.transactions([bytes]).canonicalBytes)
            }
        }
    }

    // MARK: Inputs

    private func handle(_ input: Input) async throws {
        switch input {
        case .timeout(let t):
            guard t.height == core.height else { return }
            try await feed(.timeout(t))
        case .gossip:
            gossip()
            // Peers and connection refusals change slowly: refreshed here, not after every input.
            let peers = network.peers.count, refusals = network.refusalCounts
            statusBox.withLock { $0.peers = peers; $0.connectionRefusals = refusals }
        case .transaction(let bytes):
            if outgoingTransactions.isEmpty {
                let continuation = inputContinuation
                Task { try? await Task.sleep(for: .milliseconds(Self.transactionBatchMilliseconds)); continuation.yield(.flushTransactions) }
            }
            outgoingTransactions.append(bytes)
            if outgoingTransactions.count >= WireMessage.maxTransactionsPerMessage { flushTransactions() }
        case .flushTransactions:
            flushTransactions()
        case .buildDue(let height, let round):
            guard core.height == height, core.round == round, core.isAwaitingProposal else { return }
            try await feed(.built(try await buildProposal(round: round), round: round))
        case .network(let peer, let bytes):
            let message: WireMessage
            do { message = try WireMessage(canonicalBytes: bytes) } catch { refused(); return }
            try await receive(message, from: peer)
        }
    }

    private func flushTransactions() {
        guard !outgoingTransactions.isEmpty else { return }
        network.broadcast(WireMessage.transactions(outgoingTransactions).canonicalBytes)
        outgoingTransactions = []
    }

    private func refused() { statusBox.withLock { $0.refusedMessages += 1 } }

    /// The block this node proposes at `round`. A later round leaves out what the height's earlier,
    /// undecided rounds carried, so the height decides. At round 0, while some transactions are
    /// suspected (they sat in a proposal that did not decide and are still pending), the proposal
    /// is a probe: the first half (mempool order) of the most-suspected ones, and nothing else.
    /// A probe that decides clears them; one that fails suspects them more and the next probe
    /// halves again. Bisection isolates a poison transaction in about log2(n) heights without
    /// taking the transactions that shared its first proposal with it; new transactions wait for
    /// round 1 of a failed probe or for the probes to end.
    private func buildProposal(round: UInt32) async throws -> Block {
        let chain = self.chain, proposer = key.publicKey
        if round == 0, let most = strikes.values.max() {
            let group = Set(strikes.filter { $0.value == most }.keys)
            let selection = BlockSelection.only(group, limit: (group.count + 1) / 2)
            let probe = try await ownChain("build") { try await chain.buildBlock(proposer: proposer, selection: selection) }
            if !probe.transactions.isEmpty { return probe }
            // None of them can be proposed any more (committed through another proposer, evicted, or
            // behind a signer's earlier transaction): no longer suspects.
            for h in group { strikes[h] = nil; aloneFailures[h] = nil }
            if !strikes.isEmpty { return try await buildProposal(round: round) }
        }
        let selection = BlockSelection.excluding(undecidedTransactions(before: round))
        return try await ownChain("build") { try await chain.buildBlock(proposer: proposer, selection: selection) }
    }

    /// The transactions of this height's proposals in rounds before `round` (none of which decided).
    private func undecidedTransactions(before round: UInt32) -> Set<Bytes32> {
        roundTransactions.filter { $0.key < round }.values.reduce(into: Set<Bytes32>()) { $0.formUnion($1) }
    }

    /// After a decision at `round`: a transaction in a decided block is cleared of suspicion; one
    /// that sat in a proposal of an earlier, undecided round of this height and is not in the
    /// decided block gets a strike (it becomes a suspect, probed by `buildProposal`). One whose
    /// proposal failed with it alone, `aloneFailuresToEvict` times, is evicted from the mempool:
    /// without it a transaction that makes proposals fail would be proposed at every height.
    private func strikeUndecided(decided block: Block, round: UInt32) async {
        let included = Set(block.transactions.map(\.hash))
        for h in included { strikes[h] = nil; aloneFailures[h] = nil }
        for r in roundTransactions.keys.sorted() where r < round {
            guard let carried = roundTransactions[r] else { continue }
            let alone = carried.count == 1
            for h in carried.subtracting(included) {
                strikes[h, default: 0] += 1
                guard alone else { continue }
                let n = aloneFailures[h, default: 0] + 1
                guard n >= Self.aloneFailuresToEvict else { aloneFailures[h] = n; continue }
                strikes[h] = nil; aloneFailures[h] = nil
                let removed = await chain.evict(h)
                logger.warning("evicted a transaction whose proposals failed with it alone \(Self.aloneFailuresToEvict) times",
                               metadata: ["transaction": "\(h.hex)", "removed": "\(removed)"])
                statusBox.withLock { $0.evictedTransactions += 1 }
            }
        }
        // The bound: forget, never grow.
        if strikes.count > Self.maxStruckTransactions { strikes = [:]; aloneFailures = [:] }
    }

    private func receive(_ message: WireMessage, from peer: PublicKey) async throws {
        let height = core.height
        switch message {
        case .proposal(let sp, let block):
            let p = sp.proposal
            if p.height > height { buffer(message, from: peer, height: p.height); return }
            guard p.height == height, proposals[p.round] == nil || proposals[p.round] == sp else { return }
            // Peers re-gossip the current proposal: it is validated, logged and fed once.
            guard !fedProposals.contains(SHA256.hash(sp.canonicalBytes)) else { return }
            guard sp.isValid(chainID: chain.chainID), block.hash == p.value, block.header.height == height,
                  block.header.proposer == p.proposer else { refused(); return }
            let valid: Bool
            if let known = validity[p.value] { valid = known } else { valid = try await ownChain("execute") { try await chain.validate(block) } }
            try await feed(.proposal(sp, block, valid: valid))
        case .vote(let sv):
            let v = sv.vote
            if v.height > height { buffer(message, from: peer, height: v.height); return }
            guard v.height == height, signatures[v] == nil else { return }
            guard set?.contains(v.validator) == true, sv.isValid(chainID: chain.chainID) else { refused(); return }
            try await feed(.vote(sv))
        case .transactions(let batch):
            for bytes in batch { _ = await chain.admitGossiped(bytes) }
        case .syncRequest(let h):
            if let (block, certificate) = try await ownChain("read", { try await chain.committed(at: h) }) {
                network.send(WireMessage.syncResponse(block, certificate).canonicalBytes, to: peer)
            }
        case .syncResponse(let block, let certificate):
            guard block.header.height == height, certificate.height == height, certificate.blockHash == block.hash else { return }
            guard case .success = certificate.verify(chainID: chain.chainID, validators: powers, blockHash: block.hash) else { refused(); return }
            guard try await ownChain("execute", { try await chain.validate(block) }) else { refused(); return }
            statusBox.withLock { $0.syncing = true }
            try await ownChain("commit") { try await chain.commit(block, certificate: certificate) }
            logger.info("caught up", metadata: ["height": "\(height)", "from": "\(Address(peer))"])
            try await startHeight(recovering: false)
            network.send(WireMessage.syncRequest(height: height + 1).canonicalBytes, to: peer)   // keep going
        }
    }

    /// Keeps a message of the next height for when this node gets there, and asks the sender for the
    /// block of the current height, which it evidently has.
    private func buffer(_ message: WireMessage, from peer: PublicKey, height: UInt64) {
        if height == core.height + 1, nextHeight.count < Self.maxBufferedNextHeight { nextHeight.append((peer, message)) }
        requestSync(from: peer)
    }

    /// Asks `peer` for the block of the current height (at most once per gossip interval).
    private func requestSync(from peer: PublicKey) {
        let now = ContinuousClock.now
        if let last = lastSyncRequest, now < last + .milliseconds(Self.gossipMilliseconds) { return }
        lastSyncRequest = now
        network.send(WireMessage.syncRequest(height: core.height).canonicalBytes, to: peer)
    }

    /// Re-sends what peers may have lost: this validator's votes of the current round and the one
    /// before, the current round's proposal, the prevote quorums behind its lock and valid value,
    /// and the current round's precommits.
    private func gossip() {
        var out: [[UInt8]] = []
        let c = core
        for (v, s) in signatures.sorted(by: { ($0.key.round, $0.key.kind, $0.key.validator) < ($1.key.round, $1.key.kind, $1.key.validator) })
            where v.round + 1 >= c.round && (v.validator == key.publicKey || (v.kind == .precommit && v.round == c.round)) {
            out.append(WireMessage.vote(SignedVote(vote: v, signature: s)).canonicalBytes)
        }
        for r in Set([c.lockedRound, c.validRound]).sorted() where r >= 0 {
            for v in c.votes(.prevote, round: UInt32(r)) {
                if let s = signatures[v] { out.append(WireMessage.vote(SignedVote(vote: v, signature: s)).canonicalBytes) }
            }
        }
        if let sp = proposals[c.round], let block = blocks[sp.proposal.value] { out.append(WireMessage.proposal(sp, block).canonicalBytes) }
        for m in out { network.broadcast(m) }
    }
}

/// This node's own chain failed an operation the driver needs (reading the validators, building or
/// executing a block, committing one, reading a committed one): the failure policy stops the node.
public struct OwnChainFault: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let underlying: String
    public var description: String { "chain.\(operation) failed on this node: \(underlying)" }
}
