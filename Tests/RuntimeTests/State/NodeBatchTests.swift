import Testing
@testable import MeridianCore
@testable import MeridianState

/// A storage whose node records can be tampered with, and which counts node reads.
final class TamperingStorage: StateStorage {
    let inner = InMemoryStateStorage()
    var tampered: [Bytes32: [UInt8]] = [:]
    private(set) var nodeReads = 0
    private(set) var recordsWritten = 0
    private(set) var bytesWritten = 0
    func node(_ hash: Bytes32) throws(StateError) -> [UInt8]? { nodeReads += 1; return tampered[hash] ?? inner.node(hash) }
    func value(_ key: [UInt8]) throws(StateError) -> [UInt8]? { inner.value(key) }
    func root(version: UInt64) throws(StateError) -> Bytes32? { inner.root(version: version) }
    func latestVersion() throws(StateError) -> UInt64? { inner.latestVersion() }
    func commit(_ batch: StateBatch) throws(StateError) {
        recordsWritten += batch.nodes.count
        bytesWritten += batch.nodes.reduce(0) { $0 + $1.encoded.count }
        try inner.commit(batch)
    }
    func scan(prefix: [UInt8], from start: [UInt8]?, limit: Int) throws(StateError) -> [(key: [UInt8], value: [UInt8])] {
        inner.scan(prefix: prefix, from: start, limit: limit)
    }
    /// Every stored record with its hash.
    func records() -> [(Bytes32, [UInt8])] { inner.allNodes() }
}

