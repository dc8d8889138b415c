public import MeridianCore

/// A second clinician's signature on an access request: two-person break-glass. The co-signer
/// signs the requester, the record, the purpose, the break-glass flag and the time of signing,
/// under the chain's id, so the signature fits exactly one request on one chain.
public struct CoSignature: Hashable, Sendable, Canonical {
    public let signer: PublicKey
    public let signedAt: Timestamp
    public let signature: Bytes64

    public init(signer: PublicKey, signedAt: Timestamp, signature: Bytes64) {
        self.signer = signer; self.signedAt = signedAt; self.signature = signature
    }

    /// What the co-signer signs.
    public static func message(chainID: String, requester: PublicKey, record: Bytes32, purpose: PurposeOfUse,
                               breakGlass: Bool, signedAt: Timestamp) -> Bytes32 {
        var w = CanonicalWriter()
        w.write(chainID); w.write(requester); w.write(record); w.write(purpose); w.write(breakGlass); w.write(signedAt)
        return SHA256.tagged("meridian/co-signature", w.bytes)
    }

    public func encode(to w: inout CanonicalWriter) { w.write(signer); w.write(signedAt); w.write(signature) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        signer = try r.read(PublicKey.self); signedAt = try r.read(Timestamp.self); signature = try r.readBytes64("co_signature.signature")
    }
}

/// A checked co-signature as the chain keeps it, per record and requester: the request it came
/// with and a later disclosure of the same record to the same requester both see it.
public struct CoSignatureRecord: Hashable, Sendable, Canonical {
    public let coSigner: PublicKey
    public let signedAt: Timestamp
    public func encode(to w: inout CanonicalWriter) { w.write(coSigner); w.write(signedAt) }
    public init(coSigner: PublicKey, signedAt: Timestamp) { self.coSigner = coSigner; self.signedAt = signedAt }
    public init(from r: inout CanonicalReader) throws(CodecError) { coSigner = try r.read(PublicKey.self); signedAt = try r.read(Timestamp.self) }
}

extension Sharing {
    static func coSignatureKey(_ record: Bytes32, _ requester: PublicKey) -> StateKey {
        StateKey("sharing/co_signature").appending(record).appending(requester)
    }

    /// Checks a co-signature (a provider of the requester's organisation other than the requester,
    /// signed no later than this block, valid signature) and keeps it for the record and requester.
    /// A co-signature that fails a check fails the transaction: a request never goes on with a
    /// forged or borrowed second signature.
    static func recordCoSignature(_ co: CoSignature, on call: RequestAccess, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard co.signer != ctx.signer else { throw RuntimeError("sharing.co_signature", "the requester cannot co-sign their own request") }
        guard let requester = try Identity.member(ctx.signer, in: ctx.view),
              let second = try Identity.member(co.signer, in: ctx.view), second.has(.provider), second.organization == requester.organization else {
            throw RuntimeError("sharing.co_signature", "the co-signer \(Address(co.signer)) is not a clinician of the requester's organisation")
        }
        guard co.signedAt <= ctx.time else { throw RuntimeError("sharing.co_signature", "the co-signature is dated after this block (\(co.signedAt.iso8601))") }
        let message = CoSignature.message(chainID: ctx.chainID, requester: ctx.signer, record: call.record, purpose: call.purpose,
                                          breakGlass: call.breakGlass, signedAt: co.signedAt)
        guard co.signer.verify(co.signature, message: message) else {
            throw RuntimeError("sharing.co_signature", "the co-signature does not verify for this request")
        }
        ctx.write(coSignatureKey(call.record, ctx.signer), CoSignatureRecord(coSigner: co.signer, signedAt: co.signedAt))
    }
}
