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

    public init(requester: PublicKey, patient: PublicKey, category: DataCategory, purpose: PurposeOfUse,
                custodian: OrganizationID, breakGlass: Bool = false) {
        self.requester = requester; self.patient = patient; self.category = category; self.purpose = purpose
        self.custodian = custodian; self.breakGlass = breakGlass
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(requester); w.write(patient); w.write(category); w.write(purpose); w.write(custodian); w.write(breakGlass)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        requester = try r.read(PublicKey.self); patient = try r.read(PublicKey.self); category = try r.read(DataCategory.self)
        purpose = try r.read(PurposeOfUse.self); custodian = try r.read(OrganizationID.self); breakGlass = try r.readBool("break_glass")
    }
}

/// Why access was allowed or denied. Stable codes; the order of the denial cases is how far a
/// request got, so the most specific reason wins when several consents were considered.
public enum DecisionReason: UInt8, CanonicalEnum, Codable, CaseIterable {
    case allowedByConsent = 0
    case allowedByBreakGlass = 1
    /// The custodian acting on a record it holds (registration, erasure).
    case allowedAsCustodian = 2
    /// The patient acting on their own record (erasure).
    case allowedAsPatient = 3
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
    case recordErased = 30

    public var allowed: Bool { rawValue < 10 }
    public var code: String {
        switch self {
        case .allowedByConsent: "allowed.consent"
        case .allowedByBreakGlass: "allowed.break_glass"
        case .allowedAsCustodian: "allowed.custodian"
        case .allowedAsPatient: "allowed.patient"
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

    public var allowed: Bool { reason.allowed }

    public init(reason: DecisionReason, consent: Bytes32? = nil, transferBasis: TransferBasis? = nil,
                requesterOrganization: OrganizationID? = nil, sourceCountry: CountryCode? = nil, destinationCountry: CountryCode? = nil) {
        self.reason = reason; self.consent = consent; self.transferBasis = transferBasis
        self.requesterOrganization = requesterOrganization; self.sourceCountry = sourceCountry; self.destinationCountry = destinationCountry
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(reason); w.write(consent); w.write(transferBasis); w.write(requesterOrganization); w.write(sourceCountry); w.write(destinationCountry)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        reason = try r.read(DecisionReason.self)
        consent = try r.readOptional(Bytes32.self, "decision.consent")
        transferBasis = try r.readOptional(TransferBasis.self, "decision.transfer_basis")
        requesterOrganization = try r.readOptional(OrganizationID.self, "decision.requester_org")
        sourceCountry = try r.readOptional(CountryCode.self, "decision.source")
        destinationCountry = try r.readOptional(CountryCode.self, "decision.destination")
    }
}

/// The one place that decides whether an access is allowed. The API's dry run, block execution
/// and the audit tool all call this; nothing else re-implements it.
public enum Authorization {
    /// Decides `request` at `time` against the state.
    ///
    /// - Parameter destination: where the copy goes; defaults to the requester organisation's country.
    public static func authorize(_ request: AccessRequest, at time: Timestamp, destination: CountryCode? = nil,
                                 in s: some StateReader) throws(RuntimeError) -> AccessDecision {
        guard let member = try Identity.member(request.requester, in: s) else { return AccessDecision(reason: .unknownRequester) }
        guard member.has(.provider), let org = try Identity.organization(member.organization, in: s), org.kind == .hospital else {
            return AccessDecision(reason: .requesterNotProvider, requesterOrganization: member.organization)
        }
        let dest = destination ?? org.country
        guard try Identity.patient(request.patient, in: s) != nil else {
            return AccessDecision(reason: .unknownPatient, requesterOrganization: org.id, destinationCountry: dest)
        }
        guard let custodian = try Identity.organization(request.custodian, in: s) else {
            return AccessDecision(reason: .unknownCustodian, requesterOrganization: org.id, destinationCountry: dest)
        }
        let source = custodian.country
        let rule = try Jurisdictions.rule(governing: source, in: s)
        let consents = try Consent.activeConsents(of: request.patient, in: s)

        func decision(_ reason: DecisionReason, _ consent: Bytes32?, _ basis: TransferBasis? = nil) -> AccessDecision {
            AccessDecision(reason: reason, consent: consent, transferBasis: basis, requesterOrganization: org.id,
                           sourceCountry: source, destinationCountry: dest)
        }

        if request.breakGlass {
            guard request.purpose == .emergencyTreatment else { return decision(.breakGlassRequiresEmergencyPurpose, nil) }
            // Break-glass needs no grant to this organisation, only the patient's standing
            // permission for emergency access to the category; the transfer rules still apply.
            var best: (DecisionReason, Bytes32?) = (.emergencyAccessNotAllowed, nil)
            for c in consents where c.terms.emergencyAccess && c.terms.categories.contains(request.category) {
                guard c.isInForce(at: time) else { if best.0.rawValue < DecisionReason.outsideValidityPeriod.rawValue { best = (.outsideValidityPeriod, c.id) }; continue }
                if let basis = Jurisdictions.transferBasis(from: source, to: dest, rule: rule,
                                                           explicitConsent: c.terms.explicitTransferCountries.contains(dest),
                                                           emergencyAllowed: true) {
                    return decision(.allowedByBreakGlass, c.id, basis)
                }
            }
            return decision(best.0, best.1)
        }

        guard !consents.isEmpty else { return decision(.noConsent, nil) }
        var best: (DecisionReason, Bytes32?) = (.noConsent, nil)
        func note(_ r: DecisionReason, _ id: Bytes32) { if r.rawValue > best.0.rawValue { best = (r, id) } }
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
            return decision(.allowedByConsent, c.id, basis)
        }
        return decision(best.0, best.1)
    }
}
