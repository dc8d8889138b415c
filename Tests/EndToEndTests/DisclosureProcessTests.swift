import Foundation
import MeridianTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianDemo

@Suite(.serialized, .timeLimit(.minutes(10))) struct DisclosureProcessTests {
    /// A clinician reads a patient's vital signs from a real node, which answers once the read's
    /// audit record is in its disclosure log; the node is killed with SIGKILL before any block
    /// holds that record (it produces none in that run); after the restart the record reaches the
    /// chain, and the patient's trail shows the read exactly once.
    @Test func aReadAnsweredBeforeACrashIsOnTheTrailAfterTheRestart() async throws {
        let node = try await NodeProcess("disclosure-kill9")
        try await node.start(blockIntervalMilliseconds: 100)
        defer { node.terminate() }
        let maria = try PrivateKey(secret: SHA256.hash(Array("disclosure-kill9/maria".utf8)))
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        func date(_ s: String) -> Timestamp { Timestamp(unixMilliseconds: UInt64(ISO8601DateFormatter().date(from: s + "T00:00:00Z")!.timeIntervalSince1970 * 1000)) }
        let terms = ConsentTerms(grantees: [OrganizationID("hospital-ribeira")!], categories: [.vitalSigns], purposes: [.treat],
                                 countries: [CountryCode("PT")!], validFrom: date("2026-01-01"), validUntil: date("2030-12-31"), emergencyAccess: false)
        var api = try node.api()
        for tx in [try registration(of: maria), try signed(maria, .grantConsent(terms), nonce: 1)] {
            let (status, body) = try await http(api, "POST", "/v1/transactions", body: Data(tx.canonicalBytes), contentType: "application/octet-stream")
            #expect(status == 202, "\(body)")
            try await waitCommitted(api, [tx.hash.hex])
        }
        let trailPath = "/v1/audit?patient=\(Address(maria.publicKey))&limit=1000"
        func reads(_ api: NodeClient) async throws -> [[String: Any]] {
            let (status, page) = try await http(api.signed(by: maria), "GET", trailPath)
            #expect(status == 200, "\(page)")
            return (page["entries"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "api-read" }
        }
        #expect(try await reads(api).isEmpty)

        // A run that produces no block (ten minutes between blocks, the most a node allows): the read is answered, its record
        // is only in the disclosure log (and the mempool) when the node dies.
        await node.stop()
        try await node.start(blockIntervalMilliseconds: 600_000)
        api = try node.api()
        let (status, body) = try await http(api.signed(by: clinician), "GET", "/v1/vitals/\(Address(maria.publicKey))")
        #expect(status == 200, "the clinician's organisation holds the consent: \(body)")
        #expect(try await reads(api).isEmpty, "no block in this run")
        await node.kill9()

        try await node.start(blockIntervalMilliseconds: 100)
        api = try node.api()
        var found: [[String: Any]] = []
        while found.isEmpty {
            try stillWaiting("the read's audit entry after the restart")
            found = try await reads(api)
            if found.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(found.count == 1, "\(found)")
        let entry = try #require(found.first)
        #expect(entry["actor"] as? String == Address(clinician.publicKey).description, "\(entry)")
        #expect(entry["category"] as? String == DataCategory.vitalSigns.name && entry["organization"] as? String == "hospital-ribeira", "\(entry)")
        // Later blocks do not record it again (the log dropped it once committed).
        let later = try registration(of: try PrivateKey(secret: SHA256.hash(Array("disclosure-kill9/hans".utf8))))
        #expect(try await http(api, "POST", "/v1/transactions", body: Data(later.canonicalBytes), contentType: "application/octet-stream").0 == 202)
        try await waitCommitted(api, [later.hash.hex])
        #expect(try await reads(api).count == 1)
    }
}
