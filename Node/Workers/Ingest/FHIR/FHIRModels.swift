import Foundation

/// The parts of FHIR R4 resources the vital-signs ingestion reads and the node emits, as Codable
/// types with FHIR's JSON names. Decimals decode as `Decimal` (exact text, never a binary double).
struct FHIRCoding: Codable, Sendable {
    var system: String?
    var code: String?
    var display: String?
}

struct FHIRCodeableConcept: Codable, Sendable {
    var coding: [FHIRCoding]?
    var text: String?
}

struct FHIRIdentifier: Codable, Sendable {
    var system: String?
    var value: String?
}

struct FHIRReference: Codable, Sendable {
    var reference: String?
    var identifier: FHIRIdentifier?
    var display: String?
}

struct FHIRQuantity: Codable, Sendable {
    var value: Decimal?
    var unit: String?
    var system: String?
    var code: String?
}

struct FHIRMeta: Codable, Sendable {
    var profile: [String]?
}

struct FHIRObservationComponent: Codable, Sendable {
    var code: FHIRCodeableConcept
    var valueQuantity: FHIRQuantity?
    var valueCodeableConcept: FHIRCodeableConcept?
}

struct FHIRObservationResource: Codable, Sendable {
    var resourceType: String
    var id: String?
    var meta: FHIRMeta?
    var status: String?
    var category: [FHIRCodeableConcept]?
    var code: FHIRCodeableConcept?
    var subject: FHIRReference?
    var device: FHIRReference?
    var effectiveDateTime: String?
    var effectiveInstant: String?
    var issued: String?
    var valueQuantity: FHIRQuantity?
    var valueCodeableConcept: FHIRCodeableConcept?
    var valueString: String?
    var component: [FHIRObservationComponent]?
}

struct FHIRBundleEntry: Codable, Sendable {
    var fullUrl: String?
    var resource: FHIRObservationResource?
}

struct FHIRBundle: Codable, Sendable {
    var resourceType: String
    var id: String?
    var type: String?
    var entry: [FHIRBundleEntry]?
}

/// Only the resource type, read first to choose the model.
struct FHIRResourceType: Decodable { var resourceType: String }
