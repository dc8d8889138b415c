/// The header of a block: everything a light client needs to follow the chain and prove state.
///
/// `stateRoot` is the root after executing this block's transactions (the proposer executes and
/// every validator re-executes before voting). `lastCommitHash` binds the commit certificate of
/// the parent carried in this block; `validatorsHash` binds the set that must sign this block.
/// `auditLogSize` and `auditLogRoot` are the audit log's tree after this block (every audit entry of
/// every patient, in block order, a leaf of one RFC 9162 tree): what its checkpoints and witnesses
/// rest on (`AuditLog`).
public struct BlockHeader: Hashable, Sendable, Canonical {
    public static let maxChainIDBytes = 64

    public var chainID: String
    public var height: UInt64
    public var time: Timestamp
    public var parentHash: Bytes32
    public var lastCommitHash: Bytes32
    public var transactionsRoot: Bytes32
    public var receiptsRoot: Bytes32
    public var stateRoot: Bytes32
    public var validatorsHash: Bytes32
    public var proposer: PublicKey
    public var auditLogSize: UInt64
    public var auditLogRoot: Bytes32

    public init(chainID: String, height: UInt64, time: Timestamp, parentHash: Bytes32, lastCommitHash: Bytes32,
                transactionsRoot: Bytes32, receiptsRoot: Bytes32, stateRoot: Bytes32, validatorsHash: Bytes32,
                proposer: PublicKey, auditLogSize: UInt64 = 0, auditLogRoot: Bytes32 = MerkleTree.emptyRoot) {
        self.chainID = chainID; self.height = height; self.time = time; self.parentHash = parentHash
        self.lastCommitHash = lastCommitHash; self.transactionsRoot = transactionsRoot; self.receiptsRoot = receiptsRoot
        self.stateRoot = stateRoot; self.validatorsHash = validatorsHash; self.proposer = proposer
        self.auditLogSize = auditLogSize; self.auditLogRoot = auditLogRoot
    }

    /// The block's identity: the tagged hash of the canonical header.
    public var hash: Bytes32 { SHA256.tagged("meridian/block-header", canonicalBytes) }

    public func encode(to w: inout CanonicalWriter) {
        w.write(chainID); w.write(varint: height); w.write(time); w.write(parentHash); w.write(lastCommitHash)
        w.write(transactionsRoot); w.write(receiptsRoot); w.write(stateRoot); w.write(validatorsHash); w.write(proposer)
        w.write(varint: auditLogSize); w.write(auditLogRoot)
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        chainID = try r.readString("header.chain_id", max: Self.maxChainIDBytes)
        height = try r.readVarint("header.height")
        time = try r.read(Timestamp.self)
        parentHash = try r.readBytes32("header.parent_hash")
        lastCommitHash = try r.readBytes32("header.last_commit_hash")
        transactionsRoot = try r.readBytes32("header.transactions_root")
        receiptsRoot = try r.readBytes32("header.receipts_root")
        stateRoot = try r.readBytes32("header.state_root")
        validatorsHash = try r.readBytes32("header.validators_hash")
        proposer = try r.read(PublicKey.self)
        auditLogSize = try r.readVarint("header.audit_log_size")
        auditLogRoot = try r.readBytes32("header.audit_log_root")
    }
}

/// One validator's precommit signature inside a commit certificate.
public struct CommitSignature: Hashable, Sendable, Canonical, Comparable {
    public let validator: PublicKey
    public let signature: Bytes64

    public init(validator: PublicKey, signature: Bytes64) { self.validator = validator; self.signature = signature }
    public static func < (l: CommitSignature, r: CommitSignature) -> Bool { l.validator < r.validator }

    public func encode(to w: inout CanonicalWriter) { w.write(validator); w.write(signature) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        validator = try r.read(PublicKey.self); signature = try r.readBytes64("commit.signature")
    }
}

/// A voting power table: what a commit is checked against.
public struct ValidatorPower: Hashable, Sendable, Canonical, Comparable {
    public let key: PublicKey
    public let power: UInt64

    public init(key: PublicKey, power: UInt64) { self.key = key; self.power = power }
    public static func < (l: ValidatorPower, r: ValidatorPower) -> Bool { l.key < r.key }
    public func encode(to w: inout CanonicalWriter) { w.write(key); w.write(varint: power) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        key = try r.read(PublicKey.self); power = try r.readVarint("validator.power")
    }

    /// The hash a header commits to for a validator set (sorted by key).
    public static func setHash(_ set: [ValidatorPower]) -> Bytes32 {
        var w = CanonicalWriter()
        w.write(set.sorted())
        return SHA256.tagged("meridian/validator-set", w.bytes)
    }
}

/// Proof that a block is final: precommits for its hash from validators holding more than two
/// thirds of the voting power of its height.
public struct CommitCertificate: Hashable, Sendable, Canonical {
    public static let maxSignatures = 1024

    public let height: UInt64
    public let round: UInt32
    public let blockHash: Bytes32
    /// Sorted by validator key, one per validator.
    public let signatures: [CommitSignature]

    public init(height: UInt64, round: UInt32, blockHash: Bytes32, signatures: [CommitSignature]) {
        self.height = height; self.round = round; self.blockHash = blockHash; self.signatures = signatures.sorted()
    }

    public var hash: Bytes32 { SHA256.tagged("meridian/commit", canonicalBytes) }

    /// The 32-byte message a validator signs to precommit `blockHash` at (height, round).
    public static func precommitMessage(chainID: String, height: UInt64, round: UInt32, blockHash: Bytes32) -> Bytes32 {
        var w = CanonicalWriter()
        w.write(chainID); w.write(varint: height); w.write(round); w.write(varint: 2); w.write(blockHash)
        return SHA256.tagged("meridian/vote", w.bytes)
    }

    public enum VerificationError: Error, Hashable, Sendable {
        case wrongBlock, unknownValidator(PublicKey), badSignature(PublicKey), insufficientPower(signed: UInt64, total: UInt64)
    }

    /// Checks every signature and that the signers hold more than 2/3 of `validators`' power.
    /// `signatureIsValid` is BIP-340 Schnorr; the consensus simulation passes its ideal signatures.
    public func verify(chainID: String, validators: [ValidatorPower], blockHash expected: Bytes32,
                       signatureIsValid: (PublicKey, Bytes64, Bytes32) -> Bool = { $0.verify($1, message: $2) }) -> Result<Void, VerificationError> {
        guard blockHash == expected else { return .failure(.wrongBlock) }
        var power: [PublicKey: UInt64] = [:]
        var total: UInt64 = 0
        for v in validators { power[v.key] = v.power; total += v.power }
        let message = Self.precommitMessage(chainID: chainID, height: height, round: round, blockHash: blockHash)
        var signed: UInt64 = 0
        for s in signatures {
            guard let p = power[s.validator] else { return .failure(.unknownValidator(s.validator)) }
            guard signatureIsValid(s.validator, s.signature, message) else { return .failure(.badSignature(s.validator)) }
            signed += p
        }
        guard signed * 3 > total * 2 else { return .failure(.insufficientPower(signed: signed, total: total)) }
        return .success(())
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(varint: height); w.write(round); w.write(blockHash); w.write(signatures)
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        height = try r.readVarint("commit.height")
        round = try r.readUInt32("commit.round")
        blockHash = try r.readBytes32("commit.block_hash")
        signatures = try r.readSortedSet(CommitSignature.self, "commit.signatures", max: Self.maxSignatures)
    }
}
