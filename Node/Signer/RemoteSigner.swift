import Foundation
public import MeridianCore
public import MeridianConsensus
public import MeridianConsensusDriver
public import MeridianRuntime
public import MeridianP2P

/// The node's side of `meridian-signer`: a validator key the node does not hold. It signs the
/// node's votes, proposals, P2P handshakes and evidence transactions by asking the signer over its
/// Unix socket, one request at a time, and checks every signature it gets back before using it.
///
/// The connection is opened and authenticated on first use and again after any failure; a request
/// that fails on a connection that had been idle is tried once more on a fresh one (asking again
/// for the same message is what the signer's guard allows). Each call is bounded by `timeoutSeconds`.
public final class RemoteSigner: ConsensusSigner, TransactionSigner, P2PIdentity, @unchecked Sendable {   // the connection is used only under `lock`
    public let socketPath: String
    public let chainID: String
    public let publicKey: PublicKey
    private let clientKey: PrivateKey
    private let timeoutSeconds: Double
    private let lock = NSLock()
    private var connection: UnixSocket?

    public init(socketPath: String, chainID: String, validator: PublicKey, clientKey: PrivateKey, timeoutSeconds: Double = 2) {
        self.socketPath = socketPath; self.chainID = chainID; self.publicKey = validator
        self.clientKey = clientKey; self.timeoutSeconds = timeoutSeconds
    }

    /// Connects and authenticates now (the node does this at start, to fail early on a wrong key).
    public func connect() throws(SignerError) {
        lock.lock(); defer { lock.unlock() }
        connection = try open()
    }

    public func sign(proposal: MeridianConsensus.Proposal, chainID: String) throws -> Bytes64 {
        try checked(.proposal(proposal), digest: proposalSigningHash(proposal, chainID: chainID))
    }

    public func sign(vote: Vote, chainID: String) throws -> Bytes64 {
        try checked(.vote(vote), digest: voteSigningHash(vote, chainID: chainID))
    }

    public func verify(_ signature: Bytes64, by key: PublicKey, message digest: Bytes32) -> Bool { key.verify(signature, message: digest) }

    public func sign(transaction: Transaction) throws -> Bytes64 {
        try checked(.transaction(transaction), digest: transaction.signingHash)
    }

    public func signHandshake(chainID: String, low: Bytes32, high: Bytes32) throws -> Bytes64 {
        try checked(.handshake(low: low, high: high), digest: Handshake.transcript(chainID: chainID, low: low, high: high))
    }

    /// Asks for a signature and checks it is the validator key's over what this node meant to sign.
    private func checked(_ request: SignerWire.Request, digest: Bytes32) throws(SignerError) -> Bytes64 {
        let signature = try call(request)
        guard publicKey.verify(signature, message: digest) else {
            throw SignerError("signer.bad_signature", "the signer's signature does not verify for \(Address(publicKey))")
        }
        return signature
    }

    private func call(_ request: SignerWire.Request) throws(SignerError) -> Bytes64 {
        lock.lock(); defer { lock.unlock() }
        let reused = connection != nil
        switch exchange(request) {
        case .success(let signature): return signature
        case .failure(let e) where reused && ["signer.closed", "signer.io"].contains(e.code):
            // The signer restarted since the last request: once more, on a new connection.
            return try exchange(request).get()
        case .failure(let e): throw e
        }
    }

    /// One request on the current connection (opened if there is none). A failure other than the
    /// signer's refusal drops the connection.
    private func exchange(_ request: SignerWire.Request) -> Result<Bytes64, SignerError> {
        let result = Result { () throws(SignerError) -> Bytes64 in
            if connection == nil { connection = try open() }
            let c = connection!
            try c.writeFrame(request.bytes)
            switch try SignerWire.Response(bytes: try c.readFrame()) {
            case .signature(let s): return s
            case .refused(let e): throw SignerError("refused." + e.code, e.message)
            }
        }
        switch result {
        case .success: return result
        case .failure(let e) where e.code.hasPrefix("refused."):
            return .failure(SignerError(String(e.code.dropFirst("refused.".count)), e.message))
        case .failure(let e):
            connection?.close(); connection = nil
            return .failure(e)
        }
    }

    /// A new, authenticated connection.
    private func open() throws(SignerError) -> UnixSocket {
        let c = try UnixSocket.connect(path: socketPath, timeoutSeconds: timeoutSeconds)
        let hello = try SignerWire.Hello(bytes: try c.readFrame())
        guard hello.chainID == chainID else { throw SignerError("signer.wrong_chain", "the signer signs for chain '\(hello.chainID)', this node is on '\(chainID)'") }
        guard hello.validator == publicKey else {
            throw SignerError("signer.wrong_validator", "the signer holds \(Address(hello.validator)), node.json names \(Address(publicKey))")
        }
        let nonce = try SignerServer.nonce()
        let signature: Bytes64
        do { signature = try clientKey.sign(SignerWire.clientAuthDigest(hello, clientNonce: nonce)) } catch { throw SignerError("signer.crypto", "\(error)") }
        let auth = SignerWire.ClientAuth(client: clientKey.publicKey, nonce: nonce, signature: signature)
        try c.writeFrame(auth.bytes)
        switch try SignerWire.Response(bytes: try c.readFrame()) {
        case .refused(let e): throw e
        case .signature(let proof):
            guard publicKey.verify(proof, message: SignerWire.signerAuthDigest(hello, client: auth)) else {
                throw SignerError("signer.bad_auth", "the signer did not prove it holds \(Address(publicKey))")
            }
        }
        return c
    }
}
