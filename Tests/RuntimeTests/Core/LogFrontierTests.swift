import Testing
import MeridianCore

/// The audit log's tree kept as a frontier (right edge) plus stored complete-subtree hashes: roots
/// and proofs must be those of `MerkleTree` (checked against the Certificate Transparency reference
/// tree and pymerkle) at every size.
@Suite(.timeLimit(.minutes(5))) struct LogFrontierTests {
    @Test func rootsAndProofsFromStoredHashesMatchTheInMemoryTreeAtEverySize() throws {
        var frontier = LogFrontier()
        var stored: [LogFrontier.StoredHash] = []
        var leaves: [Bytes32] = []
        #expect(frontier.root == MerkleTree.emptyRoot)
        for n in 1...300 {
            let leaf = MerkleTree.leafHash(Array("leaf \(n)".utf8))
            leaves.append(leaf)
            frontier.append(leafHash: leaf, completed: &stored)
            #expect(frontier.size == UInt64(n) && frontier.subtrees.count == n.nonzeroBitCount)
            #expect(frontier.root == MerkleTree.root(leafHashes: leaves), "size \(n)")
        }
        // Every complete subtree was stored once: 2n - popcount(n) hashes.
        #expect(stored.count == 2 * 300 - 300.nonzeroBitCount)
        let table = Dictionary(stored.map { ("\($0.level)/\($0.index)", $0.hash) }, uniquingKeysWith: { a, _ in a })
        #expect(table.count == stored.count)
        for size in [1, 2, 3, 7, 8, 9, 63, 64, 65, 127, 200, 255, 256, 257, 300] {
            let tree = StoredHashTree(size: UInt64(size)) { level, index in table["\(level)/\(index)"] }
            let prefix = Array(leaves.prefix(size))
            #expect(try tree.root() == MerkleTree.root(leafHashes: prefix))
            for index in Set([0, size / 3, size / 2, size - 1]) {
                let proof = try tree.inclusionProof(index: UInt64(index))
                #expect(proof == MerkleTree.inclusionProof(index: index, leafHashes: prefix), "size \(size) index \(index)")
                #expect(MerkleTree.verifyInclusion(leafHash: prefix[index], index: index, treeSize: size, proof: proof, root: try tree.root()))
            }
            for old in Set([0, 1, size / 2, size - 1, size]) where old <= size {
                let proof = try tree.consistencyProof(oldSize: UInt64(old))
                #expect(proof == MerkleTree.consistencyProof(oldSize: old, leafHashes: prefix), "old \(old) size \(size)")
                if old > 0 {
                    #expect(MerkleTree.verifyConsistency(oldSize: old, newSize: size, proof: proof,
                                                         oldRoot: MerkleTree.root(leafHashes: Array(leaves.prefix(old))), newRoot: try tree.root()))
                }
            }
        }
        // A missing stored hash is named, not guessed.
        let holey = StoredHashTree(size: 300) { level, index in level == 8 && index == 0 ? nil : table["\(level)/\(index)"] }
        #expect(throws: StoredHashTree.MissingHash.self) { try holey.inclusionProof(index: 299) }
    }

    @Test func theFrontierRoundTripsAndRefusesAWrongShape() throws {
        var frontier = LogFrontier()
        var sink: [LogFrontier.StoredHash] = []
        for i in 0..<11 { frontier.append(leafHash: MerkleTree.leafHash([UInt8(i)]), completed: &sink) }
        #expect(try LogFrontier(canonicalBytes: frontier.canonicalBytes) == frontier)
        // Size 11 has three set bits: a record with one subtree less or more does not decode.
        #expect(throws: CodecError.self) { try LogFrontier(canonicalBytes: Array(frontier.canonicalBytes.dropLast(32))) }
        #expect(throws: CodecError.self) { try LogFrontier(canonicalBytes: frontier.canonicalBytes + [UInt8](repeating: 0, count: 32)) }
    }
}
