public import MeridianCore
public import MeridianRuntime
import MeridianModules
import Synchronization

/// Bounds of the mempool, with their defaults (config `mempool.*`).
public struct MempoolLimits: Sendable, Codable, Hashable {
    /// Pending transactions at most.
    public var maxTransactions: Int = 50_000
    /// Pending bytes at most (encoded transactions).
    public var maxBytes: Int = 64 << 20
    /// Pending transactions of one account at most.
    public var maxPerAccount: Int = 256
    public init() {}
}

/// Why a transaction was not admitted. Stable codes for the API.
public struct AdmissionError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code): \(message)" }
}

/// What the mempool needs to know of the committed state.
public protocol AccountView: Sendable {
    /// The next nonce the state expects from `key`.
    func nonce(of key: PublicKey) throws -> UInt64
    /// Whether `key` is a registered account (patient or member).
    func isRegistered(_ key: PublicKey) throws -> Bool
    /// Whether `key` is a member with the provider role (who may attest a patient's enrolment).
    func isProvider(_ key: PublicKey) throws -> Bool
}

/// Pending transactions waiting for a block.
///
/// Admission: well-formed and within size (the caller decodes), right chain, valid signature,
/// a registered signer (or a patient's own registration), exactly the signer's next nonce
/// (counting its pending transactions), within the per-account quota, the count and the byte cap.
/// The signature is checked by `admit` outside the lock, so concurrent submissions use every core.
/// Thread-safe.
public final class Mempool: Sendable {
    struct Entry {
        let tx: SignedTransaction
        let hash: Bytes32
        let size: Int
        let sequence: UInt64
        /// Kept apart from `tx` so the checks under the lock read them without copying the
        /// transaction out of its box.
        let signer: PublicKey
        let nonce: UInt64
    }

    struct Pending {
        let hash: Bytes32
        let nonce: UInt64
    }

    struct State {
        var byHash: [Bytes32: Entry] = [:]
        /// Per account: pending transactions in nonce order, with their nonces.
        var byAccount: [PublicKey: [Pending]] = [:]
        /// Arrival order (sequence → hash), for fair reaping.
        var order: [UInt64: Bytes32] = [:]
        var nextSequence: UInt64 = 0
        var bytes = 0
        /// Transactions evicted as poison (`evict`), refused if they come back by gossip; oldest
        /// forgotten first beyond `maxQuarantined`.
        var quarantined: Set<Bytes32> = []
        var quarantineOrder: [Bytes32] = []
    }

    /// How many evicted transaction hashes the mempool remembers.
    public static let maxQuarantined = 10_000

    public let chainID: String
    public let limits: MempoolLimits
    private let state = Mutex(State())

    public init(chainID: String, limits: MempoolLimits) { self.chainID = chainID; self.limits = limits }

    public var count: Int { state.withLock { $0.byHash.count } }
    public var bytes: Int { state.withLock { $0.bytes } }

    public func contains(_ hash: Bytes32) -> Bool { state.withLock { $0.byHash[hash] != nil } }

    /// These pending transactions in this order (a compact proposal's block), nil where one is not pending.
    public func transactions(_ hashes: [Bytes32]) -> [SignedTransaction?] {
        state.withLock { s in hashes.map { s.byHash[$0]?.tx } }
    }

    /// The signer of a pending transaction (nil if it is not pending).
    public func signer(of hash: Bytes32) -> PublicKey? { state.withLock { $0.byHash[hash]?.signer } }

