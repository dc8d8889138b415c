public import MeridianCore

/// A read of patients' data through a node's API by someone other than the patient (a clinician,
/// a regulator's officer, a hospital's operator), recorded on each patient's trail in a
/// transaction the node's worker signs. It carries the reader's signed request (the RFC 9421
/// signature base and its BIP-340 signature, as `SignedRequests` builds them), so a node cannot
/// record reads in the name of someone who never asked it: the request must name this chain and
/// the signing worker as its audience, and verify under the reader's key.
///
/// The node writes the record to its disclosure log (a synced write) before it answers, and
/// resubmits it until it is committed, across restarts; `created` may therefore be well before the
/// block (up to `maxAgeMilliseconds`).
public struct APIRead: Hashable, Sendable, Canonical {
    public static let maxPatients = 100
    public static let maxRequestBytes = 4096
    /// How old the signed request may be when the record is executed (a node down for days
    /// records its disclosures when it is back).
    public static let maxAgeMilliseconds: UInt64 = 7 * 24 * 3_600_000
    /// How far ahead of the block's time the request may be (clocks differ).
    public static let maxSkewMilliseconds: UInt64 = 5 * 60_000

    /// The reader's standing for this read.
    public enum Standing: UInt8, CanonicalEnum, Codable {
        /// A clinician reading a patient's data of `category` for `purpose`; the entry records
        /// what `authorize` decides for their organisation at the block.
        case clinician = 0
        /// A regulator's officer reading audit data.
        case regulator = 1
        /// A hospital's operator reading its organisation's audit data.
        case hospitalOperator = 2
        public var name: String { ["clinician", "regulator", "operator"][Int(rawValue)] }
    }

    public let reader: PublicKey
    public let standing: Standing
    /// The patients whose data the answer held (distinct, sorted; one for a clinician's read).
    public let patients: [PublicKey]
    public let category: DataCategory
    public let purpose: PurposeOfUse
    /// The organisation holding the data (a clinician's read: the record's custodian, or the node's
    /// organisation for vital signs, assessments and alerts).
    public let custodian: OrganizationID
    /// The signature base the reader signed (RFC 9421 §2.5) and their signature over its SHA-256.
    public let signatureBase: String
    public let signature: Bytes64
    /// What the read showed a policy contract (a clinician's read under a travel-window consent: the
    /// stay's token), so that `authorize` at the block decides as the node did.
    public let evidence: [UInt8]

    public init(reader: PublicKey, standing: Standing, patients: [PublicKey], category: DataCategory, purpose: PurposeOfUse,
                custodian: OrganizationID, signatureBase: String, signature: Bytes64, evidence: [UInt8] = []) {
        self.reader = reader; self.standing = standing; self.patients = patients.canonicalSet; self.category = category
        self.purpose = purpose; self.custodian = custodian; self.signatureBase = signatureBase; self.signature = signature
        self.evidence = evidence
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(reader); w.write(standing); w.write(patients); w.write(category); w.write(purpose); w.write(custodian)
        w.write(signatureBase); w.write(signature); w.write(bytes: evidence)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        reader = try r.read(PublicKey.self); standing = try r.read(Standing.self)
        patients = try r.readSortedSet(PublicKey.self, "api_read.patients", max: Self.maxPatients)
        category = try r.read(DataCategory.self); purpose = try r.read(PurposeOfUse.self); custodian = try r.read(OrganizationID.self)
        signatureBase = try r.readString("api_read.signature_base", max: Self.maxRequestBytes)
        signature = try r.readBytes64("api_read.signature")
        evidence = try r.readByteString("api_read.evidence", max: ContractRequest.maxEvidenceBytes)
    }

    /// The value of a component line (`"name": value`) of the signature base, or nil.
    func component(_ name: String) -> Substring? {
        let prefix = "\"\(name)\": "
        for line in signatureBase.split(separator: "\n", omittingEmptySubsequences: false) where line.hasPrefix(prefix) {
            return line.dropFirst(prefix.count)
        }
        return nil
    }

