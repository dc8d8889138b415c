public import MeridianCore

/// A request to read a patient's data of one category, held by a custodian organisation.
public struct AccessRequest: Hashable, Sendable, Canonical {
    /// The staff key asking.
    public let requester: PublicKey
    public let patient: PublicKey
    public let category: DataCategory
    public let purpose: PurposeOfUse
    /// The organisation holding the data; its country is where the copy comes from.
    public let custodian: OrganizationID
    /// Break-the-glass: emergency access without a grant to the requester's organisation.
    public let breakGlass: Bool
    /// What the request shows a consent's policy contract (at most `ContractRequest.maxEvidenceBytes`),
    /// e.g. the opening of a travel-window stay the patient gave the treating hospital.
    public let evidence: [UInt8]

    public init(requester: PublicKey, patient: PublicKey, category: DataCategory, purpose: PurposeOfUse,
                custodian: OrganizationID, breakGlass: Bool = false, evidence: [UInt8] = []) {
        self.requester = requester; self.patient = patient; self.category = category; self.purpose = purpose
        self.custodian = custodian; self.breakGlass = breakGlass; self.evidence = evidence
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(requester); w.write(patient); w.write(category); w.write(purpose); w.write(custodian); w.write(breakGlass); w.write(bytes: evidence)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        requester = try r.read(PublicKey.self); patient = try r.read(PublicKey.self); category = try r.read(DataCategory.self)
        purpose = try r.read(PurposeOfUse.self); custodian = try r.read(OrganizationID.self); breakGlass = try r.readBool("break_glass")
        evidence = try r.readByteString("evidence", max: ContractRequest.maxEvidenceBytes)
    }
}

/// Why access was allowed or denied. Stable codes; the order of the denial cases is how far a
/// request got, so the most specific reason wins when several consents were considered.
public enum DecisionReason: UInt8, CanonicalEnum, Codable, CaseIterable {
    case allowedByConsent = 0
    case allowedByBreakGlass = 1
    /// The custodian acting on a record it holds (registration, erasure).
    case allowedAsCustodian = 2
    /// The patient acting on their own record (erasure), or viewing their own audit trail.
    case allowedAsPatient = 3
    /// A data-protection authority's officer viewing audit data of its jurisdiction (console).
    case allowedAsRegulator = 4
    /// A hospital's operator viewing its own organisation's audit data (console).
    case allowedAsOperator = 5
    case unknownRequester = 10
    case requesterNotProvider = 11
    case unknownPatient = 12
    case unknownCustodian = 13
    case breakGlassRequiresEmergencyPurpose = 14
    case noConsent = 20
    case organizationNotGranted = 21
    case categoryNotCovered = 22
    case purposeNotCovered = 23
    case outsideValidityPeriod = 24
    case destinationNotCovered = 25
    case noTransferBasis = 26
    case emergencyAccessNotAllowed = 27
    /// The consent's terms and the law allowed it; the consent's policy contract said no.
    case deniedByContract = 28
    /// The policy contract ran out of fuel, trapped or answered nonsense: a denial.
    case contractFailed = 29
    case recordErased = 30

    public var allowed: Bool { rawValue < 10 }
    public var code: String {
        switch self {
        case .allowedByConsent: "allowed.consent"
        case .allowedByBreakGlass: "allowed.break_glass"
        case .allowedAsCustodian: "allowed.custodian"
        case .allowedAsPatient: "allowed.patient"
        case .allowedAsRegulator: "allowed.regulator"
        case .allowedAsOperator: "allowed.operator"
        case .unknownRequester: "denied.unknown_requester"
        case .requesterNotProvider: "denied.requester_not_provider"
        case .unknownPatient: "denied.unknown_patient"
        case .unknownCustodian: "denied.unknown_custodian"
        case .breakGlassRequiresEmergencyPurpose: "denied.break_glass_requires_etreat"
        case .noConsent: "denied.no_consent"
        case .organizationNotGranted: "denied.organization_not_granted"
        case .categoryNotCovered: "denied.category_not_covered"
        case .purposeNotCovered: "denied.purpose_not_covered"
        case .outsideValidityPeriod: "denied.outside_validity_period"
        case .destinationNotCovered: "denied.destination_not_covered"
        case .noTransferBasis: "denied.no_transfer_basis"
        case .emergencyAccessNotAllowed: "denied.emergency_access_not_allowed"
        case .deniedByContract: "denied.contract"
        case .contractFailed: "denied.contract_failed"
        case .recordErased: "denied.record_erased"
        }
    }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(code) }
}

