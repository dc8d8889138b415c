public import MeridianCore
public import MeridianConsensus
public import MeridianRuntime
public import MeridianModules

/// The consensus driver of one validator as a pure state machine: `handle(input, now:)` returns the
/// actions its shell performs, in order. It feeds the Tendermint core (`TendermintCore`) with
/// authenticated messages, timers and block verdicts, and turns the core's effects into actions:
/// journal records before anything they caused leaves the node, signatures through the signing
/// guard, messages, timers, and the chain operations (build, re-execute, commit) whose answers come
/// back as inputs. No clock (time is `now`, in milliseconds of any monotonic clock), no socket, no
/// file: the production shell (`ConsensusDriver`) and the simulation (`meridian-sim`) run this same
/// code, the one over P2P and files, the other over a seeded network and an in-memory journal.
///
/// A node behind its peers asks them for committed blocks and applies each only after checking its
/// certificate against the validator set (catch-up).
public struct DriverCore {
    public struct Options: Sendable {
        public var timeouts: ConsensusTimeouts
        /// Minimum time from one commit to the next proposal when nothing is pending.
        public var blockIntervalMilliseconds: UInt64
        /// The shell's gossip interval (sync requests are rate-limited to one per interval).
        public var gossipMilliseconds: UInt64 = 300
        /// Test only: the signing guard allows everything and is never persisted. The simulation
        /// must catch the double signing this lets through (`SimulationTests`).
        public var brokenGuardForTesting = false
        public init(timeouts: ConsensusTimeouts, blockIntervalMilliseconds: UInt64) {
            self.timeouts = timeouts; self.blockIntervalMilliseconds = blockIntervalMilliseconds
        }
    }

    public static let maxEvidence = 1000
    /// Messages of the next height kept until this node gets there.
    public static let maxBufferedNextHeight = 20_000
    public static let transactionBatchMilliseconds: UInt64 = 10
    /// Failures alone after which a suspected transaction is evicted (twice, so that one round lost
    /// to the network is not enough).
    public static let aloneFailuresToEvict = 2
    static let maxStruckTransactions = 10_000

