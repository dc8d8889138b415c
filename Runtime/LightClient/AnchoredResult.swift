public import MeridianCore
public import MeridianModules

/// Checking an off-chain result against its anchor: the result's RFC 9162 leaf hash must lead, by
/// its inclusion path, to the anchored root, and the anchor (proven separately against a verified
/// header with `LightClient.verifyEntry`) must cover a tree of that size. A result changed by a
/// dishonest node fails here, named by its index.
public enum AnchoredResult {
    public static func verify(result: [UInt8], index: Int, treeSize: Int, path: [Bytes32], anchor: AnchorRecord) throws(LightClientError) {
        guard treeSize == Int(anchor.anchor.count) else {
            throw LightClientError("anchor.size", "the proof is for a batch of \(treeSize) results, the anchor covers \(anchor.anchor.count)")
        }
        guard MerkleTree.verifyInclusion(leafHash: MerkleTree.leafHash(result), index: index, treeSize: treeSize, proof: path, root: anchor.anchor.root) else {
            throw LightClientError("anchor.mismatch", "result \(index) of the batch anchored as \(anchor.anchor.root.hex.prefix(16)) does not match its root: it was changed")
        }
    }
}
