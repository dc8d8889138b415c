import Foundation
public import Hummingbird
import HTTPTypes
public import MeridianCore
import MeridianState
import MeridianRuntime
public import MeridianModules
public import MeridianRequestAuth

/// Who may call a route of the API. Every `NodeAPI.Route` is built with exactly one, beside its
/// handler (the route table is the access table: a route cannot be added without its rule), and
/// `openapi.yaml` states the same rule for each operation (`x-meridian-access`; a test compares
/// them). See THREATS.md: anyone on the network reaches the port.
public enum APIAccess: Sendable, Equatable {
    /// Anyone: what THREATS.md lets anyone see (liveness, the OpenAPI document, chain status, the
    /// validator set, the headers and commits a light client needs). The reason is stated.
    case open(String)
    /// The request carries its own proof, checked by the route before anything else: a signed
    /// transaction, a device's signed frame, a feed's bearer token, a node's signed message.
    case selfAuthenticating(String)
    /// A request signed by a key the chain knows (RFC 9421, `SignedRequests`); the rule says whose
    /// data that key may read, and the handler applies it to each item it answers.
    case signed(APIRule)

    /// The name used in `openapi.yaml` (`x-meridian-access`).
    public var name: String {
        switch self {
        case .open: "open"
        case .selfAuthenticating: "self-authenticating"
        case .signed(let r): "signed:" + r.rawValue
        }
    }
}

/// What a signed caller may see, by standing on chain (THREATS.md's rows).
public enum APIRule: String, Sendable, CaseIterable {
    /// The patient named by the request, for their own data; a clinician of this node's
    /// organisation when `authorize` allows the organisation that category and purpose now.
    case patientOrAuthorizedClinician = "patient-or-authorized-clinician"
    /// The patient named by the request, for their own data; nobody else.
    case patientOnly = "patient"
    /// The audit trail: a patient their own entries, a regulator the entries of its jurisdiction,
    /// an operator its organisation's entries.
    case auditReader = "audit-reader"
    /// Network data without patients in it (evidence, per-organisation reports): hospital
    /// operators and regulators (reports scoped to their organisation or jurisdiction).
    case networkReader = "network-reader"
    /// What only those who run the network read: whole blocks (every transaction of every
    /// jurisdiction), metrics, custody. Hospital operators (their validators hold it all anyway);
    /// regulators verify with headers and proofs instead.
    case operators = "operator"
    /// An operator of this node's organisation: what changes how this node runs (its log level).
    case nodeOperator = "node-operator"
    /// Any key the chain knows; the handler answers only what concerns that key (what it may ask
    /// about, network registries).
    case knownKey = "known-key"
    /// Any key that signs, registered or not (a patient registering polls their own transaction);
    /// the handler answers only the caller's own items.
    case ownItems = "own-items"
    /// A clinician (a member with the provider role) of any hospital: what is addressed to its
    /// organisation (the alert stream carries only the alerts addressed to it).
    case clinician = "clinician"
    /// A member of this node's organisation with the provider role (uploading a record body,
    /// asking for a summary).
    case provider = "provider"
    /// Another hospital's node (a worker key on chain): record transfers and erasure notices.
    case hospitalNode = "hospital-node"
    /// A node of the network (a current validator key or a registered worker key: the keys P2P
    /// admits): state snapshots for state sync.
    case networkNode = "network-node"
}

/// The caller of a signed request, with its standing read from the committed state.
public struct Caller: Sendable {
    public let key: PublicKey
    public let roles: [ConsoleRole]
    /// Whether the chain knows the key (a patient, a member, a device).
    public let known: Bool
    /// What the caller signed (nil when only checked, not verified): carried into the audit
    /// record of a disclosure, so the chain can check the node did not invent the read.
    public var request: RequestVerifier.Verified?

