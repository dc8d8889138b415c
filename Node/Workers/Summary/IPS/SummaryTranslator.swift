public import Foundation

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

    public static func translate(_ bundle: [String: Any], to language: String, terminology: TerminologyIndex,
                                 catalogue: SummaryCatalogue) throws -> (bundle: [String: Any], coverage: Coverage) {
        guard bundle["resourceType"] as? String == "Bundle", bundle["type"] as? String == "document",
              var entries = bundle["entry"] as? [[String: Any]], let first = entries.first,
              var composition = first["resource"] as? [String: Any], composition["resourceType"] as? String == "Composition" else {
            throw TranslationError("not an IPS document: a document Bundle whose first entry is its Composition")
        }
        var coverage = Coverage()
        let sourceLanguage = composition["language"] as? String ?? "und"
        func name(_ system: String?, _ code: String) -> TerminologyIndex.Name {
            switch system {
            case IPSWriter.icd10?: terminology.name(of: code, in: language)
            case IPSWriter.loinc?:
                catalogue.name(.observation, code, in: language) != .unknownCode ? catalogue.name(.observation, code, in: language)
                    : catalogue.name(.section, code, in: language)
            default: .unknownCode
            }
        }
        /// Adds the translation to each coding of a CodeableConcept; returns the text to show.
        func translateConcept(_ concept: inout [String: Any]) -> String {
            var shown: [String] = []
            if var codings = concept["coding"] as? [[String: Any]] {
                for i in codings.indices {
                    guard let code = codings[i]["code"] as? String else { continue }
                    let system = codings[i]["system"] as? String
                    guard system == IPSWriter.icd10 || system == IPSWriter.loinc else { continue }
                    coverage.codes += 1
                    switch name(system, code) {
                    case .translated(let text, _):
                        coverage.translated += 1
                        codings[i]["_display"] = ["extension": [["url": translationExtension, "extension": [
                            ["url": "lang", "valueCode": language], ["url": "content", "valueString": text]]]]]
                        shown.append(text)
                    case .englishFallback(let english):
                        shown.append("\(english) (\(label("untranslated")))")
                    case .unknownCode:
                        shown.append("\(codings[i]["display"] as? String ?? code) (\(label("untranslated")))")
                    }
                }
                concept["coding"] = codings
            }
            if shown.isEmpty, let text = concept["text"] as? String {
                coverage.untranslatedFreeText += 1
                return "<span lang=\"\(escape(sourceLanguage))\">\(escape(text))</span> (\(label("untranslated")))"
            }
            return shown.map(escape).joined(separator: "; ")
        }
        func label(_ key: String) -> String {
            switch catalogue.name(.label, key, in: language) { case .translated(let t, _), .englishFallback(let t): t; case .unknownCode: key }
        }

        // Entries: translate codings, remember each entry's line for the narrative.
        var lines: [String: String] = [:]
        for i in entries.indices.dropFirst() {
            guard var resource = entries[i]["resource"] as? [String: Any], let url = entries[i]["fullUrl"] as? String else { continue }
            var line = ""
            for key in ["code", "medicationCodeableConcept"] {
                guard var concept = resource[key] as? [String: Any] else { continue }
                line = translateConcept(&concept)
                resource[key] = concept
            }
            if resource["resourceType"] as? String == "Observation", let q = resource["valueQuantity"] as? [String: Any],
               let value = q["value"], let unit = q["code"] as? String {
                let unitName: String
                switch catalogue.name(.unit, unit, in: language) { case .translated(let t, _), .englishFallback(let t): unitName = t; case .unknownCode: unitName = unit }
                line += ": \(value) \(escape(unit)) (\(escape(unitName)))"
            }
            lines[url] = line
            entries[i]["resource"] = resource
        }
        // Sections: titles and narrative in the target language.
        var sections = composition["section"] as? [[String: Any]] ?? []
        for i in sections.indices {
            if var code = sections[i]["code"] as? [String: Any] {
                let coding = (code["coding"] as? [[String: Any]])?.first
                if let c = coding?["code"] as? String, case .translated(let title, _) = catalogue.name(.section, c, in: language) {
                    sections[i]["title"] = title
                }
                _ = translateConcept(&code)
                sections[i]["code"] = code
            }
            let refs = (sections[i]["entry"] as? [[String: Any]] ?? []).compactMap { $0["reference"] as? String }
            let items = refs.compactMap { lines[$0] }.map { "<li>\($0)</li>" }.joined()
            sections[i]["text"] = ["status": "generated",
                                   "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"\(escape(language))\" xml:lang=\"\(escape(language))\"><ul>\(items)</ul></div>"]
        }
        composition["section"] = sections
        composition["language"] = language
        composition["title"] = label("title")
        let percent = String(format: "%.1f", coverage.fraction * 100)
        composition["extension"] = [["url": coverageExtension, "valueString": "\(coverage.translated)/\(coverage.codes) codes (\(percent)%), \(coverage.untranslatedFreeText) free text untranslated"]]
        composition["text"] = ["status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"\(escape(language))\" xml:lang=\"\(escape(language))\"><p>\(escape(label("title")))</p><p>\(escape(label("coverage"))): \(coverage.translated)/\(coverage.codes) (\(percent)%)</p><p>\(escape(label("source-language"))): \(escape(sourceLanguage))</p></div>"]
        entries[0]["resource"] = composition
        var out = bundle
        out["entry"] = entries
        return (out, coverage)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