    /// Admits a decoded transaction of `size` encoded bytes; returns its hash.
    @discardableResult
    public func admit(_ stx: SignedTransaction, size: Int, accounts: some AccountView) throws(AdmissionError) -> Bytes32 {
        let tx = stx.transaction
        guard size <= SignedTransaction.maxEncodedBytes else { throw AdmissionError("tx.too_large", "\(size) bytes > \(SignedTransaction.maxEncodedBytes)") }
        // Cheap refusals first: a copy of a pending transaction, or one whose nonce the state has
        // already consumed (gossip bringing a transaction a block carried before it arrived), is
        // refused before its signature costs a verification (in a localnet most of those came by
        // gossip after their block).
        let hash = stx.hash
        if state.withLock({ $0.byHash[hash] != nil }) { throw AdmissionError("tx.duplicate", "already pending") }
        // A failed read is the node's (`node.state`), never taken for "no nonce yet".
        let stateNonce: UInt64
        do { stateNonce = try accounts.nonce(of: tx.signer) } catch { throw AdmissionError("node.state", "\(error)") }
        if tx.nonce < stateNonce, let refusal = TransactionEnvelope.checkNonce(tx, expected: stateNonce) {
            throw AdmissionError(refusal.code, refusal.message)
        }
        do {
            // The envelope's checks are execution's (`TransactionEnvelope`), against the committed state.
            let registered = try accounts.isRegistered(tx.signer)
            if let refusal = TransactionEnvelope.check(tx, chainID: chainID, signatureValid: { stx.signatureIsValid }, signerIsRegistered: registered) {
                throw AdmissionError(refusal.code, refusal.message)
            }
            if case .registerPatient(let enrolment) = tx.call {
                // The one transaction an unknown key may send is checked here, before it costs a
                // block anything: a registration that would fail never enters the mempool and is
                // never gossiped (execution's own checks, against the committed state).
                if let refusal = Identity.enrolmentRefusal(enrolment, patient: tx.signer, chainID: chainID, isPatient: registered,
                                                             isMember: false, attestorIsProvider: try accounts.isProvider(enrolment.attestor)) {
                    throw AdmissionError(refusal.code, refusal.message)
                }
            }
        } catch let e as AdmissionError { throw e } catch { throw AdmissionError("node.state", "\(error)") }
        let signer = tx.signer, nonce = tx.nonce
        return try state.withLock { (s: inout State) throws(AdmissionError) -> Bytes32 in
            guard s.byHash[hash] == nil else { throw AdmissionError("tx.duplicate", "already pending") }
            guard !s.quarantined.contains(hash) else {
                throw AdmissionError("tx.quarantined", "this transaction kept proposals from being decided and was evicted; sign a new one if it is still wanted")
            }
            // The account's pending transactions that the state has not yet consumed (a block may
            // have committed some of them a moment before they leave the mempool).
            var pendingCount = 0
            var expected = stateNonce
            for p in s.byAccount[signer] ?? [] where p.nonce >= stateNonce { pendingCount += 1; expected = p.nonce + 1 }
            if let refusal = TransactionEnvelope.checkNonce(nonce, expected: expected) { throw AdmissionError(refusal.code, refusal.message) }
            guard pendingCount < limits.maxPerAccount else { throw AdmissionError("mempool.account_quota", "\(limits.maxPerAccount) pending transactions from this account") }
            guard s.byHash.count < limits.maxTransactions else { throw AdmissionError("mempool.full", "\(limits.maxTransactions) pending transactions") }
            guard s.bytes + size <= limits.maxBytes else { throw AdmissionError("mempool.full", "\(limits.maxBytes) pending bytes") }
            let entry = Entry(tx: stx, hash: hash, size: size, sequence: s.nextSequence, signer: signer, nonce: nonce)
            s.nextSequence += 1
            s.byHash[hash] = entry
            s.byAccount[signer, default: []].append(Pending(hash: hash, nonce: nonce))
            s.order[entry.sequence] = hash
            s.bytes += size
            Self.enforce(s, limits)
            return hash
        }
    }

    /// The nonce `key`'s next transaction must carry: after the state's and any still pending.
    public func nextNonce(for key: PublicKey, stateNonce: UInt64) -> UInt64 {
        state.withLock { s in
            let pending = (s.byAccount[key] ?? []).map(\.nonce).filter { $0 >= stateNonce }
            return pending.max().map { $0 + 1 } ?? stateNonce
        }
    }

    /// Up to `maxCount` transactions (and `maxBytes`), oldest first; an account's transactions
    /// stay in nonce order because only next-nonce transactions are admitted.
    /// `excluding` leaves out those transactions and every later one of their signers (which
    /// would otherwise arrive with a nonce gap and be rejected).
    /// With `only`, nothing outside that set is taken (and a signer with a transaction outside it
    /// is held from there on, as for `excluding`).
    /// `skipping` are transactions a committed block already includes (it is still being written,
    /// and they leave the mempool when it is on disk): left out, and their signers' next ones taken.
    public func reap(maxCount: Int, maxBytes: Int, excluding: Set<Bytes32> = [], only: Set<Bytes32>? = nil,
                     skipping: Set<Bytes32> = []) -> [SignedTransaction] {
        state.withLock { s in
            var out: [SignedTransaction] = []
            var total = 0
            var held: Set<PublicKey> = []
            for seq in s.order.keys.sorted() {
                guard out.count < maxCount, let h = s.order[seq], let e = s.byHash[h] else { break }
                if !skipping.isEmpty, skipping.contains(h) { continue }
                if excluding.contains(h) || only.map({ !$0.contains(h) }) == true || held.contains(e.signer) {
                    held.insert(e.signer); continue
                }
                if total + e.size > maxBytes { break }
                out.append(e.tx); total += e.size
            }
            return out
        }
    }