    public let chainID: String
    public let me: PublicKey
    let signer: any ConsensusSigner
    let options: Options
    public private(set) var core: TendermintCore
    public private(set) var status = ConsensusStatus()
    /// Signatures the guard refused (a restarted validator that forgot what it signed).
    public private(set) var guardRefusals = 0
    /// Votes and proposals the signer did not sign (a remote signer unreachable, or refusing).
    public private(set) var signerFailures = 0
    public private(set) var guardState: SigningGuardState
    private var set: ValidatorSet?
    /// The validator set of the height being decided (nil before the first height begins).
    public var validatorSet: ValidatorSet? { self.set }
    private var powers: [ValidatorPower] = []
    private var blocks: [Bytes32: Block] = [:]
    private var validity: [Bytes32: Bool] = [:]
    private var signatures: [Vote: Bytes64] = [:]
    private var proposals: [UInt32: SignedProposal] = [:]
    /// Proposals already fed to the core at this height (each is logged and acted on once, however
    /// often peers gossip it), and those waiting for the chain's verdict.
    private var fedProposals: Set<Bytes32> = []
    private var validating: Set<Bytes32> = []
    /// Digests of the proposal messages (their bytes as received) already fed or being validated at
    /// this height: every validator re-gossips the current proposal with its whole block at each
    /// tick, and decoding a thousand transactions again to find it known was a tenth of a loaded
    /// localnet's CPU (perf). A copy is recognised by one hash of its bytes, before any decoding.
    private var knownProposalMessages: Set<Bytes32> = []
    /// The current proposal's message as this node gossips it (compact), encoded once.
    private var gossipedProposal: (id: Bytes32, bytes: [UInt8])?
    /// Compact proposals whose blocks the shell is rebuilding from the mempool (`.assemble`).
    private var assembling: Set<Bytes32> = []
    /// Compact proposals of this height still missing transactions, by proposal id: what the
    /// mempool had, and the rest as it arrives from peers (`.proposalTransactions`).
    private var partialBlocks: [Bytes32: PartialBlock] = [:]
    struct PartialBlock {
        let proposal: SignedProposal
        let compact: CompactBlock
        var bodies: [SignedTransaction?]
        var missing: [UInt32] { bodies.indices.filter { bodies[$0] == nil }.map { UInt32($0) } }
    }
    /// Compact proposals held incomplete at one height at most (a Byzantine proposer may send many).
    static let maxPartialBlocks = 16
    /// What each peer was last sent of the transactions it asked for, and when: the first request
    /// for a proposal is answered at once, a repeat at most once per gossip interval, so a peer
    /// cannot make this node send block bodies faster than it gossips.
    private var servedTransactions: [PublicKey: (height: UInt64, round: UInt32, at: UInt64)] = [:]
    /// The transactions of each round's proposal at this height. A proposal of round r leaves out
    /// those of every earlier round that was not decided, so that no transaction can keep every
    /// round of a height from deciding.
    private var roundTransactions: [UInt32: Set<Bytes32>] = [:]
    /// Suspected transactions: how many times each sat in a proposal of a round that did not
    /// decide (and was not committed at that height). Probed by `requestBuild`.
    private var strikes: [Bytes32: Int] = [:]
    /// How many times each suspect's proposal failed with it alone.
    private var aloneFailures: [Bytes32: Int] = [:]
    private var evidenceCount = 0
    private var replaying = false
    private var lastSyncRequest: UInt64?
    private var lastCommitAt: UInt64
    private var nextHeight: [(PublicKey, WireMessage)] = []
    /// Admitted transactions waiting to be gossiped.
    private var outgoingTransactions: [[UInt8]] = []
    /// A peer whose committed block this node is applying (asked for the next one after it).
    private var catchingUpFrom: PublicKey?
    /// Records appended since the last `.syncJournal`.
    private var unsynced = false
    private var stepStarted: UInt64
    private var lastStep = "starting"
    private var now: UInt64
    private var out: [DriverAction] = []

    public init(chainID: String, signer: any ConsensusSigner, guardState: SigningGuardState, options: Options, now: UInt64) {
        self.chainID = chainID; self.signer = signer; self.me = signer.publicKey; self.guardState = guardState
        self.options = options; self.now = now; lastCommitAt = now; stepStarted = now
        core = TendermintCore(me: signer.publicKey, timeouts: options.timeouts)
    }

    /// Handles one input at time `now`; the actions to perform, in order. A thrown error stops the
    /// node: an invalid validator set, a signature that cannot be made, a broken invariant.
    public mutating func handle(_ input: DriverInput, now: UInt64) throws -> [DriverAction] {
        self.now = now
        out = []
        switch input {
        case .begin(let height, let validators, let journal):
            try begin(height: height, validators: validators, journal: journal)
        case .message(let peer, let bytes):
            // 0: a proposal with its block, 5: a compact proposal.
            let digest: Bytes32? = bytes.first == 0 || bytes.first == 5 ? SHA256.hash(bytes) : nil
            if let digest, knownProposalMessages.contains(digest) { break }
            let message: WireMessage
            do { message = try WireMessage(canonicalBytes: bytes) } catch { status.refusedMessages += 1; break }
            try receive(message, from: peer)
            if let digest, let sp = message.signedProposal, sp.proposal.height == core.height {
                let id = SHA256.hash(sp.canonicalBytes)
                if fedProposals.contains(id) || validating.contains(id) { knownProposalMessages.insert(digest) }
            }
        case .timer(.consensus(let t)):
            if t.height == core.height { try feed(.timeout(t)) }
        case .timer(.buildDue(let height, let round)):
            if core.height == height, core.round == round, core.isAwaitingProposal { requestBuild(round: round) }
        case .timer(.flushTransactions):
            flushTransactions()
        case .gossipTick:
            gossip()
        case .transaction(let bytes):
            if outgoingTransactions.isEmpty { out.append(.schedule(.flushTransactions, milliseconds: Self.transactionBatchMilliseconds)) }
            outgoingTransactions.append(bytes)
            if outgoingTransactions.count >= WireMessage.maxTransactionsPerMessage { flushTransactions() }
        case .pendingTransactions(let pending, let height, let round):
            guard core.height == height, core.round == round, core.isAwaitingProposal else { break }
            // Pace empty blocks: with nothing pending, the first round's proposal waits for the block
            // interval since the last commit; with transactions waiting it is built at once.
            let due = lastCommitAt + (round == 0 && pending == 0 ? options.blockIntervalMilliseconds : 0)
            if now >= due { requestBuild(round: round) } else { out.append(.schedule(.buildDue(height: height, round: round), milliseconds: due - now)) }
        case .built(let block, let round, let probe):
            try built(block, round: round, probe: probe)
        case .validated(let block, let valid, let reason):
            try validated(block, valid: valid, for: reason)
        case .assembled(let sp, let compact, let bodies, let peer):
            try assembled(sp, compact, bodies, from: peer)
        }
        publishStep()
        let actions = out
        out = []
        return actions
    }