    /// The `created` parameter of the signature (Unix seconds), or nil.
    var created: Int64? {
        guard let params = component("@signature-params"),
              let item = params.split(separator: ";").dropFirst().first(where: { $0.hasPrefix("created=") }) else { return nil }
        let digits = item.dropFirst("created=".count)
        return digits.count <= 16 && digits.allSatisfy({ ("0"..."9").contains($0) }) ? Int64(digits) : nil
    }
}

extension Audit {
    /// Records an API read on the trail of every patient it showed. The signer is the node (a
    /// worker of a hospital); the reader's signed request must verify, name this chain and that
    /// node, and be recent; the reader must hold the standing claimed now. A clinician's read is
    /// recorded with what `authorize` decides at the block (an access like any other: denied if
    /// the consent was revoked in between, which the trail then shows).
    public static func recordAPIRead(_ v: APIRead, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        guard let node = try Identity.member(ctx.signer, in: ctx.view), node.has(.worker) else {
            throw RuntimeError("api_read.not_a_worker", "\(Address(ctx.signer)) has no worker role: only a node's worker records API reads")
        }
        guard !v.patients.isEmpty else { throw RuntimeError("api_read.no_patient", "an API read names at least one patient") }
        guard v.reader.verify(v.signature, message: SHA256.hash(Array(v.signatureBase.utf8))) else {
            throw RuntimeError("api_read.bad_signature", "the reader's request signature does not verify")
        }
        guard v.component("meridian-chain") == Substring(ctx.chainID) else {
            throw RuntimeError("api_read.wrong_chain", "the reader's request was not signed for this chain")
        }
        guard v.component("meridian-audience") == Substring(Address(ctx.signer).description) else {
            throw RuntimeError("api_read.wrong_audience", "the reader's request was signed for another node")
        }
        guard let created = v.created, created >= 0 else { throw RuntimeError("api_read.no_time", "the reader's request has no 'created' time") }
        let createdMilliseconds = UInt64(created) &* 1000
        guard createdMilliseconds <= ctx.time.unixMilliseconds &+ APIRead.maxSkewMilliseconds,
              createdMilliseconds &+ APIRead.maxAgeMilliseconds >= ctx.time.unixMilliseconds else {
            throw RuntimeError("api_read.stale", "the reader's request was signed at \(created), too far from the block's time")
        }
        for p in v.patients {
            guard try Identity.patient(p, in: ctx.view) != nil else { throw RuntimeError("api_read.unknown_patient", "no patient \(Address(p))") }
        }
        let roles = try ConsoleRole.roles(of: v.reader, in: ctx.view)
        switch v.standing {
        case .clinician:
            guard v.patients.count == 1 else { throw RuntimeError("api_read.one_patient", "a clinician's read names one patient") }
            let decision = try Authorization.authorize(
                AccessRequest(requester: v.reader, patient: v.patients[0], category: v.category, purpose: v.purpose, custodian: v.custodian,
                              evidence: v.evidence),
                at: ctx.time, height: ctx.height, in: ctx.view)
            let organization = try Identity.member(v.reader, in: ctx.view)?.organization ?? node.organization
            try record(kind: .apiRead, action: .read, actor: v.reader, organization: organization, patient: v.patients[0], record: nil,
                       category: v.category, purpose: v.purpose, decision: decision, breakGlass: false, ctx)
            return decision
        case .regulator, .hospitalOperator:
            let organization: OrganizationID? = roles.lazy.compactMap { r -> OrganizationID? in
                switch (r, v.standing) {
                case (.regulator(let o, _), .regulator), (.hospitalOperator(let o), .hospitalOperator): o
                default: nil
                }
            }.first
            guard let organization else {
                throw RuntimeError("api_read.no_standing", "\(Address(v.reader)) is not a \(v.standing.name) on this chain")
            }
            let decision = AccessDecision(reason: v.standing == .regulator ? .allowedAsRegulator : .allowedAsOperator, requesterOrganization: organization)
            let purpose: PurposeOfUse = v.standing == .regulator ? .compliance : .operations
            for p in v.patients {
                try record(kind: .apiRead, action: .read, actor: v.reader, organization: organization, patient: p, record: nil,
                           category: .auditTrail, purpose: purpose, decision: decision, breakGlass: false, ctx)
            }
            return decision
        }
    }
}
