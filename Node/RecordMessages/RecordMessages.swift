public import MeridianCore
public import MeridianModules

/// The messages nodes and clinicians exchange about record bodies, each signed (BIP-340) over a
/// tagged hash of its canonical fields, so no message can be replayed as another kind, on another
/// chain or for another record. They travel as canonical bytes over HTTP
/// (`application/x-meridian-record`): the body inside is sealed with the record key, whose
/// envelope the chain addresses to the receiving node, and checked against the on-chain
/// commitment, so the channel adds authentication of the requester, not secrecy.
/// Why a record operation failed: at the custodian's store, or opening a transferred payload.
public enum RecordError: Error, Equatable, Sendable {
    case tooLarge(Int)
    case unknown
    case erased
    /// The stored body or key does not decrypt.
    case corrupt(String)
    /// The body does not reproduce the commitment registered on chain.
    case commitmentMismatch
    case storage(String)
}

public enum RecordMessages {
    /// The largest record body (16 MiB).
    public static let maxBodyBytes = 16 << 20

    /// How far a signed message's time may be from the receiver's clock.
    public static let maxClockSkewMilliseconds: UInt64 = 5 * 60_000
    public static let contentType = "application/x-meridian-record"

    static func signingHash(_ tag: String, _ fields: (inout CanonicalWriter) -> Void) -> Bytes32 {
        var w = CanonicalWriter()
        fields(&w)
        return SHA256.tagged("meridian/records/" + tag, w.bytes)
    }

    /// Whether `time` is within the allowed skew of `now`.
    public static func isFresh(_ time: Timestamp, now: Timestamp) -> Bool {
        let a = time.unixMilliseconds, b = now.unixMilliseconds
        return (a > b ? a - b : b - a) <= maxClockSkewMilliseconds
    }
}

/// A clinician asks their own hospital's node for a patient's summary in a language: the node
/// fetches the body (from the custodian's node if it is not the custodian), checks it, translates
/// it and anchors what it served. Signed by the clinician, a provider of the node's organisation,
/// and bound to the clinician's own allowed `requestAccess` transaction (`access`), committed
/// within `maxAccessAgeMilliseconds`: no summary is served without its decision on the trail.
public struct SummaryRequest: Hashable, Sendable, Canonical {
    /// How old the access decision a summary request rests on may be.
    public static let maxAccessAgeMilliseconds: UInt64 = 10 * 60_000
    public let chainID: String
    public let record: Bytes32
    /// The hash of the clinician's committed `requestAccess` transaction for this record and purpose.
    public let access: Bytes32
    public let requester: PublicKey
    public let purpose: PurposeOfUse
    public let breakGlass: Bool
    /// BCP 47 tag of the clinician's language (`ja`, `pt-BR`); empty: the document as stored.
    public let language: String
    public let time: Timestamp
    public let signature: Bytes64

    public static func signingHash(chainID: String, record: Bytes32, access: Bytes32, requester: PublicKey, purpose: PurposeOfUse, breakGlass: Bool,
                                   language: String, time: Timestamp) -> Bytes32 {
        RecordMessages.signingHash("summary-request") { w in
            w.write(chainID); w.write(record); w.write(access); w.write(requester); w.write(purpose); w.write(breakGlass); w.write(language); w.write(time)
        }
    }

    public init(chainID: String, record: Bytes32, access: Bytes32, requester: PrivateKey, purpose: PurposeOfUse, breakGlass: Bool, language: String,
                time: Timestamp) throws {
        self.chainID = chainID; self.record = record; self.access = access; self.requester = requester.publicKey; self.purpose = purpose
        self.breakGlass = breakGlass; self.language = language; self.time = time
        signature = try requester.sign(Self.signingHash(chainID: chainID, record: record, access: access, requester: requester.publicKey, purpose: purpose,
                                                        breakGlass: breakGlass, language: language, time: time))
    }

    public var isSigned: Bool {
        requester.verify(signature, message: Self.signingHash(chainID: chainID, record: record, access: access, requester: requester, purpose: purpose,
                                                              breakGlass: breakGlass, language: language, time: time))
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(chainID); w.write(record); w.write(access); w.write(requester); w.write(purpose); w.write(breakGlass); w.write(language); w.write(time); w.write(signature)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        chainID = try r.readString("summary.chain_id", max: 64); record = try r.readBytes32("summary.record"); access = try r.readBytes32("summary.access")
        requester = try r.read(PublicKey.self); purpose = try r.read(PurposeOfUse.self); breakGlass = try r.readBool("summary.break_glass")
        language = try r.readString("summary.language", max: 35); time = try r.read(Timestamp.self); signature = try r.readBytes64("signature")
    }
}

