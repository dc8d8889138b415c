public import MeridianCore
public import MeridianModules

/// Every state change Meridian knows, one variant per module call. Tags are part of the
/// canonical encoding and never reused.
public enum Call: Hashable, Sendable, Canonical {
    case registerPatient(Identity.RegisterPatient)
    case pairDevice(Identity.PairDevice)
    case unpairDevice(PublicKey)
    case addMember(Identity.AddMember)
    case removeMember(PublicKey)
    case grantConsent(ConsentTerms)
    case amendConsent(Consent.Amend)
    case revokeConsent(Bytes32)
    case registerRecord(Sharing.RegisterRecord)
    case requestAccess(Sharing.RequestAccess)
    case shareRecord(Sharing.ShareRecord)
    case eraseRecord(Bytes32)
    case propose(GovernanceAction)
    case vote(Governance.Vote)
    case submitEvidence(EquivocationEvidence)
    case submitAnchor(AnchorSubmission)
    case recordAlertDelivery(AlertDelivery)
    case recordConsoleView(ConsoleView)
    case recordAPIRead(APIRead)
    case setSpO2Scale(Clinical.SetSpO2Scale)
    case acknowledgeAlert(AlertAcknowledgement)
    case acknowledgeAlertInConsole(ConsoleAlertAcknowledgement)
    case setAlertEscalation(AlertEscalation)
    case deployContract([UInt8])
    case updatePolicy(Policies.Update)
    /// An organisation's admin replaces one of its validator or worker keys (`KeyRotations`).
    case rotateKey(KeyRotation)

    public var name: String {
        switch self {
        case .registerPatient: "identity.register_patient"
        case .pairDevice: "identity.pair_device"
        case .unpairDevice: "identity.unpair_device"
        case .addMember: "identity.add_member"
        case .removeMember: "identity.remove_member"
        case .grantConsent: "consent.grant"
        case .amendConsent: "consent.amend"
        case .revokeConsent: "consent.revoke"
        case .registerRecord: "sharing.register_record"
        case .requestAccess: "sharing.request_access"
        case .shareRecord: "sharing.share_record"
        case .eraseRecord: "sharing.erase_record"
        case .propose: "governance.propose"
        case .vote: "governance.vote"
        case .submitEvidence: "consensus.submit_evidence"
        case .submitAnchor: "anchoring.submit"
        case .recordAlertDelivery: "audit.alert_delivery"
        case .recordConsoleView: "audit.console_view"
        case .recordAPIRead: "audit.api_read"
        case .setSpO2Scale: "clinical.set_spo2_scale"
        case .acknowledgeAlert: "audit.alert_acknowledgement"
        case .acknowledgeAlertInConsole: "audit.console_alert_acknowledgement"
        case .setAlertEscalation: "audit.set_alert_escalation"
        case .deployContract: "contracts.deploy"
        case .updatePolicy: "contracts.update_policy"
        case .rotateKey: "governance.rotate_key"
        }
    }

