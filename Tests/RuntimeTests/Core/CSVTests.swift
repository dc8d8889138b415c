import Foundation
import Testing
import MeridianCore
import MeridianTestSupport

/// The one CSV writer: RFC 4180 quoting read back by Python's `csv` module (an implementation no one
/// here wrote), and the formula-injection guard on every character OWASP lists.
@Suite(.timeLimit(.minutes(5))) struct CSVTests {
    @Test func formulaStartsAreNeutralisedAndQuotingIsRFC4180() {
        for lead in ["=", "+", "-", "@", "\t", "\r"] { #expect(CSV.field(lead + "1+1").hasPrefix(lead == "\r" ? "\"'" : "'"), "leading \(lead.debugDescription)") }
        #expect(CSV.field("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("line\nbreak") == "\"line\nbreak\"")
        #expect(CSV.field("plain") == "plain" && CSV.field("") == "")
        #expect(CSV.document(header: ["a", "b"], rows: [["1", "2"]]) == "a,b\r\n1,2\r\n")
    }

    @Test func pythonsCSVReaderReadsBackEveryField() async throws {
        let rows = [["Hospital Ribeira", "a,b", "say \"hi\"", "two\nlines"], ["=cmd|' /C calc'!A0", "+1", "ünïcode ✓", ""]]
        let document = CSV.document(header: ["h1", "h2", "h3", "h4"], rows: rows)
        let script = "import csv, io, json, sys\nprint(json.dumps(list(csv.reader(io.StringIO(sys.stdin.read(), newline='')))))"
        let r = try await ChildProcess.run("python3", ["-c", script], input: Array(document.utf8))
        try #require(r.status == 0, "\(r.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String]]
        let expected = [["h1", "h2", "h3", "h4"]] + rows.map { $0.map { v in v.first.map { "=+-@".contains($0) } == true ? "'" + v : v } }
        #expect(parsed == expected)
    }
}
