import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianStorage
import MeridianWorkers

/// Marking a batch anchored when its leaf index is written in several chunks: every leaf proves
/// against the root, the queue is empty, and the next batch starts after it.
@Suite(.timeLimit(.minutes(5))) struct AnchorStoreTests {
    @Test func aBatchLargerThanOneChunkIsMarkedWholeAndTheNextBatchFollowsIt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-anchor-store-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let db = try RocksDB(path: path, columnFamilies: AnchorStore.columns)
        let store = try AnchorStore(db: db)
        let leaves = (0..<10_000).map { i in (leaf: Array("result \(i)".utf8), time: Timestamp(unixMilliseconds: 1_000 + UInt64(i))) }
        let wb = RocksDB.WriteBatch(for: db)
        store.enqueue(.readings, leaves: leaves, in: wb)
        try db.write(wb, sync: true)
        let pending = try #require(try store.pending(.readings, limit: 100_000))
        #expect(pending.leafHashes.count == 10_000)
        try store.markAnchored(pending)
        #expect(try store.queued(.readings) == 0)
        #expect(try store.pending(.readings, limit: 10) == nil)
        for i in [0, 4_095, 4_096, 8_191, 9_999] {
            let leaf = MerkleTree.leafHash(leaves[i].leaf)
            let inclusion = try #require(try store.inclusion(of: leaf))
            #expect(inclusion.root == pending.root && inclusion.index == i && inclusion.treeSize == 10_000)
            #expect(MerkleTree.verifyInclusion(leafHash: leaf, index: i, treeSize: 10_000, proof: inclusion.path, root: pending.root))
        }
        // A later result is queued after the anchored ones and is the whole next batch.
        let next = RocksDB.WriteBatch(for: db)
        store.enqueue(.readings, leaves: [(Array("later".utf8), Timestamp(unixMilliseconds: 99_000))], in: next)
        try db.write(next, sync: true)
        let second = try #require(try store.pending(.readings, limit: 100_000))
        #expect(second.first == 10_000 && second.leafHashes == [MerkleTree.leafHash(Array("later".utf8))])
    }
}
