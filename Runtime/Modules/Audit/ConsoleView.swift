public import MeridianCore

/// What a person may see in a node's web console, from their standing on chain. Decided from the
/// committed state alone, so the node that serves a page and the runtime that records the view
/// reach the same answer.
public enum ConsoleRole: Hashable, Sendable, Comparable {
    /// A data-protection authority's officer: the audit data of its country (its jurisdiction).
    case regulator(organization: OrganizationID, country: CountryCode)
    /// A hospital's admin or validator operator: the network, and its own organisation's audit data.
    case hospitalOperator(organization: OrganizationID)
    /// A hospital's clinician (provider role): the live alerts addressed to its organisation.
    case clinician(organization: OrganizationID)
    /// A registered patient: their own data.
    case patient

    public var name: String {
        switch self {
        case .regulator: "regulator"
        case .hospitalOperator: "operator"
        case .clinician: "clinician"
        case .patient: "patient"
        }
    }

    public var organization: OrganizationID? {
        switch self {
        case .regulator(let o, _), .hospitalOperator(let o), .clinician(let o): o
        case .patient: nil
        }
    }

    /// Every console role `key` holds now (none for a worker, a device or an unknown key).
    public static func roles(of key: PublicKey, in s: some StateReader) throws(RuntimeError) -> [ConsoleRole] {
        if try Identity.patient(key, in: s) != nil { return [.patient] }
        guard let member = try Identity.member(key, in: s), let org = try Identity.organization(member.organization, in: s) else { return [] }
        var out: [ConsoleRole] = []
        switch org.kind {
        case .regulator:
            if member.has(.regulator) { out.append(.regulator(organization: org.id, country: org.country)) }
        case .hospital:
            if member.has(.admin) || member.has(.validator) { out.append(.hospitalOperator(organization: org.id)) }
            if member.has(.provider) { out.append(.clinician(organization: org.id)) }
        }
        return out
    }
}

/// A person's sign-in to one node's console: they signed, with their own key, the challenge code
/// the browser showed, the node's identity (its worker key, the audience) and the session's end.
/// The signature is what lets the node record their views on the trail in their name.
public struct ConsoleSignIn: Hashable, Sendable, Canonical {
    public static let maxCodeBytes = 64
    /// The characters of a sign-in code: Crockford's base32 without I, L, O, U (read aloud, typed).
    public static let codeAlphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// Whether `s` has the form of a sign-in code: three groups of four code characters.
    public static func isCode(_ s: String) -> Bool {
        let groups = s.split(separator: "-", omittingEmptySubsequences: false)
        return groups.count == 3 && groups.allSatisfy { $0.count == 4 && $0.allSatisfy(codeAlphabet.contains) }
    }
    public let code: String
    public let expires: Timestamp
    public let signature: Bytes64

    public init(code: String, expires: Timestamp, signature: Bytes64) {
        self.code = code; self.expires = expires; self.signature = signature
    }

    /// What the person signs.
    public static func message(chainID: String, code: String, audience: PublicKey, expires: Timestamp) -> Bytes32 {
        SHA256.tagged("meridian/console-sign-in", Array("\(chainID)|\(code)|\(audience.hex)|\(expires.unixMilliseconds)".utf8))
    }

    public func verify(viewer: PublicKey, chainID: String, audience: PublicKey) -> Bool {
        viewer.verify(signature, message: Self.message(chainID: chainID, code: code, audience: audience, expires: expires))
    }

    public func encode(to w: inout CanonicalWriter) { w.write(code); w.write(expires); w.write(signature) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        code = try r.readString("console.code", max: Self.maxCodeBytes); expires = try r.read(Timestamp.self)
        signature = try r.readBytes64("console.signature")
    }
}

/// A view of patients' audit data in a node's console, recorded on each patient's trail in a
/// transaction the node's worker signs. It carries the viewer's sign-in signature, so a node
/// cannot record views in the name of someone who never signed in to it.
public struct ConsoleView: Hashable, Sendable, Canonical {
    public static let maxPatients = 100
    /// How long after the session's end a view may still be recorded (the time to reach a block).
    public static let graceMilliseconds: UInt64 = 10 * 60_000

