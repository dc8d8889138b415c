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

    public static func bundle(_ s: PatientSummary, terminology: TerminologyIndex, catalogue: SummaryCatalogue) -> JSONValue {
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
        func coding(_ system: String, _ code: String, _ display: String) -> JSONValue {
            ["coding": [["system": .string(system), "code": .string(code), "display": .string(display)]]]
        }
        let patientURL = uuid(), compositionURL = uuid()
        var entries: [JSONValue] = []
        var sectionEntries: [String: [String]] = [:]
        let patient: JSONValue = ["resourceType": "Patient", "identifier": [["system": .string(patientKeySystem), "value": .string(s.patientKeyHex)]]]
        for p in s.problems {
            let url = uuid()
            let display: String
            switch terminology.name(of: p.icd10, in: "en") { case .translated(let n, _), .englishFallback(let n): display = n; case .unknownCode: display = p.icd10 }
            var condition: JSONValue = [
                "resourceType": "Condition",
                "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
                "code": coding(icd10, p.icd10, display),
                "subject": ["reference": .string(patientURL)],
            ]
            if let onset = p.onset { condition["onsetDateTime"] = .string(onset) }
            entries.append(["fullUrl": .string(url), "resource": condition]); sectionEntries["problems", default: []].append(url)
        }
        for m in s.medications {
            let url = uuid()
            entries.append(["fullUrl": .string(url), "resource": ["resourceType": "MedicationStatement", "status": "active",
                                                                   "medicationCodeableConcept": ["text": .string(m.text)], "subject": ["reference": .string(patientURL)]]])
            sectionEntries["medications", default: []].append(url)
        }
        for a in s.allergies {
            let url = uuid()
            entries.append(["fullUrl": .string(url), "resource": ["resourceType": "AllergyIntolerance", "code": ["text": .string(a.text)], "patient": ["reference": .string(patientURL)]]])
            sectionEntries["allergies", default: []].append(url)
        }
        for v in s.vitals {
            let url = uuid()
            entries.append(["fullUrl": .string(url), "resource": [
                "resourceType": "Observation", "status": "final",
                "category": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")],
                "code": coding(loinc, v.loinc, english(.observation, v.loinc)),
                "subject": ["reference": .string(patientURL)], "effectiveDateTime": .string(v.time),
                "valueQuantity": ["value": .number(v.value), "unit": .string(v.unit), "system": .string(ucum), "code": .string(v.unit)],
            ]])
            sectionEntries["vitals", default: []].append(url)
        }
        var sections: [JSONValue] = []
        for (code, kind) in includedSections(s) {
            let refs = sectionEntries[kind] ?? []
            var section: JSONValue = [
                "title": .string(english(.section, code)),
                "code": coding(loinc, code, english(.section, code)),
                "text": ["status": "generated", "div": .string("<div xmlns=\"http://www.w3.org/1999/xhtml\">\(refs.count) entries</div>")],
            ]
            if refs.isEmpty { section["emptyReason"] = coding("http://terminology.hl7.org/CodeSystem/list-empty-reason", "unavailable", "Unavailable") }
            else { section["entry"] = .array(refs.map { ["reference": .string($0)] }) }
            sections.append(section)
        }
        let composition: JSONValue = [
            "resourceType": "Composition", "status": "final", "language": .string(s.language),
            "type": coding(loinc, "60591-5", "Patient summary Document"),
            "subject": ["reference": .string(patientURL)], "date": .string(s.date),
            "author": [["display": .string(s.custodian)]], "title": .string(english(.label, "title")), "section": .array(sections),
        ]
        return ["resourceType": "Bundle", "type": "document", "timestamp": .string(s.date),
                "identifier": ["system": "urn:ietf:rfc:3986", "value": .string(uuid())],
                "entry": .array([["fullUrl": .string(compositionURL), "resource": composition], ["fullUrl": .string(patientURL), "resource": patient]] + entries)]
    }

    /// The required sections always; vital signs when there are readings.
    static func includedSections(_ s: PatientSummary) -> [(String, String)] {
        sections.filter { $0.kind != "vitals" || !s.vitals.isEmpty }
    }

    /// The Bundle's JSON bytes, keys sorted: the same document always gives the same bytes.
    public static func json(_ bundle: JSONValue) throws -> [UInt8] { try bundle.bytes() }
}
