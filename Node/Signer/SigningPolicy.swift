import Foundation
public import MeridianCore
public import MeridianConsensus
public import MeridianConsensusDriver
public import MeridianRuntime
import MeridianP2P

/// What `meridian-signer` signs with the validator key, and what it refuses. The signing guard's
/// file lives beside the signer, not in the node: a node host restored from an old backup, or
/// taken over, can ask for a second vote at a step already signed and is refused.
///
/// - a vote or proposal only of this validator, on this chain, that the guard allows (never a
///   second different message at one height, round and step; never a step behind the last);
/// - a P2P handshake transcript, which the signer derives itself from the chain id and the two
///   ephemeral keys under its own tag;
/// - a transaction only if it is this validator's, on this chain, and puts consensus evidence on
///   chain (a validator's one on-chain duty that its node performs on its own).
public final class SigningPolicy: @unchecked Sendable {   // all state behind `lock`
    public let chainID: String
    public var publicKey: PublicKey { key.publicKey }
    private let key: PrivateKey
    private let guardFile: SigningGuard
    private let lock = NSLock()

    public init(key: PrivateKey, chainID: String, guardPath: String) throws(SignerError) {
        self.key = key; self.chainID = chainID
        do { guardFile = try SigningGuard(path: guardPath) } catch { throw SignerError(error.code, error.message) }
    }

    /// The last signed (height, round, step), for status.
    public var lastSigned: SigningGuardState.Signed? { lock.withLock { guardFile.last } }

    public func answer(_ request: SignerWire.Request) -> SignerWire.Response {
        lock.withLock {
            do throws(SignerError) { return .signature(try sign(request)) } catch { return .refused(error) }
        }
    }

    /// The proof of holding the validator key for one connection.
    public func authenticate(_ hello: SignerWire.Hello, client: SignerWire.ClientAuth) throws(SignerError) -> Bytes64 {
        do { return try key.sign(SignerWire.signerAuthDigest(hello, client: client)) } catch { throw SignerError("signer.crypto", "\(error)") }
    }

    private func sign(_ request: SignerWire.Request) throws(SignerError) -> Bytes64 {
        let digest: Bytes32
        switch request {
        case .vote(let v):
            guard v.validator == key.publicKey else { throw SignerError("signer.not_this_validator", "a vote of \(Address(v.validator)); this signer holds \(Address(key.publicKey))") }
            digest = voteSigningHash(v, chainID: chainID)
            try authorize(height: v.height, round: v.round, step: v.kind == .prevote ? 1 : 2, payload: digest)
        case .proposal(let p):
            guard p.proposer == key.publicKey else { throw SignerError("signer.not_this_validator", "a proposal of \(Address(p.proposer)); this signer holds \(Address(key.publicKey))") }
            digest = proposalSigningHash(p, chainID: chainID)
            try authorize(height: p.height, round: p.round, step: 0, payload: digest)
        case .handshake(let low, let high):
            guard low.bytes.lexicographicallyPrecedes(high.bytes) else { throw SignerError("signer.bad_handshake", "the ephemeral keys are not two, lower first") }
            digest = Handshake.transcript(chainID: chainID, low: low, high: high)
        case .transaction(let t):
            guard t.chainID == chainID else { throw SignerError("signer.wrong_chain", "a transaction for chain '\(t.chainID)'; this signer signs for '\(chainID)'") }
            guard t.signer == key.publicKey else { throw SignerError("signer.not_this_validator", "a transaction of \(Address(t.signer))") }
            guard case .submitEvidence = t.call else { throw SignerError("signer.not_evidence", "this signer signs only consensus evidence, not \(t.call.name)") }
            digest = t.signingHash
        }
        do { return try key.sign(digest) } catch { throw SignerError("signer.crypto", "\(error)") }
    }

    private func authorize(height: UInt64, round: UInt32, step: UInt8, payload: Bytes32) throws(SignerError) {
        do { try guardFile.authorize(height: height, round: round, step: step, payload: payload) }
        catch { throw SignerError(error.code, error.message) }
    }
}
