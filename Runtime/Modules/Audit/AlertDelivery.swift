public import MeridianCore

/// A clinical alert from an off-chain risk worker delivered to one organisation: recorded on the
/// patient's audit trail in a transaction the worker signs. Only the alert's hash goes on chain
/// (the alert itself, with its scores, stays in the node's database and is anchored with the
/// worker's other results).
public struct AlertDelivery: Hashable, Sendable, Canonical {
    public let patient: PublicKey
    public let recipient: OrganizationID
    /// SHA-256 of the alert's canonical bytes (its anchored leaf).
    public let alert: Bytes32
    /// TREAT or ETREAT: the purpose the patient's consent covers the recipient for.
    public let purpose: PurposeOfUse

    public init(patient: PublicKey, recipient: OrganizationID, alert: Bytes32, purpose: PurposeOfUse) {
        self.patient = patient; self.recipient = recipient; self.alert = alert; self.purpose = purpose
    }
    public func encode(to w: inout CanonicalWriter) { w.write(patient); w.write(recipient); w.write(alert); w.write(purpose) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        patient = try r.read(PublicKey.self); recipient = try r.read(OrganizationID.self)
        alert = try r.readBytes32("alert.hash"); purpose = try r.read(PurposeOfUse.self)
    }
}

/// Who may receive a patient's clinical alerts: the hospitals a consent in force grants the
/// patient's vital signs for treatment or emergency treatment, with a lawful transfer from the
/// alerting hospital's country to theirs. The node decides delivery with it; the runtime checks
/// each delivery against it again in the block that records it.
public enum AlertRecipients {
    public static let purposes: [PurposeOfUse] = [.treat, .emergencyTreatment]
    public static let category = DataCategory.vitalSigns

    /// The organisations covered, each with the purpose and decision that cover it.
    public static func covered(patient: PublicKey, source: OrganizationID, at time: Timestamp,
                               in s: some StateReader) throws(RuntimeError) -> [(organization: OrganizationID, purpose: PurposeOfUse, decision: AccessDecision)] {
        guard let origin = try Identity.organization(source, in: s) else { return [] }
        let rule = try Jurisdictions.rule(governing: origin.country, in: s)
        var out: [(OrganizationID, PurposeOfUse, AccessDecision)] = []
        var seen: Set<OrganizationID> = []
        for c in try Consent.activeConsents(of: patient, in: s) where c.isInForce(at: time) && c.terms.categories.contains(category) {
            for purpose in purposes where c.terms.purposes.contains(purpose) {
                for grantee in c.terms.grantees where !seen.contains(grantee) {
                    guard let org = try Identity.organization(grantee, in: s), org.kind == .hospital,
                          c.terms.countries.contains(org.country),
                          let basis = Jurisdictions.transferBasis(from: origin.country, to: org.country, rule: rule,
                                                                  explicitConsent: c.terms.explicitTransferCountries.contains(org.country),
                                                                  emergencyAllowed: purpose == .emergencyTreatment && c.terms.emergencyAccess)
                    else { continue }
                    seen.insert(grantee)
                    out.append((grantee, purpose, AccessDecision(reason: .allowedByConsent, consent: c.id, transferBasis: basis,
                                                                 requesterOrganization: grantee, sourceCountry: origin.country,
                                                                 destinationCountry: org.country)))
                }
            }
        }
        return out
    }
}

extension Audit {
    /// Records an alert delivery. The signer must hold the `worker` role; the recipient must still
    /// be covered at the block's time. A recipient no longer covered (consent revoked since the node
    /// delivered) is recorded as denied, so the trail shows it: every delivery, allowed or not, is an entry.
    public static func recordAlertDelivery(_ d: AlertDelivery, _ ctx: ExecutionContext) throws(RuntimeError) -> AccessDecision {
        guard let member = try Identity.member(ctx.signer, in: ctx.view), member.has(.worker) else {
            throw RuntimeError("alert.not_a_worker", "\(Address(ctx.signer)) has no worker role: only an organisation's workers deliver alerts")
        }
        guard try Identity.patient(d.patient, in: ctx.view) != nil else { throw RuntimeError("alert.unknown_patient", "no patient \(Address(d.patient))") }
        guard try Identity.organization(d.recipient, in: ctx.view) != nil else { throw RuntimeError("alert.unknown_recipient", "no organisation \(d.recipient)") }
        guard AlertRecipients.purposes.contains(d.purpose) else {
            throw RuntimeError("alert.purpose", "alerts are delivered for TREAT or ETREAT, not \(d.purpose.code)")
        }
        let covered = try AlertRecipients.covered(patient: d.patient, source: member.organization, at: ctx.time, in: ctx.view)
        let decision = covered.first { $0.organization == d.recipient }?.decision
            ?? AccessDecision(reason: .noConsent, requesterOrganization: d.recipient)
        try record(kind: .alertDelivery, action: .create, actor: ctx.signer, organization: d.recipient, patient: d.patient,
                   record: d.alert, category: AlertRecipients.category, purpose: d.purpose, decision: decision, breakGlass: false, ctx)
        if decision.allowed {
            // What lets the recipient's clinicians acknowledge it (`acknowledgeAlert`).
            ctx.write(deliveredKey(d.alert, d.recipient), AlertDeliveryRecord(patient: d.patient, purpose: d.purpose, decision: decision))
        }
        return decision
    }
}
