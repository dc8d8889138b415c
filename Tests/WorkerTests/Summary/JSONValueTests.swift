import Foundation
import Testing
import MeridianSummary

/// The summaries' JSON value: numbers keep their decimal digits, booleans stay booleans, output is
/// canonical (sorted keys), and a hostile nesting depth is refused, not a crash.
@Suite(.timeLimit(.minutes(5))) struct JSONValueTests {
    @Test func valuesRoundTripWithTheirDigitsAndKinds() throws {
        let text = #"{"b":true,"f":false,"n":null,"t":37.2,"x":0.1,"i":118,"neg":-0.0005,"big":12345678901234,"s":"Ação <é> \"q\"","a":[1,"2",[true]]}"#
        let value = try JSONValue(parsing: Array(text.utf8))
        #expect(value["b"] == .bool(true) && value["f"] == .bool(false) && value["n"] == .null)
        #expect(value["t"] == .number(Decimal(string: "37.2")!) && value["x"] == .number(Decimal(string: "0.1")!))
        #expect(value["i"] == .number(118) && value["neg"] == .number(Decimal(string: "-0.0005")!) && value["big"] == .number(Decimal(string: "12345678901234")!))
        #expect(value["s"]?.string == "Ação <é> \"q\"")
        #expect(value["a"] == [.number(1), "2", [.bool(true)]])
        let out = String(decoding: try value.bytes(), as: UTF8.self)
        #expect(out.hasPrefix(#"{"a":[1,"2",[true]],"b":true,"big":12345678901234,"f":false,"i":118,"n":null,"neg":-0.0005,"#), "\(out)")
        #expect(try JSONValue(parsing: try value.bytes()) == value)
    }

    /// The hand-written writer escapes what RFC 8259 requires and Foundation's parser reads back
    /// every string exactly, control characters and all.
    @Test func theWriterEscapesWhatJSONRequiresAndFoundationReadsItBack() throws {
        let tricky = "a\u{01}b\u{1F}\n\r\t\"q\" back\\slash /slash é 日本 🩺"
        let value: JSONValue = ["k\"ey": .string(tricky), "z": [.null, .bool(false), .number(Decimal(string: "-12.50")!)], "": "empty key"]
        let bytes = try value.bytes()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#"\u0001"#) && text.contains(#"\u001f"#) && text.contains(#"\n\r\t\"q\" back\\slash /slash é 日本 🩺"#), "\(text)")
        #expect(text.hasPrefix(#"{"":"empty key","k\"ey":"#), "keys sorted by their bytes: \(text)")
        let foundation = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(foundation["k\"ey"] as? String == tricky)
        #expect(try JSONValue(parsing: bytes) == value)
    }

    @Test func aDeeplyNestedDocumentIsRefused() {
        let deep = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        #expect(throws: (any Error).self) { try JSONValue(parsing: Array(deep.utf8)) }
        #expect(throws: (any Error).self) { try JSONValue(parsing: Array("{\"a\":".utf8)) }
    }
}