    /// Removes a transaction that kept proposals from being decided, with the later ones of its
    /// signer, and refuses it if it comes back (`tx.quarantined`). Returns what was removed.
    @discardableResult
    public func evict(_ hash: Bytes32) -> [Bytes32] {
        state.withLock { s in
            guard let e = s.byHash[hash] else { return [] }
            let signer = e.signer
            let later = (s.byAccount[signer] ?? []).filter { $0.nonce >= e.nonce }.map(\.hash)
            for h in later { Self.remove(h, &s) }
            if s.quarantined.insert(hash).inserted {
                s.quarantineOrder.append(hash)
                if s.quarantineOrder.count > Self.maxQuarantined { s.quarantined.remove(s.quarantineOrder.removeFirst()) }
            }
            Self.enforce(s, limits)
            return later
        }
    }

    /// Removes transactions that a committed block included.
    public func removeIncluded(_ hashes: [Bytes32]) {
        state.withLock { s in for h in hashes { Self.remove(h, &s) } }
    }

    /// Drops what the new state makes invalid: spent nonces, and anything behind a gap. Run after
    /// each block, off the commit path, for the accounts whose nonce the block moved (`only`: the
    /// block's signers; an account with no transaction in it keeps its nonce and its pending ones
    /// stay valid), or for every pending account when `only` is nil.
    public func recheck(accounts: some AccountView, only: Set<PublicKey>? = nil) {
        let signers = state.withLock { s in only.map { Array($0.filter { s.byAccount[$0] != nil }) } ?? Array(s.byAccount.keys) }
        for signer in signers {
            guard let stateNonce = try? accounts.nonce(of: signer) else { continue }
            state.withLock { s in
                guard let pending = s.byAccount[signer] else { return }
                var expected = stateNonce
                for p in pending {
                    if p.nonce == expected { expected += 1 } else { Self.remove(p.hash, &s) }
                }
            }
        }
    }

    /// The mempool's bounds and the consistency of its indexes (O(1), checked after every change):
    /// at most `maxTransactions` and `maxBytes`, one arrival slot per transaction, the quarantine
    /// within its bound.
    static func check(_ s: State, _ limits: MempoolLimits) throws(InvariantViolation) {
        try invariant(s.byHash.count <= limits.maxTransactions && s.bytes >= 0 && s.bytes <= limits.maxBytes, "mempool.bounds",
                      "\(s.byHash.count) transactions (max \(limits.maxTransactions)), \(s.bytes) bytes (max \(limits.maxBytes))")
        try invariant(s.order.count == s.byHash.count, "mempool.order_index", "\(s.order.count) arrival slots for \(s.byHash.count) transactions")
        try invariant(s.quarantined.count == s.quarantineOrder.count && s.quarantined.count <= maxQuarantined, "mempool.quarantine_bound",
                      "\(s.quarantined.count) quarantined, \(s.quarantineOrder.count) in order (max \(maxQuarantined))")
    }

    /// Checks the invariants now (for tests).
    public func checkInvariants() throws(InvariantViolation) {
        let s = state.withLock { $0 }
        try Self.check(s, limits)
    }

    /// A broken invariant here is a bug that would let the mempool grow without bound or reap
    /// what it no longer holds: the process stops, naming it (the failure policy).
    private static func enforce(_ s: State, _ limits: MempoolLimits) {
        do { try check(s, limits) } catch { preconditionFailure("\(error)") }
    }

    private static func remove(_ hash: Bytes32, _ s: inout State) {
        guard let e = s.byHash.removeValue(forKey: hash) else { return }
        s.order.removeValue(forKey: e.sequence)
        s.bytes -= e.size
        precondition(s.bytes >= 0 && s.order.count == s.byHash.count, "invariant mempool.order_index does not hold: \(s.bytes) bytes, \(s.order.count) slots for \(s.byHash.count)")
        let signer = e.signer
        s.byAccount[signer]?.removeAll { $0.hash == hash }
        if s.byAccount[signer]?.isEmpty == true { s.byAccount[signer] = nil }
    }
}
