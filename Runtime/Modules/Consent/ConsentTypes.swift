public import MeridianCore

/// A data category: a section of the HL7 International Patient Summary, identified by its LOINC code.
public enum DataCategory: UInt8, CanonicalEnum, CaseIterable, Codable {
    case problems = 0, medications = 1, allergies = 2, procedures = 3, immunizations = 4, medicalDevices = 5
    case results = 6, vitalSigns = 7, pastIllness = 8, functionalStatus = 9, planOfCare = 10, socialHistory = 11
    case pregnancy = 12, advanceDirectives = 13, alerts = 14, patientStory = 15
    /// A whole International Patient Summary document (LOINC 60591-5): a consent must name it to
    /// cover a summary, whatever sections it carries.
    case summary = 16
    /// The patient's audit trail itself (who accessed what): the category of a console view's
    /// audit entry. It has no LOINC code and no consent grants it (`ConsentTerms.validate`).
    case auditTrail = 17

    /// The IPS section's LOINC code (nil for the audit trail, which is not a section).
    public var loinc: String? {
        ["11450-4", "10160-0", "48765-2", "47519-4", "11369-6", "46264-8", "30954-2", "8716-3", "11348-0",
         "47420-5", "18776-5", "29762-2", "10162-6", "42348-3", "104605-1", "81338-6", "60591-5", nil][Int(rawValue)]
    }
    /// Whether a consent may name it: every category of health data, not the audit trail.
    public var grantable: Bool { self != .auditTrail }
    /// The name used on the command line and in JSON.
    public var name: String {
        ["problems", "medications", "allergies", "procedures", "immunizations", "medical-devices", "results",
         "vital-signs", "past-illness", "functional-status", "plan-of-care", "social-history", "pregnancy",
         "advance-directives", "alerts", "patient-story", "summary", "audit-trail"][Int(rawValue)]
    }
    /// The IPS section title in English.
    public var title: String {
        ["Problem list", "Medication summary", "Allergies and intolerances", "History of procedures", "Immunizations",
         "Medical devices", "Results", "Vital signs", "History of past illness", "Functional status", "Plan of care",
         "Social history", "Pregnancy", "Advance directives", "Alerts", "Patient story", "Patient summary", "Audit trail"][Int(rawValue)]
    }
    public init?(name: String) {
        guard let c = Self.allCases.first(where: { $0.name == name || $0.loinc == name }) else { return nil }
        self = c
    }
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let c = DataCategory(name: s) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown data category '\(s)'")) }
        self = c
    }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(name) }
}

/// Purpose of use, from HL7 v3 ActReason (system http://terminology.hl7.org/CodeSystem/v3-ActReason).
public enum PurposeOfUse: UInt8, CanonicalEnum, CaseIterable, Codable {
    /// Treatment.
    case treat = 0
    /// Emergency treatment.
    case emergencyTreatment = 1
    /// Healthcare research.
    case research = 2
    /// Public health.
    case publicHealth = 3
    /// Healthcare payment.
    case payment = 4
    /// Care management.
    case careManagement = 5
    /// Coordination of care.
    case coordinationOfCare = 6
    /// Healthcare operations.
    case operations = 7
    /// Health compliance: a data-protection authority's oversight (a regulator's console views).
    case compliance = 8
    /// Patient requested: the patient looking at their own data.
    case patientRequest = 9

    public var code: String { ["TREAT", "ETREAT", "HRESCH", "PUBHLTH", "HPAYMT", "CAREMGT", "COC", "HOPERAT", "HCOMPL", "PATRQT"][Int(rawValue)] }
    public var display: String {
        ["treatment", "emergency treatment", "healthcare research", "public health", "healthcare payment",
         "care management", "coordination of care", "healthcare operations", "health compliance", "patient requested"][Int(rawValue)]
    }
    public static let system = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    public init?(code: String) {
        guard let p = Self.allCases.first(where: { $0.code == code.uppercased() }) else { return nil }
        self = p
    }
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let p = PurposeOfUse(code: s) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown purpose '\(s)'")) }
        self = p
    }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(code) }
}

/// What a patient consents to: who, what, why, where a copy may go, when, and whether
/// emergency (break-glass) access is allowed. All sets are sorted and non-empty.
public struct ConsentTerms: Hashable, Sendable, Canonical {
    public static let maxGrantees = 32
    public static let maxCountries = 64

    public let grantees: [OrganizationID]
    public let categories: [DataCategory]
    public let purposes: [PurposeOfUse]
    /// Countries a copy may be sent to.
    public let countries: [CountryCode]
    /// Countries to which the patient explicitly consented to a transfer after being told of the
    /// risks (GDPR Art. 49(1)(a)): the basis for a country with no adequacy decision. A subset of `countries`.
    public let explicitTransferCountries: [CountryCode]
    public let validFrom: Timestamp
    public let validUntil: Timestamp
    /// Whether a provider with no grant may read these categories in an emergency (break-glass).
    public let emergencyAccess: Bool
    /// A policy contract that decides, after these terms and the transfer rules allowed an access,
    /// whether it goes through: it can only narrow the consent.
    public let policy: ConsentPolicy?

