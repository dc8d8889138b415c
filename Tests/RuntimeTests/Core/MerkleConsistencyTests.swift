import Testing
import MeridianCore

/// RFC 9162 consistency proofs against the Certificate Transparency reference tree
/// (transparency-dev/merkle `testonly`: its eight leaves, roots and consistency proofs), and
/// every pair of sizes of a larger tree, proved and refused when tampered with.
@Suite(.timeLimit(.minutes(5))) struct MerkleConsistencyTests {
    static let leaves: [[UInt8]] = [[], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
                                    Array(0x50...0x57), Array(0x60...0x6f)]
    static let roots = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
    static let proofs: [(Int, Int, [String])] = [
        (1, 1, []),
        (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
        (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    ]

    @Test func theReferenceTreeGivesThePublishedRootsAndProofs() throws {
        let hashes = Self.leaves.map(MerkleTree.leafHash)
        for n in 1...8 { #expect(MerkleTree.root(leafHashes: Array(hashes[..<n])).hex == Self.roots[n - 1], "root of \(n)") }
        for (m, n, expected) in Self.proofs {
            let proof = MerkleTree.consistencyProof(oldSize: m, leafHashes: Array(hashes[..<n]))
            #expect(proof.map(\.hex) == expected, "proof \(m) → \(n)")
            let oldRoot = try #require(Bytes32(hex: Self.roots[m - 1])), newRoot = try #require(Bytes32(hex: Self.roots[n - 1]))
            #expect(MerkleTree.verifyConsistency(oldSize: m, newSize: n, proof: proof, oldRoot: oldRoot, newRoot: newRoot), "verify \(m) → \(n)")
        }
    }

    @Test func everyPairOfSizesProvesAndNoTamperedProofDoes() {
        let hashes = (0..<40).map { MerkleTree.leafHash(Array("entry-\($0)".utf8)) }
        let roots = (0...40).map { MerkleTree.root(leafHashes: Array(hashes[..<$0])) }
        for n in 1...40 {
            for m in 0...n {
                let proof = MerkleTree.consistencyProof(oldSize: m, leafHashes: Array(hashes[..<n]))
                #expect(MerkleTree.verifyConsistency(oldSize: m, newSize: n, proof: proof, oldRoot: roots[m], newRoot: roots[n]), "\(m) → \(n)")
                guard m > 0, m < n else { continue }
                // Wrong roots, a flipped hash, a missing or an extra hash, swapped sizes: refused.
                #expect(!MerkleTree.verifyConsistency(oldSize: m, newSize: n, proof: proof, oldRoot: roots[m - 1], newRoot: roots[n]))
                #expect(!MerkleTree.verifyConsistency(oldSize: m, newSize: n, proof: proof, oldRoot: roots[m], newRoot: roots[n - 1]))
                for i in proof.indices {
                    var bad = proof; bad[i] = MerkleTree.leafHash(bad[i].bytes)
                    #expect(!MerkleTree.verifyConsistency(oldSize: m, newSize: n, proof: bad, oldRoot: roots[m], newRoot: roots[n]))
                }
                #expect(!MerkleTree.verifyConsistency(oldSize: m, newSize: n, proof: Array(proof.dropLast()), oldRoot: roots[m], newRoot: roots[n]))
                #expect(!MerkleTree.verifyConsistency(oldSize: m, newSize: n, proof: proof + [roots[1]], oldRoot: roots[m], newRoot: roots[n]))
                #expect(!MerkleTree.verifyConsistency(oldSize: n, newSize: m, proof: proof, oldRoot: roots[n], newRoot: roots[m]))
            }
        }
    }
}
