/// A gettext PO file's entries: context, source text and translation. Written here because no
/// Swift package reads PO files; the format is small (quoted strings with C escapes, continued on
/// following lines). The tests compare what it reads with Babel's reader (PyPI) on the real files.
public struct GettextCatalog: Sendable {
    public struct Entry: Sendable, Equatable {
        public let context: String?
        public let source: String
        public let translation: String

        public init(context: String?, source: String, translation: String) {
            self.context = context; self.source = source; self.translation = translation
        }
    }

    public let entries: [Entry]

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public init(parsing text: String) throws(ParseError) {
        var entries: [Entry] = []
        var context: String?, source: String?, translation: String?
        var field: String?   // the keyword a continuation line extends
        func flush() {
            if let source, let translation { entries.append(Entry(context: context, source: source, translation: translation)) }
            context = nil; source = nil; translation = nil; field = nil
        }
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw[...]
            if line.allSatisfy(\.isWhitespace) { flush(); continue }
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("\"") {
                guard let f = field else { throw ParseError(line: number, reason: "a continuation line outside an entry") }
                let part = try Self.unquote(line, number)
                switch f {
                case "msgctxt": context = (context ?? "") + part
                case "msgid": source = (source ?? "") + part
                default: translation = (translation ?? "") + part
                }
                continue
            }
            guard let space = line.firstIndex(of: " ") else { throw ParseError(line: number, reason: "expected a keyword and a quoted string") }
            let keyword = String(line[..<space])
            let value = try Self.unquote(line[line.index(after: space)...].drop { $0 == " " }, number)
            switch keyword {
            case "msgctxt":
                if source != nil { flush() }
                context = value
            case "msgid":
                if source != nil { flush() }
                source = value
            case "msgstr": translation = value
            case "msgid_plural", "msgstr[0]", "msgstr[1]": translation = translation ?? value   // plurals: the first form
            default: throw ParseError(line: number, reason: "unknown keyword \(keyword)")
            }
            field = keyword.hasPrefix("msgstr") ? "msgstr" : keyword
        }
        flush()
        self.entries = entries
    }

    static func unquote(_ s: Substring, _ line: Int) throws(ParseError) -> String {
        guard s.count >= 2, s.first == "\"", s.last == "\"" else { throw ParseError(line: line, reason: "expected a quoted string") }
        var out = ""
        var escaped = false
        for c in s.dropFirst().dropLast() {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "\"", "\\": out.append(c)
                default: out.append("\\"); out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                throw ParseError(line: line, reason: "an unescaped quote inside a string")
            } else {
                out.append(c)
            }
        }
        guard !escaped else { throw ParseError(line: line, reason: "a string ends in a lone backslash") }
        return out
    }
}
