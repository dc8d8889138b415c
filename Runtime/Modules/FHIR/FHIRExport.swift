import MeridianCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Exports of on-chain consent and audit data as HL7 FHIR R4 (4.0.1) resources.
///
/// People are referenced only by identifier (their Meridian address or organisation id), never by
/// name: the chain holds no personal data, and neither do these exports. Meridian-specific facts
/// that FHIR R4 has no element for (destination countries, the transfer's legal basis) travel as
/// extensions under `urn:meridian:fhir:`.
public enum FHIRExport {
    // MARK: Shared shapes

    struct Coding: Encodable { var system: String?; var code: String; var display: String? }
    struct CodeableConcept: Encodable { var coding: [Coding]; var text: String? = nil }
    struct Identifier: Encodable { var system: String; var value: String }
    struct Reference: Encodable { var identifier: Identifier; var display: String? = nil }
    struct Period: Encodable { var start: String?; var end: String? }
    struct Extension: Encodable {
        var url: String
        var valueCode: String? = nil
        var valueBoolean: Bool? = nil
        var valueString: String? = nil
    }

    static let addressSystem = "urn:meridian:address"
    static let organizationSystem = "urn:meridian:organization"
    static let recordSystem = "urn:meridian:record-commitment"

    static func patientReference(_ key: PublicKey) -> Reference { Reference(identifier: Identifier(system: addressSystem, value: Address(key).description)) }
    static func organizationReference(_ id: OrganizationID) -> Reference { Reference(identifier: Identifier(system: organizationSystem, value: id.value)) }
    static func purposeConcept(_ p: PurposeOfUse) -> CodeableConcept { CodeableConcept(coding: [Coding(system: PurposeOfUse.system, code: p.code, display: p.display)]) }

    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try e.encode(value))
    }

    // MARK: Consent

    struct ConsentResource: Encodable {
        var resourceType = "Consent"
        var id: String
        var meta: Meta
        var `extension`: [Extension]
        var status: String
        var scope: CodeableConcept
        var category: [CodeableConcept]
        var patient: Reference
        var dateTime: String
        var policyRule: CodeableConcept
        var provision: Provision
        struct Meta: Encodable { var versionId: String; var lastUpdated: String }
    }

    struct Provision: Encodable {
        var type: String
        var period: Period?
        var actor: [Actor]?
        var action: [CodeableConcept]?
        var purpose: [Coding]?
        var code: [CodeableConcept]?
        var provision: [Provision]?
        struct Actor: Encodable { var role: CodeableConcept; var reference: Reference }
    }

    /// A consent as a FHIR R4 Consent resource (JSON bytes).
    public static func consent(_ c: ConsentRecord) throws -> [UInt8] {
        let t = c.terms
        var extensions = t.countries.map { Extension(url: "urn:meridian:fhir:destination-country", valueCode: $0.code) }
        extensions += t.explicitTransferCountries.map { Extension(url: "urn:meridian:fhir:explicit-transfer-consent-country", valueCode: $0.code) }
        extensions.append(Extension(url: "urn:meridian:fhir:emergency-access", valueBoolean: t.emergencyAccess))
        let recipient = CodeableConcept(coding: [Coding(system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "IRCP", display: "information recipient")])
        var emergency: [Provision]? = nil
        if t.emergencyAccess {
            // Break-the-glass: emergency treatment by any provider, for the same categories.
            emergency = [Provision(type: "permit", period: nil, actor: nil, action: nil,
                                   purpose: [Coding(system: PurposeOfUse.system, code: "BTG", display: "break the glass")],
                                   code: nil, provision: nil)]
        }
        let resource = ConsentResource(
            id: c.id.hex,
            meta: .init(versionId: String(c.version), lastUpdated: c.updatedAt.iso8601),
            extension: extensions,
            status: c.status == .active ? "active" : "inactive",
            scope: CodeableConcept(coding: [Coding(system: "http://terminology.hl7.org/CodeSystem/consentscope", code: "patient-privacy", display: "Privacy Consent")]),
            category: [CodeableConcept(coding: [Coding(system: "http://loinc.org", code: "59284-0", display: "Patient Consent")])],
            patient: patientReference(c.patient),
            dateTime: c.grantedAt.iso8601,
            policyRule: CodeableConcept(coding: [Coding(system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "OPTIN", display: "opt-in")]),
            provision: Provision(
                type: "permit",
                period: Period(start: t.validFrom.iso8601, end: t.validUntil.iso8601),
                actor: t.grantees.map { Provision.Actor(role: recipient, reference: organizationReference($0)) },
                action: [CodeableConcept(coding: [Coding(system: "http://terminology.hl7.org/CodeSystem/consentaction", code: "access", display: "Access")])],
                purpose: t.purposes.map { Coding(system: PurposeOfUse.system, code: $0.code, display: $0.display) },
                code: t.categories.map { CodeableConcept(coding: [Coding(system: "http://loinc.org", code: $0.loinc ?? $0.name, display: $0.title)]) },
                provision: emergency))
        return try encode(resource)
    }

    // MARK: AuditEvent

    struct AuditEventResource: Encodable {
        var resourceType = "AuditEvent"
        var id: String
        var `extension`: [Extension]
        var type: Coding
        var subtype: [Coding]?
        var action: String
        var recorded: String
        var outcome: String
        var outcomeDesc: String
        var purposeOfEvent: [CodeableConcept]
        var agent: [Agent]
        var source: Source
        var entity: [Entity]
        struct Agent: Encodable { var type: CodeableConcept?; var who: Reference; var requestor: Bool; var purposeOfUse: [CodeableConcept]? }
        struct Source: Encodable { var site: String; var observer: Reference }
        struct Entity: Encodable { var what: Reference; var role: Coding; var type: Coding? }
    }

    /// An audit entry as a FHIR R4 AuditEvent resource (JSON bytes). Break-glass access is typed
    /// DCM 110113 "Security Alert", subtype 110127 "Emergency Override Started", action E.
    public static func auditEvent(_ e: AuditEntry) throws -> [UInt8] {
        let dcm = "http://dicom.nema.org/resources/ontology/DCM"
        let type: Coding
        var subtype: [Coding]? = nil
        var action = e.action.code
        if e.breakGlass {
            type = Coding(system: dcm, code: "110113", display: "Security Alert")
            subtype = [Coding(system: dcm, code: "110127", display: "Emergency Override Started")]
            action = "E"
        } else if e.kind == .recordRegistration {
            type = Coding(system: dcm, code: "110110", display: "Patient Record")
        } else {
            type = Coding(system: dcm, code: "110106", display: "Export")
        }
        var extensions = [Extension(url: "urn:meridian:fhir:audit-kind", valueCode: e.kind.name),
                          Extension(url: "urn:meridian:fhir:decision", valueCode: e.decision.reason.code),
                          Extension(url: "urn:meridian:fhir:block-height", valueString: String(e.height)),
                          Extension(url: "urn:meridian:fhir:transaction", valueString: e.transaction.hex),
                          Extension(url: "urn:meridian:fhir:entry-hash", valueString: e.hash.hex)]
        if let b = e.decision.transferBasis { extensions.append(Extension(url: "urn:meridian:fhir:transfer-basis", valueCode: b.name)) }
        if let s = e.decision.sourceCountry { extensions.append(Extension(url: "urn:meridian:fhir:source-country", valueCode: s.code)) }
        if let d = e.decision.destinationCountry { extensions.append(Extension(url: "urn:meridian:fhir:destination-country", valueCode: d.code)) }
        if let c = e.decision.consent { extensions.append(Extension(url: "urn:meridian:fhir:consent", valueString: c.hex)) }
        var entities = [AuditEventResource.Entity(
            what: patientReference(e.patient),
            role: Coding(system: "http://terminology.hl7.org/CodeSystem/object-role", code: "1", display: "Patient"),
            type: Coding(system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "1", display: "Person"))]
        if let r = e.record {
            entities.append(.init(what: Reference(identifier: Identifier(system: recordSystem, value: r.hex), display: e.category.title),
                                  role: Coding(system: "http://terminology.hl7.org/CodeSystem/object-role", code: "4", display: "Domain Resource"),
                                  type: Coding(system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "2", display: "System Object")))
        }
        let resource = AuditEventResource(
            id: "\(Address(e.patient).description)-\(e.sequence)",
            extension: extensions, type: type, subtype: subtype, action: action,
            recorded: e.time.iso8601,
            outcome: e.allowed ? "0" : "4",
            outcomeDesc: e.decision.reason.code,
            purposeOfEvent: [purposeConcept(e.purpose)],
            agent: [.init(type: nil,
                          who: Reference(identifier: Identifier(system: addressSystem, value: Address(e.actor).description), display: nil),
                          requestor: true, purposeOfUse: [purposeConcept(e.purpose)]),
                    .init(type: nil, who: organizationReference(e.organization), requestor: false, purposeOfUse: nil)],
            source: .init(site: "meridian", observer: organizationReference(e.organization)),
            entity: entities)
        return try encode(resource)
    }
}
