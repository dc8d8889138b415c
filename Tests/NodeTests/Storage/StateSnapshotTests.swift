import Testing
import Foundation
import MeridianCore
import MeridianState
import MeridianStorage
import MeridianModules
import MeridianRuntime
import MeridianNode
import MeridianDemo
import Logging

/// State snapshots (issue 24 item 2): the manifest of a real tree composes to its root, every chunk
/// checks against it and together they hold exactly the state; anything altered, dropped, added
/// or moved fails its check. The database's format migrations (item 5) are here too, since the
/// snapshot's raw keys come from the one migration so far.
@Suite(.timeLimit(.minutes(5))) struct StateSnapshotTests {
    /// A tree of `count` entries with random keys and values of random sizes, committed to storage.
    static func state(_ count: Int, seed: UInt64) throws -> (SparseMerkleTree, Bytes32, [[UInt8]: [UInt8]]) {
        var rng = SplitMix(seed: seed)
        var entries: [[UInt8]: [UInt8]] = [:]
        while entries.count < count {
            let key = Array("k/\(rng.next())".utf8)
            entries[key] = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        let storage = InMemoryStateStorage()
        let tree = SparseMerkleTree(storage: storage)
        let result = try tree.apply(root: .zero, updates: entries.map { .init(keyHash: StateProof.keyHash($0.key), value: $0.value) })
        try storage.commit(StateBatch(version: 1, root: result.root, nodes: result.newNodes, values: entries.map { ($0.key, $0.value) }))
        return (SparseMerkleTree(storage: storage), result.root, entries)
    }

    /// The chunk as a server makes it: the tree's leaves with their raw keys.
    static func chunk(_ tree: SparseMerkleTree, _ root: Bytes32, _ m: StateSnapshot.Manifest, _ i: Int, _ entries: [[UInt8]: [UInt8]]) throws -> StateSnapshot.Chunk {
        let byHash = Dictionary(uniqueKeysWithValues: entries.keys.map { (StateProof.keyHash($0), $0) })
        return StateSnapshot.Chunk(index: i, entries: try tree.snapshotLeaves(root: root, depth: m.depth, index: i).map { .init(key: byHash[$0.keyHash]!, value: $0.value) })
    }

    @Test(arguments: [(0, 4), (1, 8), (2, 3), (3000, 0), (3000, 6), (3000, 8)])
    func aSnapshotsChunksRebuildExactlyTheStateAndCheckAgainstItsRoot(count: Int, depth: Int) throws {
        let (tree, root, entries) = try Self.state(count, seed: UInt64(count * 31 + depth))
        let m = StateSnapshot.Manifest(version: 1, root: root, depth: depth, chunks: try tree.snapshotSummaries(root: root, depth: depth))
        try m.verify(expectedRoot: root)
        let decoded = try StateSnapshot.Manifest(canonicalBytes: m.canonicalBytes)
        #expect(decoded == m)
        var all: [[UInt8]: [UInt8]] = [:]
        for i in 0..<(1 << depth) {
            let c = try StateSnapshot.Chunk(canonicalBytes: try Self.chunk(tree, root, m, i, entries).canonicalBytes)
            try c.verify(against: m)
            for e in c.entries { #expect(all.updateValue(e.value, forKey: e.key) == nil) }
        }
        #expect(all == entries)
        // Rebuilt from the entries, the tree has the same root.
        let again = try SparseMerkleTree(storage: InMemoryStateStorage()).apply(root: .zero, updates: all.map { .init(keyHash: StateProof.keyHash($0.key), value: $0.value) })
        #expect(again.root == root)
    }

    @Test func anAlteredDroppedAddedOrMovedEntryFailsItsChunksCheck() throws {
        let (tree, root, entries) = try Self.state(2000, seed: 7)
        let m = StateSnapshot.Manifest(version: 1, root: root, depth: 4, chunks: try tree.snapshotSummaries(root: root, depth: 4))
        let c = try Self.chunk(tree, root, m, 5, entries)
        #expect(c.entries.count > 2)
        func fails(_ entries: [StateSnapshot.Chunk.Entry], index: Int = 5) -> Bool {
            (try? StateSnapshot.Chunk(index: index, entries: entries).verify(against: m)) == nil
        }
        var altered = c.entries; altered[1] = .init(key: altered[1].key, value: altered[1].value + [0])
        #expect(fails(altered))
        #expect(fails(Array(c.entries.dropLast())))
        let other = try Self.chunk(tree, root, m, 6, entries)
        #expect(fails(c.entries + [other.entries[0]]), "an entry of chunk 6 in chunk 5")
        #expect(fails(c.entries, index: 6), "chunk 5's entries as chunk 6")
        #expect(fails(c.entries.reversed()), "out of order")
        #expect(fails(c.entries + [c.entries.last!]), "repeated")
        var invented = c.entries; invented.append(.init(key: Array("k/invented".utf8), value: [1]))
        #expect(fails(invented))
        // A manifest with one summary changed does not compose to the root.
        var chunks = m.chunks
        chunks[3] = .branch(SHA256.hash(Array("forged".utf8)))
        #expect(throws: StateError.self) { try StateSnapshot.Manifest(version: 1, root: root, depth: 4, chunks: chunks).verify(expectedRoot: root) }
        #expect(throws: StateError.self) { try m.verify(expectedRoot: SHA256.hash(Array("another root".utf8))) }
        // Hostile bytes: a manifest of the wrong size, a chunk claiming too many entries.
        #expect(throws: CodecError.self) { _ = try StateSnapshot.Manifest(canonicalBytes: Array(m.canonicalBytes.dropLast(5))) }
        var w = CanonicalWriter(); w.write(varint: 1); w.write(varint: UInt64.max)
        #expect(throws: CodecError.self) { _ = try StateSnapshot.Chunk(canonicalBytes: w.bytes) }
    }

    /// A node restored from a snapshot served as `SnapshotService` serves it holds the state, the
    /// audit log and the headers, nothing below; and it accepts the next block although the
    /// certificate that block carries for the snapshot's header is another valid one than the node
    /// stored (it holds no state before the snapshot to read that header's signers from: the light
    /// client's record of them stands in).
    @Test func aRestoredNodeHoldsTheSnapshotAndAcceptsTheNextBlock() async throws {
        let source = try TestNode()
        _ = try await source.seedMaria()
        let store = source.chain.store
        let h = try store.headHeight()
        let top = try #require(try store.header(at: h))
        let service = SnapshotService(store: store, intervalHeights: 1)
        let manifest = try service.manifest(at: h)
        try manifest.verify(expectedRoot: top.stateRoot)
        var entries: [StateSnapshot.Chunk.Entry] = []
        for i in manifest.chunks.indices where manifest.chunks[i] != .empty {
            let c = try StateSnapshot.Chunk(canonicalBytes: try service.chunk(at: h, index: i).canonicalBytes)
            try c.verify(against: manifest)
            entries += c.entries
        }
        let log = try service.auditLog(at: h, part: 0)
        let leaves = stride(from: 0, to: log.count, by: 32).map { Bytes32(log[$0..<($0 + 32)])! }
        #expect(UInt64(leaves.count) == top.auditLogSize && top.auditLogSize > 0)
        var headers = try (1...h).map { height in
            BlockStore.VerifiedHeader(header: try #require(try store.header(at: height)), certificate: try #require(try store.commit(at: height)), lightSet: nil)
        }
        // The top certificate with three of its four signatures: valid, and not the one the next block carries.
        let full = headers[headers.count - 1].certificate
        #expect(full.signatures.count == 4)
        let fewer = CommitCertificate(height: full.height, round: full.round, blockHash: full.blockHash, signatures: Array(full.signatures.prefix(3)))
        headers[headers.count - 1] = .init(header: top, certificate: fewer, lightSet: nil)
        let dir = try TemporaryDirectory()
        let restored = try BlockStore(path: dir.path("db"))
        try restored.restoreSnapshot(genesis: try #require(try store.genesisHeader()), headers: headers, signersOfTop: try await source.chain.currentValidators(),
                                     entries: entries, auditEntryHashes: leaves)
        #expect(try restored.headHeight() == h && restored.block(at: 1) == nil && restored.header(at: 1) == store.header(at: 1))
        #expect(try restored.bodiesKeptFrom() == h + 1 && restored.stateKeptFrom() == h)
        #expect(try restored.auditLog.entryHash(index: 0) == leaves[0])
        // Restoring into a database that holds a chain is refused.
        #expect(throws: BlockStoreError.self) {
            try restored.restoreSnapshot(genesis: top, headers: headers, signersOfTop: [], entries: entries, auditEntryHashes: leaves)
        }
        // The next block, made by the source: it carries the four-signature certificate of h.
        _ = try await source.submit(DemoCast.patient("hans"), .registerPatient(.init(attestor: DemoCast.staff("hospital-ribeira", "clinician").publicKey,
            attestation: try DemoCast.staff("hospital-ribeira", "clinician").sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: DemoCast.patient("hans").publicKey)))))
        let next = try #require(try store.block(at: h + 1))
        #expect(next.lastCommit == full)
        var config = NodeConfig()
        config.p2p = P2PConfig()
        var logger = Logger(label: "restored"); logger.logLevel = .error
        let chain = try ChainService(store: restored, signers: [], config: config, logger: logger, metrics: NodeMetrics())
        let valid = try await chain.validate(next)
        #expect(valid, "the restored node refused the next block")
        try await chain.commit(next, certificate: try #require(try store.commit(at: h + 1)))
        try await chain.awaitDurable()
        #expect(try restored.header(at: h + 1) == store.header(at: h + 1))
    }

    @Test func anOlderDatabaseIsMigratedAndANewerOneRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("db")
        var keys: [[UInt8]] = []
        do {
            let store = try BlockStore(path: path)
            #expect(store.migrations.isEmpty, "a new database is stamped, not migrated")
            #expect(try DatabaseFormat.read(store.db) == DatabaseFormat.current)
            keys = (0..<1200).map { Array("key/\($0)".utf8) }
            let tree = SparseMerkleTree(storage: store.stateStorage)
            let r = try tree.apply(root: .zero, updates: keys.map { .init(keyHash: StateProof.keyHash($0), value: $0 + [1]) })
            try store.stateStorage.commit(StateBatch(version: 1, root: r.root, nodes: r.newNodes, values: keys.map { ($0, $0 + [1]) }))
            #expect(try store.db.get("state.preimages", StateProof.keyHash(keys[7]).bytes) == keys[7], "written with each version")
            // As a database of the format before preimages: none of them, and format 1.
            let wb = RocksDB.WriteBatch(for: store.db)
            for k in keys { wb.delete("state.preimages", StateProof.keyHash(k).bytes) }
            wb.put("meta", Array("db.format".utf8), withUnsafeBytes(of: UInt64(1).bigEndian) { Array($0) })
            try store.db.write(wb, sync: true)
        }
        do {
            let store = try BlockStore(path: path)
            #expect(store.migrations.count == 1 && store.migrations[0].contains("format 2"), "\(store.migrations)")
            #expect(try DatabaseFormat.read(store.db) == 2)
            for k in keys { #expect(try store.db.get("state.preimages", StateProof.keyHash(k).bytes) == k) }
            let wb = RocksDB.WriteBatch(for: store.db)
            wb.put("meta", Array("db.format".utf8), withUnsafeBytes(of: UInt64(99).bigEndian) { Array($0) })
            try store.db.write(wb, sync: true)
        }
        do {
            _ = try BlockStore(path: path)
            Issue.record("a database of a newer format was opened")
        } catch {
            #expect("\(error)".contains("newer release"), "\(error)")
        }
    }
}

/// A small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
