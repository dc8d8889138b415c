public import MeridianCore
public import MeridianConsensus
public import MeridianRuntime
public import MeridianModules

/// Which of the mempool's transactions a proposal may carry.
public enum BlockSelection: Sendable, Equatable {
    /// Everything but these (and their signers' later transactions, which would arrive with a nonce gap).
    case excluding(Set<Bytes32>)
    /// Only these, at most `limit` of them, in mempool order (a probe of suspected transactions).
    case only(Set<Bytes32>, limit: Int)
}

/// A timer the driver asked for (`.schedule`), delivered back as `.timer` when it fires.
public enum DriverTimer: Hashable, Sendable {
    /// The Tendermint core's round timeouts.
    case consensus(Timeout)
    /// Time to build this node's proposal for (height, round) (the block interval has passed).
    case buildDue(height: UInt64, round: UInt32)
    /// Time to send the batch of transactions waiting for gossip.
    case flushTransactions
}

/// Why the driver asked the chain to re-execute a block: a proposal to vote on, or a committed block
/// a peer sent to a node that is behind (its certificate already checked).
public enum Validation: Sendable, Equatable {
    case proposal(SignedProposal)
    case catchUp(CommitCertificate, from: PublicKey)
}

/// Everything `DriverCore` reacts to. Besides messages and timers, the answers of the chain to the
/// actions that ask for one (`.countPending`, `.build`, `.validate`, `.commit`) come back as
/// inputs; a shell hands them back in the order they were asked for, each after it has performed
/// the whole list that asked, and before any outside input (so the journal receives records in the
/// order the core fed them).
public enum DriverInput: Sendable {
    /// A height begins: the chain's next height and the validators of it. At boot, `journal` holds
    /// what the journal kept (replayed if it is this height's); after a commit it is nil.
    case begin(height: UInt64, validators: [ValidatorPower], journal: [WALRecord]?)
    /// Bytes from an authenticated peer (hostile: decoded and checked here).
    case message(from: PublicKey, bytes: [UInt8])
    case timer(DriverTimer)
    /// Time to re-send what peers may have lost.
    case gossipTick
    /// A transaction this node admitted, to gossip (in batches).
    case transaction([UInt8])
    /// Answer to `.countPending`.
    case pendingTransactions(Int, height: UInt64, round: UInt32)
    /// Answer to `.build`.
    case built(Block, round: UInt32, probe: Bool)
    /// Answer to `.validate`.
    case validated(Block, valid: Bool, for: Validation)
    /// Answer to `.assemble`: the block's transactions found in the mempool, in block order (nil
    /// where one is missing).
    case assembled(SignedProposal, CompactBlock, [SignedTransaction?], from: PublicKey)
}

/// A line for the node's log (the core does no I/O; the shell logs it).
public struct DriverLog: Sendable, Equatable {
    public enum Level: Sendable, Equatable { case info, notice, warning, critical }
    public let level: Level
    public let message: String
    public let metadata: [String: String]
    public init(_ level: Level, _ message: String, _ metadata: [String: String] = [:]) {
        self.level = level; self.message = message; self.metadata = metadata
    }
}

/// What `DriverCore` asks its shell to do, in order. Journal actions come before anything they
/// caused leaves the node: a shell performs the list in order and stops at the first that fails.
public enum DriverAction: Sendable {
    /// Append to the WAL (durable after the next `.syncJournal`).
    case append(WALRecord)
    case syncJournal
    /// Empty the WAL (a new height), durably.
    case resetJournal
    /// Persist the signing guard, durably, before the signature it allows leaves the node.
    case persistGuard(SigningGuardState)
    case broadcast([UInt8])
    case send([UInt8], to: PublicKey)
    case schedule(DriverTimer, milliseconds: UInt64)
    /// Ask the chain how many transactions wait; answer `.pendingTransactions`.
    case countPending(height: UInt64, round: UInt32)
    /// Build this node's block for the next height; answer `.built`.
    case build(round: UInt32, selection: BlockSelection, probe: Bool)
    /// Re-execute a block; answer `.validated`.
    case validate(Block, Validation)
    /// Rebuild a compact proposal's block from the mempool's transactions; answer `.assembled`.
    case assemble(SignedProposal, CompactBlock, from: PublicKey)
    /// Commit a decided (or caught-up) block with its certificate; answer `.begin` for the next height.
    case commit(Block, CommitCertificate)
    /// Send `peer` the committed block at `height` with its certificate, if this node has it.
    case serveBlock(height: UInt64, to: PublicKey)
    /// Admit transactions a peer gossiped (hostile: refused silently).
    case admit([[UInt8]])
    /// Put equivocation evidence on chain (a transaction signed by this node, gossiped).
    case submitEvidence(EquivocationEvidence)
    /// Drop a poison transaction from the mempool and refuse it if it comes back.
    case evict(Bytes32)
    /// Close connections of peers the validator set of a new height no longer admits.
    case dropPeersOutside(ValidatorSet)
    case log(DriverLog)
}

/// What the node's status and metrics show of consensus.
public struct ConsensusStatus: Sendable, Codable {
    public var height: UInt64 = 0
    public var round: UInt32 = 0
    public var step: String = "starting"
    public var peers: Int = 0
    /// Voting power of the validators this node reaches (itself, if a validator, and its connected
    /// peers) and of the whole set: below two thirds of it no block can be finalised from here.
    public var reachablePower: UInt64 = 0
    public var totalPower: UInt64 = 0
    public var syncing: Bool = true
    public var evidence: Int = 0
    /// Votes and proposals the signer did not sign (a `meridian-signer` unreachable or refusing).
    public var signerFailures: Int = 0
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
    /// Transactions evicted from the mempool for failing proposals alone `aloneFailuresToEvict` times.
    public var evictedTransactions: Int = 0
    /// Compact proposals rebuilt from the mempool alone, and those that lacked transactions (asked
    /// of the sender by index).
    public var compactProposalsAssembled: Int = 0
    public var compactProposalsFetched: Int = 0
    public init() {}
}