/// The answer to an access request: allowed or not, why, and what it rests on.
public struct AccessDecision: Hashable, Sendable, Canonical {
    public let reason: DecisionReason
    /// The consent the decision rests on (for denials, the one that came closest, if any).
    public let consent: Bytes32?
    /// The transfer's legal basis, when allowed.
    public let transferBasis: TransferBasis?
    public let requesterOrganization: OrganizationID?
    public let sourceCountry: CountryCode?
    public let destinationCountry: CountryCode?
    /// The consent's policy contract, when one took part: its hash, fuel used and answer.
    public let contract: ContractVerdict?
    /// A second clinician of the requester's organisation who co-signed the request (checked).
    public let coSigner: PublicKey?

    public var allowed: Bool { reason.allowed }

    public init(reason: DecisionReason, consent: Bytes32? = nil, transferBasis: TransferBasis? = nil,
                requesterOrganization: OrganizationID? = nil, sourceCountry: CountryCode? = nil, destinationCountry: CountryCode? = nil,
                contract: ContractVerdict? = nil, coSigner: PublicKey? = nil) {
        self.reason = reason; self.consent = consent; self.transferBasis = transferBasis
        self.requesterOrganization = requesterOrganization; self.sourceCountry = sourceCountry; self.destinationCountry = destinationCountry
        self.contract = contract; self.coSigner = coSigner
    }

    /// The same decision, naming the co-signer.
    public func coSigned(by key: PublicKey?) -> AccessDecision {
        AccessDecision(reason: reason, consent: consent, transferBasis: transferBasis, requesterOrganization: requesterOrganization,
                       sourceCountry: sourceCountry, destinationCountry: destinationCountry, contract: contract, coSigner: key)
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(reason); w.write(consent); w.write(transferBasis); w.write(requesterOrganization); w.write(sourceCountry); w.write(destinationCountry)
        w.write(contract); w.write(coSigner)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        reason = try r.read(DecisionReason.self)
        consent = try r.readOptional(Bytes32.self, "decision.consent")
        transferBasis = try r.readOptional(TransferBasis.self, "decision.transfer_basis")
        requesterOrganization = try r.readOptional(OrganizationID.self, "decision.requester_org")
        sourceCountry = try r.readOptional(CountryCode.self, "decision.source")
        destinationCountry = try r.readOptional(CountryCode.self, "decision.destination")
        contract = try r.readOptional(ContractVerdict.self, "decision.contract")
        coSigner = try r.readOptional(PublicKey.self, "decision.co_signer")
    }
}

/// A decision and what the policy contract that made it asks to store and emit, applied only
/// when the decision is part of a committed transaction (never by the API's dry run).
public struct Authorized: Sendable {
    public let decision: AccessDecision
    public let effects: ContractEffects?
}

/// The one place that decides whether an access is allowed. The API's dry run, block execution
/// and the audit tool all call this; nothing else re-implements it.
public enum Authorization {
    /// Decides `request` at `time` against the state.
    ///
    /// - Parameters:
    ///   - height: the block height a policy contract sees.
    ///   - destination: where the copy goes; defaults to the requester organisation's country.
    public static func authorize(_ request: AccessRequest, at time: Timestamp, height: UInt64 = 0, destination: CountryCode? = nil,
                                 in s: some StateReader) throws(RuntimeError) -> AccessDecision {
        try evaluate(request, at: time, height: height, destination: destination, in: s).decision
    }

