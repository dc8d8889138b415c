public import Foundation
public import MeridianCore

/// Meridian's own catalogue of names (`summary-catalogue.json`, written by the project): IPS
/// section titles and vital-sign observations by LOINC code, UCUM units, and the labels of a
/// translated summary, in at least en, de, fr, es, pt, it, ja and zh. Lookups fall back to English,
/// marked, like the terminology's. Its SHA-256 (of the file's bytes) is part of what a translation
/// anchors, beside the terminology's version.
public struct SummaryCatalogue: Sendable {
    public let languages: [String]
    public let sections: [String: [String: String]]
    public let observations: [String: [String: String]]
    public let units: [String: [String: String]]
    public let labels: [String: [String: String]]
    public let version: Bytes32

    private struct File: Decodable {
        let languages: [String]
        let sections: [String: [String: String]]
        let observations: [String: [String: String]]
        let units: [String: [String: String]]
        let labels: [String: [String: String]]
    }

    /// The catalogue shipped with the node.
    public static let shipped: SummaryCatalogue = {
        guard let url = Bundle.module.url(forResource: "summary-catalogue", withExtension: "json"),
              let data = try? Data(contentsOf: url), let catalogue = try? SummaryCatalogue(data: data) else {
            preconditionFailure("the summary catalogue resource is missing or invalid (a build defect, not input)")
        }
        return catalogue
    }()

    public init(data: Data) throws {
        let file = try JSONDecoder().decode(File.self, from: data)
        languages = file.languages; sections = file.sections; observations = file.observations; units = file.units; labels = file.labels
        version = SHA256.hash([UInt8](data))
    }

    public enum Kind: Sendable { case section, observation, unit, label }

    /// A name in `language` (`pt-BR` finds `pt`), else English marked as a fallback; nil for an unknown key.
    public func name(_ kind: Kind, _ key: String, in language: String) -> TerminologyIndex.Name {
        let table: [String: [String: String]]
        switch kind {
        case .section: table = sections
        case .observation: table = observations
        case .unit: table = units
        case .label: table = labels
        }
        guard let names = table[key], let english = names["en"] else { return .unknownCode }
        let tag = LanguageTag.canonical(language) ?? language
        let primary = LanguageTag.primary(tag)
        if primary == "en" { return .translated(english, language: "en") }
        if let exact = names[tag] ?? names[primary], !exact.isEmpty { return .translated(exact, language: names[tag] != nil ? tag : primary) }
        return .englishFallback(english)
    }
}
