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
    let clock: @Sendable () -> UInt64
    /// How the node is reached (for the commands the sign-in page shows).
    let publicAddress: @Sendable () -> String
    /// Whether session cookies are `Secure` (the node serves HTTPS).
    var secureCookies: Bool { publicAddress().hasPrefix("https://") }
    static let maxQueryBytes = 2048
    static let maxValueBytes = 256
    static let pageSize = 50

    init(api: NodeAPI, workerKey: PrivateKey, genesis: GenesisSpec?, sessionMinutes: Int,
                publicAddress: @escaping @Sendable () -> String,
                clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }) throws {
        self.api = api; self.workerKey = workerKey; self.clock = clock; self.publicAddress = publicAddress
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
        let handler: @Sendable (Request, NodeRequestContext, Viewer?) async throws -> Response
    }

    /// Every console route, in one table (the tests walk it: each route that is not `open`
    /// answers 401 without a session and 403 to the wrong role).
    func routes() -> [Route] {
        typealias Handler = @Sendable (Request, NodeRequestContext, Viewer?) async throws -> Response
        func open(_ method: HTTPRequest.Method, _ path: String, _ h: @escaping Handler) -> Route {
            Route(method: method, path: path, access: .open, parameters: [], handler: h)
        }
        /// A page for these roles: `respond` has checked the session and the role before `h` runs.
        func page(_ path: String, _ roles: Set<String>, _ parameters: Set<String> = [],
                  _ h: @escaping @Sendable (Request, NodeRequestContext, Viewer) async throws -> Response) -> Route {
            Route(method: .get, path: path, access: .roles(roles), parameters: parameters) { r, c, v in
                guard let v else { throw ConsoleError(.unauthorized, "Sign in first", "This page needs a signed-in session.") }
                return try await h(r, c, v)
            }
        }
        /// A form's POST for these roles (each such form carries the session's form token).
        func action(_ path: String, _ roles: Set<String>,
                    _ h: @escaping @Sendable (Request, NodeRequestContext, Viewer) async throws -> Response) -> Route {
            Route(method: .post, path: path, access: .roles(roles), parameters: []) { r, c, v in
                guard let v else { throw ConsoleError(.unauthorized, "Sign in first", "This action needs a signed-in session.") }
                return try await h(r, c, v)
            }
        }
        let oversight: Set<String> = ["operator", "regulator"]
        return [
            open(.get, "console") { r, _, v in try await home(r, v) },
            open(.get, "console/sign-in") { r, _, _ in try signInPage(r) },
            open(.post, "console/sign-in") { r, _, _ in try await completeSignIn(r) },
            open(.post, "console/sign-out") { r, _, _ in try await signOut(r) },
            open(.get, "console/challenges/:code") { _, c, _ in try challengeInfo(c.parameters.require("code")) },
            open(.post, "console/challenges/:code") { r, c, _ in try await answerChallenge(r, c.parameters.require("code")) },
            open(.get, "console/assets/console.css") { _, _, _ in ConsoleHeaders.file(Array(ConsoleAssets.css.utf8), contentType: "text/css; charset=utf-8") },
            open(.get, "console/assets/console.js") { _, _, _ in ConsoleHeaders.file(Array(ConsoleAssets.script.utf8), contentType: "text/javascript; charset=utf-8") },
            page("console/network", oversight) { _, _, v in try await networkPage(v) },
            page("console/blocks", oversight, ["before"]) { r, _, v in try blocksPage(v, r) },
            page("console/blocks/:height", oversight) { _, c, v in try blockPage(v, c.parameters.require("height")) },
            page("console/transactions/:hash", oversight) { _, c, v in try transactionPage(v, c.parameters.require("hash")) },
            page("console/governance", oversight) { _, _, v in try governancePage(v) },
            page("console/audit", oversight, AuditSearch.parameterNames) { r, _, v in try await auditPage(v, r) },
            page("console/audit/export.csv", oversight, AuditSearch.parameterNames) { r, _, v in try await auditExport(v, r, csv: true) },
            page("console/audit/export.fhir.json", oversight, AuditSearch.parameterNames) { r, _, v in try await auditExport(v, r, csv: false) },
            page("console/audit/reports", oversight) { _, _, v in try reportsPage(v) },
            page("console/me", ["patient"]) { _, _, v in try await accessesPage(v) },
            page("console/me/consents", ["patient"]) { _, _, v in try consentsPage(v) },
            page("console/me/devices", ["patient"]) { _, _, v in try devicesPage(v) },
            page("console/me/health", ["patient"]) { _, _, v in try healthPage(v) },
            page("console/alerts", ["clinician"], ["acknowledged"]) { r, _, v in try alertsPage(v, r) },
            action("console/alerts/acknowledge", ["clinician"]) { r, _, v in try await acknowledgeAlert(r, v) },
        ]
    }

    func add(to router: Router<NodeRequestContext>) {
        for r in routes() {
            router.on(RouterPath(r.path), method: r.method) { request, context in
                try await respond(r, request, context)
            }
        }
    }

    /// Runs a route: checks the query, the session and the role, then renders; every failure
    /// becomes an HTML page with its status. The signing tools' challenge API answers errors as the
    /// node's API does (`APIError`, rendered as JSON by the router's `JSONErrorMiddleware`).
    func respond(_ route: Route, _ request: Request, _ context: NodeRequestContext) async throws -> Response {
        do {
            try checkQuery(request, allowed: route.parameters)
            var viewer: Viewer?
            switch route.access {
            case .open:
                viewer = try? self.viewer(request)
            case .roles(let needed):
                guard let v = try self.viewer(request) else { throw ConsoleError(.unauthorized, "Sign in first", "This page needs a signed-in session.") }
                guard !needed.isDisjoint(with: v.roleNames) else {
                    throw ConsoleError(.forbidden, "Not for your role", "This page is for: \(needed.sorted().joined(separator: ", ")). You are signed in as \(v.roleNames.sorted().joined(separator: ", ")).")
                }
                viewer = v
            }
            return try await route.handler(request, context, viewer)
        } catch {
            let e: ConsoleError
            switch error {
            case let c as ConsoleError: e = c
            case let a as APIError: e = ConsoleError(a.status, "Bad request", a.message)
            default: e = ConsoleError(.serviceUnavailable, "The node could not answer", "Try again; the node's log says why.")
            }
            if route.path.hasPrefix("console/challenges") { throw APIError(e.status, "console.\(e.status.code)", "\(e.title): \(e.detail)") }
            return errorPage(e, request: request)
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
        var calls: [Call] = []
        var i = 0
        while i < sorted.count {
            let chunk = Array(sorted[i..<min(i + ConsoleView.maxPatients, sorted.count)])
            calls.append(.recordConsoleView(ConsoleView(viewer: viewer.key, standing: standing, signIn: viewer.session.signIn, patients: chunk)))
            i += ConsoleView.maxPatients
        }
        // Written to the disclosure log (synced) before the page is sent; the log resubmits the
        // records until they are committed, across restarts.
        guard let log = api.disclosures else {
            throw ConsoleError(.serviceUnavailable, "Could not record this view", "This node has no disclosure log, so it shows no personal audit data.")
        }
        do { try log.record(calls) } catch {
            throw ConsoleError(.serviceUnavailable, "Could not record this view",
                               "Every view of personal audit data goes on the audit trail, and this one could not be written (\(error)). Nothing was shown; try again.")
        }
    }

    // MARK: Pages shared

    func organizations() throws -> [OrganizationID: Organization] {
        try query.organizationsByID()
    }

    func errorPage(_ e: ConsoleError, request: Request) -> Response {
        let v = try? viewer(request)
        let next = e.status == .unauthorized ? "<p>\(HTML.link("/console/sign-in", "Sign in"))</p>" : "<p>\(HTML.link("/console", "Back to the console"))</p>"
        let body = "<p class=\"error\" role=\"alert\">\(HTML.escape(e.detail))</p>" + next
        var extra: [HTTPField] = []
        if e.status == .unauthorized { extra.append(ConsoleHeaders.cookie(Self.sessionCookie, "", maxAge: 0, secure: secureCookies)) }
        return ConsoleHeaders.html(layout(title: "\(e.status.code) \(e.title)", viewer: v ?? nil, body: body), status: e.status, extra: extra)
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
