import Foundation
import Testing
import MeridianSummary

/// Maria's summary from Lisbon, translated for Tokyo: valid FHIR (fhir.resources R4B), every coding
/// kept and carrying the Japanese display where the terminology or catalogue has one, English marked
/// where not, free text passed through marked, narrative in Japanese, coverage stated and exact.
@Suite(.timeLimit(.minutes(5))) struct SummaryTranslatorTests {
    static let maria = PatientSummary(
        patientKeyHex: String(repeating: "ab", count: 32), custodian: "Hospital Ribeira, Lisbon", language: "pt", date: "2026-11-24T10:00:00Z",
        problems: [.init(icd10: "I10", onset: "2015"), .init(icd10: "I48"), .init(icd10: "E11.9"), .init(icd10: "N18.3")],
        medications: [.init(text: "Metformina 500 mg, duas vezes ao dia"), .init(text: "Apixabano 5 mg, duas vezes ao dia")],
        allergies: [.init(text: "Penicilina (urticária)")],
        vitals: [.init(loinc: "8867-4", value: 118, unit: "/min", time: "2026-11-24T09:58:00Z"),
                 .init(loinc: "2708-6", value: 89, unit: "%", time: "2026-11-24T09:58:00Z")])

    static func translated(_ language: String) async throws -> (original: JSONValue, bundle: JSONValue, coverage: SummaryTranslator.Coverage, index: TerminologyIndex) {
        let index = TerminologyIndex(try await TerminologyTests.imported)
        let original = IPSWriter.bundle(maria, terminology: index, catalogue: .shipped)
        let (bundle, coverage) = try SummaryTranslator.translate(original, to: language, terminology: index, catalogue: .shipped)
        return (original, bundle, coverage, index)
    }

    static func resources(_ bundle: JSONValue) -> [JSONValue] {
        (bundle["entry"]?.array ?? []).compactMap { $0["resource"] }
    }

    @Test func theJapaneseSummaryKeepsEveryCodeAndAddsJapaneseDisplaysWhereTheyExist() async throws {
        let (original, bundle, coverage, index) = try await Self.translated("ja")
        let conditions = Self.resources(bundle).filter { $0["resourceType"]?.string == "Condition" }
        let originalConditions = Self.resources(original).filter { $0["resourceType"]?.string == "Condition" }
        #expect(conditions.count == 4)
        var expectedTranslated = 0
        for (c, o) in zip(conditions, originalConditions) {
            let coding = try #require(c["code"]?["coding"]?.array?.first)
            let originalCoding = try #require(o["code"]?["coding"]?.array?.first)
            #expect(coding["code"] == originalCoding["code"] && coding["display"] == originalCoding["display"])
            let code = try #require(coding["code"]?.string)
            let translation = coding["_display"]?["extension"]?.array?.first?["extension"]?.array
            switch index.name(of: code, in: "ja") {
            case .translated(let name, _):
                expectedTranslated += 1
                #expect(translation?.first { $0["url"]?.string == "content" }?["valueString"]?.string == name, "\(code)")
                #expect(translation?.first { $0["url"]?.string == "lang" }?["valueCode"]?.string == "ja")
            default:
                #expect(translation == nil, "\(code) has no Japanese name: no translation extension")
            }
        }
        #expect(expectedTranslated == 2)   // I10 and I48 have WHO Japanese names; E11.9 and N18.3 do not
        // Codes: 4 ICD-10, 2 vital-sign LOINC, 4 section LOINC; all LOINC names are in the catalogue.
        #expect(coverage == SummaryTranslator.Coverage(translated: 2 + 2 + 4, codes: 4 + 2 + 4, untranslatedFreeText: 3))
        let composition = Self.resources(bundle)[0]
        #expect(composition["language"]?.string == "ja" && composition["title"]?.string == "国際患者サマリー")
        #expect(composition["extension"]?.array?.first?["valueString"]?.string == "8/10 codes (80.0%), 3 free text untranslated")
        let sections = composition["section"]?.array ?? []
        #expect(sections.map { $0["title"]?.string } == ["問題リスト", "服薬情報", "アレルギー・不耐性", "バイタルサイン"])
        let problems = sections[0]["text"]?["div"]?.string ?? ""
        #expect(problems.contains("lang=\"ja\"") && problems.contains("心房細動及び粗動") && problems.contains("Chronic kidney disease, stage 3 (未翻訳)"))
        let medications = sections[1]["text"]?["div"]?.string ?? ""
        #expect(medications.contains("<span lang=\"pt\">Metformina 500 mg, duas vezes ao dia</span> (未翻訳)"))
        let vitals = sections[3]["text"]?["div"]?.string ?? ""
        #expect(vitals.contains("心拍数: 118 /min (毎分)"))
    }

    @Test func everyTranslatedBundleValidatesWithFhirResourcesR4B() async throws {
        var documents: [String] = []
        for language in ["pt", "ja", "de", "es", "zh", "ko"] {
            let (_, bundle, _, _) = try await Self.translated(language)
            documents.append(String(decoding: try IPSWriter.json(bundle), as: UTF8.self))
        }
        let script = """
            import json, sys
            from fhir.resources.R4B.bundle import Bundle
            for doc in json.load(sys.stdin):
                b = Bundle.model_validate_json(doc) if hasattr(Bundle, 'model_validate_json') else Bundle.parse_raw(doc)
                comp = b.entry[0].resource
                print(b.type, comp.__resource_type__ if hasattr(comp, '__resource_type__') else comp.resource_type, comp.language, len(b.entry))
            """
        let lines = try await PythonReference.run(script, input: try JSONSerialization.data(withJSONObject: documents), package: "fhir.resources")
        #expect(lines.count == 6, "\(lines)")
        for (line, language) in zip(lines, ["pt", "ja", "de", "es", "zh", "ko"]) {
            #expect(line == "document Composition \(language) 11", "\(line)")   // Composition, Patient, 4 problems, 2 medications, 1 allergy, 2 vital signs
        }
    }

    @Test func aLanguageWithNoNamesFallsBackToEnglishMarkedEverywhere() async throws {
        let (_, _, coverage, _) = try await Self.translated("ko")
        #expect(coverage.translated == 0 && coverage.codes == 10)
    }

    @Test func aBundleThatIsNotAnIPSDocumentIsRefused() throws {
        let index = TerminologyIndex(Terminology(system: "s", languages: [], entries: []))
        #expect(throws: SummaryTranslator.TranslationError.self) {
            try SummaryTranslator.translate(["resourceType": "Bundle", "type": "collection", "entry": []], to: "ja", terminology: index, catalogue: .shipped)
        }
    }
}
