import Foundation
public import MeridianCore

/// A coded terminology with its names in several languages, as the translation worker uses it:
/// one code system (e.g. ICD-10), each code's English name and its name in every other language
/// the file holds (empty: no translation). Stored in the canonical codec, so its SHA-256 is its
/// version: the hash an anchored translation names, so a regulator can tell which terminology
/// produced what a clinician read.
///
/// Translation is by code, never by machine translation: a code with no name in the requested
/// language falls back to English and says so.
public struct Terminology: Sendable, Canonical, Equatable {
    public let system: String
    /// BCP 47 tags of the translated languages (English is always present, as the source).
    public let languages: [String]
    public let entries: [Entry]

    public struct Entry: Sendable, Equatable {
        public let code: String
        public let english: String
        /// One name per language of `languages`, in that order; empty where there is no translation.
        public let names: [String]

        public init(code: String, english: String, names: [String]) {
            self.code = code; self.english = english; self.names = names
        }
    }

    public static let magic = "meridian-terminology/1"
    public static let maxCodes = 1_000_000
    public static let maxLanguages = 64

    /// Builds a terminology: entries sorted by code; a name that is only whitespace or the literal
    /// `nan` (a known defect of some translation files) counts as missing.
    public init(system: String, languages: [String], entries: [Entry]) {
        self.system = system
        self.languages = languages
        self.entries = entries.sorted { $0.code < $1.code }.map { e in
            Entry(code: e.code, english: e.english, names: e.names.map { Self.isMissing($0) ? "" : $0 })
        }
    }

    static func isMissing(_ name: String) -> Bool {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty || trimmed.lowercased() == "nan"
    }

    /// The version: SHA-256 of the canonical bytes.
    public var version: Bytes32 { SHA256.hash(canonicalBytes) }

    public func encode(to w: inout CanonicalWriter) {
        w.write(Self.magic); w.write(system)
        w.write(varint: UInt64(languages.count))
        for l in languages { w.write(l) }
        w.write(varint: UInt64(entries.count))
        for e in entries {
            w.write(e.code); w.write(e.english)
            for n in e.names { w.write(n) }
        }
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        guard try r.readString("terminology.magic", max: 64) == Self.magic else {
            throw CodecError(.invalidValue, field: "terminology.magic", offset: 0)
        }
        system = try r.readString("terminology.system", max: 256)
        let l = try r.readLength("terminology.languages", max: Self.maxLanguages)
        var languages: [String] = []
        for _ in 0..<l { languages.append(try r.readString("terminology.language", max: 35)) }
        self.languages = languages
        let n = try r.readLength("terminology.codes", max: Self.maxCodes)
        var entries: [Entry] = []
        entries.reserveCapacity(n)
        var previous: String?
        for _ in 0..<n {
            let code = try r.readString("terminology.code", max: 64)
            if let previous, !(previous < code) { throw CodecError(.notSorted, field: "terminology.code", offset: r.offset) }
            previous = code
            let english = try r.readString("terminology.english", max: 4096)
            var names: [String] = []
            for _ in 0..<l { names.append(try r.readString("terminology.name", max: 4096)) }
            entries.append(Entry(code: code, english: english, names: names))
        }
        self.entries = entries
    }
}

/// Lookups over a loaded terminology.
public struct TerminologyIndex: Sendable {
    public let terminology: Terminology
    private let byCode: [String: Int]

    public init(_ terminology: Terminology) {
        self.terminology = terminology
        byCode = Dictionary(uniqueKeysWithValues: terminology.entries.enumerated().map { ($1.code, $0) })
    }

    /// What a code is called in a language, and whether that is a real translation.
    public enum Name: Sendable, Equatable {
        /// The name in the requested language (or English when English was asked for).
        case translated(String, language: String)
        /// No translation in the requested language: the English name, to be marked as such.
        case englishFallback(String)
        /// The code is not in the terminology.
        case unknownCode
    }

    /// The column of a language tag, in BCP 47 or POSIX form (`ja`, `ja-JP`, `ja_JP` alike, on
    /// either side): exact, else by primary language (`pt` finds `pt-BR`, `zh` finds `zh-CN`).
    public func languageIndex(_ tag: String) -> Int? {
        let wanted = LanguageTag.canonical(tag) ?? tag.lowercased()
        let tags = terminology.languages.map { LanguageTag.canonical($0) ?? $0.lowercased() }
        if let exact = tags.firstIndex(of: wanted) { return exact }
        let primary = LanguageTag.primary(wanted)
        return tags.firstIndex { $0 == primary } ?? tags.firstIndex { LanguageTag.primary($0) == primary }
    }

    public func name(of code: String, in language: String) -> Name {
        guard let i = byCode[code] else { return .unknownCode }
        let entry = terminology.entries[i]
        if LanguageTag.primary(language) == "en" { return .translated(entry.english, language: "en") }
        guard let column = languageIndex(language), !entry.names[column].isEmpty else { return .englishFallback(entry.english) }
        return .translated(entry.names[column], language: terminology.languages[column])
    }

    /// Per language: codes with a real translation, over all codes.
    public func coverage() -> [(language: String, translated: Int, total: Int)] {
        terminology.languages.enumerated().map { column, language in
            (language, terminology.entries.reduce(0) { $0 + ($1.names[column].isEmpty ? 0 : 1) }, terminology.entries.count)
        }
    }
}