    // MARK: Heights

    private mutating func begin(height: UInt64, validators: [ValidatorPower], journal: [WALRecord]?) throws {
        guard let validatorSet = ValidatorSet(validators.map { ValidatorSet.Member(key: $0.key, power: $0.power) }) else {
            throw ConsensusStoreError("consensus.validators", "the state's validator set is empty or invalid")
        }
        if journal == nil { lastCommitAt = now }
        powers = validators; set = validatorSet
        // A validator removed by governance stops counting at this height and loses its connections
        // (unless it is still a registered full node, which follows without voting).
        out.append(.dropPeersOutside(validatorSet))
        blocks = [:]; validity = [:]; signatures = [:]; proposals = [:]; fedProposals = []; validating = []; roundTransactions = [:]
        knownProposalMessages = []; gossipedProposal = nil; assembling = []; partialBlocks = [:]
        core = TendermintCore(me: me, timeouts: options.timeouts)
        var replay: [WALRecord] = []
        if let journal, case .start(let h)? = journal.first, h == height { replay = Array(journal.dropFirst()) }
        if replay.isEmpty {
            out.append(.resetJournal)
            unsynced = false
            try feed(.start(height: height))
        } else {
            // The log is kept as it is: a crash during this replay must find the same records again,
            // above all the block this validator built and signed, which it re-sends and never
            // rebuilds. Replayed records are not appended again. While replaying nothing is built
            // (building then signed a second block beside the one the WAL holds: the guard refused
            // it and the node stopped on every restart); only a core still waiting after the replay
            // builds.
            out.append(.log(DriverLog(.notice, "consensus WAL: replaying the current height", ["height": "\(height)", "records": "\(replay.count)"])))
            replaying = true
            try feed(.start(height: height), persist: false)
            for record in replay { try feed(record, persist: false) }
            replaying = false
            if core.isAwaitingProposal { out.append(.countPending(height: core.height, round: core.round)) }
        }
        status.syncing = false
        let buffered = nextHeight
        nextHeight = []
        for (peer, message) in buffered { try receive(message, from: peer) }
        if let peer = catchingUpFrom {
            catchingUpFrom = nil
            out.append(.send(WireMessage.syncRequest(height: height).canonicalBytes, to: peer))   // keep going
        }
    }