    /// Decides `request` and returns, with the decision, the deciding contract's effects.
    ///
    /// The consent's own terms and the transfer rules decide first; a consent that names a policy
    /// contract then lets the contract allow or deny what they allowed, so a contract can only
    /// narrow. When several consents could allow, the first that does (terms and contract) wins.
    ///
    /// - Parameters:
    ///   - coSignedAt: when a second clinician of the requester's organisation co-signed (the
    ///     caller has checked the signature); contracts see it.
    ///   - parameters: the chain's parameters (fuel and stack per contract call), when the caller
    ///     has them at hand (otherwise read from `s` when a contract runs).
    ///   - decided: a verdict the policy of its consent already gave on this access (a disclosure
    ///     following the request); that consent's terms and the law are checked again, its policy
    ///     is not run again.
    public static func evaluate(_ request: AccessRequest, at time: Timestamp, height: UInt64, destination: CountryCode? = nil,
                                coSignedAt: Timestamp? = nil, parameters: ChainParameters? = nil, decided: ContractVerdict? = nil,
                                in s: some StateReader) throws(RuntimeError) -> Authorized {
        func plain(_ d: AccessDecision) -> Authorized { Authorized(decision: d, effects: nil) }
        guard let member = try Identity.member(request.requester, in: s) else { return plain(AccessDecision(reason: .unknownRequester)) }
        guard member.has(.provider), let org = try Identity.organization(member.organization, in: s), org.kind == .hospital else {
            return plain(AccessDecision(reason: .requesterNotProvider, requesterOrganization: member.organization))
        }
        let dest = destination ?? org.country
        guard try Identity.patient(request.patient, in: s) != nil else {
            return plain(AccessDecision(reason: .unknownPatient, requesterOrganization: org.id, destinationCountry: dest))
        }
        guard let custodian = try Identity.organization(request.custodian, in: s) else {
            return plain(AccessDecision(reason: .unknownCustodian, requesterOrganization: org.id, destinationCountry: dest))
        }
        let source = custodian.country
        let rule = try Jurisdictions.rule(governing: source, in: s)
        let consents = try Consent.activeConsents(of: request.patient, in: s)

        func decision(_ reason: DecisionReason, _ consent: Bytes32?, _ basis: TransferBasis? = nil, _ verdict: ContractVerdict? = nil) -> AccessDecision {
            AccessDecision(reason: reason, consent: consent, transferBasis: basis, requesterOrganization: org.id,
                           sourceCountry: source, destinationCountry: dest, contract: verdict)
        }
        // The furthest a request got: the most specific denial wins, with its contract's verdict.
        var best = Authorized(decision: decision(.noConsent, nil), effects: nil)
        func note(_ r: DecisionReason, _ id: Bytes32, _ verdict: ContractVerdict? = nil, _ effects: ContractEffects? = nil) {
            if r.rawValue > best.decision.reason.rawValue { best = Authorized(decision: decision(r, id, nil, verdict), effects: effects) }
        }
        /// The terms and the law allowed `c` on `basis`: its policy, if any, has the last word.
        func settle(_ c: ConsentRecord, _ basis: TransferBasis, _ allowed: DecisionReason) throws(RuntimeError) -> Authorized? {
            guard let policy = c.terms.policy else { return plain(decision(allowed, c.id, basis)) }
            if let decided, decided.consent == c.id, decided.contract == policy.contract, decided.allowed {
                return plain(decision(allowed, c.id, basis, decided))
            }
            let asked = ContractRequest(purpose: request.purpose, category: request.category, breakGlass: request.breakGlass,
                                        requesterCountry: dest, custodianCountry: source, time: time, height: height,
                                        organization: org.id, coSignedAt: coSignedAt, requester: request.requester, patient: request.patient,
                                        consent: c.id, evidence: request.evidence)
            let (verdict, effects) = try Policies.evaluate(policy, consent: c.id, request: asked, parameters: parameters, in: s)
            if verdict.allowed { return Authorized(decision: decision(allowed, c.id, basis, verdict), effects: effects) }
            note(verdict.failure == nil ? .deniedByContract : .contractFailed, c.id, verdict, effects)
            return nil
        }

        if request.breakGlass {
            guard request.purpose == .emergencyTreatment else { return plain(decision(.breakGlassRequiresEmergencyPurpose, nil)) }
            // Break-glass needs no grant to this organisation, only the patient's standing
            // permission for emergency access to the category; the transfer rules still apply.
            // A standing permission that exists but has expired, or that the law does not let
            // cross to this country, is reported as such (not as "no emergency access").
            for c in consents where c.terms.emergencyAccess && c.terms.categories.contains(request.category) {
                guard c.isInForce(at: time) else { note(.outsideValidityPeriod, c.id); continue }
                guard let basis = Jurisdictions.transferBasis(from: source, to: dest, rule: rule,
                                                              explicitConsent: c.terms.explicitTransferCountries.contains(dest),
                                                              emergencyAllowed: true)
                else { note(.noTransferBasis, c.id); continue }
                if let done = try settle(c, basis, .allowedByBreakGlass) { return done }
            }
            if best.decision.reason == .noConsent { return plain(decision(.emergencyAccessNotAllowed, nil)) }
            return best
        }

        for c in consents {
            let t = c.terms
            guard t.grantees.contains(org.id) else { note(.organizationNotGranted, c.id); continue }
            guard t.categories.contains(request.category) else { note(.categoryNotCovered, c.id); continue }
            guard t.purposes.contains(request.purpose) else { note(.purposeNotCovered, c.id); continue }
            guard c.isInForce(at: time) else { note(.outsideValidityPeriod, c.id); continue }
            guard t.countries.contains(dest) else { note(.destinationNotCovered, c.id); continue }
            guard let basis = Jurisdictions.transferBasis(from: source, to: dest, rule: rule,
                                                          explicitConsent: t.explicitTransferCountries.contains(dest),
                                                          emergencyAllowed: request.purpose == .emergencyTreatment && t.emergencyAccess)
            else { note(.noTransferBasis, c.id); continue }
            if let done = try settle(c, basis, .allowedByConsent) { return done }
        }
        return best
    }
}
