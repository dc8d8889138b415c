import Testing
import Foundation
import MeridianCore
import MeridianState
@testable import MeridianStorage

/// The node-wide cache of committed values (`CommittedValueCache`) never answers a value older
/// than the last durable commit, however reads and commits interleave, and stays bounded.
@Suite(.timeLimit(.minutes(5))) struct CommittedValueCacheTests {
    static func key(_ i: Int) -> [UInt8] { Array("nonce-\(i)".utf8) }

    @Test func readsRacingCommitsNeverLeaveAStaleValueCached() throws {
        let dir = try TemporaryDirectory()
        let storage = try RocksDBStateStorage(path: dir.path("db"))
        let state = try AuthenticatedState(storage: storage)
        let keys = 64
        let stop = ManagedAtomicFlag()
        // Two readers hammer the same keys through the storage (as the mempool does) while blocks commit.
        // Reads are thread-safe (RocksDB's own, and the cache's lock), as the node's StorageReader relies on.
        nonisolated(unsafe) let shared = storage
        let readers = DispatchGroup()
        for r in 0..<2 {
            DispatchQueue.global().async(group: readers) {
                var i = r
                while !stop.isSet { _ = try? shared.value(Self.key(i % keys)); i &+= 7 }
            }
        }
        var model: [Int: [UInt8]?] = [:]
        var rng = SeededRandom(seed: 22)
        for version in 0..<300 {
            let view = state.view()
            for _ in 0..<8 {
                let i = Int.random(in: 0..<keys, using: &rng)
                if Int.random(in: 0..<5, using: &rng) == 0 { view.delete(Self.key(i)); model[i] = .some(nil) }
                else { let v = Array("v\(version)".utf8); view.set(Self.key(i), v); model[i] = .some(v) }
            }
            view.commitTransaction()
            try state.commit(try state.prepare(view, version: UInt64(version)))
            // Right after the commit every key reads as committed (the cache may hold it, RocksDB does).
            for (i, v) in model { #expect(try storage.value(Self.key(i)) == v, "key \(i) after version \(version)") }
        }
        stop.set()
        readers.wait()
        // And what the cache answers equals what the database holds (a scan reads past the cache).
        for i in 0..<keys {
            let stored = try storage.scan(prefix: Self.key(i), from: nil, limit: 10).first { $0.key == Self.key(i) }?.value
            #expect(try storage.value(Self.key(i)) == stored)
        }
    }

    /// The interleaving the generation rule exists for, forced: a read misses, a commit lands,
    /// then the read's (older) value arrives. It must not be cached over the committed one.
    @Test func aReadOvertakenByACommitIsNotCached() {
        let cache = CommittedValueCache(capacity: 64)
        let k = Self.key(1)
        guard case .miss(let generation) = cache.lookup(k) else { Issue.record("an empty cache answered"); return }
        cache.committed([(key: k, value: [2])])
        cache.fill(k, [1], ifGeneration: generation)
        guard case .hit(let v) = cache.lookup(k) else { Issue.record("the committed value was not kept"); return }
        #expect(v == [2])
        // A read no commit overtook is kept, a deletion is cached as absent.
        guard case .miss(let g2) = cache.lookup(Self.key(2)) else { Issue.record("an unknown key answered"); return }
        cache.fill(Self.key(2), [7], ifGeneration: g2)
        cache.committed([(key: k, value: nil)])
        guard case .hit(let v2) = cache.lookup(Self.key(2)), case .hit(let v1) = cache.lookup(k) else { Issue.record("not kept"); return }
        #expect(v2 == [7] && v1 == nil)
    }

    @Test func theCacheStaysWithinItsBound() throws {
        let dir = try TemporaryDirectory()
        let storage = try RocksDBStateStorage(path: dir.path("db"))
        for i in 0..<(RocksDBStateStorage.cachedValueCapacity * 3) { #expect(try storage.value(Self.key(i)) == nil) }
        #expect(storage.cachedValueCount <= RocksDBStateStorage.cachedValueCapacity)
        #expect(storage.cachedValueCount >= RocksDBStateStorage.cachedValueCapacity / 2)
    }
}

/// A flag one thread sets and others poll.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
