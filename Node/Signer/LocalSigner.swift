public import MeridianCore
public import MeridianConsensusDriver
public import MeridianP2P

/// A key held in the node itself (a validator key in `keys/`, or a full node's worker key) in the
/// same three roles a `RemoteSigner` fills: votes and proposals, evidence transactions, and the
/// P2P handshake.
extension SchnorrConsensusSigner: P2PIdentity {
    public func signHandshake(chainID: String, low: Bytes32, high: Bytes32) throws -> Bytes64 {
        try key.signHandshake(chainID: chainID, low: low, high: high)
    }
}
