public import Foundation

/// Writes a `PatientSummary` as a FHIR R4 International Patient Summary: a document Bundle whose
/// Composition (LOINC 60591-5) has the problems, medications and allergies sections (and vital signs
/// when there are any), each entry a resource of the Bundle referenced by `urn:uuid:` full URLs.
/// Codings keep the source names: ICD-10 problems with the WHO English name, LOINC with the
/// catalogue's English name; narrative in the author's language where the catalogue has it.
public enum IPSWriter {
    public static let loinc = "http://loinc.org"
    public static let icd10 = "http://hl7.org/fhir/sid/icd-10"
    public static let ucum = "http://unitsofmeasure.org"
    public static let patientKeySystem = "urn:meridian:patient-key"
    static let sections: [(loinc: String, kind: String)] = [("11450-4", "problems"), ("10160-0", "medications"), ("48765-2", "allergies"), ("8716-3", "vitals")]

    public static func bundle(_ s: PatientSummary, terminology: TerminologyIndex, catalogue: SummaryCatalogue) -> [String: Any] {
        var counter = 0
        func uuid() -> String {
            counter += 1
            // Deterministic ids: the same summary gives the same document (its hash is its commitment's body hash).
            let seed = Array("\(s.patientKeyHex)|\(s.date)|\(counter)".utf8)
            var h: UInt64 = 1469598103934665603
            for b in seed { h = (h ^ UInt64(b)) &* 1099511628211 }
            let hex = String(format: "%016llx", h) + String(format: "%016llx", h &* 0x9E3779B97F4A7C15)
            let c = Array(hex)
            return "urn:uuid:\(String(c[0..<8]))-\(String(c[8..<12]))-4\(String(c[13..<16]))-8\(String(c[17..<20]))-\(String(c[20..<32]))"
        }
        func english(_ kind: SummaryCatalogue.Kind, _ key: String) -> String {
            if case .translated(let name, _) = catalogue.name(kind, key, in: "en") { return name }
            return key
        }
        let patientURL = uuid(), compositionURL = uuid()
        var entries: [[String: Any]] = []
        var sectionEntries: [String: [String]] = [:]
        let patient: [String: Any] = ["resourceType": "Patient", "identifier": [["system": patientKeySystem, "value": s.patientKeyHex]]]
        for p in s.problems {
            let url = uuid()
            let display: String
            switch terminology.name(of: p.icd10, in: "en") { case .translated(let n, _), .englishFallback(let n): display = n; case .unknownCode: display = p.icd10 }
            var condition: [String: Any] = [
                "resourceType": "Condition",
                "clinicalStatus": ["coding": [["system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"]]],
                "code": ["coding": [["system": icd10, "code": p.icd10, "display": display]]],
                "subject": ["reference": patientURL],
            ]
            if let onset = p.onset { condition["onsetDateTime"] = onset }
            entries.append(["fullUrl": url, "resource": condition]); sectionEntries["problems", default: []].append(url)
        }
        for m in s.medications {
            let url = uuid()
            entries.append(["fullUrl": url, "resource": ["resourceType": "MedicationStatement", "status": "active",
                                                          "medicationCodeableConcept": ["text": m.text], "subject": ["reference": patientURL]] as [String: Any]])
            sectionEntries["medications", default: []].append(url)
        }
        for a in s.allergies {
            let url = uuid()
            entries.append(["fullUrl": url, "resource": ["resourceType": "AllergyIntolerance", "code": ["text": a.text], "patient": ["reference": patientURL]] as [String: Any]])
            sectionEntries["allergies", default: []].append(url)
        }
        for v in s.vitals {
            let url = uuid()
            entries.append(["fullUrl": url, "resource": [
                "resourceType": "Observation", "status": "final",
                "category": [["coding": [["system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"]]]],
                "code": ["coding": [["system": loinc, "code": v.loinc, "display": english(.observation, v.loinc)]]],
                "subject": ["reference": patientURL], "effectiveDateTime": v.time,
                "valueQuantity": ["value": NSDecimalNumber(decimal: v.value), "unit": v.unit, "system": ucum, "code": v.unit],
            ] as [String: Any]])
            sectionEntries["vitals", default: []].append(url)
        }
        var sections: [[String: Any]] = []
        for (code, kind) in sections_(for: s) {
            let refs = sectionEntries[kind] ?? []
            var section: [String: Any] = [
                "title": english(.section, code),
                "code": ["coding": [["system": loinc, "code": code, "display": english(.section, code)]]],
                "text": ["status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">\(refs.count) entries</div>"],
            ]
            if refs.isEmpty { section["emptyReason"] = ["coding": [["system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "unavailable"]]] }
            else { section["entry"] = refs.map { ["reference": $0] } }
            sections.append(section)
        }
        let composition: [String: Any] = [
            "resourceType": "Composition", "status": "final", "language": s.language,
            "type": ["coding": [["system": loinc, "code": "60591-5", "display": "Patient summary Document"]]],
            "subject": ["reference": patientURL], "date": s.date,
            "author": [["display": s.custodian]], "title": english(.label, "title"), "section": sections,
        ]
        return ["resourceType": "Bundle", "type": "document", "timestamp": s.date,
                "identifier": ["system": "urn:ietf:rfc:3986", "value": uuid()],
                "entry": [["fullUrl": compositionURL, "resource": composition], ["fullUrl": patientURL, "resource": patient]] + entries]
    }

    /// The required sections always; vital signs when there are readings.
    static func sections_(for s: PatientSummary) -> [(String, String)] {
        sections.filter { $0.kind != "vitals" || !s.vitals.isEmpty }
    }

    /// The Bundle's JSON bytes, keys sorted: the same document always gives the same bytes.
    public static func json(_ object: [String: Any]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }
}
