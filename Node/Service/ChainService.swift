import Foundation
import Synchronization
import NIOCore
import NIOPosix
public import Logging
public import MeridianCore
public import MeridianState
public import MeridianModules
public import MeridianRuntime
public import MeridianStorage
public import MeridianMempool
public import MeridianConsensusDriver

/// The node's chain: block store, state, executor and the validator keys this node holds.
///
/// Until BFT consensus runs between nodes (issue 4), this node proposes every block and
/// finalises it with a commit certificate signed by the validator keys it holds, produced and
/// stored exactly as consensus will: the block executes, its precommits are signed, block and
/// state are written in one synced batch, and the certificate travels in the next block.
public actor ChainService {
    /// Where this node's own admitted transactions go to reach the validators (wired once).
    public nonisolated let gossip = TransactionGossip()
    public nonisolated let store: BlockStore
    public nonisolated let chainID: String
    public nonisolated let mempool: Mempool
    public nonisolated let events: EventHub
    public nonisolated let query: QueryService
    let state: AuthenticatedState
    let executor: BlockExecutor
    let signers: [PrivateKey]
    let config: NodeConfig
    let logger: Logger
    let metrics: NodeMetrics
    private var lastCommit: CommitCertificate?
    /// Blocks of the next height built or re-executed by consensus, by hash, until one commits.
    private var pending: [Bytes32: ExecutedBlock] = [:]
    /// The synced write of the last committed block, while it runs beside the next block's execution
    /// (at most one: a commit waits for the write before it). A failed write stays here, so every
    /// later wait throws and the node stops.
    private var writing: Task<Void, any Error>?
    /// The transactions of the block being written: they stay in the mempool until it is on disk (so
    /// admission, which checks nonces against the stored state, refuses them as duplicates) and are
    /// never reaped again.
    private var unwrittenTransactions: Set<Bytes32> = []
    private nonisolated let unwrittenCount = Mutex(0)
    /// The last block on disk: what the API serves (`executor.tip` may be one block ahead).
    private var stored: ChainTip
    /// Where blocks are written: one serial queue (a synced RocksDB write blocks its thread for
    /// milliseconds, which must not be this actor's or an event loop's).
    private let writer = DispatchQueue(label: "meridian.block-writer")
    /// How far ahead of this node's clock a proposed block's time may be.
    static let maxClockDriftMilliseconds: UInt64 = 30_000
    /// The thread this actor runs on: block execution is seconds of CPU per minute, kept off the
    /// event loops that serve the API (which, in `meridian-node start`, also run Swift Concurrency).
    private let thread: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    public nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

    /// Opens the chain in `store` (initialised by `meridian-node init`).
    public init(store: BlockStore, signers: [PrivateKey], config: NodeConfig, logger: Logger, metrics: NodeMetrics) throws {
        self.store = store
        self.signers = signers
        self.config = config
        self.logger = logger
        self.metrics = metrics
        thread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = thread.next()
        state = try AuthenticatedState(storage: store.stateStorage)
        guard let tip = try store.tip() else { throw NodeError("data", "the database holds no genesis: run meridian-node init") }
        executor = try BlockExecutor(state: state, tip: tip,
                                     verificationThreads: config.verificationThreads > 0 ? config.verificationThreads : ProcessInfo.processInfo.activeProcessorCount)
        guard state.version == tip.height else {
            throw NodeError("data", "state is at version \(state.version.map(String.init) ?? "none") but the block store at height \(tip.height)")
        }
        chainID = executor.chainID
        stored = tip
        mempool = Mempool(chainID: chainID, limits: config.mempool)
        events = EventHub()
        query = QueryService(store: store)
        lastCommit = tip.height > 0 ? try store.commit(at: tip.height) : nil
        let validators = try Validators.current(in: CommittedStateReader(state)).map(\.key)
        if let first = signers.first {
            guard validators.contains(first.publicKey) else { throw NodeError("keys", "this node's validator key is not in the validator set") }
        } else if config.p2p == nil {
            throw NodeError("keys", "a node without a validator key runs only as a full node of a network (node.json needs p2p)")
        }
        metrics.height.set(Double(tip.height))
        // An executable that is not the release of the upgrade plan in force refuses to go on.
        try Self.checkUpgrade(height: tip.height + 1, in: state)
    }

    /// Refuses to execute, propose or vote at `height` when an upgrade plan in force there names
    /// another release (`Upgrades.governing`): the node stops, naming the plan.
    private func checkUpgrade(height: UInt64) throws { try Self.checkUpgrade(height: height, in: state) }

    private static func checkUpgrade(height: UInt64, in state: AuthenticatedState) throws {
        guard let plan = try Upgrades.governing(in: CommittedStateReader(state)), height >= plan.height else { return }
        let own = ReleaseIdentity.executableSHA256
        guard own != plan.binarySHA256 else { return }
        throw NodeError("upgrade.needed", "upgrade '\(plan.name)' at height \(plan.height): this executable (SHA-256 \(own?.hex ?? "unreadable")) is not its release "
            + "(SHA-256 \(plan.binarySHA256.hex)); it does not go past height \(plan.height - 1): start the release on the same data directory")
    }

    /// The last block on disk (the API's view: everything it reads of this height is stored).
    public var tip: ChainTip { stored }

    /// For tests of poison handling only (`MERIDIAN_INJECT_DISAGREEMENT`): another proposer's block
    /// that carries a transaction of this signer (an address) is judged invalid, while this node's
    /// own proposals are valid to it, as if the transaction's result differed on every node.
    private var injectedDisagreement: String?
    public func injectDisagreement(withSigner address: String) { injectedDisagreement = address }

    /// Proposes, executes, signs and commits one block from the mempool (single-proposer mode:
    /// this node holds the validator keys and signs the certificate itself). Returns nil when there
    /// was nothing to do (empty mempool and empty blocks off).
    @discardableResult
    public func produceBlock(now: Timestamp) throws -> Block? {
        let started = DispatchTime.now().uptimeNanoseconds
        guard let executed = try proposeExecuted(now: now, proposer: signers[0].publicKey, allowEmpty: config.emptyBlocks) else { return nil }
        let block = executed.block
        let message = CommitCertificate.precommitMessage(chainID: chainID, height: block.header.height, round: 0, blockHash: block.hash)
        let certificate = CommitCertificate(height: block.header.height, round: 0, blockHash: block.hash,
                                            signatures: try signers.map { CommitSignature(validator: $0.publicKey, signature: try $0.sign(message)) })
        try commitExecuted(executed, certificate: certificate, started: started)
        return block
    }

    /// Reaps the mempool and executes the next block (not committed).
    private func proposeExecuted(now: Timestamp, proposer: PublicKey, allowEmpty: Bool, selection: BlockSelection = .excluding([])) throws -> ExecutedBlock? {
        try checkUpgrade(height: executor.tip.height + 1)
        let params = try executor.parameters
        let maxCount = min(config.maxBlockTransactions, Int(params.maxTransactionsPerBlock))
        let txs = switch selection {
        case .excluding(let excluded):
            mempool.reap(maxCount: maxCount, maxBytes: config.maxBlockBytes, excluding: excluded, skipping: unwrittenTransactions)
        case .only(let set, let limit):
            mempool.reap(maxCount: min(maxCount, limit), maxBytes: config.maxBlockBytes, only: set, skipping: unwrittenTransactions)
        }
        if txs.isEmpty && !allowEmpty { return nil }
        let time = max(now, executor.tip.time.adding(milliseconds: 1))
        // Every transaction the mempool holds had its signature checked at admission.
        let mempool = self.mempool
        return try executor.propose(time: time, proposer: proposer, transactions: txs, lastCommit: lastCommit,
                                    preverified: { mempool.contains($0) })
    }

    /// Writes an executed block with its certificate (one synced batch) and waits for it, then the
    /// work after a commit (single-proposer mode).
    private func commitExecuted(_ executed: ExecutedBlock, certificate: CommitCertificate, started: UInt64) throws {
        try store.append(executed, commit: certificate)
        executor.didCommit(executed)
        lastCommit = certificate
        pending = [:]
        didWrite(executed, started: started)
        // The next height may be an upgrade's this executable is not the release of: stop now, with
        // the block on disk, rather than wait at a height no quorum of old nodes can decide.
        try checkUpgrade(height: executed.block.header.height + 1)
    }

    /// Commits an executed block without waiting for its write: it becomes the tip the next block
    /// executes on (its state read from memory until written), and its synced write runs on the
    /// writer thread. Consensus waits for it (`awaitDurable`) before signing anything of the next
    /// height, and its WAL keeps this height's records until then, so a crash before the write
    /// restarts here and decides the same block again.
    private func beginCommit(_ executed: ExecutedBlock, certificate: CommitCertificate, started: UInt64) async throws {
        try await awaitDurable()
        try state.willWrite(executed.prepared)
        executor.didCommit(executed)
        lastCommit = certificate
        pending = [:]
        unwrittenTransactions = Set(executed.receipts.map(\.transaction))
        let count = unwrittenTransactions.count
        unwrittenCount.withLock { $0 = count }
        let store = self.store, writer = self.writer
        writing = Task {
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                writer.async { done.resume(with: Result { try store.append(executed, commit: certificate) }) }
            }
            self.didWrite(executed, started: started)
        }
        try checkUpgrade(height: executed.block.header.height + 1)
    }

    /// Runs `body` between two block writes: every write begun before it is on disk, and no block is
    /// committed or written until it returns (it holds the chain's thread: pruning's deletions,
    /// which must not race a version that writes again a record they delete).
    public func betweenWrites<T>(_ body: () throws -> T) throws -> T { try writer.sync { try body() } }

    /// Tests only: block writes wait until `releaseWritesForTesting` (the window between a commit and
    /// its write, made wide and deterministic).
    public func holdWritesForTesting() { writer.suspend() }
    public func releaseWritesForTesting() { writer.resume() }

    /// Returns once every committed block is on disk; rethrows a failed write.
    public func awaitDurable() async throws {
        if let writing { try await writing.value }
    }

    /// The work after a block is on disk: state reads go to storage again, the API's tip moves, and
    /// mempool, metrics and events follow.
    private func didWrite(_ executed: ExecutedBlock, started: UInt64) {
        let block = executed.block
        state.didWrite(version: executed.prepared.version)
        stored = ChainTip(height: block.header.height, hash: block.hash, time: block.header.time)
        unwrittenTransactions = []
        unwrittenCount.withLock { $0 = 0 }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        metrics.recordBlock(height: block.header.height, transactions: block.transactions.count, seconds: elapsed)
        logger.info("committed block", metadata: ["height": "\(block.header.height)", "txs": "\(block.transactions.count)",
                                                  "ms": "\(Int(elapsed * 1000))", "root": "\(block.header.stateRoot.hex.prefix(16))"])
        // Included transactions leave the mempool now (reaping skipped them while the block was
        // being written: a dictionary removal per transaction); re-checking the rest and publishing
        // events run after, off the commit path.
        let mempool = self.mempool
        mempool.removeIncluded(executed.receipts.map(\.transaction))
        let height = block.header.height
        let published = executed.receipts.flatMap { r in r.events.map { CommittedEvent(height: height, transaction: r.transaction, event: $0) } }
        let query = self.query, events = self.events, metrics = self.metrics
        let signers = Set(block.transactions.map(\.transaction.signer))
        // Published here, on the chain's actor in commit order: events of block h always reach
        // subscribers before those of h+1 (a detached task per block could run out of order).
        events.publish(published)
        Task.detached {
            mempool.recheck(accounts: query, only: signers)
            metrics.mempoolSize.set(Double(mempool.count))
        }
    }

    /// Validators of the current state.
    public func validators() throws -> [Validator] { try Validators.current(in: CommittedStateReader(state)) }

    /// The signing keys this node holds (single-proposer mode uses all; a consensus validator one).
    public var validatorKeys: [PrivateKey] { signers }
}

