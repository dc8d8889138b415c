public import MeridianCore
public import MeridianState
public import MeridianModules
import Dispatch
import Synchronization

/// Why a block as a whole was refused (a bad transaction only gets a failed receipt).
public struct BlockError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) { self.code = code; self.message = message }
    /// The node could not read or write its own state: not a verdict on the block, which another
    /// node may execute fine. The node stops rather than vote or answer on it.
    public var isNodeFault: Bool { code == "block.storage" || code == "block.state" || code == "block.runtime" }
    public var description: String { "\(code): \(message)" }
    public static func == (l: BlockError, r: BlockError) -> Bool { l.code == r.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}

/// The previous block, as the executor needs it to check the next.
public struct ChainTip: Hashable, Sendable {
    public let height: UInt64
    public let hash: Bytes32
    public let time: Timestamp
    public init(height: UInt64, hash: Bytes32, time: Timestamp) { self.height = height; self.hash = hash; self.time = time }
}

/// A block executed against the state but not yet committed.
public struct ExecutedBlock: Sendable {
    public let block: Block
    public let receipts: [Receipt]
    public let prepared: AuthenticatedState.Prepared
    /// What the block added to the audit log (the node stores its hashes beside the state).
    public let auditLog: AuditLog.BlockAppend
}

/// Executes blocks deterministically: the same blocks on the same genesis give the same receipts
/// and state roots on every machine.
///
/// Signatures are checked first, in parallel (they depend on nothing but the transaction); then
/// transactions run one by one, each all-or-nothing. Proposers call `propose`, validators
/// `execute` (which re-checks every header field against its own result), then both `commit`.
public final class BlockExecutor {
    public let state: AuthenticatedState
    public let chainID: String
    public private(set) var tip: ChainTip
    /// Threads used to verify signatures (the node sets this to its core count).
    public var verificationThreads: Int

    public init(state: AuthenticatedState, tip: ChainTip, verificationThreads: Int = 2) throws(RuntimeError) {
        self.state = state
        self.tip = tip
        self.verificationThreads = max(1, verificationThreads)
        guard let id = try CommittedStateReader(state).read(String.self, ChainState.chainIDKey) else {
            throw RuntimeError("chain.no_genesis", "the state holds no chain id: initialise it from a genesis spec")
        }
        chainID = id
    }

    public var parameters: ChainParameters {
        get throws(RuntimeError) {
            guard let p = try CommittedStateReader(state).read(ChainParameters.self, ChainState.parametersKey) else { throw RuntimeError.corruptState("parameters") }
            return p
        }
    }

    /// Builds, executes and returns the next block from candidate transactions (in order).
    ///
    /// `preverified` names transactions whose signature the caller has already checked (the node's
    /// mempool checks every signature at admission). A transaction's hash covers its signature
    /// bytes, so a hit means these exact bytes verified; the result of execution is the same with or
    /// without it, only the work is not done twice.
    public func propose(time: Timestamp, proposer: PublicKey, transactions: [SignedTransaction],
                        lastCommit: CommitCertificate?, preverified: (Bytes32) -> Bool = { _ in false }) throws(BlockError) -> ExecutedBlock {
        let height = tip.height + 1
        let validatorsHash = try validatorsHashNow()
        let hashes = transactions.map(\.hash)
        let (receipts, log, prepared) = try run(height: height, time: time, transactions: transactions, hashes: hashes, preverified: preverified)
        let header = BlockHeader(chainID: chainID, height: height, time: time, parentHash: tip.hash,
                                 lastCommitHash: lastCommit?.hash ?? .zero,
                                 transactionsRoot: Block.transactionsRoot(hashes: hashes),
                                 receiptsRoot: Block.receiptsRoot(receipts), stateRoot: prepared.root,
                                 validatorsHash: validatorsHash, proposer: proposer,
                                 auditLogSize: log.size, auditLogRoot: log.root)
        let block = Block(header: header, transactions: transactions, lastCommit: lastCommit)
        try checkHeader(block)
        return ExecutedBlock(block: block, receipts: receipts, prepared: prepared, auditLog: log)
    }

