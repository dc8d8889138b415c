import Foundation
public import Hummingbird
public import HummingbirdWebSocket
import NIOCore
public import MeridianCore
public import MeridianModules

/// Which committed events a subscriber of `/v1/events` receives: any combination of one patient,
/// one organisation and a set of kinds (`audit.access`, `consent.changed`, ...). Parsed from the
/// query string; a bad filter is refused before the upgrade with a 400.
public struct EventFilter: Sendable, Equatable {
    public var patient: PublicKey?
    public var organization: OrganizationID?
    public var kinds: Set<String>?

    public static let knownKinds: Set<String> = [
        "patient.registered", "device.paired", "device.unpaired", "member.changed", "consent.changed", "audit.access",
        "record.registered", "record.shared", "governance.proposal", "governance.vote", "consensus.evidence", "anchoring.anchored",
        "record.erased", "contract.deployed", "governance.key_rotation",
    ]

    public init(patient: PublicKey? = nil, organization: OrganizationID? = nil, kinds: Set<String>? = nil) {
        self.patient = patient; self.organization = organization; self.kinds = kinds
    }

    /// Parses `patient=<address>&organization=<id>&kind=a,b`.
    public init(query: [String: String]) throws(APIError) {
        if let p = query["patient"] {
            guard case .success(let a) = Address.parse(p) else { throw APIError.badRequest("address.invalid", "patient: not a Meridian address") }
            patient = a.publicKey
        }
        if let o = query["organization"] {
            guard let id = OrganizationID(o) else { throw APIError.badRequest("organization.invalid", "'\(o)' is not an organisation id") }
            organization = id
        }
        if let k = query["kind"] {
            let kinds = Set(k.split(separator: ",").map(String.init))
            guard !kinds.isEmpty, kinds.isSubset(of: Self.knownKinds) else {
                throw APIError.badRequest("event.unknown_kind", "kind: one or more of \(Self.knownKinds.sorted().joined(separator: ", "))")
            }
            self.kinds = kinds
        }
    }

    /// The organisation an event concerns, if any.
    static func organization(of event: RuntimeEvent) -> OrganizationID? {
        switch event {
        case .patientRegistered(_, let o), .memberChanged(let o, _, _), .accessRecorded(_, _, let o, _, _),
             .recordRegistered(_, _, let o), .recordShared(_, let o), .keyRotation(let o, _, _, _, _): o
        default: nil
        }
    }

    public func matches(_ event: RuntimeEvent) -> Bool {
        if let patient, event.patient != patient { return false }
        if let organization, Self.organization(of: event) != organization { return false }
        if let kinds, !kinds.contains(event.kind) { return false }
        return true
    }
}

/// The WebSocket stream of committed events at `/v1/events`: each committed event that matches the
/// subscriber's filter is sent as one JSON text message `{height, transaction, kind, patient, detail}`.
/// A subscriber's buffer is bounded by `EventHub.bufferPerSubscriber` (oldest events dropped for a
/// slow reader); anything the client sends is ignored, and its close ends the subscription.
enum EventStream {
    static let path = "/v1/events"

    struct Message: Encodable {
        let height: UInt64
        let transaction: String
        let kind: String
        let patient: String?
        let detail: [String: String]
    }

    /// The query parameters of a request target, the first of repeated names, at most 32.
    static func query(of target: String) throws(APIError) -> [String: String] {
        var out: [String: String] = [:]
        for item in URLComponents(string: target)?.queryItems ?? [] {
            guard out.count < 32 else { throw APIError.badRequest("parameter.too_many", "at most 32 query parameters") }
            if out[item.name] == nil { out[item.name] = item.value ?? "" }
        }
        return out
    }

    /// Decides the upgrade: only `/v1/events` with a valid filter upgrades; anything else goes on to
    /// the HTTP router (which answers a bad filter with 400 and a plain GET with 426).
    ///
    /// The upgrade request is signed like any API request (the route's rule, `auditReader`): a
    /// patient receives their own events, an operator its organisation's. The signature is checked
    /// without spending its nonce first; the nonce is spent only when the upgrade is granted, so a
    /// refused upgrade reaches the route, which answers why (401, 403 or 400).
    static func shouldUpgrade(_ request: HTTPRequest, api: NodeAPI, hub: EventHub) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard let target = request.path, URLComponents(string: target)?.path == path,
              let params = try? query(of: target),
              let caller = try? api.authenticate(request, body: [], record: false),
              (try? api.admit(caller, to: .auditReader)) != nil,
              let filter = try? api.eventFilter(params, for: caller),
              (try? api.authenticate(request, body: [], record: true)) != nil else { return .dontUpgrade }
        // Subscribed before the 101 goes out: a client that acts as soon as it is upgraded must
        // still receive what its action commits.
        let events = hub.subscribe()
        return .upgrade([:]) { inbound, outbound, _ in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Drain (and ignore) what the client sends; its end is the client's close.
                    for try await _ in inbound {}
                }
                group.addTask {
                    for await e in events where filter.matches(e.event) {
                        let view = JSONView.Event(e.event)
                        let message = Message(height: e.height, transaction: e.transaction.hex, kind: view.kind, patient: view.patient, detail: view.detail)
                        try await outbound.write(.text(String(decoding: try encoder.encode(message), as: UTF8.self)))
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }
}

extension NodeAPI {
    /// The events `caller` may receive: a patient their own (the filter may only narrow to them),
    /// an operator its organisation's. Regulators read the audit trail instead.
    func eventFilter(_ params: [String: String], for caller: Caller) throws(APIError) -> EventFilter {
        var f = try EventFilter(query: params)
        if caller.isPatient {
            guard f.patient == nil || f.patient == caller.key else { throw Self.forbidden("a patient receives their own events") }
            f.patient = caller.key
        } else if let own = caller.operatorOrganization {
            guard f.organization == nil || f.organization == own else { throw Self.forbidden("an operator receives its organisation's events") }
            f.organization = own
        } else {
            throw Self.forbidden("events stream to patients (their own) and operators (their organisation's)")
        }
        return f
    }
}
