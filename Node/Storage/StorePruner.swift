import Foundation
public import MeridianCore
public import MeridianState
import MeridianModules

/// Prunes what a node no longer needs to keep (issue 24): state versions below a retain height and
/// block bodies and receipts below a lower one.
///
/// Kept for good: every header (in `blocks`, or `headers` once its body is gone), every commit
/// certificate, the transaction index (a committed transaction's height), the audit log's tree, the
/// latest state (which holds every audit entry), and for each validator-set change whose state is
/// pruned the set's entry with its proof (`light_sets`), so a light client still verifies the chain
/// from genesis over open routes.
///
/// In two phases, so that the chain never waits on the long one:
/// 1. `prepare` (beside commits): the records versions `stateBelow...latest` need
///    (`StateReachability`), every other stored record as a candidate, and the light-set proofs.
/// 2. `apply` (between two commits: the caller runs it on the chain's writer): the records of the
///    versions committed meanwhile join the needed set, then roots and candidates still unneeded
///    are deleted, and bodies move out. A record a later version wrote again is needed by that
///    version and so is never deleted.
public final class StorePruner: @unchecked Sendable {
    // @unchecked: used by one pruning pass at a time (the node's pruning service).
    public let store: BlockStore
    /// Records deleted per write batch.
    static let deleteBatch = 20_000

    public init(store: BlockStore) { self.store = store }

    public struct Prepared: @unchecked Sendable {
        // @unchecked: handed from the preparing thread to the writer, never shared.
        public let stateBelow: UInt64
        let latest: UInt64
        var live: Set<Bytes32>
        let candidates: [Bytes32]
        let lightSets: [(height: UInt64, value: [UInt8], proof: [UInt8])]
        /// Records the versions kept need (at prepare time).
        public var liveRecords: Int { live.count }
        public var candidateRecords: Int { candidates.count }
    }

    public struct Outcome: Sendable, Equatable {
        public var stateKeptFrom: UInt64
        public var bodiesKeptFrom: UInt64
        public var recordsDeleted: Int
        public var rootsDeleted: Int
        public var bodiesPruned: Int
    }

    public struct PruneError: Error, CustomStringConvertible, Sendable {
        public let message: String
        public init(message: String) { self.message = message }
        public var description: String { "prune: \(message)" }
    }

    /// Phase 1: what pruning state below `stateBelow` would delete (nil: nothing to do).
    public func prepare(stateBelow: UInt64) throws -> Prepared? {
        let storage = store.stateStorage
        guard let latest = try storage.latestVersion() else { return nil }
        let keptFrom = try store.stateKeptFrom()
        guard stateBelow > keptFrom, stateBelow <= latest else { return nil }
        let live = try StateReachability.live(versions: stateBelow...latest, storage: storage)
        var candidates: [Bytes32] = []
        var cursor: [UInt8]? = nil
        while true {
            let page = try store.db.keys("state.nodes", from: cursor, limit: 10_000)
            for key in page where key != cursor {
                guard let h = Bytes32(key) else { throw PruneError(message: "a state.nodes key of \(key.count) bytes") }
                if !live.contains(h) { candidates.append(h) }
            }
            guard page.count == 10_000, let last = page.last else { break }
            cursor = last
        }
        // The validator-set entries light clients need where the set changed at h and h - 1 goes.
        var lightSets: [(UInt64, [UInt8], [UInt8])] = []
        let tree = SparseMerkleTree(storage: storage, maxCachedNodes: 4096)
        let keyHash = StateProof.keyHash(Validators.setKey.bytes)
        var parent = try store.header(at: keptFrom)
        for h in (keptFrom + 1)...stateBelow {
            let header = try store.header(at: h)
            defer { parent = header }
            guard let header, let parent, header.validatorsHash != parent.validatorsHash, try store.lightSet(at: h) == nil else { continue }
            guard let root = try storage.root(version: h - 1) else { throw PruneError(message: "no state root at \(h - 1) for the set change at \(h)") }
            guard let value = try tree.value(at: root, keyHash: keyHash) else { continue }
            lightSets.append((h, value, try tree.proof(at: root, keyHash: keyHash).canonicalBytes))
        }
        return Prepared(stateBelow: stateBelow, latest: latest, live: live, candidates: candidates, lightSets: lightSets)
    }