/// The tree's storage layout: internal nodes four levels to a record (`NodeBatch`), leaves on
/// their own. Roots and proofs must be those of the binary tree whatever the cache holds.
@Suite(.timeLimit(.minutes(5))) struct NodeBatchTests {
    static func write(_ state: AuthenticatedState, _ writes: [([UInt8], [UInt8]?)], version: UInt64) throws {
        let v = state.view()
        for (k, value) in writes { if let value { v.set(k, value) } else { v.delete(k) } }
        v.commitTransaction()
        try state.commit(try state.prepare(v, version: version))
    }

    /// A cache of 16 nodes forces every read back to the records (a batch's inner nodes evicted
    /// while their top stays, unchanged nodes of a rewritten batch read from the old record): the
    /// roots must equal those of a tree with a large cache and of a fresh tree holding the same
    /// contents, for small and large (two-thread) batches, and every proof must verify.
    @Test func aStarvedCacheGivesTheSameRootsAndProofs() throws {
        let seed = testSeed(0xba7c_0001)
        var rng = SeededGenerator(seed: seed)
        let starved = try AuthenticatedState(storage: InMemoryStateStorage(), maxCachedNodes: 16)
        let roomy = try AuthenticatedState(storage: InMemoryStateStorage())
        var model: [[UInt8]: [UInt8]] = [:]
        for version in UInt64(1)...12 {
            let count = version % 3 == 0 ? 1_500 : Int.random(in: 1...60, using: &rng)
            var writes: [([UInt8], [UInt8]?)] = []
            for _ in 0..<count {
                let k = Array("key-\(Int.random(in: 0..<4_000, using: &rng))".utf8)
                let v: [UInt8]? = Int.random(in: 0..<6, using: &rng) == 0 ? nil : rng.bytes(Int.random(in: 0...24, using: &rng))
                writes.append((k, v)); model[k] = v
            }
            // One write per key, the last one, as a block's writes are.
            var seen = Set<[UInt8]>()
            writes = writes.reversed().filter { seen.insert($0.0).inserted }
            try Self.write(starved, writes, version: version)
            try Self.write(roomy, writes, version: version)
            #expect(starved.root == roomy.root, "seed \(seed) version \(version)")
        }
        let fresh = try AuthenticatedState(storage: InMemoryStateStorage())
        try Self.write(fresh, model.map { ($0.key, $0.value) }, version: 1)
        #expect(fresh.root == starved.root, "seed \(seed): root depends on history or cache")
        // Reopened from its storage with an empty cache: values and proofs of present and absent keys.
        let reopened = try AuthenticatedState(storage: starved.storage, maxCachedNodes: 16)
        for i in stride(from: 0, to: 4_200, by: 7) {
            let key = Array("key-\(i)".utf8)
            let (value, proof, root) = try reopened.proof(key)
            #expect(value == model[key] ?? nil, "seed \(seed) key \(i)")
            #expect(proof.verify(root: root, key: key, value: model[key] ?? nil), "seed \(seed) key \(i)")
        }
    }

    /// The point of the layout: one key updated in a tree of 20,000 writes one leaf and one record
    /// per four levels of its path, where a record per node wrote one per level.
    @Test func anUpdateWritesAboutAQuarterOfTheRecords() throws {
        let storage = TamperingStorage()
        let state = try AuthenticatedState(storage: storage)
        try Self.write(state, (0..<20_000).map { (Array("k\($0)".utf8), [1]) }, version: 1)
        var records = 0, internals = 0
        for i in 0..<200 {
            let v = state.view()
            v.set(Array("k\(i * 97)".utf8), [2, UInt8(i & 0xff)])
            v.commitTransaction()
            let prepared = try state.prepare(v, version: UInt64(i + 2))
            records += prepared.batch.nodes.count - 1   // minus the leaf
            internals += prepared.internalNodesCreated
            try state.commit(prepared)
        }
        // log2(20,000) ≈ 14.3 levels: about 15 internal nodes per update, 4 batches.
        #expect(internals >= 200 * 14)
        #expect(records * 3 <= internals, "\(records) batch records for \(internals) internal nodes")
        #expect(records >= internals / 4)
    }

    /// A record whose contents were altered is refused (its recomputed top does not match the
    /// hash it is stored under), never read as another tree.
    @Test func aTamperedBatchIsRefused() throws {
        let storage = TamperingStorage()
        let state = try AuthenticatedState(storage: storage)
        try Self.write(state, (0..<300).map { (Array("k\($0)".utf8), [UInt8($0 & 0xff)]) }, version: 1)
        let batches = storage.records().filter { $0.1.first == NodeBatch.tag }
        #expect(batches.count > 1)
        for (hash, bytes) in batches.prefix(8) {
            var altered = bytes
            altered[altered.count - 1] ^= 1
            storage.tampered = [hash: altered]
            // Opening reads the root's record: a tampered root batch is refused there.
            let reader: AuthenticatedState
            do { reader = try AuthenticatedState(storage: storage) } catch {
                #expect(error.code == .corruptNode)
                continue
            }
            var refused = 0
            for i in 0..<300 {
                do { _ = try reader.proof(Array("k\(i)".utf8)) } catch { #expect(error.code == .corruptNode); refused += 1 }
            }
            #expect(refused > 0, "a tampered batch went unnoticed")
        }
    }

    @Test func hostileRecordsAreRefusedWithAReason() throws {
        let top = Bytes32([UInt8](repeating: 7, count: 32))!
        let cases: [([UInt8], String)] = [
            ([], "not a node batch"),
            ([0x02, 0x00], "not a node batch"),
            ([0x02, 0x00, 0x00], "batch without a top"),
            ([0x02, 0x00, 0x03] + [UInt8](repeating: 0, count: 64), "batch without a top"),
            ([0x02, 0x00, 0x12] + [UInt8](repeating: 0, count: 96), "has no parent"),
            ([0x02, 0x00, 0x02] + [UInt8](repeating: 0, count: 63), "truncated"),
            ([0x02, 0x00, 0x02] + [UInt8](repeating: 0, count: 65), "trailing bytes"),
            ([0x02, 0x00, 0x02] + [UInt8](repeating: 0, count: 64), "hash to"),
        ]
        for (bytes, reason) in cases {
            do {
                _ = try NodeBatch.decode(bytes, hash: top)
                Issue.record("accepted \(bytes.prefix(3))")
            } catch {
                #expect(error.code == .corruptNode)
                #expect(error.detail.contains(reason), "\(error.detail)")
            }
        }
        // A record of one internal node (the layout before batches) is refused, named as such.
        let older = [UInt8(0x01)] + [UInt8](repeating: 1, count: 64)
        do { _ = try SparseMerkleTree.decodeLeaf(older, hash: top); Issue.record("accepted an unbatched node") }
        catch { #expect(error.detail.contains("older, unbatched layout")) }
    }

    /// Encoding and decoding agree, and the record holds each internal node of its four levels once.
    @Test func encodingRoundTripsThroughDecoding() throws {
        var rng = SeededGenerator(seed: testSeed(0xba7c_0002))
        for _ in 0..<200 {
            // A random shape: each position internal with probability 2/3 if its parent is.
            var inner = Set<Int>([1])
            for p in 2...15 where inner.contains(p / 2) && Int.random(in: 0..<3, using: &rng) > 0 { inner.insert(p) }
            var hashes = [Bytes32](repeating: .zero, count: 32)
            var nodes: [Bytes32: (Bytes32, Bytes32)] = [:]
            for c in 2...31 where inner.contains(c / 2) && !inner.contains(c) {
                hashes[c] = Int.random(in: 0..<4, using: &rng) == 0 ? .zero : Bytes32(rng.bytes(32))!
            }
            for p in (1...15).reversed() where inner.contains(p) {
                hashes[p] = SparseMerkleTree.internalHash(hashes[2 * p], hashes[2 * p + 1])
                nodes[hashes[p]] = (hashes[2 * p], hashes[2 * p + 1])
            }
            let record = NodeBatch.encode(top: hashes[1]) { nodes[$0] }
            let decoded = try NodeBatch.decode(record, hash: hashes[1])
            #expect(decoded.count == inner.count)
            #expect(Set(decoded.map(\.hash)) == Set(nodes.keys))
            #expect(record.count == 3 + 32 * (inner.count + 1))
        }
    }
}
