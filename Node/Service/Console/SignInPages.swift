import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import MeridianCore
import MeridianModules

/// The sign-in flow's pages and the challenge API the wallet and the audit tool call.
extension NodeConsole {
    func home(_ request: Request, _ viewer: Viewer?) async throws -> Response {
        guard let viewer else { return ConsoleHeaders.redirect("/console/sign-in") }
        var items: [String] = []
        let r = viewer.roleNames
        if !r.isDisjoint(with: ["operator", "regulator"]) {
            items.append("<li>\(HTML.link("/console/network", "Network")): validators, height, round, peers, missed votes, evidence.</li>")
            items.append("<li>\(HTML.link("/console/audit", "Audit")): search the trail\(viewer.regulator.map { " of jurisdiction \($0.country.code)" } ?? viewer.operatorOrganization.map { " of \($0.value)" } ?? ""), export CSV or FHIR.</li>")
            items.append("<li>\(HTML.link("/console/audit/reports", "Reports")): transfers by country pair and legal basis, break-glass uses, denied attempts.</li>")
        }
        if r.contains("patient") {
            items.append("<li>\(HTML.link("/console/me", "Who accessed my data")), \(HTML.link("/console/me/consents", "your consents")), \(HTML.link("/console/me/devices", "paired devices")) and \(HTML.link("/console/me/health", "your latest NEWS2")).</li>")
        }
        if r.contains("clinician") {
            items.append("<li>\(HTML.link("/console/alerts", "Alerts")): NEWS2 and model alerts for patients whose consent covers your hospital, live.</li>")
        }
        let body = "<p>What you can see here follows from your role on chain.</p><ul class=\"cards\">\(items.joined())</ul>"
        return ConsoleHeaders.html(layout(title: "Console", viewer: viewer, body: body, current: "/console"))
    }

    func signInPage(_ request: Request) throws -> Response {
        let now = clock()
        let c = try sessions.newChallenge(now: now)
        let node = publicAddress()
        let body = """
        <p>Meridian has no passwords. Sign this code with your own key; your key never leaves your wallet.</p>
        <p class="code" aria-label="Sign-in code">\(HTML.escape(c.code))</p>
        <p>The code is valid for five minutes; the session it opens ends at \(HTML.escape(c.sessionExpires.iso8601)).</p>
        <h2>Sign with your tool</h2>
        <dl class="facts">
        <dt>Patients</dt><dd><code>meridian-wallet sign-in \(HTML.escape(c.code)) --node \(HTML.escape(node)) --keystore YOUR-WALLET.json</code></dd>
        <dt>Regulators</dt><dd><code>meridian-audit sign-in \(HTML.escape(c.code)) --node \(HTML.escape(node)) --keystore OFFICER.json</code></dd>
        <dt>Hospital staff</dt><dd><code>meridian-audit sign-in \(HTML.escape(c.code)) --node \(HTML.escape(node)) --keystore STAFF.json</code></dd>
        </dl>
        <p>What you sign names this chain (<code>\(HTML.escape(api.chainID))</code>), this node (<code>\(HTML.escape(Address(sessions.audience).description))</code>) and the session's end, so it is good for nothing else.</p>
        <form method="post" action="/console/sign-in">
        <input type="hidden" name="code" value="\(HTML.escape(c.code))">
        <button type="submit">I have signed: continue</button>
        </form>
        """
        return ConsoleHeaders.html(layout(title: "Sign in", viewer: nil, body: body),
                                   extra: [ConsoleHeaders.cookie(Self.challengeCookie, c.browserSecret, maxAge: Int(ConsoleSessions.challengeMilliseconds / 1000), secure: secureCookies)])
    }