    public func encode(to w: inout CanonicalWriter) {
        switch self {
        case .registerPatient(let c): w.write(varint: 0); w.write(c)
        case .pairDevice(let c): w.write(varint: 1); w.write(c)
        case .unpairDevice(let c): w.write(varint: 2); w.write(c)
        case .addMember(let c): w.write(varint: 3); w.write(c)
        case .removeMember(let c): w.write(varint: 4); w.write(c)
        case .grantConsent(let c): w.write(varint: 10); w.write(c)
        case .amendConsent(let c): w.write(varint: 11); w.write(c)
        case .revokeConsent(let c): w.write(varint: 12); w.write(c)
        case .registerRecord(let c): w.write(varint: 20); w.write(c)
        case .requestAccess(let c): w.write(varint: 21); w.write(c)
        case .shareRecord(let c): w.write(varint: 22); w.write(c)
        case .eraseRecord(let c): w.write(varint: 23); w.write(c)
        case .propose(let c): w.write(varint: 30); w.write(c)
        case .vote(let c): w.write(varint: 31); w.write(c)
        case .submitEvidence(let e): w.write(varint: 40); w.write(e)
        case .submitAnchor(let a): w.write(varint: 50); w.write(a)
        case .recordAlertDelivery(let d): w.write(varint: 51); w.write(d)
        case .recordConsoleView(let v): w.write(varint: 52); w.write(v)
        case .recordAPIRead(let v): w.write(varint: 53); w.write(v)
        case .setSpO2Scale(let c): w.write(varint: 70); w.write(c)
        case .acknowledgeAlert(let a): w.write(varint: 54); w.write(a)
        case .acknowledgeAlertInConsole(let a): w.write(varint: 55); w.write(a)
        case .setAlertEscalation(let e): w.write(varint: 56); w.write(e)
        case .deployContract(let code): w.write(varint: 60); w.write(bytes: code)
        case .updatePolicy(let u): w.write(varint: 61); w.write(u)
        case .rotateKey(let k): w.write(varint: 32); w.write(k)
        }
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        let at = r.offset
        switch try r.readVarint("call") {
        case 0: self = .registerPatient(try r.read(Identity.RegisterPatient.self))
        case 1: self = .pairDevice(try r.read(Identity.PairDevice.self))
        case 2: self = .unpairDevice(try r.read(PublicKey.self))
        case 3: self = .addMember(try r.read(Identity.AddMember.self))
        case 4: self = .removeMember(try r.read(PublicKey.self))
        case 10: self = .grantConsent(try r.read(ConsentTerms.self))
        case 11: self = .amendConsent(try r.read(Consent.Amend.self))
        case 12: self = .revokeConsent(try r.readBytes32("consent"))
        case 20: self = .registerRecord(try r.read(Sharing.RegisterRecord.self))
        case 21: self = .requestAccess(try r.read(Sharing.RequestAccess.self))
        case 22: self = .shareRecord(try r.read(Sharing.ShareRecord.self))
        case 23: self = .eraseRecord(try r.readBytes32("record"))
        case 30: self = .propose(try r.read(GovernanceAction.self))
        case 31: self = .vote(try r.read(Governance.Vote.self))
        case 40: self = .submitEvidence(try r.read(EquivocationEvidence.self))
        case 50: self = .submitAnchor(try r.read(AnchorSubmission.self))
        case 51: self = .recordAlertDelivery(try r.read(AlertDelivery.self))
        case 52: self = .recordConsoleView(try r.read(ConsoleView.self))
        case 53: self = .recordAPIRead(try r.read(APIRead.self))
        case 70: self = .setSpO2Scale(try r.read(Clinical.SetSpO2Scale.self))
        case 54: self = .acknowledgeAlert(try r.read(AlertAcknowledgement.self))
        case 55: self = .acknowledgeAlertInConsole(try r.read(ConsoleAlertAcknowledgement.self))
        case 56: self = .setAlertEscalation(try r.read(AlertEscalation.self))
        case 60: self = .deployContract(try r.readByteString("contract.code", max: 1 << 20))
        case 61: self = .updatePolicy(try r.read(Policies.Update.self))
        case 32: self = .rotateKey(try r.read(KeyRotation.self))
        default: throw CodecError(.unknownVariant, field: "call", offset: at)
        }
    }
}

/// The signed part of a transaction: which chain, who, which nonce, what.
public struct Transaction: Hashable, Sendable, Canonical {
    public let chainID: String
    public let signer: PublicKey
    /// The signer's next nonce: 0 for its first transaction, then +1 each. A replay reuses a spent nonce.
    public let nonce: UInt64
    public let call: Call

    public init(chainID: String, signer: PublicKey, nonce: UInt64, call: Call) {
        self.chainID = chainID; self.signer = signer; self.nonce = nonce; self.call = call
    }

    /// The 32 bytes the signer signs: a tagged hash, so no other Meridian message can collide with it.
    public var signingHash: Bytes32 { SHA256.tagged("meridian/transaction", canonicalBytes) }

    public func encode(to w: inout CanonicalWriter) { w.write(chainID); w.write(signer); w.write(varint: nonce); w.write(call) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        chainID = try r.readString("tx.chain_id", max: BlockHeader.maxChainIDBytes)
        signer = try r.read(PublicKey.self)
        nonce = try r.readVarint("tx.nonce")
        call = try r.read(Call.self)
    }
}

