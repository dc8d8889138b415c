import ArgumentParser
import Foundation
import MeridianCore
import MeridianSummary
import MeridianClient

/// Patient summaries for a person: an IPS document translated by code into the clinician's
/// language, printed as readable text (and, with `--fhir`, written as the translated FHIR Bundle).
/// Fetching the document from the custodian's node is issue 7's next step; today the document comes
/// from a file (e.g. the custodian's own export).
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "summary", abstract: "Patient summaries in the clinician's language.",
                                                    subcommands: [Translate.self, Demo.self])

    /// The demo cast's summaries (../shared/SCENARIO.md), as their custodians would write them.
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a demo patient's IPS document (maria, hans or jean) as its custodian holds it.")
        @Argument(help: "maria, hans or jean.") var patient: String
        @Option(help: "The patient's key (hex or mer1 address; default: the demo wallet's).") var key: String?
        @Option(help: "Where to write the FHIR Bundle.") var out: String
        @OptionGroup var terminology: TerminologyCommand.FileOption

        func run() throws {
            let cast: [String: (String, String, [PatientSummary.Problem], [String], [String])] = [
                "maria": ("Hospital Ribeira, Lisbon", "pt", [.init(icd10: "I10", onset: "2012"), .init(icd10: "I48", onset: "2021"), .init(icd10: "E11.9", onset: "2016"), .init(icd10: "N18.3")],
                          ["Metformina 500 mg, duas vezes ao dia", "Apixabano 5 mg, duas vezes ao dia", "Ramipril 5 mg, uma vez ao dia"], ["Penicilina (urticária)"]),
                "hans": ("Klinikum Spree, Berlin", "de", [.init(icd10: "I25.1"), .init(icd10: "M17.1"), .init(icd10: "H40.1")],
                         ["Bisoprolol 2,5 mg morgens", "Atorvastatin 20 mg abends"], ["Keine bekannten Allergien"]),
                "jean": ("Hôpital Rhône, Lyon", "fr", [.init(icd10: "J44.9"), .init(icd10: "I50.9")],
                         ["Tiotropium 18 µg, une inhalation par jour", "Furosémide 40 mg le matin"], ["Iode (réaction cutanée)"]),
            ]
            guard let (custodian, language, problems, medications, allergies) = cast[patient] else { throw ValidationError("unknown demo patient '\(patient)': maria, hans or jean") }
            let keyHex: String
            if let key { keyHex = try Parse.address(key, "--key").hex } else { keyHex = SHA256.hash(Array("meridian-demo-patient/\(patient)".utf8)).hex }
            let summary = PatientSummary(patientKeyHex: keyHex, custodian: custodian, language: language, date: "2026-11-24T10:00:00Z",
                                         problems: problems, medications: medications.map { .init(text: $0) }, allergies: allergies.map { .init(text: $0) }, vitals: [])
            let bundle = IPSWriter.bundle(summary, terminology: try terminology.load(), catalogue: .shipped)
            try Data(try IPSWriter.json(bundle)).write(to: URL(fileURLWithPath: out), options: .atomic)
            print("wrote \(out): \(patient)'s IPS document from \(custodian), \(problems.count) problems, \(medications.count) medications, \(allergies.count) allergies")
        }
    }

    struct Translate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Translate an IPS document (FHIR R4 JSON) by code and print it; --fhir writes the translated Bundle.")
        @Option(name: .customLong("in"), help: "The IPS document Bundle (JSON).") var input: String
        @Option(help: "The clinician's language (BCP 47: ja, es, de, ...).") var lang: String
        @Option(help: "Write the translated FHIR Bundle to this file.") var fhir: String?
        @OptionGroup var terminology: TerminologyCommand.FileOption

        func run() throws {
            guard let data = FileManager.default.contents(atPath: input) else { throw ValidationError("cannot read \(input)") }
            guard data.count <= 16 << 20, let bundle = try? JSONValue(parsing: [UInt8](data)), bundle.object != nil else { throw ValidationError("\(input) is not a JSON object") }
            let index = try terminology.load()
            let result: (bundle: JSONValue, coverage: SummaryTranslator.Coverage)
            do { result = try SummaryTranslator.translate(bundle, to: lang, terminology: index, catalogue: .shipped) }
            catch { throw ValidationError("\(input): \(error)") }
            if let fhir { try Data(try IPSWriter.json(result.bundle)).write(to: URL(fileURLWithPath: fhir), options: .atomic) }
            let composition = result.bundle["entry"]?.array?.first?["resource"] ?? [:]
            print(composition["title"]?.string ?? "")
            for section in composition["section"]?.array ?? [] {
                print("\n\(section["title"]?.string ?? "")")
                let div = section["text"]?["div"]?.string ?? ""
                for item in div.components(separatedBy: "<li>").dropFirst() {
                    print("  - " + Self.plain(item.components(separatedBy: "</li>").first ?? ""))
                }
            }
            let c = result.coverage
            print("\n\(lang): \(c.translated)/\(c.codes) codes translated (\(String(format: "%.1f", c.fraction * 100))%), \(c.untranslatedFreeText) free-text entries shown as written")
            print("terminology \(index.terminology.version.hex.prefix(16))…, catalogue \(SummaryCatalogue.shipped.version.hex.prefix(16))…")
        }

        /// The narrative's text without its tags, entities decoded.
        static func plain(_ html: String) -> String {
            var out = "", inTag = false
            for c in html { if c == "<" { inTag = true } else if c == ">" { inTag = false } else if !inTag { out.append(c) } }
            return out.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
        }
    }
}
