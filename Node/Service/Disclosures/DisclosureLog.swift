import Foundation
public import Logging
import Synchronization
import ServiceLifecycle
public import MeridianCore
public import MeridianModules
public import MeridianRuntime
public import MeridianStorage
public import MeridianMempool

/// The node's log of disclosures still to reach the audit trail: every answer that shows a
/// patient's data to someone other than the patient (an API read by a clinician, a regulator or
/// an operator; a console view; an alert delivery) is first written here, in a synced write,
/// and only then sent. `DisclosureRecorder` submits each as a transaction the node's worker key
/// signs, and keeps it until that transaction is committed: across mempool evictions, lost
/// gossip and restarts (a crash between the answer and the block loses nothing).
///
/// Column family `disclosures`: an 8-byte big-endian sequence number → `Pending` (the call, and
/// the hash of the transaction it was last submitted as).
public final class DisclosureLog: Sendable {
    public static let columns = ["disclosures"]
    static let column = "disclosures"

    /// A disclosure's record and where it stands.
    struct Pending: Canonical {
        let call: Call
        /// The transaction last submitted for it (nil: not yet submitted since it was logged).
        var submitted: Bytes32?
        func encode(to w: inout CanonicalWriter) { w.write(call); w.write(submitted) }
        init(call: Call, submitted: Bytes32?) { self.call = call; self.submitted = submitted }
        init(from r: inout CanonicalReader) throws(CodecError) {
            call = try r.read(Call.self); submitted = try r.readOptional(Bytes32.self, "disclosure.submitted")
        }
    }

    let db: RocksDB
    let chain: ChainService
    let store: BlockStore
    let mempool: Mempool
    /// The node's worker key: it signs the records (it is also the audience of signed requests).
    public let key: PrivateKey
    private let nextSequence: Mutex<UInt64>
    let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation

    public init(chain: ChainService, key: PrivateKey) throws(RocksDBError) {
        self.chain = chain; store = chain.store; db = chain.store.db; mempool = chain.mempool; self.key = key
        let last = try db.scan(Self.column, prefix: [], limit: Int.max).last?.key
        nextSequence = Mutex(last.map { $0.reduce(0) { $0 << 8 | UInt64($1) } + 1 } ?? 0)
        (doorbell, ring) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        ring.yield()   // whatever a previous run left
    }

    static func key(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

    /// Writes `calls` to the log in one synced write; returns once they are on disk (the caller may
    /// then answer). Throws if the write fails: the caller must not disclose.
    public func record(_ calls: [Call]) throws(RocksDBError) {
        guard !calls.isEmpty else { return }
        let batch = RocksDB.WriteBatch(for: db)
        nextSequence.withLock { n in
            for call in calls {
                batch.put(Self.column, Self.key(n), Pending(call: call, submitted: nil).canonicalBytes)
                n += 1
            }
        }
        try db.write(batch, sync: true)
        ring.yield()
    }

    /// Wakes the recorder (a block was committed, or work was logged).
    public func wake() { ring.yield() }

    /// How many records are not yet known to be committed.
    public func pendingCount() throws(RocksDBError) -> Int { try db.scan(Self.column, prefix: [], limit: 100_000).count }

    /// The calls not yet known to be committed, oldest first.
    func pending(limit: Int) throws -> [(key: [UInt8], value: Pending)] {
        try db.scan(Self.column, prefix: [], limit: limit).map { row in (row.key, try Pending(trustedCanonicalBytes: row.value)) }
    }

    /// One pass over the log, oldest first: a record whose transaction is in a block is dropped
    /// (logged if its receipt failed); one whose transaction is still in the mempool waits; any
    /// other is signed again at the worker's next nonce and submitted. Returns false when the
    /// mempool refused a submission (the pass stops there; the caller retries later).
    ///
    /// The mempool is asked before the block index: a transaction leaves the mempool only after
    /// its block (and index) is written, so "not in the mempool, not in a block" means lost.
    public func pass(logger: Logger) async throws -> Bool {
        for (row, var item) in try pending(limit: 512) {
            if let hash = item.submitted {
                if mempool.contains(hash) { continue }
                if let at = try store.location(ofTransaction: hash) {
                    if let receipts = try store.receipts(at: at.height), Int(at.index) < receipts.count {
                        switch receipts[Int(at.index)].outcome {
                        case .success: break
                        case .failed(let error), .rejected(let error):
                            logger.error("a disclosure's audit record was refused by the chain", metadata: [
                                "transaction": "\(hash.hex)", "call": "\(item.call.name)", "error": "\(error)"])
                        }
                    }
                    let batch = RocksDB.WriteBatch(for: db)
                    batch.delete(Self.column, row)
                    try db.write(batch, sync: false)
                    continue
                }
            }
            guard let (hash, _) = await chain.submitSigned(item.call, signer: key) else {
                logger.warning("the mempool refused a disclosure's audit record; it stays in the log and is retried", metadata: ["call": "\(item.call.name)"])
                return false
            }
            logger.debug("disclosure record submitted", metadata: ["call": "\(item.call.name)", "transaction": "\(hash.hex)",
                                                                    "resubmitted": "\(item.submitted != nil)"])
            item.submitted = hash
            let batch = RocksDB.WriteBatch(for: db)
            batch.put(Self.column, row, item.canonicalBytes)
            try db.write(batch, sync: true)
        }
        return true
    }
}

/// Runs `DisclosureLog` passes: when work is logged, after every committed block, and every
/// `interval` (for a refused submission or a transaction lost from every mempool).
struct DisclosureRecorder: Service {
    let log: DisclosureLog
    let events: EventHub
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // A committed block may hold records: look at once.
                    var last: UInt64 = 0
                    for await e in events.subscribe() where e.height != last { last = e.height; log.wake() }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: interval) } catch { return }
                        log.wake()
                    }
                }
                group.addTask {
                    for await _ in log.doorbell {
                        do { _ = try await log.pass(logger: logger) }
                        catch { logger.error("cannot read or write the disclosure log; retrying", metadata: ["error": "\(error)"]) }
                        if Task.isCancelled { return }
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }
}