    public init(grantees: [OrganizationID], categories: [DataCategory], purposes: [PurposeOfUse], countries: [CountryCode],
                explicitTransferCountries: [CountryCode] = [], validFrom: Timestamp, validUntil: Timestamp, emergencyAccess: Bool,
                policy: ConsentPolicy? = nil) {
        self.grantees = grantees.canonicalSet; self.categories = categories.canonicalSet; self.purposes = purposes.canonicalSet
        self.countries = countries.canonicalSet; self.explicitTransferCountries = explicitTransferCountries.canonicalSet
        self.validFrom = validFrom; self.validUntil = validUntil; self.emergencyAccess = emergencyAccess; self.policy = policy
    }

    /// Checks what the codec cannot: non-empty sets, a real period, explicit countries within countries.
    public func validate() throws(RuntimeError) {
        guard !grantees.isEmpty else { throw RuntimeError("consent.no_grantee", "a consent names at least one organisation") }
        guard !categories.isEmpty else { throw RuntimeError("consent.no_category", "a consent covers at least one data category") }
        for c in categories where !c.grantable {
            throw RuntimeError("consent.category_not_grantable", "'\(c.name)' is not a category of health data a consent can grant")
        }
        guard !purposes.isEmpty else { throw RuntimeError("consent.no_purpose", "a consent names at least one purpose") }
        guard !countries.isEmpty else { throw RuntimeError("consent.no_country", "a consent names at least one destination country") }
        guard validFrom < validUntil else { throw RuntimeError("consent.bad_period", "valid-from \(validFrom) is not before valid-until \(validUntil)") }
        for c in explicitTransferCountries where !countries.contains(c) {
            throw RuntimeError("consent.explicit_outside_countries", "explicit transfer consent for \(c) which is not among the destination countries")
        }
        try policy?.validate()
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(grantees); w.write(categories); w.write(purposes); w.write(countries); w.write(explicitTransferCountries)
        w.write(validFrom); w.write(validUntil); w.write(emergencyAccess); w.write(policy)
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        grantees = try r.readSortedSet(OrganizationID.self, "consent.grantees", max: Self.maxGrantees)
        categories = try r.readSortedSet(DataCategory.self, "consent.categories", max: DataCategory.allCases.count)
        purposes = try r.readSortedSet(PurposeOfUse.self, "consent.purposes", max: PurposeOfUse.allCases.count)
        countries = try r.readSortedSet(CountryCode.self, "consent.countries", max: Self.maxCountries)
        explicitTransferCountries = try r.readSortedSet(CountryCode.self, "consent.explicit_transfer_countries", max: Self.maxCountries)
        validFrom = try r.read(Timestamp.self)
        validUntil = try r.read(Timestamp.self)
        emergencyAccess = try r.readBool("consent.emergency_access")
        policy = try r.readOptional(ConsentPolicy.self, "consent.policy")
    }
}

public enum ConsentStatus: UInt8, CanonicalEnum {
    case active = 0
    case revoked = 1
    public var name: String { self == .active ? "active" : "revoked" }
}

/// A consent as stored: its terms, who granted it, and its lifecycle.
public struct ConsentRecord: Hashable, Sendable, Canonical {
    /// The hash of the transaction that granted it.
    public let id: Bytes32
    public let patient: PublicKey
    public let terms: ConsentTerms
    public let status: ConsentStatus
    /// 1 when granted, +1 per amendment.
    public let version: UInt32
    public let grantedAt: Timestamp
    public let updatedAt: Timestamp

    public init(id: Bytes32, patient: PublicKey, terms: ConsentTerms, status: ConsentStatus, version: UInt32, grantedAt: Timestamp, updatedAt: Timestamp) {
        self.id = id; self.patient = patient; self.terms = terms; self.status = status; self.version = version
        self.grantedAt = grantedAt; self.updatedAt = updatedAt
    }

    public func isInForce(at time: Timestamp) -> Bool {
        status == .active && terms.validFrom <= time && time < terms.validUntil
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(id); w.write(patient); w.write(terms); w.write(status); w.write(version); w.write(grantedAt); w.write(updatedAt)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        id = try r.readBytes32("consent.id"); patient = try r.read(PublicKey.self); terms = try r.read(ConsentTerms.self)
        status = try r.read(ConsentStatus.self); version = try r.readUInt32("consent.version")
        grantedAt = try r.read(Timestamp.self); updatedAt = try r.read(Timestamp.self)
    }
}
