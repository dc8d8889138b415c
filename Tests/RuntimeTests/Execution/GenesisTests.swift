import Testing
import Foundation
import MeridianCore
import MeridianState
@testable import MeridianModules
@testable import MeridianRuntime
import MeridianDemo

@Suite(.timeLimit(.minutes(5))) struct GenesisTests {
    static func committedDemoSpec() throws -> [UInt8] {
        // Tests/RuntimeTests/Execution/GenesisTests.swift -> repository root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return Array(try Data(contentsOf: root.appendingPathComponent("Genesis/demo.json")))
    }

    @Test func theCommittedDemoSpecLoadsAndMatchesTheCast() throws {
        let spec = try GenesisSpec.parse(try Self.committedDemoSpec())
        #expect(spec.chainID == DemoCast.chainID)
        let state = try AuthenticatedState(storage: InMemoryStateStorage())
        let result = try Genesis.initialize(spec, into: state)
        let fromCast = try AuthenticatedState(storage: InMemoryStateStorage())
        #expect(try Genesis.initialize(DemoCast.genesisSpec(), into: fromCast).header == result.header,
                "Genesis/demo.json is out of date: run meridian-genesis demo > Genesis/demo.json")
        let reader = CommittedStateReader(state)
        #expect(try Validators.current(in: reader).count == 4)
        let countries = Set(spec.organizations.map(\.country))
        #expect(spec.organizations.count >= 6 && countries.count >= 5)
        #expect(try Jurisdictions.rules(in: reader).map(\.name) == ["CH-FADP", "EU-GDPR", "JP-APPI"])
    }

    func expectRefusal(_ json: String, field: String) {
        do {
            let spec = try GenesisSpec.parse(Array(json.utf8))
            try Genesis.initialize(spec, into: try AuthenticatedState(storage: InMemoryStateStorage()))
            Issue.record("accepted a bad spec; expected an error at \(field)")
        } catch let e as GenesisError {
            #expect(e.field == field, "\(e)")
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func badSpecsAreRefusedNamingTheField() throws {
        let good = String(decoding: try Self.committedDemoSpec(), as: UTF8.self)
        expectRefusal(good.replacingOccurrences(of: "\"PT\"", with: "\"XX\""), field: "organizations[0].country")
        expectRefusal(good.replacingOccurrences(of: "\"kind\" : \"hospital\"", with: "\"kind\" : \"pharmacy\""), field: "organizations[0].kind")
        expectRefusal(good.replacingOccurrences(of: "2026-01-01T00:00:00Z", with: "soon"), field: "genesisTime")
        expectRefusal(good.replacingOccurrences(of: "meridian-demo-1", with: "Bad Chain!"), field: "chainID")
        expectRefusal(good.replacingOccurrences(of: "\"provider\"", with: "\"surgeon\""), field: "organizations[0].members[1].roles[0]")
        let firstKey = try #require(good.range(of: "\"key\" : \"")).upperBound
        var badKey = good; badKey.replaceSubrange(firstKey..<good.index(firstKey, offsetBy: 4), with: "zzzz")
        expectRefusal(badKey, field: "organizations[0].members[0].key")
        expectRefusal("{\"chainID\": \"x\"}", field: "genesisTime")
        expectRefusal("not json", field: "(document)")
        var spec = DemoCast.genesisSpec(); spec.validators = []
        let e = try JSONEncoder().encode(spec)
        expectRefusal(String(decoding: e, as: UTF8.self), field: "validators")
    }
}