    /// Re-executes a proposed or synced block and checks its header against the result.
    public func execute(_ block: Block, preverified: (Bytes32) -> Bool = { _ in false }) throws(BlockError) -> ExecutedBlock {
        try checkHeader(block)
        let hashes = block.transactions.map(\.hash)
        guard block.header.transactionsRoot == Block.transactionsRoot(hashes: hashes) else {
            throw BlockError("block.transactions_root", "transactions root does not match the transactions")
        }
        guard block.header.validatorsHash == (try validatorsHashNow()) else {
            throw BlockError("block.validators_hash", "validators hash is not the current set's")
        }
        let (receipts, log, prepared) = try run(height: block.header.height, time: block.header.time, transactions: block.transactions, hashes: hashes,
                                                preverified: preverified)
        guard prepared.root == block.header.stateRoot else {
            throw BlockError("block.state_root", "state root \(block.header.stateRoot) differs from re-execution's \(prepared.root)")
        }
        guard Block.receiptsRoot(receipts) == block.header.receiptsRoot else {
            throw BlockError("block.receipts_root", "receipts root differs from re-execution's")
        }
        guard log.size == block.header.auditLogSize, log.root == block.header.auditLogRoot else {
            throw BlockError("block.audit_log", "audit log \(block.header.auditLogSize) / \(block.header.auditLogRoot) differs from re-execution's \(log.size) / \(log.root)")
        }
        return ExecutedBlock(block: block, receipts: receipts, prepared: prepared, auditLog: log)
    }

    /// Writes an executed block's state. The node writes block and state in one batch itself and
    /// calls `didCommit` instead.
    public func commit(_ executed: ExecutedBlock) throws(BlockError) {
        do { try state.commit(executed.prepared) } catch { throw BlockError("block.storage", error.description) }
        didCommit(executed)
    }

    public func didCommit(_ executed: ExecutedBlock) {
        if state.version != executed.prepared.version { state.didCommit(executed.prepared) }
        tip = ChainTip(height: executed.block.header.height, hash: executed.block.hash, time: executed.block.header.time)
    }

    private func validatorsHashNow() throws(BlockError) -> Bytes32 {
        do { return ValidatorPower.setHash(try Validators.powers(in: CommittedStateReader(state))) }
        catch { throw BlockError("block.state", error.description) }
    }

    private func checkHeader(_ block: Block) throws(BlockError) {
        let h = block.header
        guard h.chainID == chainID else { throw BlockError("block.chain_id", "block for chain '\(h.chainID)', this is '\(chainID)'") }
        guard h.height == tip.height + 1 else { throw BlockError("block.height", "height \(h.height) does not follow \(tip.height)") }
        guard h.parentHash == tip.hash else { throw BlockError("block.parent", "parent \(h.parentHash) is not the tip \(tip.hash)") }
        guard h.time > tip.time else { throw BlockError("block.time", "time \(h.time) is not after the parent's \(tip.time)") }
        guard h.lastCommitHash == (block.lastCommit?.hash ?? .zero) else { throw BlockError("block.last_commit_hash", "last commit hash does not match the carried commit") }
        if let c = block.lastCommit {
            guard c.height == tip.height, c.blockHash == tip.hash else {
                throw BlockError("block.last_commit", "the carried commit is not for the parent block")
            }
        }
        let validators: [Validator]
        do { validators = try Validators.current(in: CommittedStateReader(state)) } catch { throw BlockError("block.state", error.description) }
        guard validators.contains(where: { $0.key == h.proposer }) else {
            throw BlockError("block.proposer", "\(Address(h.proposer)) is not a validator")
        }
        let params: ChainParameters
        do { params = try parameters } catch { throw BlockError("block.state", error.description) }
        guard block.transactions.count <= Int(params.maxTransactionsPerBlock) else {
            throw BlockError("block.too_many_transactions", "\(block.transactions.count) > \(params.maxTransactionsPerBlock)")
        }
    }

