import Foundation
import Hummingbird
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianRisk
import MeridianWorkers

/// A patient's own pages, and the clinicians' alert list.
extension NodeConsole {
    func accessesPage(_ viewer: Viewer) async throws -> Response {
        let patient = viewer.key
        let count = try Audit.head(of: patient, in: query.reader).count
        let first = count > 200 ? count - 200 : 0
        let entries = try Audit.byPatient(patient, start: first, limit: 200, in: query.reader).entries.reversed()
        try await recordView(viewer, standing: .patient, patients: [patient])
        let orgs = try organizations()
        let rows = entries.map { e -> [String] in
            let d = e.decision
            let country = orgs[e.organization]?.country.code ?? "?"
            let who = e.actor == patient ? "you" : (orgs[e.organization]?.name ?? e.organization.value)
            return [HTML.escape(e.time.iso8601), HTML.escape(who), HTML.escape(country), HTML.escape(e.kind.name),
                    HTML.escape(e.kind == .consoleView ? "audit trail" : e.category.name), HTML.escape("\(e.purpose.code) (\(e.purpose.display))"),
                    e.allowed ? "allowed" : "<strong>denied</strong> (\(HTML.escape(d.reason.code)))",
                    HTML.escape(d.transferBasis.map { "\($0.name) — \($0.legalReference)" } ?? "—"),
                    e.breakGlass ? "<strong class=\"bad\">BREAK-GLASS (emergency)</strong>" : "—",
                    HTML.link("/console/blocks/\(e.height)", String(e.height))]
        }
        let breakGlass = entries.filter(\.breakGlass).count
        let body = "<p>Every request for your data, allowed or denied, every disclosure, and every view of this trail, newest first\(count > 200 ? " (the latest 200 of \(count))" : "").</p>"
            + (breakGlass > 0 ? "<p class=\"error\" role=\"status\">\(breakGlass) emergency (break-glass) access\(breakGlass == 1 ? "" : "es") to your data: each is marked below.</p>" : "")
            + HTML.table(caption: "Who accessed my data", headers: ["Time", "Who", "Country", "Event", "Data", "Purpose", "Decision", "Legal basis", "Emergency", "Block"],
                         rows: rows, empty: "Nobody has asked for your data.")
            + witnessStatement(coveringHeight: entries.map(\.height).max() ?? 0)
        return ConsoleHeaders.html(layout(title: "Who accessed my data", viewer: viewer, body: body, current: "/console/me"))
    }

    func consentsPage(_ viewer: Viewer) throws -> Response {
        let consents = try query.consents(of: viewer.key).sorted { $0.grantedAt > $1.grantedAt }
        let node = publicAddress()
        var body = "<p>Your consents, current terms first, each with its earlier versions. Your wallet signs every change; this page never holds your key.</p>"
        if consents.isEmpty { body += "<p class=\"empty\">You have granted no consent.</p>" }
        for c in consents {
            let t = c.terms
            body += "<section class=\"consent\" aria-labelledby=\"c-\(c.id.hex.prefix(12))\"><h2 id=\"c-\(c.id.hex.prefix(12))\">Consent \(c.id.hex.prefix(12))… — \(HTML.escape(c.status.name))</h2>"
            body += HTML.facts([
                ("Hospitals", HTML.escape(t.grantees.map(\.value).joined(separator: ", "))),
                ("Data", HTML.escape(t.categories.map(\.name).joined(separator: ", "))),
                ("Purposes", HTML.escape(t.purposes.map(\.code).joined(separator: ", "))),
                ("Countries", HTML.escape(t.countries.map(\.code).joined(separator: ", "))),
                ("Valid", HTML.escape("\(t.validFrom.iso8601) to \(t.validUntil.iso8601)")),
                ("Emergency access", t.emergencyAccess ? "allowed" : "not allowed"),
                ("Policy contract", t.policy.map { "<code>\($0.contract.hex.prefix(16))…</code>" } ?? "none"),
                ("Version", "\(c.version), last changed \(HTML.escape(c.updatedAt.iso8601))"),
            ])
            let history = try query.consentHistory(of: c.id).sorted { $0.version > $1.version }
            if !history.isEmpty {
                body += HTML.table(caption: "Earlier versions of consent \(c.id.hex.prefix(12))…", headers: ["Version", "Changed", "Hospitals", "Data", "Purposes", "Countries", "Until"],
                                   rows: history.map { h in
                                       [String(h.version), HTML.escape(h.updatedAt.iso8601), HTML.escape(h.terms.grantees.map(\.value).joined(separator: ", ")),
                                        HTML.escape(h.terms.categories.map(\.name).joined(separator: ", ")), HTML.escape(h.terms.purposes.map(\.code).joined(separator: ", ")),
                                        HTML.escape(h.terms.countries.map(\.code).joined(separator: ", ")), HTML.escape(h.terms.validUntil.iso8601)]
                                   })
            }
            if c.status == .active {
                body += "<details><summary>Revoke this consent</summary><p>Your wallet signs the revocation; run:</p>"
                    + "<pre><code>meridian-wallet consent revoke \(c.id.hex) --node \(HTML.escape(node)) --keystore YOUR-WALLET.json</code></pre>"
                    + "<p>The consent shows as revoked here once the next block commits.</p></details>"
            }
            body += "</section>"
        }
        return ConsoleHeaders.html(layout(title: "My consents", viewer: viewer, body: body, current: "/console/me/consents"))
    }

