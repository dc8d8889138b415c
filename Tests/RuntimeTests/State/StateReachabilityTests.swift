import Testing
@testable import MeridianCore
@testable import MeridianState

/// Pruning's basis: the records versions `from...to` need. A storage that keeps only those must
/// answer every value and proof of those versions as the whole storage does, including a record
/// that an old version wrote, a later one dropped, and a later one wrote again (a value A → B → A);
/// versions before `from` must really lose records (else nothing is pruned).
@Suite(.timeLimit(.minutes(5))) struct StateReachabilityTests {
    /// The storage as pruning leaves it: records outside `live`, and roots before `from`, gone.
    final class PrunedStorage: StateStorage {
        let inner: InMemoryStateStorage
        let live: Set<Bytes32>
        let from: UInt64
        init(_ inner: InMemoryStateStorage, live: Set<Bytes32>, from: UInt64) { self.inner = inner; self.live = live; self.from = from }
        func node(_ hash: Bytes32) -> [UInt8]? { live.contains(hash) ? inner.node(hash) : nil }
        func value(_ key: [UInt8]) -> [UInt8]? { inner.value(key) }
        func root(version: UInt64) -> Bytes32? { version >= from ? inner.root(version: version) : nil }
        func latestVersion() -> UInt64? { inner.latestVersion() }
        func commit(_ batch: StateBatch) throws(StateError) { try inner.commit(batch) }
        func scan(prefix: [UInt8], from start: [UInt8]?, limit: Int) -> [(key: [UInt8], value: [UInt8])] { inner.scan(prefix: prefix, from: start, limit: limit) }
    }

    @Test(arguments: [UInt64(1), 7, 12, 20])
    func aStorageKeepingOnlyTheLiveRecordsAnswersEveryKeptVersion(from: UInt64) throws {
        let storage = InMemoryStateStorage()
        let state = try AuthenticatedState(storage: storage, maxCachedNodes: 64)
        var rng = SeededGenerator(seed: 0x5eed + from)
        let keys = (0..<300).map { Array("key-\($0)".utf8) }
        var history: [[Int: [UInt8]]] = []
        var current: [Int: [UInt8]] = [:]
        for version in UInt64(0)...20 {
            let v = state.view()
            for _ in 0..<(version == 0 ? 300 : 25) {
                let k = Int(rng.next() % 300)
                if rng.next() % 7 == 0 { v.delete(keys[k]); current[k] = nil }
                else { let value = Array("value-\(rng.next() % 5)".utf8); v.set(keys[k], value); current[k] = value }
            }
            // Key 0 goes A (even versions) → B (odd) → A: its leaf record comes back under one hash.
            let flip = Array((version % 2 == 0 ? "A" : "B").utf8)
            v.set(keys[0], flip); current[0] = flip
            v.commitTransaction()
            try state.commit(try state.prepare(v, version: version))
            history.append(current)
        }
        let live = try StateReachability.live(versions: from...20, storage: storage)
        let pruned = PrunedStorage(storage, live: live, from: from)
        let tree = SparseMerkleTree(storage: pruned, maxCachedNodes: 16)
        for version in from...20 {
            let root = try #require(pruned.root(version: version))
            for k in 0..<300 {
                let keyHash = StateProof.keyHash(keys[k])
                #expect(try tree.value(at: root, keyHash: keyHash) == history[Int(version)][k], "version \(version) key \(k)")
                let proof = try tree.proof(at: root, keyHash: keyHash)
                #expect(proof.verify(root: root, key: keys[k], value: history[Int(version)][k]), "version \(version) key \(k): proof")
            }
        }
        // Fewer records, and a version before `from` cannot be read whole any more.
        #expect(live.count < storage.nodeCount, "\(live.count) of \(storage.nodeCount) records")
        if from > 1 {
            let old = try #require(storage.root(version: 0))
            let oldTree = SparseMerkleTree(storage: pruned, maxCachedNodes: 16)
            var missing = 0
            for k in 0..<300 {
                do { _ = try oldTree.value(at: old, keyHash: StateProof.keyHash(keys[k])) } catch { missing += 1 }
            }
            #expect(missing > 0, "version 0 still reads whole: nothing was pruned")
        }
        // The walk stops at what it already holds: marking a kept root again adds nothing.
        var again = live
        #expect(try StateReachability.mark(root: try #require(storage.root(version: 20)), storage: storage, live: &again) == 0)
    }

    @Test func aMissingRecordIsNamedNotSkipped() throws {
        let storage = InMemoryStateStorage()
        let state = try AuthenticatedState(storage: storage)
        let v = state.view()
        for i in 0..<50 { v.set(Array("k\(i)".utf8), [UInt8(i)]) }
        v.commitTransaction()
        try state.commit(try state.prepare(v, version: 0))
        let root = try #require(storage.root(version: 0))
        let gone = PrunedStorage(storage, live: [root], from: 0)
        var live = Set<Bytes32>()
        #expect(throws: StateError(.missingNode, "")) { try StateReachability.mark(root: root, storage: gone, live: &live) }
    }
}