    /// A form body (`application/x-www-form-urlencoded`, at most 4 KiB) decoded by Hummingbird's form decoder.
    func form<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: 4096) } catch { throw ConsoleError(.contentTooLarge, "Form too large", "A console form is at most 4 KiB.") }
        do { return try URLEncodedFormDecoder().decode(T.self, from: String(buffer: buffer)) }
        catch { throw ConsoleError(.badRequest, "Malformed form", "The form's fields are missing or malformed; reload the page.") }
    }

    struct SignInForm: Decodable { let code: String }
    struct SignOutForm: Decodable { let form: String? }

    func completeSignIn(_ request: Request) async throws -> Response {
        let code = try await form(SignInForm.self, request).code
        guard code.utf8.count <= ConsoleSignIn.maxCodeBytes else { throw ConsoleError(.badRequest, "Bad code", "The form's sign-in code is too long.") }
        let secret = request.cookies[Self.challengeCookie]?.value
        let result = Result { () throws(ConsoleError) in try sessions.complete(code, browserSecret: secret, now: clock()) }
        switch result {
        case .success(let (token, _)):
            return ConsoleHeaders.redirect("/console", extra: [
                ConsoleHeaders.cookie(Self.sessionCookie, token, maxAge: Int(sessions.sessionMilliseconds / 1000), secure: secureCookies),
                ConsoleHeaders.cookie(Self.challengeCookie, "", maxAge: 0, secure: secureCookies),
            ])
        case .failure(let e) where e.status == .conflict:
            // Not signed yet: the same code, the same form, and what to do.
            let body = """
            <p class="error" role="alert">\(HTML.escape(e.detail))</p>
            <p class="code" aria-label="Sign-in code">\(HTML.escape(code))</p>
            <form method="post" action="/console/sign-in"><input type="hidden" name="code" value="\(HTML.escape(code))"><button type="submit">Continue</button></form>
            """
            return ConsoleHeaders.html(layout(title: "Not signed yet", viewer: nil, body: body), status: .conflict)
        case .failure(let e):
            throw e
        }
    }

    func signOut(_ request: Request) async throws -> Response {
        let fields = try await form(SignOutForm.self, request)
        let token = request.cookies[Self.sessionCookie]?.value
        if case .valid(let s) = sessions.session(token, now: clock()) {
            guard fields.form == s.formToken else { throw ConsoleError(.forbidden, "Form expired", "Reload the page and sign out again.") }
        }
        sessions.end(token)
        return ConsoleHeaders.redirect("/console/sign-in", extra: [ConsoleHeaders.cookie(Self.sessionCookie, "", maxAge: 0, secure: secureCookies)])
    }

    /// `GET /console/challenges/{code}`: what the signing tool signs (JSON).
    func challengeInfo(_ code: String) throws -> Response {
        guard let c = sessions.pending(code, now: clock()) else {
            throw ConsoleError(.notFound, "Unknown or expired code", "The code \(code.prefix(64)) is not a sign-in in progress at this node.")
        }
        let org = (try? Identity.member(sessions.audience, in: query.reader))??.organization.value
        return try json(ChallengeInfo(code: c.code, chainID: api.chainID, audience: sessions.audience.hex, organization: org,
                                      expires: c.sessionExpires.unixMilliseconds, expiresISO: c.sessionExpires.iso8601))
    }

    public struct ChallengeInfo: Codable, Sendable {
        public let code: String
        public let chainID: String
        /// The node's worker key (hex): the audience the signature names.
        public let audience: String
        public let organization: String?
        /// The session's end, Unix milliseconds (signed) and ISO 8601 (shown).
        public let expires: UInt64
        public let expiresISO: String
    }

    /// `POST /console/challenges/{code}` with `{"key": "<mer1… or hex>", "signature": "<128 hex>"}`.
    func answerChallenge(_ request: Request, _ code: String) async throws -> Response {
        let raw = try await api.body(request)
        struct Body: Decodable { let key: String; let signature: String }
        guard let b = try? JSONDecoder().decode(Body.self, from: Data(raw)) else {
            throw ConsoleError(.badRequest, "Malformed answer", "expected {\"key\": \"<address>\", \"signature\": \"<128 hex digits>\"}")
        }
        let key: PublicKey
        do { key = try api.address(b.key, "key") } catch { throw ConsoleError(.badRequest, "Bad key", "key: not a Meridian address or public key") }
        guard let signature = Bytes64(hex: b.signature) else { throw ConsoleError(.badRequest, "Bad signature", "signature: expected 128 hex digits") }
        let roles = (try? ConsoleRole.roles(of: key, in: query.reader)) ?? []
        guard !roles.isEmpty else {
            throw ConsoleError(.forbidden, "No console role", "\(Address(key)) is not a patient, a regulator's officer or a hospital's operator or clinician on this chain.")
        }
        try sessions.answer(code, key: key, signature: signature, now: clock())
        struct Answer: Encodable { let signedIn: String; let roles: [String] }
        return try json(Answer(signedIn: Address(key).description, roles: roles.map(\.name)))
    }
}
