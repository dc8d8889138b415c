import Foundation
public import Logging
public import MeridianCore
public import MeridianConsensus
public import MeridianRuntime
public import MeridianModules
import Synchronization

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
    /// Commits a block that was built or validated, with the certificate that finalised it: when it
    /// returns, the block is the tip that the next height executes on, and its synced write to disk
    /// may still be under way (`awaitDurable`).
    func commit(_ block: Block, certificate: CommitCertificate) async throws
    /// Returns once every committed block is on disk; throws if a write failed (the node stops).
    func awaitDurable() async throws
    /// A committed block and its certificate.
    func committed(at height: UInt64) async throws -> (Block, CommitCertificate)?
    /// Admits a transaction a peer gossiped (hostile input: refused silently).
    func admitGossiped(_ bytes: [UInt8]) async -> Bool
    /// Signs (with `signer`) and admits a transaction putting the evidence on chain; returns its
    /// bytes for gossip, or nil if the chain already holds this evidence or it was not admitted.
    func submitEvidence(_ evidence: EquivocationEvidence, signer: any TransactionSigner) async -> [UInt8]?
    /// Transactions waiting in the mempool.
    func pendingTransactions() async -> Int
    /// These pending transactions, in this order (nil where one is not in the mempool).
    func pendingTransactions(_ hashes: [Bytes32]) async -> [SignedTransaction?]
    /// Removes a poison transaction from the mempool and refuses it if it comes back; returns how
    /// many transactions left (it and its signer's later ones).
    func evict(_ transaction: Bytes32) async -> Int
}

