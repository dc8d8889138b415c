import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianWorkers

/// The web console at `/console`: server-rendered pages for regulators, hospital operators,
/// clinicians and patients, built on the node's committed state, its light client and its event
/// streams. It reads like the API (the `QueryService`), never writes state except the one thing a
/// view must do, recording itself on the audit trail (`ConsoleView`, signed by the node's worker),
/// and it has no route that answers personal audit data without that record.
struct NodeConsole: Sendable {
    let api: NodeAPI
    let sessions: ConsoleSessions
    let workerKey: PrivateKey
    let proofs: ProofChecker?
    let gossip: @Sendable ([UInt8]) -> Void
    let clock: @Sendable () -> UInt64
    /// How the node is reached (for the commands the sign-in page shows).
    let publicAddress: @Sendable () -> String
    static let maxQueryBytes = 2048
    static let maxValueBytes = 256
    static let pageSize = 50

    init(api: NodeAPI, workerKey: PrivateKey, genesis: GenesisSpec?, sessionMinutes: Int,
                gossip: @escaping @Sendable ([UInt8]) -> Void, publicAddress: @escaping @Sendable () -> String,
                clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }) throws {
        self.api = api; self.workerKey = workerKey; self.gossip = gossip; self.clock = clock; self.publicAddress = publicAddress
        sessions = ConsoleSessions(chainID: api.chainID, audience: workerKey.publicKey, sessionMinutes: sessionMinutes)
        proofs = try genesis.map { try ProofChecker(genesis: $0, query: api.query) }
    }

    var query: QueryService { api.query }

    // MARK: Routes

    /// Who may reach a route.
    enum Access: Sendable {
        /// Anyone: sign-in, the signing tools' challenge API, static assets.
        case open
        /// A signed-in person holding one of these roles now.
        case roles(Set<String>)
    }

    struct Route: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let access: Access
        /// Query parameter names the route accepts (any other is a 400).
        let parameters: Set<String>
        let handler: @Sendable (Request, BasicRequestContext, Viewer?) async throws -> Response
    }

    /// Every console route, in one table (the tests walk it: each route that is not `open`
    /// answers 401 without a session and 403 to the wrong role).
    func routes() -> [Route] {
        func page(_ path: String, _ access: Access, _ parameters: Set<String> = [],
                  _ h: @escaping @Sendable (Request, BasicRequestContext, Viewer?) async throws -> Response) -> Route {
            Route(method: .get, path: path, access: access, parameters: parameters, handler: h)
        }
        func post(_ path: String, _ access: Access, _ h: @escaping @Sendable (Request, BasicRequestContext, Viewer?) async throws -> Response) -> Route {
            Route(method: .post, path: path, access: access, parameters: [], handler: h)
        }
        let network: Access = .roles(["operator", "regulator"])
        let auditors: Access = .roles(["operator", "regulator"])
        return [
            page("console", .open) { r, _, v in try await home(r, v) },
            page("console/sign-in", .open) { r, _, _ in try signInPage(r) },
            post("console/sign-in", .open) { r, _, _ in try await completeSignIn(r) },
            post("console/sign-out", .open) { r, _, _ in try await signOut(r) },
            page("console/challenges/:code", .open) { _, c, _ in try challengeInfo(c.parameters.require("code")) },
            post("console/challenges/:code", .open) { r, c, _ in try await answerChallenge(r, c.parameters.require("code")) },
            page("console/assets/console.css", .open) { _, _, _ in ConsoleHeaders.file(Array(ConsoleAssets.css.utf8), contentType: "text/css; charset=utf-8") },
            page("console/assets/console.js", .open) { _, _, _ in ConsoleHeaders.file(Array(ConsoleAssets.script.utf8), contentType: "text/javascript; charset=utf-8") },
            page("console/network", network) { _, _, v in try await networkPage(v!) },
            page("console/blocks", network, ["before"]) { r, _, v in try blocksPage(v!, r) },
            page("console/blocks/:height", network) { _, c, v in try blockPage(v!, c.parameters.require("height")) },
            page("console/transactions/:hash", network) { _, c, v in try transactionPage(v!, c.parameters.require("hash")) },
            page("console/governance", network) { _, _, v in try governancePage(v!) },
            page("console/audit", auditors, AuditSearch.parameterNames) { r, _, v in try await auditPage(v!, r) },
            page("console/audit/export.csv", auditors, AuditSearch.parameterNames) { r, _, v in try await auditExport(v!, r, csv: true) },
            page("console/audit/export.fhir.json", auditors, AuditSearch.parameterNames) { r, _, v in try await auditExport(v!, r, csv: false) },
            page("console/audit/reports", auditors) { _, _, v in try reportsPage(v!) },
            page("console/me", .roles(["patient"])) { _, _, v in try await accessesPage(v!) },
            page("console/me/consents", .roles(["patient"])) { _, _, v in try consentsPage(v!) },
            page("console/me/devices", .roles(["patient"])) { _, _, v in try devicesPage(v!) },
            page("console/me/health", .roles(["patient"])) { _, _, v in try healthPage(v!) },
            page("console/alerts", .roles(["clinician"])) { _, _, v in try alertsPage(v!) },
        ]
    }

    func add(to router: Router<BasicRequestContext>) {
        for r in routes() {
            router.on(RouterPath(r.path), method: r.method) { request, context in
                await respond(r, request, context)
            }
        }
    }

    /// Runs a route: checks the query, the session and the role, then renders; every failure
    /// becomes an HTML page with its status (JSON for the signing tools' challenge API).
    func respond(_ route: Route, _ request: Request, _ context: BasicRequestContext) async -> Response {
        let wantsJSON = route.path.hasPrefix("console/challenges")
        do {
            try checkQuery(request, allowed: route.parameters)
            var viewer: Viewer?
            switch route.access {
            case .open:
                viewer = try? self.viewer(request)
            case .roles(let needed):
                guard let v = try self.viewer(request) else {
                    if route.method == .get, route.path == "console" { return ConsoleHeaders.redirect("/console/sign-in") }
                    throw ConsoleError(.unauthorized, "Sign in first", "This page needs a signed-in session.")
                }
                guard !needed.isDisjoint(with: v.roleNames) else {
                    throw ConsoleError(.forbidden, "Not for your role", "This page is for: \(needed.sorted().joined(separator: ", ")). You are signed in as \(v.roleNames.sorted().joined(separator: ", ")).")
                }
                viewer = v
            }
            return try await route.handler(request, context, viewer)
        } catch let e as ConsoleError {
            return wantsJSON ? jsonError(e) : errorPage(e, request: request)
        } catch let e as APIError {
            let c = ConsoleError(ConsoleError.HTTPStatusCode(rawValue: Int(e.status.code)) ?? .badRequest, "Bad request", e.message)
            return wantsJSON ? jsonError(c) : errorPage(c, request: request)
        } catch {
            let c = ConsoleError(.serviceUnavailable, "The node could not answer", "Try again; the node's log says why.")
            return wantsJSON ? jsonError(c) : errorPage(c, request: request)
        }
    }

    /// Rejects oversized query strings, oversized values, unknown names and repeated names.
    func checkQuery(_ request: Request, allowed: Set<String>) throws(ConsoleError) {
        let raw = request.uri.query ?? ""
        guard raw.utf8.count <= Self.maxQueryBytes else {
            throw ConsoleError(.uriTooLong, "Query too long", "The query string is over \(Self.maxQueryBytes) bytes.")
        }
        var seen: Set<String> = []
        for (k, v) in request.uri.queryParameters {
            let name = String(k)
            guard allowed.contains(name) else {
                throw ConsoleError(.badRequest, "Unknown parameter", "'\(name.prefix(40))' is not a parameter of this page.")
            }
            guard v.utf8.count <= Self.maxValueBytes else { throw ConsoleError(.badRequest, "Value too long", "\(name): over \(Self.maxValueBytes) bytes.") }
            guard seen.insert(name).inserted else { throw ConsoleError(.badRequest, "Repeated parameter", "\(name) is given twice.") }
        }
    }

    func parameters(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { out[String(k)] = String(v) }
        return out
    }

    // MARK: Viewer

    static let sessionCookie = "meridian_session"
    static let challengeCookie = "meridian_challenge"

    /// A signed-in person, with the roles they hold on chain now (read on every request: a member
    /// removed from their organisation loses the pages at once).
    struct Viewer: Sendable {
        let key: PublicKey
        let session: ConsoleSessions.Session
        let roles: [ConsoleRole]
        var roleNames: Set<String> { Set(roles.map(\.name)) }
        var regulator: (organization: OrganizationID, country: CountryCode)? {
            for r in roles { if case .regulator(let o, let c) = r { return (o, c) } }
            return nil
        }
        var operatorOrganization: OrganizationID? {
            for r in roles { if case .hospitalOperator(let o) = r { return o } }
            return nil
        }
        var clinicianOrganization: OrganizationID? {
            for r in roles { if case .clinician(let o) = r { return o } }
            return nil
        }
    }

    func viewer(_ request: Request) throws(ConsoleError) -> Viewer? {
        try viewer(token: request.cookies[Self.sessionCookie]?.value)
    }

    func viewer(token: String?) throws(ConsoleError) -> Viewer? {
        switch sessions.session(token, now: clock()) {
        case .none: return nil
        case .expired: throw ConsoleError(.unauthorized, "Session expired", "Your session has ended: sign in again.")
        case .valid(let s):
            let roles = (try? ConsoleRole.roles(of: s.key, in: query.reader)) ?? []
            guard !roles.isEmpty else { throw ConsoleError(.forbidden, "No console role", "\(Address(s.key)) holds no role on chain that the console serves.") }
            return Viewer(key: s.key, session: s, roles: roles)
        }
    }

    // MARK: Recording views

    /// Records that `viewer` is being shown these patients' audit data. The page is served only
    /// if the record was admitted (it then reaches the next block like any transaction).
    func recordView(_ viewer: Viewer, standing: ConsoleView.Standing, patients: Set<PublicKey>) async throws {
        guard !patients.isEmpty else { return }
        let sorted = patients.sorted()
        var i = 0
        while i < sorted.count {
            let chunk = Array(sorted[i..<min(i + ConsoleView.maxPatients, sorted.count)])
            let view = ConsoleView(viewer: viewer.key, standing: standing, signIn: viewer.session.signIn, patients: chunk)
            guard let bytes = await api.chain.submit(.recordConsoleView(view), signer: workerKey) else {
                throw ConsoleError(.serviceUnavailable, "Could not record this view",
                                   "Every view of personal audit data goes on the audit trail, and this one could not be submitted (the mempool may be full). Nothing was shown; try again.")
            }
            gossip(bytes)
            i += ConsoleView.maxPatients
        }
    }

    // MARK: Pages shared

    func organizations() throws -> [OrganizationID: Organization] {
        let rows = try query.store.stateStorage.scan(prefix: Identity.organizationsPrefix, from: nil, limit: 10_000)
        var out: [OrganizationID: Organization] = [:]
        for row in rows { if let o = try? Organization(trustedCanonicalBytes: row.value) { out[o.id] = o } }
        return out
    }

    func jsonError(_ e: ConsoleError) -> Response {
        let body = (try? JSONSerialization.data(withJSONObject: ["error": ["code": "console.\(e.status.rawValue)", "title": e.title, "message": e.detail]], options: [.sortedKeys])) ?? Data()
        return Response(status: HTTPResponse.Status(code: e.status.rawValue), headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: [UInt8](body))))
    }

    func errorPage(_ e: ConsoleError, request: Request) -> Response {
        let v = try? viewer(request)
        let next = e.status == .unauthorized ? "<p>\(HTML.link("/console/sign-in", "Sign in"))</p>" : "<p>\(HTML.link("/console", "Back to the console"))</p>"
        let body = "<p class=\"error\" role=\"alert\">\(HTML.escape(e.detail))</p>" + next
        var extra: [HTTPField] = []
        if e.status == .unauthorized { extra.append(ConsoleHeaders.cookie(Self.sessionCookie, "", maxAge: 0)) }
        return ConsoleHeaders.html(layout(title: "\(e.status.rawValue) \(e.title)", viewer: v ?? nil, body: body), status: HTTPResponse.Status(code: e.status.rawValue), extra: extra)
    }

    /// The page frame: skip link, navigation for the viewer's roles, the main content.
    func layout(title: String, viewer: Viewer?, body: String, live: String? = nil, current: String = "") -> String {
        var nav: [(String, String)] = []
        if let viewer {
            let r = viewer.roleNames
            if !r.isDisjoint(with: ["operator", "regulator"]) {
                nav += [("/console/network", "Network"), ("/console/blocks", "Blocks"), ("/console/governance", "Governance"),
                        ("/console/audit", "Audit"), ("/console/audit/reports", "Reports")]
            }
            if r.contains("patient") {
                nav += [("/console/me", "Who accessed my data"), ("/console/me/consents", "Consents"), ("/console/me/devices", "Devices"), ("/console/me/health", "Health")]
            }
            if r.contains("clinician") { nav += [("/console/alerts", "Alerts")] }
        }
        let links = nav.map { href, text in
            "<li><a href=\"\(href)\"\(href == current ? " aria-current=\"page\"" : "")>\(HTML.escape(text))</a></li>"
        }.joined()
        var who = ""
        if let viewer {
            who = "<div class=\"who\"><span>Signed in: <code>\(HTML.escape(Address(viewer.key).description))</code> (\(HTML.escape(viewer.roleNames.sorted().joined(separator: ", "))))</span>"
                + "<form method=\"post\" action=\"/console/sign-out\"><input type=\"hidden\" name=\"form\" value=\"\(viewer.session.formToken)\"><button type=\"submit\">Sign out</button></form></div>"
        }
        let script = live.map { "<script src=\"/console/assets/console.js\" defer></script><meta name=\"meridian-live\" content=\"\(HTML.escape($0))\">" } ?? ""
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTML.escape(title)) · Meridian console</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/console/assets/console.css">\(script)</head>
        <body><a class="skip" href="#main">Skip to content</a>
        <header><p class="brand"><a href="/console">Meridian</a> <span>\(HTML.escape(api.chainID))</span></p>\(who)
        <nav aria-label="Console"><ul>\(links)</ul></nav></header>
        <main id="main" tabindex="-1"><h1>\(HTML.escape(title))</h1>
        \(body)
        </main><footer><p>Served by this node from its committed state. Every view of personal audit data is itself an audit entry.</p></footer></body></html>
        """
    }
}