    /// Verifies every signature, spread over `verificationThreads`.
    public func verifySignatures(_ txs: [SignedTransaction]) -> [Bool] {
        var results = [Bool](repeating: false, count: txs.count)
        let threads = min(verificationThreads, max(1, txs.count / 64))
        if threads <= 1 {
            for i in txs.indices { results[i] = txs[i].signatureIsValid }
            return results
        }
        results.withUnsafeMutableBufferPointer { out in
            // Each worker writes only its own disjoint slice of `out`.
            nonisolated(unsafe) let out = out
            let chunk = (txs.count + threads - 1) / threads
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let start = t * chunk, end = min(txs.count, start + chunk)
                if start < end { for i in start..<end { out[i] = txs[i].signatureIsValid } }
            }
        }
        return results
    }

    private func run(height: UInt64, time: Timestamp, transactions: [SignedTransaction], hashes: [Bytes32],
                     preverified: (Bytes32) -> Bool) throws(BlockError) -> ([Receipt], AuditLog.BlockAppend, AuthenticatedState.Prepared) {
        // Signatures are checked by helper threads from the back of the block while this thread
        // executes from the front, checking itself any signature no helper has reached yet.
        // Signatures the caller already checked are published as valid before anyone starts.
        let board = SignatureBoard(count: transactions.count)
        var unchecked = 0
        for i in hashes.indices {
            if preverified(hashes[i]), board.claim(i) { board.publish(i, valid: true) } else { unchecked += 1 }
        }
        let helpers = unchecked >= 64 ? verificationThreads - 1 : 0
        let group = DispatchGroup()
        let cursor = Atomic<Int>(transactions.count)
        if helpers > 0 {
            for _ in 0..<helpers {
                group.enter()
                DispatchQueue.global().async { [transactions] in
                    // A slot already claimed is preverified or taken by the executing thread; skip it
                    // (the cost is one failed compare-and-swap per remaining slot).
                    while true {
                        let j = cursor.subtract(1, ordering: .relaxed).newValue
                        guard j >= 0 else { break }
                        if board.claim(j) { board.publish(j, valid: transactions[j].signatureIsValid) }
                    }
                    group.leave()
                }
            }
        }
        defer { group.wait() }
        func signatureValid(_ i: Int) -> Bool {
            if board.claim(i) {
                let v = transactions[i].signatureIsValid
                board.publish(i, valid: v)
                return v
            }
            while true { if let v = board.result(i) { return v } }
        }
        let view = state.view()
        do {
            let params = try parameters
            let ctx = ExecutionContext(view: view, chainID: chainID, height: height, time: time, parameters: params,
                                       signer: PublicKey.generatorX, transactionHash: .zero)
            try Governance.beginBlock(ctx)
            try Upgrades.beginBlock(ctx)
            try Suspensions.beginBlock(ctx)
            try KeyRotations.beginBlock(ctx)
            var perAccount: [PublicKey: UInt32] = [:]
            var receipts: [Receipt] = []
            receipts.reserveCapacity(transactions.count)
            for (i, tx) in transactions.enumerated() {
                receipts.append(try apply(tx, hash: hashes[i], index: UInt32(i), signatureValid: signatureValid(i), ctx, &perAccount))
            }
            // One receipt per transaction, in order: the receipts root and every index rely on it.
            do {
                try invariant(receipts.count == transactions.count && receipts.indices.allSatisfy { receipts[$0].transaction == hashes[$0] && receipts[$0].index == UInt32($0) },
                              "block.one_receipt_per_transaction", "\(receipts.count) receipts for \(transactions.count) transactions at height \(height)")
            } catch { throw RuntimeError.invariant(error) }
            // The audit log grows by the entries of the successful transactions, in block order.
            let log = try AuditLog.appendBlock(events: receipts.flatMap { $0.outcome == .success ? $0.events : [] }, ctx)
            return (receipts, log, try state.prepare(view, version: height))
        } catch let e as RuntimeError {
            throw BlockError("block.runtime", e.description)
        } catch {
            throw BlockError("block.state", "\(error)")
        }
    }

    private func apply(_ stx: SignedTransaction, hash txHash: Bytes32, index: UInt32, signatureValid: Bool, _ ctx: ExecutionContext,
                       _ perAccount: inout [PublicKey: UInt32]) throws(RuntimeError) -> Receipt {
        let tx = stx.transaction
        func reject(_ code: String, _ message: String) -> Receipt {
            Receipt(transaction: txHash, index: index, outcome: .rejected(RuntimeError(code, message)), events: [], decision: nil, createdID: nil)
        }
        // The envelope's checks are the mempool's (`TransactionEnvelope`), against the block's state.
        let registered = try Identity.isRegistered(tx.signer, in: ctx.view)
        if let refusal = TransactionEnvelope.check(tx, chainID: chainID, signatureValid: { signatureValid }, signerIsRegistered: registered) {
            return reject(refusal.code, refusal.message)
        }
        let used = perAccount[tx.signer, default: 0]
        guard used < ctx.parameters.maxTransactionsPerAccountPerBlock else {
            return reject("tx.account_quota", "more than \(ctx.parameters.maxTransactionsPerAccountPerBlock) transactions from one account in a block")
        }
        let expected = try Accounts.nonce(of: tx.signer, in: ctx.view)
        if let refusal = TransactionEnvelope.checkNonce(tx, expected: expected) { return reject(refusal.code, refusal.message) }
        perAccount[tx.signer] = used + 1
        ctx.begin(signer: tx.signer, transactionHash: txHash)
        var decision: AccessDecision?
        var created: Bytes32?
        let outcome: Receipt.Outcome
        do throws(RuntimeError) {
            (decision, created) = try Dispatcher.dispatch(tx.call, ctx)
            guard ctx.events.count <= Receipt.maxEvents else {
                throw RuntimeError("transaction.too_many_events", "\(ctx.events.count) events; a transaction emits at most \(Receipt.maxEvents)")
            }
            outcome = .success
        } catch where error.isStateFault {
            // A storage error is the node's fault, never the transaction's: it must not become a
            // receipt (another node, whose disk is fine, would write a different one). The block
            // fails and the node stops (docs/ARCHITECTURE.md, "Failure policy").
            throw error
        } catch {
            ctx.view.rollbackTransaction()
            // An unknown key's failed registration leaves no state at all (not even a nonce): a
            // stranger cannot make the chain keep an entry for a key it never admitted.
            guard registered else {
                return Receipt(transaction: txHash, index: index, outcome: .rejected(error), events: [], decision: nil, createdID: nil)
            }
            outcome = .failed(error)
        }
        Accounts.setNonce(expected + 1, of: tx.signer, ctx)
        ctx.view.commitTransaction()
        let events = outcome == .success ? ctx.events : []
        return Receipt(transaction: txHash, index: index, outcome: outcome, events: events,
                       decision: outcome == .success ? decision : nil, createdID: outcome == .success ? created : nil)
    }
}