    func devicesPage(_ viewer: Viewer) throws -> Response {
        let rows = try query.devices(of: viewer.key)
        let body = HTML.table(caption: "Devices paired to you", headers: ["Device", "Kind", "Paired"],
                              rows: rows.map { [HTML.short(Address($0.device).description, 24), HTML.escape($0.kind.name), HTML.escape($0.pairedAt.iso8601)] },
                              empty: "No device is paired to you.")
        return ConsoleHeaders.html(layout(title: "My devices", viewer: viewer, body: body, current: "/console/me/devices"))
    }

    func healthPage(_ viewer: Viewer) throws -> Response {
        var body = ""
        if let a = api.risk?.assessment(of: viewer.key) {
            body += "<h2>Latest NEWS2</h2>" + HTML.facts([
                ("Score", a.complete ? "<strong>\(a.score.total)</strong> (\(HTML.escape(a.score.band.name)) risk)"
                    : "<strong>incomplete</strong>: \(a.score.total) from the parameters measured (not a NEWS2 score)"), ("Time", HTML.escape(a.time.iso8601)),
                ("Contributing", HTML.escape(a.score.contributing.map { "\($0.0.name) \($0.1)" }.joined(separator: ", "))),
                ("Not measured", HTML.escape(a.missing.isEmpty ? "—" : a.missing.map { p in
                    a.expired[p].map { "\(p.name) (expired: \($0 / 60_000) min old)" } ?? p.name }.joined(separator: ", "))),
                ("Long-term risk", a.modelRisk.map { String(format: "%.1f %%", $0 * 100)
                    + " 10-year coronary heart disease risk (a Framingham-cohort model, AUC 0.75 on held-out data; not an acute signal, it raises no alert)" } ?? "not computed"),
            ])
        } else {
            body += "<p class=\"empty\">This node has no NEWS2 assessment of you.</p>"
        }
        let alerts = (try? api.assessmentStore?.alerts(patient: viewer.key, limit: 50)) ?? []
        body += "<h2>Alerts</h2>" + HTML.table(caption: "Alerts raised for you by this node", headers: ["Time", "Why", "NEWS2", "Sent to"],
                                               rows: (alerts ?? []).map { a in
                                                   [HTML.escape(a.time.iso8601), HTML.escape(a.reasons.names.joined(separator: ", ")), "\(a.score.total) (\(HTML.escape(a.score.band.name)))",
                                                    HTML.escape(a.recipients.map(\.value).joined(separator: ", "))]
                                               }, empty: "No alert.")
        return ConsoleHeaders.html(layout(title: "My health", viewer: viewer, body: body, current: "/console/me/health"))
    }

    /// A clinician's alerts: those this node raised for patients whose consent covers the
    /// clinician's hospital (the deliveries on the trail), newest first; new ones arrive live. Each
    /// says who acknowledged it for the hospital, or offers to acknowledge it.
    func alertsPage(_ viewer: Viewer, _ request: Request) throws -> Response {
        guard let org = viewer.clinicianOrganization else { throw ConsoleError(.forbidden, "Not for your role", "Alerts are for clinicians.") }
        let count = try Audit.entryCount(org, in: query.reader)
        let start = count > 2000 ? count - 2000 : 0
        let deliveries = try Audit.byOrganization(org, start: start, limit: 1000, in: query.reader).entries
            .filter { $0.kind == .alertDelivery && $0.allowed }.suffix(50).reversed()
        var rows: [[String]] = []
        var stored: [PublicKey: [AlertRecord]] = [:]  // each patient's alerts read once
        for d in deliveries {
            if stored[d.patient] == nil { stored[d.patient] = ((try? api.assessmentStore?.alerts(patient: d.patient, limit: 200)) ?? nil) ?? [] }
            guard let hash = d.record, let a = stored[d.patient]?.first(where: { $0.hash == hash }) else { continue }
            let acknowledged = try Audit.acknowledgement(of: hash, by: org, in: query.reader)
            let status = acknowledged.map { "Acknowledged by " + HTML.short(Address($0.clinician).description, 16) + " at " + HTML.escape($0.time.iso8601) }
                ?? Self.acknowledgeForm(patient: d.patient, alert: hash, token: viewer.session.formToken)
            rows.append(Self.alertCells(a).map(HTML.escape) + [status])
        }
        var notice = ""
        if let hex = request.uri.queryParameters.get("acknowledged"), let hash = Bytes32(hex: hex) {
            notice = try Audit.acknowledgement(of: hash, by: org, in: query.reader) == nil
                ? "<p class=\"notice\" role=\"status\">Your acknowledgement of alert \(HTML.short(hash.hex)) is on its way to the chain; it shows here once in a block.</p>"
                : "<p class=\"notice\" role=\"status\">Alert \(HTML.short(hash.hex)) is acknowledged.</p>"
        }
        let body = notice + "<p>Alerts for patients whose consent covers \(HTML.escape(org.value)), raised by this node's risk worker. New alerts appear at the top as they are raised (with JavaScript). Acknowledging one goes on the patient's audit trail in your name; one acknowledgement per alert and hospital.</p>"
            + HTML.table(caption: "Alerts, newest first", headers: ["Time", "Patient", "Why", "NEWS2", "Contributing values", "Long-term risk: 10-year coronary heart disease (Framingham-cohort model, AUC 0.75 held out; not acute, raises no alert)", "Model", "Acknowledged"],
                         rows: rows, empty: "No alert yet.", liveBody: "alerts")
        return ConsoleHeaders.html(layout(title: "Alerts", viewer: viewer, body: body, live: "alerts", current: "/console/alerts"))
    }

