import Synchronization

/// Latest committed state values, recently read or written, shared by every reader of one node's
/// state on any thread (the mempool's admission checks on the event loops and the thread pool,
/// the API's queries). Admission reads a signer's nonce and registration for every transaction
/// it is offered, by HTTP and by gossip; from RocksDB that was ~5% of a loaded localnet's CPU
/// (issue 22), and the same few thousand keys are read again and again.
///
/// Correctness: a value enters the cache only from a read that no commit overtook. Every commit
/// that changes values writes the database first and then, in one critical section, bumps the
/// generation and stores its new values; a read that missed remembers the generation it saw and
/// fills the cache only if it is unchanged, so a value read before a commit can never be cached
/// after it. Bounded: two generations of `capacity / 2` entries, the older dropped when the
/// younger fills (`nil` is cached too: a key known absent).
///
/// Hand-written: swift-collections has no concurrent cache, and the generation rule above is what
/// keeps it exact.
final class CommittedValueCache: Sendable {
    struct Key: Hashable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    }
    private struct Tables {
        var young: [Key: [UInt8]?] = [:]
        var old: [Key: [UInt8]?] = [:]
        var generation: UInt64 = 0
    }
    enum Lookup { case hit([UInt8]?), miss(generation: UInt64) }

    private let tables = Mutex(Tables())
    private let generationCapacity: Int

    init(capacity: Int) { generationCapacity = max(capacity / 2, 16) }

    func lookup(_ key: [UInt8]) -> Lookup {
        let k = Key(bytes: key)
        return tables.withLock { t in
            if let v = t.young[k] { return .hit(v) }
            if let v = t.old[k] { Self.insert(k, v, into: &t, capacity: generationCapacity); return .hit(v) }
            return .miss(generation: t.generation)
        }
    }

    /// Keeps what a read found, unless a commit came between the lookup and now.
    func fill(_ key: [UInt8], _ value: [UInt8]?, ifGeneration generation: UInt64) {
        tables.withLock { t in
            guard t.generation == generation else { return }
            Self.insert(Key(bytes: key), value, into: &t, capacity: generationCapacity)
        }
    }

    /// After a commit is durable: its values (nil for a deleted key) replace whatever was cached.
    func committed(_ values: [(key: [UInt8], value: [UInt8]?)]) {
        tables.withLock { t in
            t.generation &+= 1
            for v in values {
                let k = Key(bytes: v.key)
                t.old[k] = nil
                Self.insert(k, v.value, into: &t, capacity: generationCapacity)
            }
        }
    }

    var count: Int { tables.withLock { $0.young.count + $0.old.count } }

    private static func insert(_ key: Key, _ value: [UInt8]?, into t: inout Tables, capacity: Int) {
        if t.young.count >= capacity && t.young[key] == nil { t.old = t.young; t.young = [:] }
        t.young[key] = .some(value)
    }
}
