/// Escaping of text for XML and HTML, in one pass: the summaries' XHTML narratives and the web
/// console's pages both use it (Foundation's replacingOccurrences, four times over, was a seventh of
/// a translation's time).
public enum MarkupEscape {
    /// `&`, `<`, `>` and `"` always; `'` when `apostrophe`; control characters other than tab and
    /// line feed become U+FFFD when `replacingControls` (they could hide text on a page).
    public static func text(_ s: String, apostrophe: Bool = false, replacingControls: Bool = false) -> String {
        guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || (apostrophe && $0 == 0x27) || (replacingControls && $0 < 0x20) })
        else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'" where apostrophe: out += "&#39;"
            case _ where replacingControls && c.value < 0x20 && c != "\n" && c != "\t": out += "\u{FFFD}"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
