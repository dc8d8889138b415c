import Foundation
import Synchronization
import Testing
import MeridianTransparency
import Logging
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import NIOCore
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianDemo
@testable import MeridianNode

/// The console in process: the real router and sign-in flow on a demo node, the clock injected so
/// that expiry is tested without waiting.
@Suite(.timeLimit(.minutes(5))) struct ConsoleTests {
    final class Clock: Sendable {
        let now = Mutex(UInt64(Date().timeIntervalSince1970 * 1000))
        func advance(minutes: UInt64) { now.withLock { $0 += minutes * 60_000 } }
    }

    static let worker = DemoCast.staff("hospital-ribeira", "worker")

    func console(_ node: TestNode, clock: Clock) throws -> (NodeConsole, Router<NodeRequestContext>) {
        let api = node.api
        let c = try NodeConsole(api: api, workerKey: Self.worker, genesis: DemoCast.genesisSpec(), sessionMinutes: 60,
                                publicAddress: { "http://127.0.0.1:0" }, clock: { clock.now.withLock { $0 } })
        let router = api.router()
        c.add(to: router)
        return (c, router)
    }

    /// A demo node with the start of Maria's story committed, its console on the router, and a client.
    func withConsole(clock: Clock = Clock(), _ body: @escaping @Sendable (TestNode, PrivateKey, NodeConsole, any TestClientProtocol) async throws -> Void) async throws {
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        let (console, router) = try console(node, clock: clock)
        try await Application(router: router).test(.router) { client in try await body(node, maria, console, client) }
    }

    struct Page { let status: HTTPResponse.Status; let headers: HTTPFields; let body: String }

    func get(_ client: some TestClientProtocol, _ uri: String, session: String? = nil) async throws -> Page {
        var headers: HTTPFields = [:]
        if let session { headers[.cookie] = "\(NodeConsole.sessionCookie)=\(session)" }
        return try await client.execute(uri: uri, method: .get, headers: headers) { r in Page(status: r.status, headers: r.headers, body: String(buffer: r.body)) }
    }

    /// The whole sign-in: a challenge, the person's signature, the browser's exchange. Returns the session token.
    func signIn(_ client: some TestClientProtocol, _ key: PrivateKey) async throws -> String {
        let page = try await get(client, "/console/sign-in")
        let code = try #require(page.body.firstMatch(of: /class="code" aria-label="Sign-in code">([0-9A-Z-]{14})</)?.1).description
        #expect(ConsoleSignIn.isCode(code) && !ConsoleSignIn.isCode(code.lowercased()) && !ConsoleSignIn.isCode("IIII-LLLL-OOOO"))
        let secret = try #require(page.headers[values: .setCookie].first { $0.hasPrefix(NodeConsole.challengeCookie) }?
            .split(separator: ";").first?.split(separator: "=", maxSplits: 1).last).description
        let info = try await client.execute(uri: "/console/challenges/\(code)", method: .get) { r in
            try JSONDecoder().decode(NodeConsole.ChallengeInfo.self, from: Data(buffer: r.body))
        }
        let signature = try key.sign(ConsoleSignIn.message(chainID: info.chainID, code: code, audience: try PublicKey(hex: info.audience),
                                                             expires: Timestamp(unixMilliseconds: info.expires)))
        let answered = try await answer(client, code, key: key, signature: signature)
        #expect(answered == .ok)
        return try await client.execute(uri: "/console/sign-in", method: .post,
                                        headers: [.cookie: "\(NodeConsole.challengeCookie)=\(secret)", .contentType: "application/x-www-form-urlencoded"],
                                        body: ByteBuffer(string: "code=\(code)")) { r in
            #expect(r.status == .seeOther)
            let cookie = try #require(r.headers[values: .setCookie].first { $0.hasPrefix(NodeConsole.sessionCookie) })
            return String(cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)[1])
        }
    }

    func answer(_ client: some TestClientProtocol, _ code: String, key: PrivateKey, signature: Bytes64) async throws -> HTTPResponse.Status {
        let body = "{\"key\":\"\(Address(key.publicKey))\",\"signature\":\"\(signature.hex)\"}"
        return try await client.execute(uri: "/console/challenges/\(code)", method: .post, headers: [.contentType: "application/json"],
                                        body: ByteBuffer(string: body)) { $0.status }
    }

    /// The patient's and the regulator's pages state what the authorities' witnesses cosigned of what
    /// they show (issue 23): nothing before the first push, then the checkpoint and the authorities.
    @Test func theAccessesAndAuditPagesShowTheWitnessQuorum() async throws {
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        let (pt, ptLight) = try WitnessPusherTests.demoWitness("PT"), (de, deLight) = try WitnessPusherTests.demoWitness("DE")
        let transport = WitnessPusherTests.InProcess(["https://pt": (pt, ptLight), "https://de": (de, deLight)], store: node.chain.store)
        var logger = Logger(label: "console-witness-test"); logger.logLevel = .critical
        let query = node.chain.query
        let pusher = try WitnessPusher(witnesses: [WitnessEndpoint(url: "https://pt", vkey: pt.cosigner.key.encoded),
                                                   WitnessEndpoint(url: "https://de", vkey: de.cosigner.key.encoded)],
                                       store: node.chain.store, transport: transport, logger: logger, registered: { try Witnesses.all(in: query.reader) })
        var services = node.services
        services.witnesses = pusher
        let api = node.makeAPI(services: services)
        let clock = Clock()
        let console = try NodeConsole(api: api, workerKey: Self.worker, genesis: DemoCast.genesisSpec(), sessionMinutes: 60,
                                      publicAddress: { "http://127.0.0.1:0" }, clock: { clock.now.withLock { $0 } })
        let router = api.router()
        console.add(to: router)
        try await Application(router: router).test(.router) { client in
            let patient = try await signIn(client, maria)
            let before = try await get(client, "/console/me", session: patient)
            #expect(before.body.contains("no checkpoint of the audit log has been cosigned by the registered witnesses (dpa-ch, dpa-de, dpa-fr, dpa-pt)"), "\(before.body.suffix(600))")
            await pusher.pushHead()
            let after = try await get(client, "/console/me", session: patient)
            #expect(after.body.contains("is cosigned by 2 of the 4 authorities&#39; witnesses registered on chain (dpa-de, dpa-pt)")
                    || after.body.contains("is cosigned by 2 of the 4 authorities' witnesses registered on chain (dpa-de, dpa-pt)"), "\(after.body.suffix(600))")
            let regulator = try await signIn(client, DemoCast.regulator("PT"))
            let audit = try await get(client, "/console/audit", session: regulator)
            #expect(audit.body.contains("Witnessed: the audit log&#39;s checkpoint of") || audit.body.contains("Witnessed: the audit log's checkpoint of"), "\(audit.body.suffix(600))")
        }
    }

    @Test func everyRoleRouteNeedsASessionAndTheRightRole() async throws {
        try await withConsole { node, _, console, client in
            let guarded = console.routes().filter { if case .roles = $0.access { return $0.method == .get } else { return false } }
            #expect(guarded.count >= 14)
            let maria = try await signIn(client, DemoCast.patient("maria"))
            let regulator = try await signIn(client, DemoCast.regulator("PT"))
            for r in guarded {
                let uri = "/" + r.path.replacingOccurrences(of: ":height", with: "1").replacingOccurrences(of: ":hash", with: String(repeating: "0", count: 64))
                let anonymous = try await get(client, uri)
                #expect(anonymous.status == .unauthorized, "\(uri) without a session")
                #expect(anonymous.body.contains("Sign in"))
                let forged = try await get(client, uri, session: String(repeating: "ab", count: 32))
                #expect(forged.status == .unauthorized, "\(uri) with a made-up session")
                guard case .roles(let roles) = r.access else { continue }
                let asPatient = try await get(client, uri, session: maria)
                #expect((asPatient.status == .forbidden) == !roles.contains("patient"), "\(uri) as a patient: \(asPatient.status)")
                let asRegulator = try await get(client, uri, session: regulator)
                #expect((asRegulator.status == .forbidden) == !roles.contains("regulator"), "\(uri) as a regulator: \(asRegulator.status)")
            }
        }
    }

    @Test func signInRefusesForgedReplayedAndStolenAnswers() async throws {
        try await withConsole { node, maria, console, client in
            let page = try await get(client, "/console/sign-in")
            let code = try #require(page.body.firstMatch(of: /class="code" aria-label="Sign-in code">([0-9A-Z-]{14})</)?.1).description
            let maria = DemoCast.patient("maria")
            // Forged: a signature of something else, or by another key.
            #expect(try await answer(client, code, key: maria, signature: try maria.sign(SHA256.hash([1]))) == .forbidden)
            let info = try await client.execute(uri: "/console/challenges/\(code)", method: .get) { r in
                try JSONDecoder().decode(NodeConsole.ChallengeInfo.self, from: Data(buffer: r.body))
            }
            let message = ConsoleSignIn.message(chainID: info.chainID, code: code, audience: try PublicKey(hex: info.audience),
                                                expires: Timestamp(unixMilliseconds: info.expires))
            #expect(try await answer(client, code, key: maria, signature: try DemoCast.patient("hans").sign(message)) == .forbidden)
            // A key with no console role (a worker) is refused.
            #expect(try await answer(client, code, key: Self.worker, signature: try Self.worker.sign(message)) == .forbidden)
            // The real answer once; the same again is a replay.
            #expect(try await answer(client, code, key: maria, signature: try maria.sign(message)) == .ok)
            #expect(try await answer(client, code, key: maria, signature: try maria.sign(message)) == .conflict)
            // Another browser (without the challenge's cookie) cannot take the session.
            let stolen = try await client.execute(uri: "/console/sign-in", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                  body: ByteBuffer(string: "code=\(code)")) { $0.status }
            #expect(stolen == .forbidden)
            // An unknown code.
            #expect(try await answer(client, "AAAA-BBBB-CCCC", key: maria, signature: try maria.sign(message)) == .notFound)
            // Malformed answers.
            let malformed = try await client.execute(uri: "/console/challenges/\(code)", method: .post, headers: [.contentType: "application/json"],
                                                     body: ByteBuffer(string: "{\"key\": 5}")) { $0.status }
            #expect(malformed == .badRequest)
        }
    }

    @Test func anExpiredSessionIsRefused() async throws {
        let clock = Clock()
        try await withConsole(clock: clock) { node, maria, console, client in
            let session = try await signIn(client, DemoCast.patient("maria"))
            #expect(try await get(client, "/console/me/consents", session: session).status == .ok)
            // The session's end is signed: an hour after the challenge's five minutes at most.
            clock.advance(minutes: 66)
            let expired = try await get(client, "/console/me/consents", session: session)
            #expect(expired.status == .unauthorized)
            #expect(expired.body.contains("Session expired"))
        }
    }

    @Test func badQueriesAnswer4xx() async throws {
        try await withConsole { node, maria, console, client in
            let s = try await signIn(client, DemoCast.regulator("PT"))
            let cases: [(String, HTTPResponse.Status)] = [
                ("/console/audit?patient=" + String(repeating: "x", count: 3000), .uriTooLong),
                ("/console/audit?patient=" + String(repeating: "x", count: 300), .badRequest),
                ("/console/audit?patient=mer1nonsense", .badRequest),
                ("/console/audit?from=yesterday", .badRequest),
                ("/console/audit?from=2026-02-01&until=2026-01-01", .badRequest),
                ("/console/audit?purpose=SHOPPING", .badRequest),
                ("/console/audit?cursor=k00", .badRequest),
                ("/console/audit?limit=0", .badRequest),
                ("/console/audit?decision=maybe", .badRequest),
                ("/console/audit?nonsense=1", .badRequest),
                ("/console/audit?source=PT&source=DE", .badRequest),
                ("/console/blocks/999999", .notFound),
                ("/console/blocks/abc", .badRequest),
                ("/console/transactions/xyz", .badRequest),
                ("/console/blocks?before=-1", .badRequest),
            ]
            for (uri, status) in cases {
                let p = try await get(client, uri, session: s)
                #expect(p.status == status, "\(uri.prefix(60)): \(p.status)")
                #expect(p.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(p.body.contains("role=\"alert\""), "\(uri.prefix(60)) says what went wrong")
            }
            // What a query echoes is escaped.
            let p = try await get(client, "/console/audit?organization=%3Cscript%3E", session: s)
            #expect(!p.body.contains("<script>"))
        }
    }

    @Test func aRegulatorSeesItsJurisdictionAndItsViewsAreOnTheTrail() async throws {
        try await withConsole { node, maria, console, client in
            let pt = try await signIn(client, DemoCast.regulator("PT"))
            let page = try await get(client, "/console/audit?patient=\(Address(maria.publicKey))", session: pt)
            #expect(page.status == .ok)
            #expect(page.body.contains("sakura-general"))
            #expect(page.body.contains("✔ proven at"))
            // Spain is not concerned by Maria's PT→JP trail: nothing, and nothing said of what was withheld.
            let es = try await signIn(client, DemoCast.regulator("ES"))
            let none = try await get(client, "/console/audit?patient=\(Address(maria.publicKey))", session: es)
            #expect(none.body.contains("No entry on this page matches."))
            #expect(!none.body.contains("sakura-general"))
            #expect(!none.body.contains("Next page"))
            // The PT view went to the disclosure log; in the next block it is an entry of Maria's trail.
            try await node.commitDisclosures()
            let trail = try Audit.byPatient(maria.publicKey, in: node.chain.query.reader).entries
            let view = try #require(trail.last { $0.kind == .consoleView })
            #expect(view.purpose == .compliance)
            #expect(view.actor == DemoCast.regulator("PT").publicKey)
            #expect(view.organization.value == DemoCast.regulatorID("PT"))
            #expect(view.decision.reason == .allowedAsRegulator)
            // Paging one entry at a time walks the trail without a count of anything withheld.
            var cursor: String? = ""
            var rows = 0
            while let c = cursor {
                let p = try await get(client, "/console/audit?patient=\(Address(maria.publicKey))&limit=1" + (c.isEmpty ? "" : "&cursor=\(c)"), session: pt)
                rows += p.body.components(separatedBy: "✔ proven at").count - 1 + p.body.components(separatedBy: "awaiting finalisation").count - 1
                cursor = p.body.firstMatch(of: /cursor=(p[0-9]+)">Next page/).map { String($0.1) }
            }
            #expect(rows == trail.count)
        }
    }

    func post(_ client: some TestClientProtocol, _ uri: String, form: String, session: String? = nil) async throws -> Page {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let session { headers[.cookie] = "\(NodeConsole.sessionCookie)=\(session)" }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: form)) { r in
            Page(status: r.status, headers: r.headers, body: String(buffer: r.body))
        }
    }

    /// A clinician acknowledges an alert delivered to their hospital from the alerts page: only with
    /// their session's form token, only an alert delivered there; it reaches the trail in their
    /// name through the disclosure log, and the page then says who acknowledged it.
    @Test func aClinicianAcknowledgesAnAlertFromTheConsole() async throws {
        try await withConsole { node, maria, _, client in
            let vitals = ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.vitalSigns], purposes: [.treat],
                                      countries: [CountryCode("JP")!], explicitTransferCountries: [], validFrom: Timestamp(iso8601: "2026-01-01")!,
                                      validUntil: Timestamp(iso8601: "2030-01-01")!, emergencyAccess: false)
            try await node.submitNow(maria, .grantConsent(vitals))
            let alert = SHA256.hash(Array("a NEWS2 alert".utf8))
            let delivered = try await node.submitNow(Self.worker, .recordAlertDelivery(AlertDelivery(patient: maria.publicKey, recipient: OrganizationID("sakura-general")!,
                                                                                                    alert: alert, purpose: .treat)))
            #expect(delivered.decision?.allowed == true, "\(String(describing: delivered.error))")
            let clinician = DemoCast.staff("sakura-general", "clinician")
            let session = try await signIn(client, clinician)
            let home = try await get(client, "/console", session: session)
            let token = try #require(home.body.firstMatch(of: /name="form" value="([0-9a-f]+)"/)?.1).description
            let m = Address(maria.publicKey).description
            let uri = "/console/alerts/acknowledge"
            #expect(try await post(client, uri, form: "form=\(token)&patient=\(m)&alert=\(alert.hex)").status == .unauthorized)
            #expect(try await post(client, uri, form: "form=\(token)&patient=\(m)&alert=\(alert.hex)", session: try await signIn(client, maria)).status == .forbidden)
            #expect(try await post(client, uri, form: "form=wrong&patient=\(m)&alert=\(alert.hex)", session: session).status == .forbidden)
            #expect(try await post(client, uri, form: "form=\(token)&patient=\(m)&alert=xyz", session: session).status == .badRequest)
            #expect(try await post(client, uri, form: "form=\(token)&patient=\(m)&alert=\(SHA256.hash([9]).hex)", session: session).status == .notFound)
            #expect(try node.disclosures.pendingCount() == 0, "a refused acknowledgement logs nothing")
            let done = try await post(client, uri, form: "form=\(token)&patient=\(m)&alert=\(alert.hex)", session: session)
            #expect(done.status == .seeOther && done.headers[.location] == "/console/alerts?acknowledged=\(alert.hex)")
            #expect(try node.disclosures.pendingCount() == 1, "logged before the answer")
            let pending = try await get(client, "/console/alerts?acknowledged=\(alert.hex)", session: session)
            #expect(pending.status == .ok && pending.body.contains("on its way to the chain"), "\(pending.body.prefix(400))")
            let receipts = try await node.commitDisclosures()
            #expect(receipts.count == 1 && receipts.allSatisfy(\.succeeded), "\(receipts.map { String(describing: $0.error) })")
            let record = try Audit.acknowledgement(of: alert, by: OrganizationID("sakura-general")!, in: node.chain.query.reader)
            #expect(record?.clinician == clinician.publicKey)
            let e = try #require(try Audit.byPatient(maria.publicKey, in: node.chain.query.reader).entries.last)
            #expect(e.kind == .alertAcknowledgement && e.actor == clinician.publicKey && e.record == alert)
            let after = try await get(client, "/console/alerts?acknowledged=\(alert.hex)", session: session)
            #expect(after.body.contains("is acknowledged"))
            // Again: nothing new is logged.
            #expect(try await post(client, uri, form: "form=\(token)&patient=\(m)&alert=\(alert.hex)", session: session).status == .seeOther)
            #expect(try node.disclosures.pendingCount() == 0)
        }
    }

    @Test func everyPageOfPersonalAuditDataIsItselfOnTheTrail() async throws {
        try await withConsole { node, maria, _, client in
            let regulator = try await signIn(client, DemoCast.regulator("PT"))
            let operatorSession = try await signIn(client, DemoCast.staff("hospital-ribeira", "admin"))
            let patient = try await signIn(client, maria)
            let m = Address(maria.publicKey)
            let pages: [(String, String, PurposeOfUse, PublicKey)] = [
                ("/console/audit?patient=\(m)", regulator, .compliance, DemoCast.regulator("PT").publicKey),
                ("/console/audit/export.csv?patient=\(m)", regulator, .compliance, DemoCast.regulator("PT").publicKey),
                ("/console/audit/export.fhir.json?patient=\(m)", regulator, .compliance, DemoCast.regulator("PT").publicKey),
                ("/console/audit", operatorSession, .operations, DemoCast.staff("hospital-ribeira", "admin").publicKey),
                ("/console/me", patient, .patientRequest, maria.publicKey),
            ]
            for (uri, session, purpose, viewer) in pages {
                let before = try Audit.head(of: maria.publicKey, in: node.chain.query.reader).count
                #expect(try await get(client, uri, session: session).status == .ok)
                #expect(try node.disclosures.pendingCount() == 1, "\(uri): logged before the page was sent")
                try await node.commitDisclosures()
                #expect(try node.disclosures.pendingCount() == 0, "\(uri): dropped from the log once committed")
                let trail = try Audit.byPatient(maria.publicKey, start: before, in: node.chain.query.reader).entries
                #expect(trail.count == 1, "\(uri): one entry for the view")
                #expect(trail.first?.kind == .consoleView && trail.first?.purpose == purpose && trail.first?.actor == viewer, "\(uri)")
            }
            // Pages without personal audit data record nothing.
            let before = try Audit.head(of: maria.publicKey, in: node.chain.query.reader).count
            for uri in ["/console/network", "/console/audit/reports", "/console/governance"] {
                #expect(try await get(client, uri, session: regulator).status == .ok)
            }
            #expect(try await get(client, "/console/me/consents", session: patient).status == .ok)
            let tip = await node.chain.tip
            _ = try await node.chain.produceBlock(now: tip.time.adding(milliseconds: 1000))
            #expect(try Audit.head(of: maria.publicKey, in: node.chain.query.reader).count == before)
        }
    }

    @Test func exportsAreCSVAndAFHIRBundle() async throws {
        try await withConsole { node, maria, console, client in
            let pt = try await signIn(client, DemoCast.regulator("PT"))
            let csv = try await get(client, "/console/audit/export.csv?patient=\(Address(maria.publicKey))", session: pt)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = csv.body.split(separator: "\r\n")
            #expect(lines.first == Substring(AuditExport.csvHeader.joined(separator: ",")))
            #expect(lines.count >= 3)
            let bundle = try await get(client, "/console/audit/export.fhir.json?patient=\(Address(maria.publicKey))", session: pt)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(bundle.body.utf8)) as? [String: Any])
            #expect(json["resourceType"] as? String == "Bundle")
            #expect((json["entry"] as? [[String: Any]])?.count == lines.count - 1)
        }
        // A cell a spreadsheet would evaluate is neutralised; separators are quoted.
        #expect(CSV.field("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("plain") == "plain")
    }
}
