/// A language tag as BCP 47 writes it (RFC 5646: `ja`, `ja-JP`, `zh-Hans-CN`), read from that form
/// or from the POSIX locale form that gettext catalogues and `LANG` use (`ja_JP`, `ja_JP.UTF-8`,
/// `de_DE@euro`), in any case. Canonical case follows RFC 5646 §2.1.1: language lower case, script
/// title case, region upper case. Written here because Foundation's `Locale` on Linux accepts any
/// string (it answers for `xx_YY` as for a real locale) and says nothing about malformed tags.
public enum LanguageTag {
    /// The canonical BCP 47 form of `text`, or nil when it is not a language tag.
    public static func canonical(_ text: String) -> String? {
        var s = Substring(text)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        if let cut = s.firstIndex(where: { $0 == "." || $0 == "@" }) { s = s[..<cut] }   // POSIX codeset and modifier
        guard !s.isEmpty, s.utf8.count <= 35 else { return nil }
        let parts = s.split(separator: "-", omittingEmptySubsequences: false).flatMap { $0.split(separator: "_", omittingEmptySubsequences: false) }
        func letters(_ p: Substring) -> Bool { p.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) } }
        func digits(_ p: Substring) -> Bool { p.unicodeScalars.allSatisfy { ("0"..."9").contains($0) } }
        func alphanumeric(_ p: Substring) -> Bool { p.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) } }
        guard let language = parts.first, (2...3).contains(language.count), letters(language) else { return nil }
        var out = [language.lowercased()]
        for (i, p) in parts.dropFirst().enumerated() {
            guard (1...8).contains(p.count), alphanumeric(p) else { return nil }
            if i == 0 && p.count == 4 && letters(p) {
                out.append(p.prefix(1).uppercased() + p.dropFirst().lowercased())   // script
            } else if (p.count == 2 && letters(p)) || (p.count == 3 && digits(p)) {
                out.append(p.uppercased())                                          // region
            } else {
                out.append(p.lowercased())                                          // variant, extension
            }
        }
        return out.joined(separator: "-")
    }

    /// The primary language subtag of a tag (`ja` of `ja-JP` or `ja_JP`), lower case.
    public static func primary(_ text: String) -> String {
        let c = canonical(text) ?? text.lowercased()
        return String(c.split(separator: "-").first ?? Substring(c))
    }
}
