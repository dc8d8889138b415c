import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import NIOCore
import MeridianCore
import MeridianDemo
@testable import MeridianNode

/// The API's dry run of `authorize` answers only what a transaction could do: the data goes where
/// the requester's organisation is, so it may not be asked about another destination.
@Suite(.timeLimit(.minutes(5))) struct DryRunAuthorizeTests {
    @Test func aDestinationOtherThanTheRequestersCountryIsRefused() async throws {
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        let app = Application(router: node.api.router())
        @Sendable func body(_ destination: String?) -> ByteBuffer {
            let d = destination.map { ",\"destination\":\"\($0)\"" } ?? ""
            return ByteBuffer(string: """
                {"requester":"\(Address(DemoCast.staff("sakura-general", "clinician").publicKey))","patient":"\(Address(maria.publicKey))",\
                "category":"problems","purpose":"TREAT","custodian":"hospital-ribeira"\(d)}
                """)
        }
        try await app.test(.router) { client in
            for (destination, status) in [(nil, HTTPResponse.Status.ok), ("JP", .ok), ("TH", .badRequest), ("PT", .badRequest)] {
                let b = body(destination)
                var headers: HTTPFields = [.contentType: "application/json"]
                for (n, v) in try TestNode.signed(DemoCast.staff("sakura-general", "clinician"), "POST", "/v1/authorize", body: Array(buffer: b)) {
                    headers.append(HTTPFields.Element(name: HTTPFields.Element.Name(n)!, value: v))
                }
                try await client.execute(uri: "/v1/authorize", method: .post, headers: headers, body: b) { r in
                    #expect(r.status == status, "destination \(destination ?? "none"): \(r.status) \(String(buffer: r.body))")
                    if status == .badRequest { #expect(String(buffer: r.body).contains("destination.not_requester_country")) }
                }
            }
        }
    }
}