/// The consensus driver's shell: one actor that hands `DriverCore` its inputs one at a time (so
/// awaiting the chain never interleaves two messages) and performs the core's actions over the
/// node's transport, chain and journal files. Everything that decides is in `DriverCore`; what is
/// here is I/O: timers as tasks, the clock, the transport, the chain's answers, logging, status.
public actor ConsensusDriver {
    public typealias Status = ConsensusStatus

    public static let gossipMilliseconds = 300
    public static let transactionBatchMilliseconds = Int(DriverCore.transactionBatchMilliseconds)

    let chain: any ConsensusChain
    /// The validator key (or, on a full node, its P2P key): in this process, or in a `meridian-signer`.
    let signer: any ConsensusSigner & TransactionSigner
    let network: any ConsensusTransport
    let journal: FileJournal
    let logger: Logger
    private var core: DriverCore
    private let started = ContinuousClock.now
    private let inputs: AsyncStream<DriverInput>
    private let inputContinuation: AsyncStream<DriverInput>.Continuation
    private nonisolated let statusBox = Mutex(Status())
    private var decided: UInt64 = 0

    public init(chain: any ConsensusChain, signer: any ConsensusSigner & TransactionSigner, network: any ConsensusTransport, walPath: String, guardPath: String,
                timeouts: ConsensusTimeouts, blockIntervalMilliseconds: UInt64, logger: Logger) throws {
        self.chain = chain; self.signer = signer; self.network = network; self.logger = logger
        journal = try FileJournal(walPath: walPath, guardPath: guardPath)
        var options = DriverCore.Options(timeouts: timeouts, blockIntervalMilliseconds: blockIntervalMilliseconds)
        options.gossipMilliseconds = UInt64(Self.gossipMilliseconds)
        core = DriverCore(chainID: chain.chainID, signer: signer, guardState: journal.signingGuard.state,
                          options: options, now: 0)
        (inputs, inputContinuation) = AsyncStream.makeStream(of: DriverInput.self, bufferingPolicy: .bufferingNewest(200_000))
    }

    public nonisolated var status: Status { statusBox.withLock { $0 } }

    /// Gossips a transaction this node admitted.
    public nonisolated func gossip(transaction bytes: [UInt8]) { inputContinuation.yield(.transaction(bytes)) }

    /// Milliseconds since this driver started (the core's clock).
    private func now() -> UInt64 {
        let d = ContinuousClock.now - started
        return UInt64(d.components.seconds) * 1000 + UInt64(d.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Calls this node's own chain (its database and its execution). A failure there is the node's,
    /// never a peer's: it becomes an `OwnChainFault`, which stops the node.
    private func ownChain<T: Sendable>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw OwnChainFault(operation: operation, underlying: "\(error)") }
    }

    /// Runs until the task is cancelled: recovers the current height from the WAL, then handles inputs.
    public func run() async throws {
        try await recover()
        let network = self.network, continuation = self.inputContinuation, chain = self.chain
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await Self.receive(from: network, admittingTo: chain, into: continuation) }
            group.addTask { try await Self.tick(into: continuation) }
            try await self.handleInputs()
            group.cancelAll()
        }
    }

    /// Reads the journal and begins the next height, replaying what the WAL holds of it.
    private func recover() async throws {
        let chain = self.chain
        let height = await chain.committedHeight() + 1
        let contents = try journal.load(resuming: height)
        if contents.tornBytes > 0 {
            logger.warning("consensus WAL: dropped a torn final record", metadata: ["bytes": "\(contents.tornBytes)", "files": "\(journal.walPaths)"])
        }
        let validators = try await ownChain("validators") { try await chain.currentValidators() }
        try await process(.begin(height: height, validators: validators, journal: contents.records))
    }

    /// Gossiped transactions are admitted here, beside the consensus loop (checking their signatures
    /// is most of a validator's work under load); everything else goes to the loop.
    private static func receive(from network: any ConsensusTransport, admittingTo chain: any ConsensusChain,
                                into continuation: AsyncStream<DriverInput>.Continuation) async {
        await network.forEachInbound { peer, message in
            if message.first == 2, case .transactions(let batch)? = try? WireMessage(canonicalBytes: message) {
                for bytes in batch { _ = await chain.admitGossiped(bytes) }
            } else {
                continuation.yield(.message(from: peer, bytes: message))
            }
        }
    }

    private static func tick(into continuation: AsyncStream<DriverInput>.Continuation) async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(gossipMilliseconds))
            continuation.yield(.gossipTick)
        }
    }

    /// The one loop: every input in turn. A failure of the journal, of this node's chain or of an
    /// invariant stops the node (the failure policy, docs/ARCHITECTURE.md); a restart resumes from
    /// what is durable.
    private func handleInputs() async throws {
        for await input in inputs {
            if Task.isCancelled { break }
            do { try await process(input) }
            catch let e as ConsensusStoreError {
                logger.critical("consensus storage failed", metadata: ["error": "\(e)"])
                throw e
            } catch let e as OwnChainFault {
                if e.underlying.hasPrefix("upgrade.needed") {
                    logger.critical("stopping at an upgrade's height: this executable is not its release", metadata: ["error": "\(e.underlying)"])
                } else {
                    logger.critical("chain storage failed: stopping", metadata: ["error": "\(e)"])
                }
                throw e
            } catch let e as InvariantViolation {
                logger.critical("consensus invariant failed: stopping", metadata: ["invariant": "\(e.name)", "values": "\(e.values)"])
                throw e
            }
            if case .gossipTick = input {
                // Peers and connection refusals change slowly: refreshed here, not after every input.
                let connected = Set(network.peers), refusals = network.refusalCounts
                let set = core.validatorSet
                let reachable = set?.members.filter { $0.key == signer.publicKey || connected.contains($0.key) }.reduce(UInt64(0)) { $0 + $1.power } ?? 0
                statusBox.withLock { box in
                    box.peers = connected.count; box.connectionRefusals = refusals
                    box.reachablePower = reachable; box.totalPower = set?.totalPower ?? 0
                }
            }
        }
    }

    /// Hands the core one input and performs its actions; the chain's answers go back to the core
    /// in the order they were asked for, each after the whole list that asked (`DriverCore`'s
    /// contract: the journal then receives records in the order the core fed them).
    private func process(_ input: DriverInput) async throws {
        var pending = [input]
        var next = 0
        while next < pending.count {
            let actions = try core.handle(pending[next], now: now())
            next += 1
            for action in actions { if let answer = try await perform(action) { pending.append(answer) } }
        }
        publishStatus()
    }

    private func publishStatus() {
        var s = core.status
        let newlyDecided = s.heightsDecided != decided
        decided = s.heightsDecided
        statusBox.withLock { box in
            s.peers = box.peers; s.connectionRefusals = box.connectionRefusals
            s.reachablePower = box.reachablePower; s.totalPower = box.totalPower
            s.lastDecisionUnixMilliseconds = newlyDecided ? UInt64(Date().timeIntervalSince1970 * 1000) : box.lastDecisionUnixMilliseconds
            box = s
        }
    }

    /// Performs one action; an action the chain answers returns the answer, for the core.
    private func perform(_ action: DriverAction) async throws -> DriverInput? {
        switch action {
        case .append(let record): try journal.append(record)
        case .syncJournal: try journal.sync()
        case .resetJournal: try journal.reset()
        case .persistGuard(let state):
            // Nothing of a new height is signed before the block of the height before is on disk:
            // until then a crash restarts at that height, from the WAL the journal keeps for it, and
            // a signature of the next height would have no record behind it.
            let chain = self.chain
            try await ownChain("commit") { try await chain.awaitDurable() }
            try journal.persistGuard(state)
        case .broadcast(let bytes): network.broadcast(bytes)
        case .send(let bytes, let peer): network.send(bytes, to: peer)
        case .schedule(let timer, let ms):
            let continuation = inputContinuation
            Task { try? await Task.sleep(for: .milliseconds(ms)); continuation.yield(.timer(timer)) }
        case .countPending(let height, let round):
            let pending = await chain.pendingTransactions()
            return .pendingTransactions(pending, height: height, round: round)
        case .build(let round, let selection, let probe):
            let chain = self.chain, proposer = signer.publicKey
            let block = try await ownChain("build") { try await chain.buildBlock(proposer: proposer, selection: selection) }
            return .built(block, round: round, probe: probe)
        case .validate(let block, let reason):
            let chain = self.chain
            let valid = try await ownChain("execute") { try await chain.validate(block) }
            return .validated(block, valid: valid, for: reason)
        case .commit(let block, let certificate):
            let chain = self.chain
            try await ownChain("commit") { try await chain.commit(block, certificate: certificate) }
            let height = await chain.committedHeight() + 1
            let validators = try await ownChain("validators") { try await chain.currentValidators() }
            return .begin(height: height, validators: validators, journal: nil)
        case .serveBlock(let height, let peer):
            let chain = self.chain
            if let (block, certificate) = try await ownChain("read", { try await chain.committed(at: height) }) {
                network.send(WireMessage.syncResponse(block, certificate).canonicalBytes, to: peer)
            }
        case .admit(let batch):
            for bytes in batch { _ = await chain.admitGossiped(bytes) }
        case .assemble(let sp, let compact, let peer):
            return .assembled(sp, compact, await chain.pendingTransactions(compact.transactions), from: peer)
        case .submitEvidence(let evidence):
            // Admitted by the chain, which gossips it like any transaction of this node's own.
            _ = await chain.submitEvidence(evidence, signer: signer)
        case .evict(let transaction):
            let removed = await chain.evict(transaction)
            logger.notice("evicted from the mempool", metadata: ["transaction": "\(transaction.hex)", "removed": "\(removed)"])
        case .dropPeersOutside(let validatorSet):
            for peer in network.peers where !validatorSet.contains(peer) && !network.admits(peer) {
                logger.notice("disconnecting a peer that is no longer allowed", metadata: ["peer": "\(Address(peer))"])
                network.disconnect(peer, reason: "p2p.not_allowed")
            }
        case .log(let line):
            let metadata = line.metadata.mapValues { Logger.MetadataValue.string($0) }
            switch line.level {
            case .info: logger.info("\(line.message)", metadata: metadata)
            case .notice: logger.notice("\(line.message)", metadata: metadata)
            case .warning: logger.warning("\(line.message)", metadata: metadata)
            case .critical: logger.critical("\(line.message)", metadata: metadata)
            }
        }
        return nil
    }
}

/// This node's own chain failed an operation the driver needs (reading the validators, building or
/// executing a block, committing one, reading a committed one): the failure policy stops the node.
public struct OwnChainFault: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let underlying: String
    public var description: String { "chain.\(operation) failed on this node: \(underlying)" }
}