/// The requesting hospital's node asks the custodian's node for a record body on behalf of one
/// of its clinicians. Signed by the requesting node's key (a worker-role member of its
/// organisation); the key envelope of the resulting share is addressed to that key.
public struct TransferRequest: Hashable, Sendable, Canonical {
    public let chainID: String
    public let record: Bytes32
    public let node: PublicKey
    public let requester: PublicKey
    public let purpose: PurposeOfUse
    public let breakGlass: Bool
    public let time: Timestamp
    public let signature: Bytes64

    static func signingHash(chainID: String, record: Bytes32, node: PublicKey, requester: PublicKey, purpose: PurposeOfUse,
                            breakGlass: Bool, time: Timestamp) -> Bytes32 {
        RecordMessages.signingHash("transfer-request") { w in
            w.write(chainID); w.write(record); w.write(node); w.write(requester); w.write(purpose); w.write(breakGlass); w.write(time)
        }
    }

    public init(chainID: String, record: Bytes32, node: PrivateKey, requester: PublicKey, purpose: PurposeOfUse, breakGlass: Bool,
                time: Timestamp) throws {
        self.chainID = chainID; self.record = record; self.node = node.publicKey; self.requester = requester; self.purpose = purpose
        self.breakGlass = breakGlass; self.time = time
        signature = try node.sign(Self.signingHash(chainID: chainID, record: record, node: node.publicKey, requester: requester,
                                                   purpose: purpose, breakGlass: breakGlass, time: time))
    }

    public var isSigned: Bool {
        node.verify(signature, message: Self.signingHash(chainID: chainID, record: record, node: node, requester: requester, purpose: purpose,
                                                         breakGlass: breakGlass, time: time))
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(chainID); w.write(record); w.write(node); w.write(requester); w.write(purpose); w.write(breakGlass); w.write(time); w.write(signature)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        chainID = try r.readString("transfer.chain_id", max: 64); record = try r.readBytes32("transfer.record")
        node = try r.read(PublicKey.self); requester = try r.read(PublicKey.self); purpose = try r.read(PurposeOfUse.self)
        breakGlass = try r.readBool("transfer.break_glass"); time = try r.read(Timestamp.self); signature = try r.readBytes64("signature")
    }
}

/// What the custodian's node answers an allowed transfer with: the salt and body sealed together
/// under the record key (AAD: the commitment), and the height whose block holds the share with
/// the key envelope. Only the addressee of the envelope can open it; the receiver checks the
/// opened body against the commitment before anything else.
public struct TransferPayload: Hashable, Sendable, Canonical {
    public let record: Bytes32
    public let shareHeight: UInt64
    public let nonce: [UInt8]
    public let sealed: [UInt8]

    public init(record: Bytes32, shareHeight: UInt64, nonce: [UInt8], sealed: [UInt8]) {
        self.record = record; self.shareHeight = shareHeight; self.nonce = nonce; self.sealed = sealed
    }

    /// Seals `salt ‖ body` under the record key.
    public static func seal(record: Bytes32, shareHeight: UInt64, salt: Bytes32, body: [UInt8], recordKey: Bytes32) throws -> TransferPayload {
        let nonce = try SecureRandom.bytes(AES256GCM.nonceSize)
        let sealed = try AES256GCM.seal(salt.bytes + body, key: recordKey, nonce: nonce, aad: record.bytes)
        return TransferPayload(record: record, shareHeight: shareHeight, nonce: nonce, sealed: sealed)
    }

    /// The salt and body, if the record key opens the payload and the body matches the commitment.
    public func open(recordKey: Bytes32) throws(RecordError) -> (salt: Bytes32, body: [UInt8]) {
        guard let plain = try? AES256GCM.open(sealed, key: recordKey, nonce: nonce, aad: record.bytes), plain.count >= 32,
              let salt = Bytes32(plain[0..<32]) else {
            throw .corrupt("the payload does not open with the record key from the share's envelope")
        }
        let body = Array(plain[32...])
        guard RecordEntry.commitment(salt: salt, bodyHash: SHA256.hash(body)) == record else {
            throw .commitmentMismatch
        }
        return (salt, body)
    }

    public func encode(to w: inout CanonicalWriter) { w.write(record); w.write(varint: shareHeight); w.writeRaw(nonce); w.write(bytes: sealed) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        record = try r.readBytes32("payload.record"); shareHeight = try r.readVarint("payload.share_height")
        nonce = try r.readRaw(AES256GCM.nonceSize, "payload.nonce")
        sealed = try r.readByteString("payload.sealed", max: RecordMessages.maxBodyBytes + 64)
    }
}

