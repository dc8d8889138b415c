import Testing
import MeridianCore
import MeridianModules
import MeridianLightClient
import MeridianDemo

/// The light client's check of an off-chain result against its anchor.
@Suite(.timeLimit(.minutes(5))) struct AnchoredResultTests {
    @Test func aResultProvesAgainstItsAnchorAndAChangedOneIsNamed() throws {
        let results: [[UInt8]] = (0..<7).map { Array("result \($0)".utf8) }
        let hashes = results.map(MerkleTree.leafHash)
        let root = MerkleTree.root(leafHashes: hashes)
        let record = AnchorRecord(anchor: AnchorSubmission(kind: .readings, root: root, count: 7, from: .zero, to: .zero, producer: .zero),
                                  worker: DemoCast.staff("hospital-ribeira", "worker").publicKey, organization: OrganizationID("hospital-ribeira")!,
                                  sequence: 0, height: 5, time: .zero)
        for i in 0..<7 {
            try AnchoredResult.verify(result: results[i], index: i, treeSize: 7, path: MerkleTree.inclusionProof(index: i, leafHashes: hashes), anchor: record)
        }
        let path = MerkleTree.inclusionProof(index: 3, leafHashes: hashes)
        func code(_ body: () throws -> Void) -> String? { do { try body(); return nil } catch { return (error as? LightClientError)?.code ?? "\(error)" } }
        #expect(code { try AnchoredResult.verify(result: Array("result X".utf8), index: 3, treeSize: 7, path: path, anchor: record) } == "anchor.mismatch")
        #expect(code { try AnchoredResult.verify(result: results[3], index: 4, treeSize: 7, path: path, anchor: record) } == "anchor.mismatch")
        #expect(code { try AnchoredResult.verify(result: results[3], index: 3, treeSize: 8, path: path, anchor: record) } == "anchor.size")
    }
}