extension RuntimeError {
    static func corruptState(_ what: String) -> RuntimeError { RuntimeError("state.corrupt", "stored \(what) does not decode") }
}

/// Which transactions' signatures have been checked, and with what result: a slot per
/// transaction, claimed by exactly one thread (compare-and-swap) before it verifies.
final class SignatureBoard: Sendable {
    private static let unclaimed: UInt8 = 0, claimed: UInt8 = 1, valid: UInt8 = 2, invalid: UInt8 = 3
    // Sendable: the slots are atomics, allocated in init and freed in deinit only.
    nonisolated(unsafe) private let slots: UnsafeMutablePointer<Atomic<UInt8>>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: max(count, 1))
        for i in 0..<count { (slots + i).initialize(to: Atomic(Self.unclaimed)) }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    /// True if the caller now owns slot `i` and must verify and publish it.
    func claim(_ i: Int) -> Bool {
        slots[i].compareExchange(expected: Self.unclaimed, desired: Self.claimed, ordering: .acquiringAndReleasing).exchanged
    }

    func publish(_ i: Int, valid: Bool) { slots[i].store(valid ? Self.valid : Self.invalid, ordering: .releasing) }

    /// The result once published, nil while another thread is still verifying.
    func result(_ i: Int) -> Bool? {
        switch slots[i].load(ordering: .acquiring) {
        case Self.valid: true
        case Self.invalid: false
        default: nil
        }
    }
}
