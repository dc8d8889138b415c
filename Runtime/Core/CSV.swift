/// CSV (RFC 4180) for people's spreadsheets: the console's audit export and the CLIs' `--format csv`
/// write through this one writer.
///
/// A field is quoted when it holds a comma, a quote or a line break (quotes doubled). A field whose
/// first character could start a formula (`=`, `+`, `-`, `@`, tab or carriage return, OWASP's CSV
/// injection list) is prefixed with `'`, so that a spreadsheet shows it as text and never evaluates
/// it: an audit row carries values that others chose (organisation names, reasons).
public enum CSV {
    public static func field(_ value: String) -> String {
        var v = value
        if let f = v.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(f) { v = "'" + v }
        if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            var quoted = "\""
            for c in v { quoted += c == "\"" ? "\"\"" : String(c) }
            v = quoted + "\""
        }
        return v
    }

    /// The header and the rows, each line ended by CRLF.
    public static func document(header: [String], rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(field).joined(separator: ",") + "\r\n" }.joined()
    }
}