    public var isPatient: Bool { roles.contains(.patient) }
    public var regulator: (organization: OrganizationID, country: CountryCode)? {
        for r in roles { if case .regulator(let o, let c) = r { return (o, c) } }
        return nil
    }
    public var operatorOrganization: OrganizationID? {
        for r in roles { if case .hospitalOperator(let o) = r { return o } }
        return nil
    }
    public var clinicianOrganization: OrganizationID? {
        for r in roles { if case .clinician(let o) = r { return o } }
        return nil
    }
}

extension NodeAPI {
    /// Answers for a refused caller. 401: who the caller is could not be established; 403: the
    /// caller is known and may not see this. Neither says whether the data exists.
    static func unauthorized(_ code: String, _ message: String) -> APIError { APIError(.unauthorized, code, message) }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "access.forbidden", message) }

    /// The absolute target URI as the client signed it: this node's scheme, the Host it was sent
    /// to, the path and query as received.
    func targetURI(_ head: HTTPRequest) -> String? {
        guard let authority = head.authority ?? head.headerFields[HTTPField.Name("Host")!], !authority.isEmpty else { return nil }
        return "\(scheme)://\(authority)\(head.path ?? "/")"
    }

    /// Establishes the caller of a signed request (signature, chain, audience, freshness, replay)
    /// and its standing on chain. `record: false` checks without consuming the nonce.
    func authenticate(_ head: HTTPRequest, body: [UInt8], record: Bool = true) throws(APIError) -> Caller {
        guard let verifier = requestVerifier else {
            throw APIError(.serviceUnavailable, "auth.no_identity", "this node holds no key to be the audience of signed requests")
        }
        guard let uri = targetURI(head) else { throw Self.unauthorized("auth.malformed", "a Host header is required (it is part of the signed target URI)") }
        let headers = head.headerFields.map { (name: $0.name.canonicalName, value: $0.value) }
        let message = HTTPMessageSignature.Request(method: head.method.rawValue, targetURI: uri, headers: headers)
        let now = Int64(Date().timeIntervalSince1970)
        let key: PublicKey
        var verified: RequestVerifier.Verified?
        if record {
            switch verifier.verifySigned(message, body: body, now: now) {
            case .success(let v): key = v.signer; verified = v
            case .failure(let f): throw Self.unauthorized(f.code, f.message)
            }
        } else {
            switch verifier.check(message, body: body, now: now) {
            case .success(let k): key = k
            case .failure(let f): throw Self.unauthorized(f.code, f.message)
            }
        }
        let reader = query.reader
        let (roles, known) = try readingState {
            let roles = try ConsoleRole.roles(of: key, in: reader)
            return (roles, try !roles.isEmpty || Identity.member(key, in: reader) != nil || Identity.device(key, in: reader) != nil)
        }
        return Caller(key: key, roles: roles, known: known, request: verified)
    }

    /// The coarse check of a rule, before the handler runs (the handler then narrows to what the
    /// caller may see of each item).
    func admit(_ caller: Caller, to rule: APIRule) throws(APIError) {
        if rule != .ownItems && !caller.known { throw Self.forbidden("\(Address(caller.key)) is not registered on this chain") }
        switch rule {
        case .ownItems:
            return
        case .patientOrAuthorizedClinician:
            guard caller.isPatient || caller.clinicianOrganization != nil else { throw Self.forbidden("only the patient, or a clinician whose organisation the chain allows") }
        case .patientOnly:
            guard caller.isPatient else { throw Self.forbidden("only the patient reads this") }
        case .auditReader:
            guard caller.isPatient || caller.regulator != nil || caller.operatorOrganization != nil else {
                throw Self.forbidden("the audit trail is read by its patient, a regulator of its jurisdiction or an operator of the organisation")
            }
        case .networkReader:
            guard caller.regulator != nil || caller.operatorOrganization != nil else { throw Self.forbidden("network data is read by hospital operators and regulators") }
        case .operators:
            guard caller.operatorOrganization != nil else { throw Self.forbidden("read by hospital operators only") }
        case .nodeOperator:
            guard let own = organization, caller.operatorOrganization == own else {
                throw Self.forbidden("only an operator of this node's organisation runs this node")
            }
        case .clinician:
            guard caller.clinicianOrganization != nil else { throw Self.forbidden("only a hospital's clinician (provider role) receives its organisation's alerts") }
        case .knownKey:
            return
        case .hospitalNode:
            guard try member(caller.key)?.has(.worker) == true else {
                throw Self.forbidden("only a hospital's node (a worker key on chain) calls this")
            }
        case .networkNode:
            guard try readingState({ ListenerAccess.p2pAdmits(caller.key, in: query.reader) }) else {
                throw Self.forbidden("only a node of the network (a validator key or a registered worker key) reads snapshots")
            }
        case .provider:
            guard let own = organization, let m = try member(caller.key), m.organization == own, m.has(.provider) else {
                throw Self.forbidden("only a provider of this node's organisation uploads records")
            }
        }
    }

    /// A read of the committed state for an access decision. A storage error is the node's
    /// (503), never taken for "no standing": a caller is not refused, nor admitted, on a failed read.
    func readingState<T>(_ read: () throws -> T) throws(APIError) -> T {
        do { return try read() } catch { throw APIError(.serviceUnavailable, "storage.unavailable", "the node cannot read the chain's state now: \(error)") }
    }

    func member(_ key: PublicKey) throws(APIError) -> Member? { try readingState { try Identity.member(key, in: query.reader) } }

    /// The organisation this node serves (its worker's, else its validator's membership).
    var organization: OrganizationID? {
        guard let nodeKey else { return nil }
        return ((try? Identity.member(nodeKey, in: query.reader)) ?? nil)?.organization
    }

    /// Whether `caller` may read `patient`'s data of `category` now: the patient themself, or a
    /// clinician whose organisation `authorize` allows (the custodian: the record's, else this
    /// node's organisation, which holds the vital signs; the purpose the request names, default
    /// treatment). Throws 403 otherwise,
    /// without saying whether the data exists.
    func permitPatientData(_ caller: Caller, patient: PublicKey, category: DataCategory, purpose: PurposeOfUse,
                           custodian: OrganizationID? = nil, evidence: [UInt8] = []) async throws -> Void {
        if caller.key == patient { return }
        guard let org = caller.clinicianOrganization, let custodian = custodian ?? organization else {
            throw Self.forbidden("only the patient, or a clinician whose organisation the chain allows")
        }
        let tip = await chain.tip
        let decision = try Authorization.authorize(
            AccessRequest(requester: caller.key, patient: patient, category: category, purpose: purpose, custodian: custodian, breakGlass: false,
                          evidence: evidence),
            at: Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)), height: tip.height + 1, in: query.reader)
        guard decision.allowed else {
            throw Self.forbidden("the chain does not allow \(org.value) \(category.name) for \(purpose.code) now (\(decision.reason.code))")
        }
        try recordDisclosure(to: caller, .clinician, of: [patient], category: category, purpose: purpose, custodian: custodian, evidence: evidence)
    }

    /// What a request shows a consent's policy contract (`evidence` in a body, `stay=` in a query):
    /// hex, at most `ContractRequest.maxEvidenceBytes` bytes (e.g. a travel stay's token).
    func evidence(_ hex: String) throws(APIError) -> [UInt8] {
        guard let b = Hex.decode(hex), b.count <= ContractRequest.maxEvidenceBytes else {
            throw APIError.badRequest("evidence.invalid", "evidence: hex of at most \(ContractRequest.maxEvidenceBytes) bytes (a stay token)")
        }
        return b
    }

    /// The evidence a clinician's read names (`stay=`: the travel stay's token the patient gave).
    func evidence(_ params: [String: String]) throws(APIError) -> [UInt8] {
        guard let hex = params["stay"] else { return [] }
        return try evidence(hex)
    }

    /// Puts on the trail, before the answer is sent, that `caller` is being shown data of these
    /// patients (the caller's own data excepted): `APIRead` records in the node's disclosure log
    /// (a synced write; the log resubmits them until committed). Throws 503, and nothing is shown,
    /// when the node cannot record them.
    func recordDisclosure(to caller: Caller, _ standing: APIRead.Standing, of patients: Set<PublicKey>, category: DataCategory = .auditTrail,
                          purpose: PurposeOfUse, custodian: OrganizationID? = nil, evidence: [UInt8] = []) throws(APIError) {
        let others = patients.subtracting([caller.key]).sorted()
        guard !others.isEmpty else { return }
        guard let disclosures, let request = caller.request, let custodian = custodian ?? organization else {
            throw APIError(.serviceUnavailable, "audit.unavailable", "this node cannot put this read on the audit trail (it holds no worker key), so it does not answer it")
        }
        var calls: [Call] = []
        var i = 0
        while i < others.count {
            let chunk = Array(others[i..<min(i + APIRead.maxPatients, others.count)])
            calls.append(.recordAPIRead(APIRead(reader: caller.key, standing: standing, patients: chunk, category: category, purpose: purpose,
                                                custodian: custodian, signatureBase: request.signatureBase, signature: request.signature,
                                                evidence: evidence)))
            i += APIRead.maxPatients
        }
        do { try disclosures.record(calls) } catch {
            throw APIError(.serviceUnavailable, "audit.unavailable", "the read could not be put on the audit trail (\(error)); nothing was shown, try again")
        }
    }

    /// Records that an audit reader (regulator or operator) is shown these patients' entries.
    /// The record of the caller's own earlier read is left out: it shows the caller nothing it did
    /// not know, and recording it again would make a reader that follows the trail (an indexer)
    /// write a new entry for every entry it reads, without end.
    func recordAuditDisclosure(to caller: Caller, of entries: [AuditEntry]) throws(APIError) {
        let disclosed = entries.filter { !($0.kind == .apiRead && $0.actor == caller.key) }
        let patients = Set(disclosed.map(\.patient)).subtracting([caller.key])
        guard !patients.isEmpty else { return }
        if caller.regulator != nil {
            try recordDisclosure(to: caller, .regulator, of: patients, purpose: .compliance)
        } else {
            try recordDisclosure(to: caller, .hospitalOperator, of: patients, purpose: .operations)
        }
    }

    /// The purpose a clinician's read names (`purpose=` in the query; treatment by default).
    func purpose(_ params: [String: String]) throws(APIError) -> PurposeOfUse {
        guard let text = params["purpose"] else { return .treat }
        guard let p = PurposeOfUse(code: text) else { throw APIError.badRequest("purpose.invalid", "unknown purpose '\(text)'") }
        return p
    }

    /// Whether an audit entry is visible to `caller`: their own, their organisation's (operator),
    /// their jurisdiction's (regulator: the entry concerns its country).
    func mayRead(_ entry: AuditEntry, as caller: Caller) -> Bool {
        if entry.patient == caller.key { return true }
        if let o = caller.operatorOrganization, entry.organization == o { return true }
        if let r = caller.regulator {
            var countries: Set<CountryCode> = []
            if let s = entry.decision.sourceCountry { countries.insert(s) }
            if let d = entry.decision.destinationCountry { countries.insert(d) }
            if let c = ((try? Identity.organization(entry.organization, in: query.reader)) ?? nil)?.country { countries.insert(c) }
            return countries.contains(r.country)
        }
        return false
    }

    /// Whether an organisation's figures are visible to `caller`: its own operator, a regulator of its country.
    func mayReadFigures(of org: Organization, as caller: Caller) -> Bool {
        if caller.operatorOrganization == org.id { return true }
        if let r = caller.regulator, r.country == org.country { return true }
        return false
    }
}
