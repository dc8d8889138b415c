import Foundation
public import Hummingbird
public import HummingbirdWebSocket
import NIOCore
public import MeridianCore
public import MeridianModules
import MeridianRisk
public import MeridianWorkers
import MeridianRuntime

/// The WebSocket stream of clinical alerts at `/v1/alerts`: a clinician (provider role) of a
/// hospital subscribes and receives, as JSON text messages, the alerts addressed to their
/// organisation (the patient's consent covers it for TREAT or ETREAT), and nothing else. The
/// upgrade request is signed like any API request (RFC 9421, `SignedRequests`: chain, this node as
/// audience, created, nonce; rule `clinician`); `organization=` may name the subscriber's own
/// organisation only. A refused upgrade reaches the route, which says why (401, 403, 426). A
/// subscriber also receives the escalations addressed to them (`escalation` set in the message).
public enum AlertStream {
    static let path = "/v1/alerts"

    struct Message: Encodable {
        let alert: String
        let patient: String
        let time: String
        let reasons: [String]
        let news2: Int
        let band: String
        let contributing: [Contribution]
        let modelRisk: Double?
        let modelHash: String?
        let scoringVersion: String
        let recipients: [String]
        /// Present on an escalation: the alert sent on to this subscriber, the `level`-th clinician
        /// of `organization`'s escalation order, because the hospital had not acknowledged it.
        let escalation: Escalation?
        struct Contribution: Encodable { let parameter: String; let score: Int }
        struct Escalation: Encodable { let organization: String; let level: Int; let recipient: String }

        init(_ a: AlertRecord, escalation e: AlertHub.Escalation? = nil) {
            escalation = e.map { Escalation(organization: $0.organization.value, level: $0.level, recipient: Address($0.recipient).description) }
            alert = a.hash.hex; patient = Address(a.patient).description; time = a.time.iso8601; reasons = a.reasons.names
            news2 = a.score.total; band = a.score.band.name
            contributing = a.score.contributing.map { Contribution(parameter: $0.0.name, score: $0.1) }
            modelRisk = a.modelProbability; modelHash = a.modelProbability == nil ? nil : a.modelHash.hex
            scoringVersion = a.scoringVersion; recipients = a.recipients.map(\.value)
        }
    }

    /// Upgrades `/v1/alerts` for a clinician (signature checked without spending its nonce first;
    /// spent when the upgrade is granted); anything else goes on to the router.
    static func shouldUpgrade(_ request: HTTPRequest, api: NodeAPI, hub: AlertHub) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>? {
        guard let target = request.path, URLComponents(string: target)?.path == path else { return nil }
        // Any refusal leaves the request to the route, which answers why (401, 403, 400, 426).
        let organization: OrganizationID
        let clinician: PublicKey
        do {
            let params = try EventStream.query(of: target)
            let caller = try api.authenticate(request, body: [], record: false)
            try api.admit(caller, to: .clinician)
            organization = try api.alertOrganization(params, for: caller)
            clinician = caller.key
            _ = try api.authenticate(request, body: [], record: true)
        } catch { return .dontUpgrade }
        let alerts = hub.subscribe(organization: organization, clinician: clinician)   // before the 101 (see EventStream)
        return .upgrade([:]) { inbound, outbound, _ in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await _ in inbound {} }
                group.addTask {
                    for await delivery in alerts {
                        try await outbound.write(.text(String(decoding: try encoder.encode(Message(delivery.alert, escalation: delivery.escalation)), as: UTF8.self)))
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }
}

extension NodeAPI {
    /// The organisation whose alerts `caller` receives: their own (`organization=` may only name it).
    func alertOrganization(_ params: [String: String], for caller: Caller) throws(APIError) -> OrganizationID {
        guard let own = caller.clinicianOrganization else { throw Self.forbidden("only a hospital's clinician receives alerts") }
        if let named = params["organization"], named != own.value { throw Self.forbidden("a clinician receives their own organisation's alerts") }
        return own
    }
}