/// The custodian's node tells a node it shared a record with that the record is erased on chain.
/// Signed by the custodian's node key (a worker-role member of the custodian organisation).
public struct ErasureNotice: Hashable, Sendable, Canonical {
    public let chainID: String
    public let record: Bytes32
    public let custodianNode: PublicKey
    public let time: Timestamp
    public let signature: Bytes64

    static func signingHash(chainID: String, record: Bytes32, custodianNode: PublicKey, time: Timestamp) -> Bytes32 {
        RecordMessages.signingHash("erasure-notice") { w in w.write(chainID); w.write(record); w.write(custodianNode); w.write(time) }
    }
    public init(chainID: String, record: Bytes32, custodianNode: PrivateKey, time: Timestamp) throws {
        self.chainID = chainID; self.record = record; self.custodianNode = custodianNode.publicKey; self.time = time
        signature = try custodianNode.sign(Self.signingHash(chainID: chainID, record: record, custodianNode: custodianNode.publicKey, time: time))
    }
    public var isSigned: Bool { custodianNode.verify(signature, message: Self.signingHash(chainID: chainID, record: record, custodianNode: custodianNode, time: time)) }

    public func encode(to w: inout CanonicalWriter) { w.write(chainID); w.write(record); w.write(custodianNode); w.write(time); w.write(signature) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        chainID = try r.readString("notice.chain_id", max: 64); record = try r.readBytes32("notice.record")
        custodianNode = try r.read(PublicKey.self); time = try r.read(Timestamp.self); signature = try r.readBytes64("signature")
    }
}

/// A node's signed acknowledgement that it deleted its copy of an erased record (or never held
/// one). The custodian keeps it as evidence that the erasure reached every recipient.
public struct ErasureAcknowledgement: Hashable, Sendable, Canonical {
    public let chainID: String
    public let record: Bytes32
    public let node: PublicKey
    /// Whether the node held a body (false: it had none to delete).
    public let deleted: Bool
    public let erasedAt: Timestamp
    public let signature: Bytes64

    static func signingHash(chainID: String, record: Bytes32, node: PublicKey, deleted: Bool, erasedAt: Timestamp) -> Bytes32 {
        RecordMessages.signingHash("erasure-ack") { w in w.write(chainID); w.write(record); w.write(node); w.write(deleted); w.write(erasedAt) }
    }
    public init(chainID: String, record: Bytes32, node: PrivateKey, deleted: Bool, erasedAt: Timestamp) throws {
        self.chainID = chainID; self.record = record; self.node = node.publicKey; self.deleted = deleted; self.erasedAt = erasedAt
        signature = try node.sign(Self.signingHash(chainID: chainID, record: record, node: node.publicKey, deleted: deleted, erasedAt: erasedAt))
    }
    public var isSigned: Bool {
        node.verify(signature, message: Self.signingHash(chainID: chainID, record: record, node: node, deleted: deleted, erasedAt: erasedAt))
    }

    public func encode(to w: inout CanonicalWriter) { w.write(chainID); w.write(record); w.write(node); w.write(deleted); w.write(erasedAt); w.write(signature) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        chainID = try r.readString("ack.chain_id", max: 64); record = try r.readBytes32("ack.record"); node = try r.read(PublicKey.self)
        deleted = try r.readBool("ack.deleted"); erasedAt = try r.read(Timestamp.self); signature = try r.readBytes64("signature")
    }
}

/// One summary a node served, as anchored (kind `translations`): which record, in which
/// language, translated with which terminology file, giving which output. A regulator proves the
/// leaf against the anchored root and recomputes the output's hash from what the clinician read.
public struct TranslationLeaf: Hashable, Sendable, Canonical {
    public let record: Bytes32
    public let language: String
    public let terminology: Bytes32
    public let output: Bytes32
    public let servedTo: OrganizationID
    public let time: Timestamp

    public init(record: Bytes32, language: String, terminology: Bytes32, output: Bytes32, servedTo: OrganizationID, time: Timestamp) {
        self.record = record; self.language = language; self.terminology = terminology; self.output = output; self.servedTo = servedTo; self.time = time
    }
    public func encode(to w: inout CanonicalWriter) {
        w.write(record); w.write(language); w.write(terminology); w.write(output); w.write(servedTo); w.write(time)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        record = try r.readBytes32("translation.record"); language = try r.readString("translation.language", max: 35)
        terminology = try r.readBytes32("translation.terminology"); output = try r.readBytes32("translation.output")
        servedTo = try r.read(OrganizationID.self); time = try r.read(Timestamp.self)
    }
}
