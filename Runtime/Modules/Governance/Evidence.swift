public import MeridianCore

/// A consensus vote with its signature, as evidence carries it. `kind` 1 is a prevote, 2 a
/// precommit; `value` is a block hash or nil. This is the one definition of what a validator signs
/// for a vote: the consensus driver signs exactly `signingHash`.
public struct SignedConsensusVote: Hashable, Sendable, Canonical {
    public let kind: UInt8
    public let height: UInt64
    public let round: UInt32
    public let value: Bytes32?
    public let validator: PublicKey
    public let signature: Bytes64

    public init(kind: UInt8, height: UInt64, round: UInt32, value: Bytes32?, validator: PublicKey, signature: Bytes64) {
        self.kind = kind; self.height = height; self.round = round; self.value = value; self.validator = validator; self.signature = signature
    }

    /// What a validator signs for a vote. A precommit for a block signs the commit certificate's
    /// message, so the precommits that decide a block are its certificate.
    public static func signingHash(chainID: String, kind: UInt8, height: UInt64, round: UInt32, value: Bytes32?) -> Bytes32 {
        if kind == 2, let block = value {
            return CommitCertificate.precommitMessage(chainID: chainID, height: height, round: round, blockHash: block)
        }
        var w = CanonicalWriter()
        w.write(chainID); w.write(kind); w.write(varint: height); w.write(round); w.write(value)
        return SHA256.tagged("meridian/vote", w.bytes)
    }

    public func isValid(chainID: String) -> Bool {
        (kind == 1 || kind == 2) && validator.verify(signature, message: Self.signingHash(chainID: chainID, kind: kind, height: height, round: round, value: value))
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(kind); w.write(varint: height); w.write(round); w.write(value); w.write(validator); w.write(signature)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        kind = try r.readUInt8("vote.kind"); height = try r.readVarint("vote.height"); round = try r.readUInt32("vote.round")
        value = try r.readOptional(Bytes32.self, "vote.value"); validator = try r.read(PublicKey.self); signature = try r.readBytes64("vote.signature")
    }
}

/// Two signed votes of one validator for one (height, round, kind) with different values: proof
/// that it equivocated (double-signed). Anyone who saw both can put it on chain.
public struct EquivocationEvidence: Hashable, Sendable, Canonical {
    public let first: SignedConsensusVote
    public let second: SignedConsensusVote
    public init(first: SignedConsensusVote, second: SignedConsensusVote) { self.first = first; self.second = second }
    public func encode(to w: inout CanonicalWriter) { w.write(first); w.write(second) }
    public init(from r: inout CanonicalReader) throws(CodecError) { first = try r.read(SignedConsensusVote.self); second = try r.read(SignedConsensusVote.self) }
}

/// A recorded equivocation, as regulators read it.
public struct EvidenceRecord: Hashable, Sendable, Canonical {
    public let evidence: EquivocationEvidence
    public let reportedBy: PublicKey
    public let recordedAt: UInt64
    public func encode(to w: inout CanonicalWriter) { w.write(evidence); w.write(reportedBy); w.write(varint: recordedAt) }
    public init(evidence: EquivocationEvidence, reportedBy: PublicKey, recordedAt: UInt64) { self.evidence = evidence; self.reportedBy = reportedBy; self.recordedAt = recordedAt }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        evidence = try r.read(EquivocationEvidence.self); reportedBy = try r.read(PublicKey.self); recordedAt = try r.readVarint("evidence.recorded_at")
    }
}

/// Consensus evidence on chain: checked, then kept under the validator and the step, once.
public enum Evidence {
    public static let prefix = StateKey("evidence/equivocation").bytes
    public static func key(_ v: SignedConsensusVote) -> StateKey {
        StateKey("evidence/equivocation").appending(v.validator).appending(v.height).appending(UInt64(v.round)).appending(UInt64(v.kind))
    }

    /// Records evidence submitted by a validator (members with the validator role report what their
    /// node saw). Refused: votes for different steps or validators, equal values, a bad signature,
    /// a key that was never a validator, evidence already recorded.
    public static func submit(_ e: EquivocationEvidence, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard let reporter = try Identity.member(ctx.signer, in: ctx.view), reporter.has(.validator) else {
            throw RuntimeError("evidence.not_a_validator", "only validators submit consensus evidence")
        }
        let a = e.first, b = e.second
        guard a.validator == b.validator, a.height == b.height, a.round == b.round, a.kind == b.kind else {
            throw RuntimeError("evidence.different_steps", "the two votes are not for one validator, height, round and kind")
        }
        guard a.value != b.value else { throw RuntimeError("evidence.same_vote", "the two votes agree: no equivocation") }
        guard a.isValid(chainID: ctx.chainID), b.isValid(chainID: ctx.chainID) else {
            throw RuntimeError("evidence.bad_signature", "a vote's signature does not verify for \(Address(a.validator))")
        }
        guard let accused = try Identity.member(a.validator, in: ctx.view), accused.has(.validator) else {
            throw RuntimeError("evidence.unknown_validator", "\(Address(a.validator)) is not a validator")
        }
        guard try ctx.read(EvidenceRecord.self, key(a)) == nil else { throw RuntimeError("evidence.duplicate", "this equivocation is already on chain") }
        let ordered = a.canonicalBytes.lexicographicallyPrecedes(b.canonicalBytes) ? EquivocationEvidence(first: a, second: b) : EquivocationEvidence(first: b, second: a)
        ctx.write(key(a), EvidenceRecord(evidence: ordered, reportedBy: ctx.signer, recordedAt: ctx.height))
        ctx.emit(.evidenceRecorded(validator: a.validator, height: a.height))
        try Suspensions.schedule(a.validator, ctx)
    }
}
