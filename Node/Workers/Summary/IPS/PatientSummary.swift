public import Foundation

/// What a custodian knows of a patient for an International Patient Summary, before it is written
/// as FHIR: coded problems (ICD-10), medications and allergies (coded where a code exists, free text
/// in the author's language otherwise), and the latest vital signs from the workers. People appear
/// only as an identifier (the patient's Meridian key); names stay in the custodian's own systems.
public struct PatientSummary: Sendable, Equatable {
    public struct Problem: Sendable, Equatable {
        public let icd10: String
        public let onset: String?
        public init(icd10: String, onset: String? = nil) { self.icd10 = icd10; self.onset = onset }
    }
    /// A medication or allergy: the author's free text (in `language`), optionally an ICD-10 code
    /// for an allergy's condition.
    public struct Statement: Sendable, Equatable {
        public let text: String
        public init(text: String) { self.text = text }
    }
    public struct Vital: Sendable, Equatable {
        public let loinc: String
        public let value: Decimal
        public let unit: String
        public let time: String
        public init(loinc: String, value: Decimal, unit: String, time: String) { self.loinc = loinc; self.value = value; self.unit = unit; self.time = time }
    }

    public let patientKeyHex: String
    public let custodian: String
    /// The language the author wrote free text in (BCP 47).
    public let language: String
    public let date: String
    public let problems: [Problem]
    public let medications: [Statement]
    public let allergies: [Statement]
    public let vitals: [Vital]

    public init(patientKeyHex: String, custodian: String, language: String, date: String, problems: [Problem],
                medications: [Statement], allergies: [Statement], vitals: [Vital]) {
        self.patientKeyHex = patientKeyHex; self.custodian = custodian; self.language = language; self.date = date
        self.problems = problems; self.medications = medications; self.allergies = allergies; self.vitals = vitals
    }
}