/// The chain as the consensus driver sees it.
extension ChainService: ConsensusChain {
    public func committedHeight() -> UInt64 { executor.tip.height }

    public func currentValidators() throws -> [ValidatorPower] { try Validators.powers(in: CommittedStateReader(state)) }

    static func now() -> Timestamp { Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)) }

    public func buildBlock(proposer: PublicKey, selection: BlockSelection) throws -> Block {
        guard let executed = try proposeExecuted(now: Self.now(), proposer: proposer, allowEmpty: true, selection: selection) else {
            throw NodeError("consensus", "no block could be built")
        }
        pending[executed.block.hash] = executed
        return executed.block
    }

    public func validate(_ block: Block) throws -> Bool {
        if pending[block.hash] != nil { return true }
        try checkUpgrade(height: block.header.height)
        if let signer = injectedDisagreement, block.transactions.contains(where: { Address($0.transaction.signer).description == signer }) {
            return false
        }
        guard block.header.time <= Self.now().adding(milliseconds: Self.maxClockDriftMilliseconds) else { return false }
        // The certificate the block carries for its parent must be the parent's: ours, or one that
        // verifies against the validators that signed the parent (the state one version before the tip:
        // at a validator-set change they differ from the current set).
        if let carried = block.lastCommit, carried != lastCommit {
            guard let powers = signersOfTip(), case .success = carried.verify(chainID: chainID, validators: powers, blockHash: executor.tip.hash) else { return false }
        }
        let mempool = self.mempool
        do {
            pending[block.hash] = try executor.execute(block, preverified: { mempool.contains($0) })
            return true
        } catch where error.isNodeFault {
            // Our storage failed, not the block: stop before a prevote says anything about it.
            throw NodeError("storage", "executing block \(block.header.height) failed on this node's state: \(error)")
        } catch {
            return false
        }
    }

    public func commit(_ block: Block, certificate: CommitCertificate) async throws {
        if pending[block.hash] == nil, try !validate(block) { throw NodeError("consensus", "block \(block.hash.hex.prefix(16)) does not execute") }
        guard let executed = pending[block.hash] else { throw NodeError("consensus", "block not executed") }
        try await beginCommit(executed, certificate: certificate, started: DispatchTime.now().uptimeNanoseconds)
    }

    public func committed(at height: UInt64) throws -> (Block, CommitCertificate)? {
        guard height >= 1, let block = try store.block(at: height), let certificate = try store.commit(at: height) else { return nil }
        return (block, certificate)
    }

    public func submitEvidence(_ evidence: EquivocationEvidence, signer: any TransactionSigner) -> [UInt8]? {
        guard (try? CommittedStateReader(state).read(EvidenceRecord.self, Evidence.key(evidence.first))) ?? nil == nil else { return nil }
        return submit(.submitEvidence(evidence), signer: signer)
    }

    /// Signs `call` with `signer` at its next nonce and admits it to the mempool (the node's own
    /// transactions: the workers' anchors); returns its bytes for gossip, nil if refused.
    public func submit(_ call: Call, signer: any TransactionSigner) -> [UInt8]? { submitSigned(call, signer: signer)?.bytes }

    /// `submit`, returning the admitted transaction's hash with its bytes.
    public func submitSigned(_ call: Call, signer: any TransactionSigner) -> (hash: Bytes32, bytes: [UInt8])? {
        let reader = CommittedStateReader(state)
        guard let stateNonce = try? Accounts.nonce(of: signer.publicKey, in: reader) else { return nil }
        let nonce = mempool.nextNonce(for: signer.publicKey, stateNonce: stateNonce)
        guard let stx = try? SignedTransaction(signing: Transaction(chainID: chainID, signer: signer.publicKey, nonce: nonce, call: call), by: signer) else { return nil }
        let bytes = stx.canonicalBytes
        // A refusal (full, nonce gap, duplicate) is no loss: every caller keeps what it submits and
        // retries or answers busy (the disclosure log, the anchor and alert workers, the console).
        do {
            let hash = try mempool.admit(stx, size: bytes.count, accounts: query)
            gossip.send(bytes)
            return (hash, bytes)
        } catch { return nil }
    }

    /// Admits a signed transaction a client submitted and gossips it (`gossip`). Nonisolated, as
    /// `admitGossiped`: the API's hot path never waits for block execution.
    public nonisolated func admitSubmitted(_ stx: SignedTransaction, bytes: [UInt8]) throws(AdmissionError) -> Bytes32 {
        let hash = try mempool.admit(stx, size: bytes.count, accounts: query)
        gossip.send(bytes)
        return hash
    }

    /// Pending transactions a next block could take (not those of the block being written).
    public nonisolated func pendingTransactions() -> Int { max(0, mempool.count - unwrittenCount.withLock { $0 }) }

    public nonisolated func pendingTransactions(_ hashes: [Bytes32]) -> [SignedTransaction?] { mempool.transactions(hashes) }

    public nonisolated func evict(_ transaction: Bytes32) -> Int { mempool.evict(transaction).count }

    /// The validators that signed the tip block: the set in the state after the block before it.
    func signersOfTip() -> [ValidatorPower]? {
        let tipHeight = executor.tip.height
        guard tipHeight >= 1 else { return nil }
        // A node restored from a snapshot at the tip holds no state before it: the light client
        // recorded who signed the snapshot's header.
        if let restored = try? store.snapshotSigners(), restored.height == tipHeight { return restored.signers }
        guard let entry = try? query.proof(Validators.setKey.bytes, at: tipHeight - 1), let value = entry.value,
              let set = try? CanonicalList<Validator>(canonicalBytes: value) else { return nil }
        return set.items.map { ValidatorPower(key: $0.key, power: $0.power) }
    }

    /// Nonisolated: admission needs only the mempool and committed reads (both thread-safe), so
    /// gossiped transactions never wait for, or delay, block execution.
    public nonisolated func admitGossiped(_ bytes: [UInt8]) -> Bool {
        guard let stx = try? SignedTransaction.decodeSubmitted(bytes) else { return false }
        return (try? mempool.admit(stx, size: bytes.count, accounts: query)) != nil
    }
}
