public import MeridianCore
public import MeridianConsensus
public import MeridianRuntime
public import MeridianModules

/// What a validator signs for a vote: the runtime's definition (`SignedConsensusVote.signingHash`),
/// so that evidence built from these signatures verifies on chain.
public func voteSigningHash(_ v: Vote, chainID: String) -> Bytes32 {
    SignedConsensusVote.signingHash(chainID: chainID, kind: v.kind.rawValue, height: v.height, round: v.round, value: v.value)
}

public func proposalSigningHash(_ p: MeridianConsensus.Proposal, chainID: String) -> Bytes32 {
    var w = CanonicalWriter()
    w.write(chainID); w.write(varint: p.height); w.write(p.round); w.write(p.value)
    w.write(varint: UInt64(bitPattern: Int64(p.validRound)))
    w.write(p.proposer)
    return SHA256.tagged("meridian/proposal", w.bytes)
}

extension Vote: CanonicalEncodable, CanonicalDecodable {
    public func encode(to w: inout CanonicalWriter) {
        w.write(kind.rawValue); w.write(varint: height); w.write(round); w.write(value); w.write(validator)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        let k = try r.readUInt8("vote.kind")
        guard let kind = VoteKind(rawValue: k) else { throw CodecError(.unknownVariant, field: "vote.kind", offset: r.offset) }
        self.init(kind: kind, height: try r.readVarint("vote.height"), round: try r.readUInt32("vote.round"),
                  value: try r.readOptional(Bytes32.self, "vote.value"), validator: try r.read(PublicKey.self))
    }
}

extension MeridianConsensus.Proposal: CanonicalEncodable, CanonicalDecodable {
    public func encode(to w: inout CanonicalWriter) {
        w.write(varint: height); w.write(round); w.write(value); w.write(varint: UInt64(bitPattern: Int64(validRound))); w.write(proposer)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        let height = try r.readVarint("proposal.height"), round = try r.readUInt32("proposal.round"), value = try r.readBytes32("proposal.value")
        let vr = Int64(bitPattern: try r.readVarint("proposal.valid_round"))
        guard vr >= -1, vr < Int64(round) else { throw CodecError(.invalidValue, field: "proposal.valid_round", offset: r.offset) }
        self.init(height: height, round: round, value: value, validRound: Int32(vr), proposer: try r.read(PublicKey.self))
    }
}

/// A vote with its signature by `vote.validator`.
public struct SignedVote: Hashable, Sendable, Canonical {
    public let vote: Vote
    public let signature: Bytes64
    public init(vote: Vote, signature: Bytes64) { self.vote = vote; self.signature = signature }
    public func isValid(chainID: String) -> Bool { vote.validator.verify(signature, message: voteSigningHash(vote, chainID: chainID)) }
    public func isValid(chainID: String, signer: any ConsensusSigner) -> Bool {
        signer.verify(signature, by: vote.validator, message: voteSigningHash(vote, chainID: chainID))
    }
    public func encode(to w: inout CanonicalWriter) { w.write(vote); w.write(signature) }
    public init(from r: inout CanonicalReader) throws(CodecError) { vote = try r.read(Vote.self); signature = try r.readBytes64("vote.signature") }
}

/// A proposal with its signature by the proposer.
public struct SignedProposal: Hashable, Sendable, Canonical {
    public let proposal: MeridianConsensus.Proposal
    public let signature: Bytes64
    public init(proposal: MeridianConsensus.Proposal, signature: Bytes64) { self.proposal = proposal; self.signature = signature }
    public func isValid(chainID: String) -> Bool { proposal.proposer.verify(signature, message: proposalSigningHash(proposal, chainID: chainID)) }
    public func isValid(chainID: String, signer: any ConsensusSigner) -> Bool {
        signer.verify(signature, by: proposal.proposer, message: proposalSigningHash(proposal, chainID: chainID))
    }
    public func encode(to w: inout CanonicalWriter) { w.write(proposal); w.write(signature) }
    public init(from r: inout CanonicalReader) throws(CodecError) { proposal = try r.read(MeridianConsensus.Proposal.self); signature = try r.readBytes64("proposal.signature") }
}

/// Everything validators say to each other. One canonical encoding, like everything signed.
public enum WireMessage: Sendable, Canonical {
    /// Transactions in one gossip message at most.
    public static let maxTransactionsPerMessage = 256
    case proposal(SignedProposal, Block)
    case vote(SignedVote)
    /// Signed transactions (canonical bytes) the sender admitted, gossiped in batches: one frame
    /// for many transactions instead of one each.
    case transactions([[UInt8]])
    /// "Send me block `height` and its certificate": a node that is behind.
    case syncRequest(height: UInt64)
    case syncResponse(Block, CommitCertificate)

    public func encode(to w: inout CanonicalWriter) {
        switch self {
        case .proposal(let p, let b): w.write(varint: 0); w.write(p); w.write(b)
        case .vote(let v): w.write(varint: 1); w.write(v)
        case .transactions(let ts): w.write(varint: 2); w.write(varint: UInt64(ts.count)); for t in ts { w.write(bytes: t) }
        case .syncRequest(let h): w.write(varint: 3); w.write(varint: h)
        case .syncResponse(let b, let c): w.write(varint: 4); w.write(b); w.write(c)
        }
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        switch try r.readVarint("wire.kind") {
        case 0: self = .proposal(try r.read(SignedProposal.self), try r.read(Block.self))
        case 1: self = .vote(try r.read(SignedVote.self))
        case 2:
            let n = try r.readLength("wire.transactions", max: Self.maxTransactionsPerMessage)
            var ts: [[UInt8]] = []
            for _ in 0..<n { ts.append(try r.readByteString("wire.transaction", max: SignedTransaction.maxEncodedBytes)) }
            self = .transactions(ts)
        case 3: self = .syncRequest(height: try r.readVarint("wire.height"))
        case 4: self = .syncResponse(try r.read(Block.self), try r.read(CommitCertificate.self))
        default: throw CodecError(.unknownVariant, field: "wire.kind", offset: r.offset)
        }
    }
}
