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
/// A proposed block without its transactions' bodies: the header, the last commit and the
/// transactions' hashes in block order. Validators already hold nearly every transaction of a
/// proposal in their mempools (gossip brought it); they rebuild the block from those and fetch the
/// whole block from the sender only when one is missing (the idea of Bitcoin's BIP 152, with full
/// 32-byte hashes: no short-ID collisions to handle).
public struct CompactBlock: Hashable, Sendable, Canonical {
    public let header: BlockHeader
    public let lastCommit: CommitCertificate?
    public let transactions: [Bytes32]

    public init(_ block: Block) { header = block.header; lastCommit = block.lastCommit; transactions = block.transactions.map(\.hash) }

    public var hash: Bytes32 { header.hash }
    /// Whether the hashes are the ones the header commits to (checked before any mempool lookup).
    public var matchesHeader: Bool { header.transactionsRoot == Block.transactionsRoot(hashes: transactions) }

    /// The block, from transactions whose hashes are `transactions` in order.
    public func block(with bodies: [SignedTransaction]) -> Block { Block(header: header, transactions: bodies, lastCommit: lastCommit) }

    public func encode(to w: inout CanonicalWriter) { w.write(header); w.write(lastCommit); w.write(transactions) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        header = try r.read(BlockHeader.self)
        lastCommit = try r.readOptional(CommitCertificate.self, "compact.last_commit")
        transactions = try r.readArray(Bytes32.self, "compact.transactions", max: 100_000)
    }
}

public enum WireMessage: Sendable, Canonical {
    /// Transactions in one gossip message at most.
    public static let maxTransactionsPerMessage = 256
    /// Transactions of a proposal asked for (and sent) in one message at most.
    public static let maxRequestedTransactions = 5_000
    case proposal(SignedProposal, Block)
    case vote(SignedVote)
    /// Signed transactions (canonical bytes) the sender admitted, gossiped in batches: one frame
    /// for many transactions instead of one each.
    case transactions([[UInt8]])
    /// "Send me block `height` and its certificate": a node that is behind.
    case syncRequest(height: UInt64)
    case syncResponse(Block, CommitCertificate)
    /// A proposal with its block as hashes (`CompactBlock`): what validators gossip.
    case compactProposal(SignedProposal, CompactBlock)
    /// "Send me these transactions (by index) of your proposal of (height, round)": a validator
    /// whose mempool lacks them (BIP 152's getblocktxn). Answered with `.proposalTransactions`.
    case proposalTransactionsRequest(height: UInt64, round: UInt32, indexes: [UInt32])
    /// The transactions asked for, as canonical bytes, with their indexes in the block.
    case proposalTransactions(height: UInt64, round: UInt32, indexes: [UInt32], transactions: [[UInt8]])

    /// Indexes of a block's transactions: a count, then each, strictly increasing.
    static func write(indexes: [UInt32], to w: inout CanonicalWriter) {
        w.write(varint: UInt64(indexes.count)); for i in indexes { w.write(i) }
    }
    static func readIndexes(_ r: inout CanonicalReader) throws(CodecError) -> [UInt32] {
        let n = try r.readLength("wire.indexes", max: maxRequestedTransactions)
        var out: [UInt32] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let i = try r.readUInt32("wire.index")
            if let last = out.last, i <= last { throw CodecError(.notSorted, field: "wire.indexes", offset: r.offset) }
            out.append(i)
        }
        return out
    }

    /// The signed proposal a whole or compact proposal message carries.
    public var signedProposal: SignedProposal? {
        switch self {
        case .proposal(let sp, _), .compactProposal(let sp, _): sp
        default: nil
        }
    }

    public func encode(to w: inout CanonicalWriter) {
        switch self {
        case .proposal(let p, let b): w.write(varint: 0); w.write(p); w.write(b)
        case .vote(let v): w.write(varint: 1); w.write(v)
        case .transactions(let ts): w.write(varint: 2); w.write(varint: UInt64(ts.count)); for t in ts { w.write(bytes: t) }
        case .syncRequest(let h): w.write(varint: 3); w.write(varint: h)
        case .syncResponse(let b, let c): w.write(varint: 4); w.write(b); w.write(c)
        case .compactProposal(let p, let b): w.write(varint: 5); w.write(p); w.write(b)
        case .proposalTransactionsRequest(let h, let r, let i): w.write(varint: 6); w.write(varint: h); w.write(r); Self.write(indexes: i, to: &w)
        case .proposalTransactions(let h, let r, let i, let ts):
            w.write(varint: 7); w.write(varint: h); w.write(r); Self.write(indexes: i, to: &w)
            w.write(varint: UInt64(ts.count)); for t in ts { w.write(bytes: t) }
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
        case 5: self = .compactProposal(try r.read(SignedProposal.self), try r.read(CompactBlock.self))
        case 6:
            let h = try r.readVarint("wire.height"), round = try r.readUInt32("wire.round")
            self = .proposalTransactionsRequest(height: h, round: round, indexes: try Self.readIndexes(&r))
        case 7:
            let h = try r.readVarint("wire.height"), round = try r.readUInt32("wire.round")
            let indexes = try Self.readIndexes(&r)
            let n = try r.readLength("wire.transactions", max: Self.maxRequestedTransactions)
            guard n == indexes.count else { throw CodecError(.invalidValue, field: "wire.transactions", offset: r.offset) }
            var ts: [[UInt8]] = []
            for _ in 0..<n { ts.append(try r.readByteString("wire.transaction", max: SignedTransaction.maxEncodedBytes)) }
            self = .proposalTransactions(height: h, round: round, indexes: indexes, transactions: ts)
        default: throw CodecError(.unknownVariant, field: "wire.kind", offset: r.offset)
        }
    }
}