    /// Phase 2: deletes what `prepared` found unneeded (re-checked against the versions committed
    /// since) and prunes bodies below `bodiesBelow`. Must not run while a block is being written.
    public func apply(_ prepared: Prepared, bodiesBelow: UInt64) throws -> Outcome {
        var prepared = prepared
        let storage = store.stateStorage
        let db = store.db
        guard let latest = try storage.latestVersion() else { throw PruneError(message: "no state") }
        if latest > prepared.latest {
            for v in (prepared.latest + 1)...latest {
                guard let root = try storage.root(version: v) else { throw PruneError(message: "no root at \(v)") }
                try StateReachability.mark(root: root, storage: storage, live: &prepared.live)
            }
        }
        let keptFrom = try store.stateKeptFrom()
        // First what says the versions are gone (roots, the kept-from mark) with the light sets that
        // replace them, in one batch; then the records, a batch at a time (a crash in between leaves
        // records the next pass deletes).
        let wb = RocksDB.WriteBatch(for: db)
        var rootsDeleted = 0
        for v in keptFrom..<prepared.stateBelow where try storage.root(version: v) != nil {
            wb.delete("state.roots", BlockStore.heightKey(v))
            rootsDeleted += 1
        }
        for s in prepared.lightSets { wb.put("light_sets", BlockStore.heightKey(s.height), BlockStore.encodeLightSet(value: s.value, proof: s.proof)) }
        wb.put("meta", BlockStore.stateFromKey, BlockStore.heightKey(prepared.stateBelow))
        try db.write(wb, sync: true)
        var deleted = 0
        var pending = RocksDB.WriteBatch(for: db), inBatch = 0
        for h in prepared.candidates where !prepared.live.contains(h) {
            pending.delete("state.nodes", h.bytes)
            deleted += 1; inBatch += 1
            if inBatch == Self.deleteBatch { try db.write(pending, sync: false); pending = RocksDB.WriteBatch(for: db); inBatch = 0 }
        }
        if inBatch > 0 { try db.write(pending, sync: true) }
        let bodies = try pruneBodies(below: min(bodiesBelow, prepared.stateBelow))
        return Outcome(stateKeptFrom: prepared.stateBelow, bodiesKeptFrom: try store.bodiesKeptFrom(), recordsDeleted: deleted,
                       rootsDeleted: rootsDeleted, bodiesPruned: bodies)
    }

    /// Moves the headers of blocks below `below` out of their bodies, deleting bodies and receipts
    /// (a batch of heights at a time, each with the kept-from mark).
    func pruneBodies(below: UInt64) throws -> Int {
        let db = store.db
        var from = try store.bodiesKeptFrom()
        var pruned = 0
        while from < below {
            let end = min(below, from + 1000)
            let wb = RocksDB.WriteBatch(for: db)
            for h in from..<end {
                guard let block = try store.block(at: h) else { continue }
                wb.put("headers", BlockStore.heightKey(h), block.header.canonicalBytes)
                wb.delete("blocks", BlockStore.heightKey(h))
                wb.delete("receipts", BlockStore.heightKey(h))
                pruned += 1
            }
            wb.put("meta", BlockStore.bodiesFromKey, BlockStore.heightKey(end))
            try db.write(wb, sync: true)
            from = end
        }
        return pruned
    }

    /// Gives the space of what was deleted back to the file system.
    public func compact() {
        for column in ["state.nodes", "state.roots", "blocks", "receipts"] { store.db.compact(column) }
    }
}