    /// The form that acknowledges one alert (the live view builds the same form in the browser).
    static func acknowledgeForm(patient: PublicKey, alert: Bytes32, token: String) -> String {
        "<form method=\"post\" action=\"/console/alerts/acknowledge\" class=\"inline\">"
            + "<input type=\"hidden\" name=\"form\" value=\"\(HTML.escape(token))\">"
            + "<input type=\"hidden\" name=\"patient\" value=\"\(HTML.escape(Address(patient).description))\">"
            + "<input type=\"hidden\" name=\"alert\" value=\"\(alert.hex)\">"
            + "<button type=\"submit\">Acknowledge</button></form>"
    }

    struct AcknowledgeForm: Decodable { let form: String?; let patient: String; let alert: String }

    /// `POST /console/alerts/acknowledge`: the signed-in clinician acknowledges an alert delivered
    /// to their hospital. The node's worker submits it with the clinician's sign-in (through the
    /// disclosure log, synced, resubmitted until committed); the runtime checks it again.
    func acknowledgeAlert(_ request: Request, _ viewer: Viewer) async throws -> Response {
        let fields = try await form(AcknowledgeForm.self, request)
        guard fields.form == viewer.session.formToken else { throw ConsoleError(.forbidden, "Form expired", "Reload the page and acknowledge again.") }
        guard let org = viewer.clinicianOrganization else { throw ConsoleError(.forbidden, "Not for your role", "Alerts are acknowledged by clinicians.") }
        guard let patient = Address(fields.patient)?.publicKey, let alert = Bytes32(hex: fields.alert) else {
            throw ConsoleError(.badRequest, "Malformed form", "The form names no valid patient address and alert hash; reload the page.")
        }
        // Delivered: on chain, or raised here for this hospital with its delivery record still on
        // its way (the worker's earlier nonce puts that record in a block before this one).
        let onChain = try Audit.delivery(of: alert, to: org, in: query.reader)
        let raisedHere = try onChain == nil && (api.assessmentStore?.alerts(patient: patient, limit: 1000) ?? [])
            .contains { $0.hash == alert && $0.recipients.contains(org) }
        guard onChain?.patient == patient || raisedHere else {
            throw ConsoleError(.notFound, "No such alert", "Alert \(alert.hex.prefix(16))… was not delivered to \(org.value) for this patient.")
        }
        guard try Audit.acknowledgement(of: alert, by: org, in: query.reader) == nil else {
            return ConsoleHeaders.redirect("/console/alerts?acknowledged=\(alert.hex)")
        }
        guard let log = api.disclosures else {
            throw ConsoleError(.serviceUnavailable, "Could not acknowledge", "This node has no disclosure log to submit the acknowledgement through.")
        }
        let call = Call.acknowledgeAlertInConsole(ConsoleAlertAcknowledgement(clinician: viewer.key, signIn: viewer.session.signIn,
                                                                             acknowledgement: AlertAcknowledgement(patient: patient, alert: alert)))
        do { try log.record([call]) } catch {
            throw ConsoleError(.serviceUnavailable, "Could not acknowledge", "The acknowledgement could not be written (\(error)); try again.")
        }
        return ConsoleHeaders.redirect("/console/alerts?acknowledged=\(alert.hex)")
    }

    /// An alert's cells as text: the page escapes them, the live view sends them as they are.
    static func alertCells(_ a: AlertRecord, escalation: AlertHub.Escalation? = nil) -> [String] {
        let why = a.reasons.names.joined(separator: ", ")
        return [a.time.iso8601, Address(a.patient).description,
                escalation.map { "ESCALATED to you (step \($0.level) of \($0.organization.value)'s order, unacknowledged): " + why } ?? why,
                "\(a.score.total) (\(a.score.band.name))",
         a.score.contributing.map { "\($0.0.name) \($0.1)" }.joined(separator: ", "),
         a.modelProbability.map { String(format: "%.1f %%", $0 * 100) } ?? "—", a.modelProbability == nil ? "—" : String(a.modelHash.hex.prefix(12)) + "…"]
    }
}