    public enum Standing: UInt8, CanonicalEnum, Codable {
        case regulator = 0, hospitalOperator = 1, patient = 2
        public var name: String { ["regulator", "operator", "patient"][Int(rawValue)] }
        public var purpose: PurposeOfUse { [.compliance, .operations, .patientRequest][Int(rawValue)] }
        public var reason: DecisionReason { [.allowedAsRegulator, .allowedAsOperator, .allowedAsPatient][Int(rawValue)] }
    }

    public let viewer: PublicKey
    public let standing: Standing
    public let signIn: ConsoleSignIn
    /// The patients whose audit data the page showed (distinct, sorted).
    public let patients: [PublicKey]

    public init(viewer: PublicKey, standing: Standing, signIn: ConsoleSignIn, patients: [PublicKey]) {
        self.viewer = viewer; self.standing = standing; self.signIn = signIn; self.patients = patients.canonicalSet
    }

    public func encode(to w: inout CanonicalWriter) { w.write(viewer); w.write(standing); w.write(signIn); w.write(patients) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        viewer = try r.read(PublicKey.self); standing = try r.read(Standing.self); signIn = try r.read(ConsoleSignIn.self)
        patients = try r.readSortedSet(PublicKey.self, "console.patients", max: Self.maxPatients)
    }
}

extension Audit {
    /// Records a console view on the trail of every patient it showed. The signer is the node (a
    /// worker of a hospital); the viewer must have signed in to that node for a session not long
    /// over, and must hold the standing claimed: a regulator's officer, a hospital's operator, or
    /// the patient themself (and then the only patient shown).
    public static func recordConsoleView(_ v: ConsoleView, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        guard let node = try Identity.member(ctx.signer, in: ctx.view), node.has(.worker) else {
            throw RuntimeError("console.not_a_worker", "\(Address(ctx.signer)) has no worker role: only a node's worker records console views")
        }
        guard !v.patients.isEmpty else { throw RuntimeError("console.no_patient", "a console view names at least one patient") }
        guard v.signIn.verify(viewer: v.viewer, chainID: ctx.chainID, audience: ctx.signer) else {
            throw RuntimeError("console.bad_sign_in", "the viewer's sign-in signature does not verify for this node")
        }
        guard ctx.time.unixMilliseconds <= v.signIn.expires.unixMilliseconds &+ ConsoleView.graceMilliseconds else {
            throw RuntimeError("console.session_expired", "the viewer's session ended at \(v.signIn.expires)")
        }
        let roles = try ConsoleRole.roles(of: v.viewer, in: ctx.view)
        let organization: OrganizationID
        switch v.standing {
        case .regulator:
            guard let o = roles.lazy.compactMap({ r -> OrganizationID? in if case .regulator(let o, _) = r { o } else { nil } }).first else {
                throw RuntimeError("console.not_a_regulator", "\(Address(v.viewer)) is not a regulator's officer")
            }
            organization = o
        case .hospitalOperator:
            guard let o = roles.lazy.compactMap({ r -> OrganizationID? in if case .hospitalOperator(let o) = r { o } else { nil } }).first else {
                throw RuntimeError("console.not_an_operator", "\(Address(v.viewer)) is not a hospital's operator")
            }
            organization = o
        case .patient:
            guard roles.contains(.patient), v.patients == [v.viewer] else {
                throw RuntimeError("console.not_the_patient", "a patient's view shows only their own data")
            }
            organization = node.organization
        }
        for p in v.patients {
            guard try Identity.patient(p, in: ctx.view) != nil else { throw RuntimeError("console.unknown_patient", "no patient \(Address(p))") }
        }
        let decision = AccessDecision(reason: v.standing.reason, requesterOrganization: organization)
        for p in v.patients {
            try record(kind: .consoleView, action: .read, actor: v.viewer, organization: organization, patient: p, record: nil,
                       category: .auditTrail, purpose: v.standing.purpose, decision: decision, breakGlass: false, ctx)
        }
        return decision
    }
}
