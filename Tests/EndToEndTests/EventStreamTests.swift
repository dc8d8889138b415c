import Foundation
import MeridianTestSupport
import Testing
import Logging
import Synchronization
import HummingbirdWSClient
import HTTPTypes
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// The WebSocket event stream of a real node: a subscriber receives committed events that match its
/// filter and nothing else.
@Suite(.serialized, .timeLimit(.minutes(10))) struct EventStreamTests {
    struct EventMessage: Decodable, Sendable { let height: Int; let transaction: String; let kind: String; let patient: String?; let detail: [String: String] }

    @Test func aFilteredSubscriberReceivesOnlyMatchingCommittedEvents() async throws {
        let node = try await NodeProcess("events")
        try await node.start(blockIntervalMilliseconds: 20)
        defer { node.terminate() }
        let api = try node.api()
        let maria = DemoCast.patient("maria")
        let mariaAddress = Address(maria.publicKey).description
        let port = api.base.port ?? 0
        let logger: Logger = { var l = Logger(label: "event-stream-test"); l.logLevel = .warning; return l }()

        // Bad filters are refused before any upgrade.
        let (status, body) = try await http(api, "GET", "/v1/events?kind=consent.changed,nonsense")
        #expect(status == 400 && errorCode(body) == "event.unknown_kind")

        // Maria registers first: the upgrade is a signed request like any other, and only a key the
        // chain knows may subscribe (to its own events).
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let registration = try signed(maria, .registerPatient(.init(attestor: clinician.publicKey,
                                                                    attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey)))), nonce: 0)
        let (registered, answer) = try await http(api, "POST", "/v1/transactions", body: Data(registration.canonicalBytes), contentType: "application/octet-stream")
        #expect(registered == 202, "\(answer)")
        try await waitCommitted(api, [registration.hash.hex])
        let path = "/v1/events?kind=consent.changed&patient=\(mariaAddress)"
        var signature = HTTPFields()
        for (name, value) in try await api.signed(by: maria).signatureHeaders("GET", path, body: nil) {
            signature.append(HTTPField(name: HTTPField.Name(name)!, value: value))
        }
        let configuration = WebSocketClientConfiguration(additionalHeaders: signature)
        // The subscriber runs beside the test: it says when it is upgraded, then hands on every
        // message it receives. The test acts only after the upgrade, and waits for the first
        // message on a stream, whose wait ends when the test's time limit cancels it: nothing here
        // can outlive the limit (the subscriber ends when the node is gone).
        let (upgraded, upgradedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (messages, messagesContinuation) = AsyncStream.makeStream(of: Result<EventMessage, any Error>.self)
        let subscriber = Task {
            defer { upgradedContinuation.finish(); messagesContinuation.finish() }
            do {
                _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)\(path)", configuration: configuration, logger: logger) { inbound, _, _ in
                    upgradedContinuation.yield()
                    for try await frame in inbound.messages(maxSize: 1 << 16) {
                        guard case .text(let text) = frame else { continue }
                        messagesContinuation.yield(Result { try JSONDecoder().decode(EventMessage.self, from: Data(text.utf8)) })
                    }
                }
            } catch {
                messagesContinuation.yield(.failure(error))
            }
        }
        defer { subscriber.cancel() }
        for await _ in upgraded { break }

        // Subscribed: now the chain does two things, of which one matches the filter.
        let hans = DemoCast.patient("hans")
        let hansAttestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: hans.publicKey))
        let terms = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.problems], purposes: [.treat],
                                 countries: [CountryCode("JP")!], explicitTransferCountries: [], validFrom: Timestamp(iso8601: "2026-01-01")!,
                                 validUntil: Timestamp(iso8601: "2027-01-01")!, emergencyAccess: false)
        // Registrations first (the mempool admits only registered signers), then the grant.
        for stx in [try signed(hans, .registerPatient(.init(attestor: clinician.publicKey, attestation: hansAttestation)), nonce: 0),
                    try signed(maria, .grantConsent(terms), nonce: 1)] {
            let (code, answer) = try await http(api, "POST", "/v1/transactions", body: Data(stx.canonicalBytes), contentType: "application/octet-stream")
            try #require(code == 202, "\(answer)")
            try await waitCommitted(api, [stx.hash.hex])
        }
        var inbox = messages.makeAsyncIterator()
        let received = try await inbox.next()?.get()
        #expect(received != nil, "no event reached the subscriber (\(Task.isCancelled ? "stopped by the time limit" : "stream ended")): \(node.logText)")
        let event = try #require(received)
        #expect(event.kind == "consent.changed", "\(event)")
        #expect(event.patient == mariaAddress)
        #expect(event.detail["status"] == "active", "\(event)")
        #expect(event.height >= 1 && event.transaction.count == 64)

        // Refused upgrades: unsigned, and Hans (registered now) asking for Maria's events.
        await #expect(throws: (any Error).self, "an unsigned subscription") {
            _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)\(path)", logger: logger) { _, _, _ in }
        }
        var hansSignature = HTTPFields()
        for (name, value) in try await api.signed(by: DemoCast.patient("hans")).signatureHeaders("GET", path, body: nil) {
            hansSignature.append(HTTPField(name: HTTPField.Name(name)!, value: value))
        }
        let asHans = WebSocketClientConfiguration(additionalHeaders: hansSignature)
        await #expect(throws: (any Error).self, "another patient's events") {
            _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)\(path)", configuration: asHans, logger: logger) { _, _, _ in }
        }
    }

    /// SIGTERM stops a node that has a subscriber waiting for its next event: the node closes the
    /// stream, exits 0, and the client's read ends (a waiting handler once held the server open,
    /// and the node and its subscriber waited on each other for ever).
    @Test func aNodeWithAnOpenSubscriberStopsOnSIGTERM() async throws {
        let node = try await NodeProcess("events-stop")
        try await node.start()
        let api = try node.api()
        let port = api.base.port ?? 0
        let logger: Logger = { var l = Logger(label: "event-stream-test"); l.logLevel = .warning; return l }()
        var signature = HTTPFields()
        for (name, value) in try await api.signed(by: demoOperator).signatureHeaders("GET", "/v1/events", body: nil) {
            signature.append(HTTPField(name: HTTPField.Name(name)!, value: value))
        }
        let (connected, connectedContinuation) = AsyncStream.makeStream(of: Void.self)
        let client = Task {
            _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/v1/events", configuration: WebSocketClientConfiguration(additionalHeaders: signature), logger: logger) { inbound, _, _ in
                connectedContinuation.yield(); connectedContinuation.finish()
                for try await _ in inbound.messages(maxSize: 1 << 16) {}
            }
        }
        for await _ in connected { break }
        #expect(await node.stop() == 0, "the node did not stop cleanly with a subscriber open: \(node.logText)")
        _ = await client.result   // returns once the node has closed the socket
    }
}
