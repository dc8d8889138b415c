public import Foundation
import MeridianCore

/// Translates an IPS document Bundle by code, as MyHealth@EU does: every ICD-10 or LOINC coding
/// keeps its original code and display and gains the target-language display as a FHIR
/// `translation` extension on `_display`; section titles, the document title and every section's
/// narrative are written in the target language; free text passes through with its language tag,
/// marked untranslated; a code without a translation keeps English, marked. The result states its
/// own coverage: codes with a real translation over codes.
public enum SummaryTranslator {
    public static let translationExtension = "http://hl7.org/fhir/StructureDefinition/translation"
    public static let coverageExtension = "urn:meridian:fhir:translation-coverage"

    public struct Coverage: Sendable, Equatable {
        public var translated = 0
        public var codes = 0
        public var untranslatedFreeText = 0
        public var fraction: Double { codes == 0 ? 1 : Double(translated) / Double(codes) }
        public init(translated: Int = 0, codes: Int = 0, untranslatedFreeText: Int = 0) {
            self.translated = translated; self.codes = codes; self.untranslatedFreeText = untranslatedFreeText
        }
    }

    public struct TranslationError: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ d: String) { description = d }
    }

    public static func translate(_ bundle: JSONValue, to language: String, terminology: TerminologyIndex,
                                 catalogue: SummaryCatalogue) throws -> (bundle: JSONValue, coverage: Coverage) {
        guard bundle["resourceType"]?.string == "Bundle", bundle["type"]?.string == "document",
              var entries = bundle["entry"]?.array, let first = entries.first,
              var composition = first["resource"], composition["resourceType"]?.string == "Composition" else {
            throw TranslationError("not an IPS document: a document Bundle whose first entry is its Composition")
        }
        var coverage = Coverage()
        let sourceLanguage = composition["language"]?.string ?? "und"
        let untranslated = label("untranslated", language, catalogue)
        func name(_ system: String?, _ code: String) -> TerminologyIndex.Name {
            switch system {
            case IPSWriter.icd10?: terminology.name(of: code, in: language)
            case IPSWriter.loinc?:
                // A LOINC code names an observation or a section (the catalogue keeps them apart).
                catalogue.observations[code] != nil ? catalogue.name(.observation, code, in: language) : catalogue.name(.section, code, in: language)
            default: .unknownCode
            }
        }
        /// Adds the translation to each coding of a CodeableConcept; returns the narrative text.
        func translateConcept(_ concept: inout JSONValue) -> String {
            var shown: [String] = []
            if var codings = concept["coding"]?.array {
                for i in codings.indices {
                    guard let code = codings[i]["code"]?.string else { continue }
                    let system = codings[i]["system"]?.string
                    guard system == IPSWriter.icd10 || system == IPSWriter.loinc else { continue }
                    coverage.codes += 1
                    switch name(system, code) {
                    case .translated(let text, _):
                        coverage.translated += 1
                        codings[i]["_display"] = ["extension": [["url": .string(translationExtension), "extension": [
                            ["url": "lang", "valueCode": .string(language)], ["url": "content", "valueString": .string(text)]]]]]
                        shown.append(escape(text))
                    case .englishFallback(let english):
                        shown.append(escape("\(english) (\(untranslated))"))
                    case .unknownCode:
                        shown.append(escape("\(codings[i]["display"]?.string ?? code) (\(untranslated))"))
                    }
                }
                concept["coding"] = .array(codings)
            }
            if shown.isEmpty, let text = concept["text"]?.string {
                coverage.untranslatedFreeText += 1
                return "<span lang=\"\(escape(sourceLanguage))\">\(escape(text))</span> (\(escape(untranslated)))"
            }
            return shown.joined(separator: "; ")
        }

        // Entries: translate codings, remember each entry's line for the narrative.
        var lines: [String: String] = [:]
        for i in entries.indices.dropFirst() {
            guard var resource = entries[i]["resource"], let url = entries[i]["fullUrl"]?.string else { continue }
            var line = ""
            for key in ["code", "medicationCodeableConcept"] {
                guard var concept = resource[key] else { continue }
                line = translateConcept(&concept)
                resource[key] = concept
            }
            if resource["resourceType"]?.string == "Observation", let q = resource["valueQuantity"],
               case .number(let value)? = q["value"], let unit = q["code"]?.string {
                let unitName: String
                switch catalogue.name(.unit, unit, in: language) { case .translated(let t, _), .englishFallback(let t): unitName = t; case .unknownCode: unitName = unit }
                line += ": \(value) \(escape(unit)) (\(escape(unitName)))"
            }
            lines[url] = line
            entries[i]["resource"] = resource
        }
        // Sections: titles and narrative in the target language.
        var sections = composition["section"]?.array ?? []
        let open = "<div xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"\(escape(language))\" xml:lang=\"\(escape(language))\">"
        for i in sections.indices {
            if var code = sections[i]["code"] {
                if let c = code["coding"]?.array?.first?["code"]?.string, case .translated(let title, _) = catalogue.name(.section, c, in: language) {
                    sections[i]["title"] = .string(title)
                }
                _ = translateConcept(&code)
                sections[i]["code"] = code
            }
            let refs = (sections[i]["entry"]?.array ?? []).compactMap { $0["reference"]?.string }
            let items = refs.compactMap { lines[$0] }.map { "<li>\($0)</li>" }.joined()
            sections[i]["text"] = ["status": "generated", "div": .string("\(open)<ul>\(items)</ul></div>")]
        }
        composition["section"] = .array(sections)
        composition["language"] = .string(language)
        let title = label("title", language, catalogue)
        composition["title"] = .string(title)
        let percent = String(format: "%.1f", coverage.fraction * 100)
        composition["extension"] = [["url": .string(coverageExtension), "valueString": .string("\(coverage.translated)/\(coverage.codes) codes (\(percent)%), \(coverage.untranslatedFreeText) free text untranslated")]]
        composition["text"] = ["status": "generated", "div": .string("\(open)<p>\(escape(title))</p><p>\(escape(label("coverage", language, catalogue))): \(coverage.translated)/\(coverage.codes) (\(percent)%)</p><p>\(escape(label("source-language", language, catalogue))): \(escape(sourceLanguage))</p></div>")]
        entries[0]["resource"] = composition
        var out = bundle
        out["entry"] = .array(entries)
        return (out, coverage)
    }

    static func label(_ key: String, _ language: String, _ catalogue: SummaryCatalogue) -> String {
        switch catalogue.name(.label, key, in: language) { case .translated(let t, _), .englishFallback(let t): t; case .unknownCode: key }
    }

    /// XML text and attribute escaping (`&`, `<`, `>`, `"`).
    static func escape(_ s: String) -> String { MarkupEscape.text(s) }
}
