public import MeridianCore

/// A hospital's escalation order for the clinical alerts delivered to it: when a high alert stays
/// unacknowledged by the hospital for `afterSeconds`, the node that raised it sends it on to the
/// first clinician of the list; after another `afterSeconds`, to the second; and so on to the last.
/// Set by the hospital's admin; the clinicians named must be its providers (keys already on chain
/// as members: nothing here names a person). An empty list removes the order.
public struct AlertEscalation: Hashable, Sendable, Canonical {
    public static let maxRecipients = 8
    /// The delay's bounds: at least 30 s (no paging storm), at most a day.
    public static let delayRange: ClosedRange<UInt32> = 30...86_400

    /// Who is next, in order.
    public let recipients: [PublicKey]
    public let afterSeconds: UInt32

    public init(recipients: [PublicKey], afterSeconds: UInt32) { self.recipients = recipients; self.afterSeconds = afterSeconds }

    public func encode(to w: inout CanonicalWriter) { w.write(recipients); w.write(afterSeconds) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        recipients = try r.readArray(PublicKey.self, "escalation.recipients", max: Self.maxRecipients)
        afterSeconds = try r.readUInt32("escalation.after_seconds")
    }

    /// How many steps an alert raised at `raised` has escalated by `now` (0 before the first delay
    /// has passed; at most the number of recipients).
    public func level(raised: Timestamp, now: Timestamp) -> Int {
        guard now.unixMilliseconds > raised.unixMilliseconds, afterSeconds > 0 else { return 0 }
        let steps = (now.unixMilliseconds - raised.unixMilliseconds) / (UInt64(afterSeconds) * 1000)
        return Int(min(steps, UInt64(recipients.count)))
    }
}

extension Audit {
    static func escalationKey(_ org: OrganizationID) -> StateKey { StateKey("alerts/escalation").appending(org.value) }

    /// `org`'s escalation order, if it set one.
    public static func escalation(of org: OrganizationID, in s: some StateReader) throws(RuntimeError) -> AlertEscalation? {
        try s.read(AlertEscalation.self, escalationKey(org))
    }

    /// A hospital's admin sets (or, with no recipients, removes) its escalation order.
    public static func setAlertEscalation(_ e: AlertEscalation, _ ctx: ExecutionContext) throws(RuntimeError) {
        let admin = try Identity.requireMember(ctx, role: .admin)
        guard let org = try Identity.organization(admin.organization, in: ctx.view), org.kind == .hospital else {
            throw RuntimeError("alert.escalation_not_a_hospital", "only a hospital's admin sets an alert escalation order")
        }
        guard !e.recipients.isEmpty else { ctx.delete(escalationKey(admin.organization)); return }
        guard AlertEscalation.delayRange.contains(e.afterSeconds) else {
            throw RuntimeError("alert.escalation_delay", "the delay must be \(AlertEscalation.delayRange.lowerBound)–\(AlertEscalation.delayRange.upperBound) seconds")
        }
        guard Set(e.recipients).count == e.recipients.count else {
            throw RuntimeError("alert.escalation_duplicate", "a clinician appears twice in the escalation order")
        }
        for k in e.recipients {
            guard let m = try Identity.member(k, in: ctx.view), m.organization == admin.organization, m.has(.provider) else {
                throw RuntimeError("alert.escalation_recipient", "\(Address(k)) is not a clinician (provider) of \(admin.organization.value)")
            }
        }
        ctx.write(escalationKey(admin.organization), e)
    }
}