/// A transaction with its BIP-340 signature: what clients submit and blocks carry.
///
/// Held in one immutable box with its canonical bytes and its hash, both made once (when it is
/// signed, built or decoded): a transaction is copied into the mempool, gossip, proposals, blocks
/// and receipts, and hashed and encoded at each step. As a plain struct its `Call` payload was
/// copied field by field at every step and re-encoded at every hash (together ~10% of a loaded
/// localnet's CPU, issue 22); now a copy is one retain, `hash` a read, `encode` one append.
/// The bytes kept from decoding are the value's canonical encoding because the codec admits
/// exactly one encoding per value (`CanonicalCodec.swift`), so a decoded transaction and the
/// same transaction built in memory have the same bytes and hash.
/// Who signs a node's own transactions: a key in the node, or the validator key's `meridian-signer`
/// (which signs only consensus evidence).
public protocol TransactionSigner: Sendable {
    var publicKey: PublicKey { get }
    /// A BIP-340 signature of `transaction.signingHash`.
    func sign(transaction: Transaction) throws -> Bytes64
}

extension PrivateKey: TransactionSigner {
    public func sign(transaction: Transaction) throws -> Bytes64 { try sign(transaction.signingHash) }
}

public struct SignedTransaction: Hashable, Sendable, Canonical {
    /// Larger encodings are refused before decoding.
    public static let maxEncodedBytes = 16 * 1024

    private final class Storage: Sendable {
        let transaction: Transaction
        let signature: Bytes64
        let encoded: [UInt8]
        let hash: Bytes32
        init(transaction: Transaction, signature: Bytes64, encoded: [UInt8]) {
            self.transaction = transaction; self.signature = signature; self.encoded = encoded
            hash = SHA256.tagged("meridian/signed-transaction", encoded)
        }
    }
    private let storage: Storage

    public var transaction: Transaction { storage.transaction }
    public var signature: Bytes64 { storage.signature }
    /// The canonical encoding (transaction, then signature).
    public var encoded: [UInt8] { storage.encoded }

    public init(transaction: Transaction, signature: Bytes64) {
        var w = CanonicalWriter()
        w.write(transaction); w.write(signature)
        storage = Storage(transaction: transaction, signature: signature, encoded: w.bytes)
    }

    /// Signs `transaction` with `key`, which must be its signer.
    public init(signing transaction: Transaction, with key: PrivateKey) throws {
        precondition(key.publicKey == transaction.signer, "signing with a key that is not the transaction's signer")
        self.init(transaction: transaction, signature: try key.sign(transaction.signingHash))
    }

    /// Signs `transaction` with `signer`, which must be its signer (a key here, or one held by a
    /// separate signer process that decides itself which transactions it signs).
    public init(signing transaction: Transaction, by signer: any TransactionSigner) throws {
        guard signer.publicKey == transaction.signer else { throw RuntimeError("transaction.wrong_signer", "signing with a key that is not the transaction's signer") }
        self.init(transaction: transaction, signature: try signer.sign(transaction: transaction))
    }

    /// The transaction's identity: the hash of the whole signed encoding.
    public var hash: Bytes32 { storage.hash }

    /// The hash the signer signed (`Transaction.signingHash`), taken from the kept bytes: the
    /// encoding less its 64-byte signature.
    public var signingHash: Bytes32 {
        var hasher = Hasher256(tag: "meridian/transaction")
        storage.encoded.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0.dropLast(64))) }
        return hasher.finalize()
    }

    public var signatureIsValid: Bool { transaction.signer.verify(signature, message: signingHash) }

    public func encode(to w: inout CanonicalWriter) { w.writeRaw(storage.encoded) }
    public var canonicalBytes: [UInt8] { storage.encoded }

    /// Decodes a transaction as submitted by a client: bounded size, whole input, canonical.
    public static func decodeSubmitted(_ bytes: [UInt8]) throws(CodecError) -> SignedTransaction {
        guard bytes.count <= maxEncodedBytes else { throw CodecError(.lengthTooLarge, field: "signed_transaction", offset: 0) }
        return try SignedTransaction(canonicalBytes: bytes)
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        let start = r.offset
        let transaction = try r.read(Transaction.self)
        let signature = try r.readBytes64("tx.signature")
        // A whole-input decode (gossip, the API) shares the reader's array instead of copying it.
        let encoded = start == 0 && r.offset == r.input.count ? r.input : Array(r.input[start..<r.offset])
        storage = Storage(transaction: transaction, signature: signature, encoded: encoded)
    }

    public static func == (a: SignedTransaction, b: SignedTransaction) -> Bool {
        a.storage === b.storage || a.storage.encoded == b.storage.encoded
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(storage.hash) }
}