    /// Journals the record (unless replaying it), runs the core on it and turns its effects into
    /// actions. Records of what this validator signed only restore its signatures (the core
    /// re-derives its votes from the rest).
    private mutating func feed(_ record: WALRecord, persist: Bool = true) throws {
        if persist { out.append(.append(record)); unsynced = true }
        let event: TendermintCore.Event
        switch record {
        case .signedVote(let sv):
            signatures[sv.vote] = sv.signature
            return
        case .signedProposal(let sp):
            proposals[sp.proposal.round] = sp
            return
        case .start(let h):
            guard let set else { throw InvariantViolation("driver.validators_known", "a height starts (\(h)) before its validator set") }
            event = .start(height: h, validators: set)
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
        for effect in core.handle(event) { try perform(effect) }
        try core.checkInvariants()
    }

    private mutating func perform(_ effect: TendermintCore.Effect) throws {
        switch effect {
        case .buildProposal(let height, let round):
            if replaying { return }   // the WAL holds the built block if one was built
            out.append(.countPending(height: height, round: round))
        case .broadcastProposal(let p):
            guard let block = blocks[p.value] else { return }
            let digest = proposalSigningHash(p, chainID: chainID)
            guard authorize(height: p.height, round: p.round, step: 0, payload: digest, what: "proposal \(p.height)/\(p.round)") else { return }
            guard let signature = signed({ try $0.sign(proposal: p, chainID: $1) }, what: "proposal \(p.height)/\(p.round)") else { return }
            let sp = SignedProposal(proposal: p, signature: signature)
            proposals[p.round] = sp
            // A replay re-derives it from the records already in the log and re-sends it without
            // logging it again (the WAL writes each message once).
            if !replaying { out.append(.append(.signedProposal(sp))); unsynced = true }
            // Transactions still waiting for their gossip batch go first: on each connection they
            // arrive before the proposal that carries their hashes.
            flushTransactions()
            send(.broadcast(WireMessage.compactProposal(sp, CompactBlock(block)).canonicalBytes))
        case .broadcastVote(let v):
            let digest = voteSigningHash(v, chainID: chainID)
            guard authorize(height: v.height, round: v.round, step: v.kind == .prevote ? 1 : 2, payload: digest, what: "\(v)") else { return }
            guard let signature = signed({ try $0.sign(vote: v, chainID: $1) }, what: "\(v)") else { return }
            signatures[v] = signature
            let signed = SignedVote(vote: v, signature: signature)
            if !replaying { out.append(.append(.signedVote(signed))); unsynced = true }
            send(.broadcast(WireMessage.vote(signed).canonicalBytes))
        case .scheduleTimeout(let t, let ms):
            out.append(.schedule(.consensus(t), milliseconds: ms))
        case .decide(let height, let round, let value, let precommits):
            guard let block = blocks[value] else { return }
            let certificate = CommitCertificate(height: height, round: round, blockHash: value,
                signatures: precommits.compactMap { v in signatures[v].map { CommitSignature(validator: v.validator, signature: $0) } })
            let signed = Set(certificate.signatures.map(\.validator))
            status.roundsLastHeight = round
            status.heightsDecided += 1; status.roundsTotal += UInt64(round) + 1
            for m in powers.map(\.key) where !signed.contains(m) { status.missedPrecommits[Address(m).description, default: 0] += 1 }
            out.append(.log(DriverLog(.info, "finalised", ["height": "\(height)", "round": "\(round)", "block": "\(value.hex.prefix(16))", "txs": "\(block.transactions.count)"])))
            strikeUndecided(decided: block, round: round)
            out.append(.commit(block, certificate))
        case .evidence(let a, let b):
            out.append(.log(DriverLog(.warning, "equivocation", ["validator": "\(Address(a.validator))", "first": "\(a)", "second": "\(b)"])))
            guard evidenceCount < Self.maxEvidence, let sa = signatures[a], let sb = signatures[b] else { return }
            evidenceCount += 1
            status.evidence = evidenceCount
            // Kept, and put on chain (where regulators see it) by a transaction gossiped like any other.
            func record(_ v: Vote, _ s: Bytes64) -> SignedConsensusVote {
                SignedConsensusVote(kind: v.kind.rawValue, height: v.height, round: v.round, value: v.value, validator: v.validator, signature: s)
            }
            out.append(.submitEvidence(EquivocationEvidence(first: record(a, sa), second: record(b, sb))))
        case .forget(let v):
            signatures[v] = nil   // no longer held: fed again if it comes again
        }
    }

    /// The signing guard: true if this validator may sign `payload` at (height, round, step), after
    /// the journal's records are synced and the guard's new state persisted. A refusal keeps the
    /// validator safe: it does not sign, says so, and goes on.
    private mutating func authorize(height: UInt64, round: UInt32, step: UInt8, payload: Bytes32, what: String) -> Bool {
        if options.brokenGuardForTesting { return true }
        do {
            guard try guardState.authorize(height: height, round: round, step: step, payload: payload) else { return true }
            if unsynced { out.append(.syncJournal); unsynced = false }
            out.append(.persistGuard(guardState))
            return true
        } catch {
            guardRefusals += 1
            out.append(.log(DriverLog(.critical, "signing guard refused a signature", ["message": what, "error": "\(error)"])))
            return false
        }
    }

    /// Asks the signer. A remote signer may be unreachable, or refuse by its own guard (it then knows
    /// of a signature this node's files do not, as after a restore from an old backup): this
    /// validator then does not send this message, as if it were lost, says so, and goes on.
    private mutating func signed(_ body: (any ConsensusSigner, String) throws -> Bytes64, what: String) -> Bytes64? {
        do { return try body(signer, chainID) } catch {
            signerFailures += 1; status.signerFailures = signerFailures
            out.append(.log(DriverLog(.critical, "the signer did not sign", ["message": what, "error": "\(error)"])))
            return nil
        }
    }

    /// A message that depends on what the journal holds: the journal is synced first.
    private mutating func send(_ action: DriverAction) {
        if unsynced { out.append(.syncJournal); unsynced = false }
        out.append(action)
    }

    private mutating func flushTransactions() {
        guard !outgoingTransactions.isEmpty else { return }
        out.append(.broadcast(WireMessage.transactions(outgoingTransactions).canonicalBytes))
        outgoingTransactions = []
    }

    private mutating func publishStep() {
        let step = switch core.step { case .propose: "propose"; case .prevote: "prevote"; case .precommit: "precommit"; case .decided: "commit" }
        if step != lastStep {
            status.stepSeconds[lastStep, default: 0] += Double(now - min(now, stepStarted)) / 1000
            stepStarted = now; lastStep = step
        }
        status.height = core.height; status.round = core.round; status.step = step
    }

    // MARK: Proposals

    /// Asks the chain for the block this node proposes at `round`. A later round leaves out what the
    /// height's earlier, undecided rounds carried, so the height decides. At round 0, while some
    /// transactions are suspected (they sat in a proposal that did not decide and are still
    /// pending), the proposal is a probe: the first half (mempool order) of the most-suspected
    /// ones, and nothing else. A probe that decides clears them; one that fails suspects them more
    /// and the next probe halves again. Bisection isolates a poison transaction in about log2(n)
    /// heights without taking the transactions that shared its first proposal with it; new
    /// transactions wait for round 1 of a failed probe or for the probes to end.
    private mutating func requestBuild(round: UInt32) {
        if round == 0, let group = mostSuspected() {
            out.append(.build(round: round, selection: .only(group, limit: (group.count + 1) / 2), probe: true))
        } else {
            out.append(.build(round: round, selection: .excluding(undecidedTransactions(before: round)), probe: false))
        }
    }

    private func mostSuspected() -> Set<Bytes32>? {
        guard let most = strikes.values.max() else { return nil }
        return Set(strikes.filter { $0.value == most }.keys)
    }

    private mutating func built(_ block: Block, round: UInt32, probe: Bool) throws {
        guard core.isAwaitingProposal, core.round == round, block.header.height == core.height else { return }
        if probe, block.transactions.isEmpty, let group = mostSuspected() {
            // None of them can be proposed any more (committed through another proposer, evicted, or
            // behind a signer's earlier transaction): no longer suspects.
            for h in group { strikes[h] = nil; aloneFailures[h] = nil }
            requestBuild(round: round)
            return
        }
        try feed(.built(block, round: round))
    }

    /// The transactions of this height's proposals in rounds before `round` (none of which decided).
    private func undecidedTransactions(before round: UInt32) -> Set<Bytes32> {
        roundTransactions.filter { $0.key < round }.values.reduce(into: Set<Bytes32>()) { $0.formUnion($1) }
    }

    /// After a decision at `round`: a transaction in a decided block is cleared of suspicion; one
    /// that sat in a proposal of an earlier, undecided round of this height and is not in the
    /// decided block gets a strike. One whose proposal failed with it alone `aloneFailuresToEvict`
    /// times is evicted from the mempool: without it a transaction that makes proposals fail would
    /// be proposed at every height.
    private mutating func strikeUndecided(decided block: Block, round: UInt32) {
        let included = Set(block.transactions.map(\.hash))
        for h in included { strikes[h] = nil; aloneFailures[h] = nil }
        for r in roundTransactions.keys.sorted() where r < round {
            guard let carried = roundTransactions[r] else { continue }
            let alone = carried.count == 1
            for h in carried.subtracting(included).sorted() {
                strikes[h, default: 0] += 1
                guard alone else { continue }
                let n = aloneFailures[h, default: 0] + 1
                guard n >= Self.aloneFailuresToEvict else { aloneFailures[h] = n; continue }
                strikes[h] = nil; aloneFailures[h] = nil
                out.append(.log(DriverLog(.warning, "evicted a transaction whose proposals failed with it alone \(Self.aloneFailuresToEvict) times", ["transaction": h.hex])))
                out.append(.evict(h))
                status.evictedTransactions += 1
            }
        }
        // The bound: forget, never grow.
        if strikes.count > Self.maxStruckTransactions { strikes = [:]; aloneFailures = [:] }
    }

    // MARK: Messages

    private mutating func receive(_ message: WireMessage, from peer: PublicKey) throws {
        let height = core.height
        switch message {
        case .proposal(let sp, let block):
            let p = sp.proposal
            if p.height > height { buffer(message, from: peer, height: p.height); return }
            guard p.height == height, proposals[p.round] == nil || proposals[p.round] == sp else { return }
            // Peers re-gossip the current proposal: it is validated, logged and fed once.
            let id = SHA256.hash(sp.canonicalBytes)
            guard !fedProposals.contains(id), !validating.contains(id) else { return }
            // A fresh proposal carries its proposer's own block; a re-proposal (validRound ≥ 0) carries
            // the valid value of an earlier round, which another validator may have built. Requiring
            // the proposer's own block there refused every such re-proposal, and a height whose
            // lock was held by a validator that did not build the block could never decide (the
            // simulation of the real driver found it: seed 129).
            guard sp.isValid(chainID: chainID, signer: signer), block.hash == p.value, block.header.height == height,
                  p.validRound >= 0 || block.header.proposer == p.proposer else { status.refusedMessages += 1; return }
            if let known = validity[p.value] { try feed(.proposal(sp, block, valid: known)); return }
            validating.insert(id)
            out.append(.validate(block, .proposal(sp)))
        case .compactProposal(let sp, let compact):
            let p = sp.proposal
            if p.height > height { buffer(message, from: peer, height: p.height); return }
            guard p.height == height, proposals[p.round] == nil || proposals[p.round] == sp else { return }
            let id = SHA256.hash(sp.canonicalBytes)
            guard !fedProposals.contains(id), !validating.contains(id), !assembling.contains(id) else { return }
            guard sp.isValid(chainID: chainID, signer: signer), compact.hash == p.value, compact.header.height == height,
                  p.validRound >= 0 || compact.header.proposer == p.proposer, compact.matchesHeader else { status.refusedMessages += 1; return }
            // A block this node holds already (it built it, or a whole proposal brought it) needs no rebuilding.
            if let block = blocks[p.value] { try receive(.proposal(sp, block), from: peer); return }
            // Still missing transactions: a copy from another validator is a chance to ask it (one
            // that never answers cannot keep the block from being completed).
            if let partial = partialBlocks[id] { request(partial, from: peer); return }
            guard partialBlocks.count < Self.maxPartialBlocks else { return }
            assembling.insert(id)
            out.append(.assemble(sp, compact, from: peer))
        case .proposalTransactionsRequest(let h, let round, let indexes):
            guard h == height, let sp = proposals[round], let block = blocks[sp.proposal.value] else { return }
            if let last = servedTransactions[peer], last.height == h, last.round == round, now < last.at + options.gossipMilliseconds { return }
            servedTransactions[peer] = (h, round, now)
            let present = indexes.filter { Int($0) < block.transactions.count }
            out.append(.send(WireMessage.proposalTransactions(height: h, round: round, indexes: present,
                                                              transactions: present.map { block.transactions[Int($0)].encoded }).canonicalBytes, to: peer))
        case .proposalTransactions(let h, let round, let indexes, let bodies):
            guard h == height else { return }
            for id in partialBlocks.keys.sorted() {
                guard var partial = partialBlocks[id], partial.proposal.proposal.round == round else { continue }
                for (i, bytes) in zip(indexes, bodies) {
                    let at = Int(i)
                    guard at < partial.bodies.count, partial.bodies[at] == nil else { continue }
                    // Hostile bytes: kept only if they are the transaction the header commits to at
                    // that index; anything else is counted as a refused message.
                    let tx: SignedTransaction
                    do { tx = try SignedTransaction.decodeSubmitted(bytes) } catch { status.refusedMessages += 1; continue }
                    guard tx.hash == partial.compact.transactions[at] else { status.refusedMessages += 1; continue }
                    partial.bodies[at] = tx
                }
                if partial.missing.isEmpty {
                    partialBlocks[id] = nil
                    try receive(.proposal(partial.proposal, partial.compact.block(with: partial.bodies.map { $0! })), from: peer)
                } else {
                    partialBlocks[id] = partial
                }
            }
        case .vote(let sv):
            let v = sv.vote
            if v.height > height { buffer(message, from: peer, height: v.height); return }
            guard v.height == height, signatures[v] == nil else { return }
            guard set?.contains(v.validator) == true, sv.isValid(chainID: chainID, signer: signer) else { status.refusedMessages += 1; return }
            // A vote the core would not hold now (an equivocator's beyond its cap, backed no better
            // than those kept) is neither journaled nor marked seen: it may count when it comes again.
            guard core.admission(of: v) != .ignore else { return }
            try feed(.vote(sv))
        case .transactions(let batch):
            out.append(.admit(batch))
        case .syncRequest(let h):
            out.append(.serveBlock(height: h, to: peer))
        case .syncResponse(let block, let certificate):
            guard block.header.height == height, certificate.height == height, certificate.blockHash == block.hash, catchingUpFrom == nil else { return }
            let signer = self.signer
            guard case .success = certificate.verify(chainID: chainID, validators: powers, blockHash: block.hash,
                                                     signatureIsValid: { signer.verify($1, by: $0, message: $2) }) else {
                status.refusedMessages += 1; return
            }
            out.append(.validate(block, .catchUp(certificate, from: peer)))
        }
    }

    /// A compact proposal's block, rebuilt from the mempool: complete, it goes the way of a whole
    /// proposal (checked again there, validated, fed once; transactions that did not come from the
    /// mempool have their signatures checked by execution). Otherwise the sender is asked for the
    /// missing transactions by index; if it never answers, the next gossip of the proposal, by any
    /// validator, asks again.
    private mutating func assembled(_ sp: SignedProposal, _ compact: CompactBlock, _ bodies: [SignedTransaction?], from peer: PublicKey) throws {
        let id = SHA256.hash(sp.canonicalBytes)
        guard assembling.remove(id) != nil, sp.proposal.height == core.height, bodies.count == compact.transactions.count else { return }
        let partial = PartialBlock(proposal: sp, compact: compact, bodies: bodies)
        if partial.missing.isEmpty {
            status.compactProposalsAssembled += 1
            try receive(.proposal(sp, compact.block(with: bodies.map { $0! })), from: peer)
        } else {
            status.compactProposalsFetched += 1
            partialBlocks[id] = partial
            request(partial, from: peer)
        }
    }

    private mutating func request(_ partial: PartialBlock, from peer: PublicKey) {
        let p = partial.proposal.proposal
        let missing = Array(partial.missing.prefix(WireMessage.maxRequestedTransactions))
        out.append(.send(WireMessage.proposalTransactionsRequest(height: p.height, round: p.round, indexes: missing).canonicalBytes, to: peer))
    }

    private mutating func validated(_ block: Block, valid: Bool, for reason: Validation) throws {
        switch reason {
        case .proposal(let sp):
            let id = SHA256.hash(sp.canonicalBytes)
            guard validating.remove(id) != nil else { return }
            validity[block.hash] = valid
            guard sp.proposal.height == core.height, !fedProposals.contains(id),
                  proposals[sp.proposal.round] == nil || proposals[sp.proposal.round] == sp else { return }
            try feed(.proposal(sp, block, valid: valid))
        case .catchUp(let certificate, let peer):
            guard valid else { status.refusedMessages += 1; return }
            guard block.header.height == core.height, catchingUpFrom == nil else { return }
            status.syncing = true
            catchingUpFrom = peer
            out.append(.log(DriverLog(.info, "caught up", ["height": "\(block.header.height)", "from": "\(Address(peer))"])))
            out.append(.commit(block, certificate))
        }
    }

    /// Keeps a message of the next height for when this node gets there, and asks the sender for the
    /// block of the current height, which it evidently has.
    private mutating func buffer(_ message: WireMessage, from peer: PublicKey, height: UInt64) {
        if height == core.height + 1, nextHeight.count < Self.maxBufferedNextHeight { nextHeight.append((peer, message)) }
        requestSync(from: peer)
    }

    /// Asks `peer` for the block of the current height (at most once per gossip interval).
    private mutating func requestSync(from peer: PublicKey) {
        if let last = lastSyncRequest, now < last + options.gossipMilliseconds { return }
        lastSyncRequest = now
        out.append(.send(WireMessage.syncRequest(height: core.height).canonicalBytes, to: peer))
    }

    /// Re-sends what peers may have lost: this validator's votes of the current round and the one
    /// before, the current round's proposal, the prevote quorums behind its lock and valid value,
    /// and the current round's precommits.
    private mutating func gossip() {
        var messages: [[UInt8]] = []
        let c = core
        // A total order (an equivocator has two votes in one slot): the order of sends must not
        // depend on the dictionary's per-process hash seed, or a simulated run would not replay.
        // Filtered before it is sorted: a height that has run many rounds holds every round's votes,
        // and sorting them all at every tick made a long height quadratic (make sim found it).
        func order(_ v: Vote) -> (UInt32, VoteKind, PublicKey, Bytes32) { (v.round, v.kind, v.validator, v.value ?? .zero) }
        let recent = signatures.filter { v, _ in v.round + 1 >= c.round && (v.validator == me || (v.kind == .precommit && v.round == c.round)) }
        for (v, s) in recent.sorted(by: { order($0.key) < order($1.key) }) {
            messages.append(WireMessage.vote(SignedVote(vote: v, signature: s)).canonicalBytes)
        }
        for r in Set([c.lockedRound, c.validRound]).sorted() where r >= 0 {
            for v in c.votes(.prevote, round: UInt32(r)) {
                if let s = signatures[v] { messages.append(WireMessage.vote(SignedVote(vote: v, signature: s)).canonicalBytes) }
            }
        }
        if let sp = proposals[c.round], let block = blocks[sp.proposal.value] {
            let id = SHA256.hash(sp.canonicalBytes)
            if gossipedProposal?.id != id { gossipedProposal = (id, WireMessage.compactProposal(sp, CompactBlock(block)).canonicalBytes) }
            messages.append(gossipedProposal!.bytes)
        }
        for m in messages { send(.broadcast(m)) }
    }
}
