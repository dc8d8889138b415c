import Foundation
public import Hummingbird
public import HummingbirdWebSocket
import NIOCore
public import MeridianCore
public import MeridianModules
import MeridianRisk
public import MeridianWorkers
import MeridianRuntime

/// The WebSocket stream of clinical alerts at `/v1/alerts`: a member of an organisation subscribes
/// for it and receives, as JSON text messages, the alerts addressed to it (the patient's consent
/// covers it for TREAT or ETREAT), and nothing else. The subscriber proves membership in the
/// upgrade request: `organization`, `key` (its address), `time` (Unix milliseconds, within five
/// minutes of the node's clock) and `signature`, a BIP-340 signature with that key of
/// `subscriptionHash(organization, time)`. A bad or missing proof is refused before the upgrade.
public enum AlertStream {
    static let path = "/v1/alerts"
    public static let maxClockSkewMilliseconds: UInt64 = 5 * 60_000

    /// What the subscriber signs.
    public static func subscriptionHash(organization: OrganizationID, time: UInt64) -> Bytes32 {
        SHA256.tagged("meridian/alert-subscription", Array("\(organization.value)|\(time)".utf8))
    }

    /// The query string of a subscription, signed with `key`.
    public static func query(organization: OrganizationID, key: PrivateKey, time: UInt64) throws -> String {
        let signature = try key.sign(subscriptionHash(organization: organization, time: time))
        return "organization=\(organization.value)&key=\(Address(key.publicKey))&time=\(time)&signature=\(signature.hex)"
    }

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
        struct Contribution: Encodable { let parameter: String; let score: Int }

        init(_ a: AlertRecord) {
            alert = a.hash.hex; patient = Address(a.patient).description; time = a.time.iso8601; reasons = a.reasons.names
            news2 = a.score.total; band = a.score.band.name
            contributing = a.score.contributing.map { Contribution(parameter: $0.0.name, score: $0.1) }
            modelRisk = a.modelProbability; modelHash = a.modelProbability == nil ? nil : a.modelHash.hex
            scoringVersion = a.scoringVersion; recipients = a.recipients.map(\.value)
        }
    }

    /// The organisation a request target proves membership of, or nil.
    public static func subscriber(_ target: String, reader: some StateReader, now: UInt64) -> OrganizationID? {
        guard let query = try? EventStream.query(of: target),
              let org = query["organization"].flatMap(OrganizationID.init),
              let keyText = query["key"], case .success(let address) = Address.parse(keyText),
              let time = query["time"].flatMap(UInt64.init),
              let signature = query["signature"].flatMap({ Bytes64(hex: $0) }),
              (time > now ? time - now : now - time) <= maxClockSkewMilliseconds,
              address.publicKey.verify(signature, message: subscriptionHash(organization: org, time: time)),
              let member = (try? Identity.member(address.publicKey, in: reader)) ?? nil,
              member.organization == org
        else { return nil }
        return org
    }

    /// Upgrades `/v1/alerts` for a proven member; anything else goes on (to the event stream's decision).
    static func shouldUpgrade(_ request: HTTPRequest, hub: AlertHub, query: QueryService) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>? {
        guard let target = request.path, URLComponents(string: target)?.path == path else { return nil }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        guard let organization = subscriber(target, reader: query.reader, now: now) else { return .dontUpgrade }
        return .upgrade([:]) { inbound, outbound, _ in
            let alerts = hub.subscribe(organization: organization)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await _ in inbound {} }
                group.addTask {
                    for await delivery in alerts {
                        try await outbound.write(.text(String(decoding: try encoder.encode(Message(delivery.alert)), as: UTF8.self)))
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }
}
