public import MeridianCore
public import MeridianConsensus
public import MeridianRuntime

/// How a validator signs its votes and proposals and checks its peers': BIP-340 Schnorr over
/// secp256k1 in production, with the key in the node (`SchnorrConsensusSigner`) or in a separate
/// `meridian-signer` process (`RemoteSigner`). A signer is handed the vote or proposal itself, never
/// a bare digest: a remote signer derives what it signs, so it can keep its own signing guard and a
/// compromised node host cannot make it sign anything else. The simulation gives each validator an
/// ideal signature (a keyed hash only the simulator can compute for another key), so that tens of
/// thousands of seeded runs stay fast while a forged signature is still refused.
public protocol ConsensusSigner: Sendable {
    var publicKey: PublicKey { get }
    func sign(proposal: MeridianConsensus.Proposal, chainID: String) throws -> Bytes64
    func sign(vote: Vote, chainID: String) throws -> Bytes64
    func verify(_ signature: Bytes64, by key: PublicKey, message digest: Bytes32) -> Bool
}

/// The in-process signer: the node's validator key.
public struct SchnorrConsensusSigner: ConsensusSigner, TransactionSigner {
    public let key: PrivateKey
    public init(key: PrivateKey) { self.key = key }
    public var publicKey: PublicKey { key.publicKey }
    public func sign(proposal: MeridianConsensus.Proposal, chainID: String) throws -> Bytes64 { try key.sign(proposalSigningHash(proposal, chainID: chainID)) }
    public func sign(vote: Vote, chainID: String) throws -> Bytes64 { try key.sign(voteSigningHash(vote, chainID: chainID)) }
    public func verify(_ signature: Bytes64, by key: PublicKey, message digest: Bytes32) -> Bool { key.verify(signature, message: digest) }
    public func sign(transaction: Transaction) throws -> Bytes64 { try key.sign(transaction: transaction) }
}

/// The network as the consensus driver sees it: authenticated peers by key, messages as bytes. P2P
/// implements it (`MeridianNode` holds the conformance), so the driver never touches a socket and
/// does not depend on the P2P target.
public protocol ConsensusTransport: Sendable {
    /// Connected, authenticated peers.
    var peers: [PublicKey] { get }
    /// Refused or closed connections by reason code.
    var refusalCounts: [String: Int] { get }
    /// Queues `message` for `peer`; false if it could not be queued (then it is dropped).
    @discardableResult func send(_ message: [UInt8], to peer: PublicKey) -> Bool
    func broadcast(_ message: [UInt8])
    /// Closes the connection to `peer`, counted under `reason`.
    func disconnect(_ peer: PublicKey, reason: String)
    /// Whether `peer` may stay connected (a current validator or a registered full node).
    func admits(_ peer: PublicKey) -> Bool
    /// Calls `body` with every message from an authenticated peer, in arrival order per peer, until
    /// the transport closes or the task is cancelled.
    func forEachInbound(_ body: @escaping @Sendable (PublicKey, [UInt8]) async -> Void) async
}
