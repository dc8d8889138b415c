import Foundation
import Synchronization
import MeridianCore
import MeridianModules
import HTTPTypes

/// Sign-in without passwords. The browser asks for a challenge and shows its code; the person
/// signs (code, chain, this node's key, session end) with their own key in the wallet or the audit
/// tool, which posts the signature here; the browser that holds the challenge's secret cookie then
/// exchanges the answered challenge for a session. A code is answered once and used once, and
/// lives five minutes; a session lives until the end the person signed. Nothing is written to disk:
/// a restart signs everyone out.
final class ConsoleSessions: Sendable {
    static let challengeMilliseconds: UInt64 = 5 * 60_000
    static let maxChallenges = 10_000
    static let maxSessions = 10_000

    struct Challenge: Sendable {
        let code: String
        let browserSecretHash: Bytes32
        let expires: UInt64
        let sessionExpires: Timestamp
        var answer: (key: PublicKey, signIn: ConsoleSignIn)?
    }

    struct Session: Sendable {
        let key: PublicKey
        let signIn: ConsoleSignIn
        /// Sent back in every form, compared on every POST (with SameSite=Strict cookies: belt and braces).
        let formToken: String
        var expires: UInt64 { signIn.expires.unixMilliseconds }
    }

    private struct State {
        var challenges: [String: Challenge] = [:]
        var sessions: [Bytes32: Session] = [:]
    }

    let chainID: String
    let audience: PublicKey
    let sessionMilliseconds: UInt64
    private let state = Mutex(State())

    init(chainID: String, audience: PublicKey, sessionMinutes: Int) {
        self.chainID = chainID; self.audience = audience; sessionMilliseconds = UInt64(sessionMinutes) * 60_000
    }

    static func randomToken(bytes n: Int = 32) -> String {
        var g = SystemRandomNumberGenerator()
        return Hex.encode((0..<n).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    static func newCode() -> String {
        var g = SystemRandomNumberGenerator()
        let alphabet = ConsoleSignIn.codeAlphabet
        let chars = (0..<12).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &g)] }
        return String(chars[0..<4]) + "-" + String(chars[4..<8]) + "-" + String(chars[8..<12])
    }

    /// A fresh challenge: its code (shown) and the browser's secret (its cookie).
    func newChallenge(now: UInt64) throws(ConsoleError) -> (code: String, browserSecret: String, sessionExpires: Timestamp) {
        let secret = Self.randomToken()
        let code = Self.newCode()
        let sessionExpires = Timestamp(unixMilliseconds: now + Self.challengeMilliseconds + sessionMilliseconds)
        try state.withLock { (s) throws(ConsoleError) in
            if s.challenges.count >= Self.maxChallenges { s.challenges = s.challenges.filter { $0.value.expires > now } }
            guard s.challenges.count < Self.maxChallenges else {
                throw ConsoleError(.serviceUnavailable, "Too many sign-ins in progress", "Try again in a few minutes.")
            }
            s.challenges[code] = Challenge(code: code, browserSecretHash: SHA256.hash(Array(secret.utf8)), expires: now + Self.challengeMilliseconds,
                                           sessionExpires: sessionExpires, answer: nil)
        }
        return (code, secret, sessionExpires)
    }

    /// What the signing tool needs to build the message: nil for an unknown or expired code.
    func pending(_ code: String, now: UInt64) -> Challenge? {
        state.withLock { s in s.challenges[code].flatMap { $0.expires > now ? $0 : nil } }
    }

    /// The signing tool's answer: the signature must verify for this code, chain, node and session
    /// end; a code takes one answer.
    func answer(_ code: String, key: PublicKey, signature: Bytes64, now: UInt64) throws(ConsoleError) {
        try state.withLock { (s) throws(ConsoleError) in
            guard var c = s.challenges[code], c.expires > now else {
                throw ConsoleError(.notFound, "Unknown or expired code", "The code \(code) is not a sign-in in progress at this node: start again in the browser.")
            }
            guard c.answer == nil else {
                throw ConsoleError(.conflict, "Code already used", "The code \(code) has already been signed: a signature is accepted once.")
            }
            let signIn = ConsoleSignIn(code: code, expires: c.sessionExpires, signature: signature)
            guard signIn.verify(viewer: key, chainID: chainID, audience: audience) else {
                throw ConsoleError(.forbidden, "Signature does not verify", "The signature is not \(Address(key))'s signature of this code for this node.")
            }
            c.answer = (key, signIn)
            s.challenges[code] = c
        }
    }

    /// The browser's exchange of an answered challenge for a session (the challenge is used up).
    func complete(_ code: String, browserSecret: String?, now: UInt64) throws(ConsoleError) -> (token: String, session: Session) {
        try state.withLock { (s) throws(ConsoleError) in
            guard let c = s.challenges[code], c.expires > now else {
                throw ConsoleError(.gone, "Sign-in expired", "This sign-in code has expired or was already used: start again.")
            }
            guard let browserSecret, SHA256.hash(Array(browserSecret.utf8)) == c.browserSecretHash else {
                throw ConsoleError(.forbidden, "Not this browser's sign-in", "The code was issued to another browser.")
            }
            guard let answer = c.answer else {
                throw ConsoleError(.conflict, "Not signed yet", "Sign the code with your wallet or audit tool first, then continue.")
            }
            s.challenges[code] = nil
            if s.sessions.count >= Self.maxSessions { s.sessions = s.sessions.filter { $0.value.expires > now } }
            guard s.sessions.count < Self.maxSessions else {
                throw ConsoleError(.serviceUnavailable, "Too many sessions", "Try again later.")
            }
            let token = Self.randomToken()
            let session = Session(key: answer.key, signIn: answer.signIn, formToken: Self.randomToken(bytes: 16))
            s.sessions[SHA256.hash(Array(token.utf8))] = session
            return (token, session)
        }
    }

    enum Lookup { case none, expired, valid(Session) }

    func session(_ token: String?, now: UInt64) -> Lookup {
        guard let token, token.utf8.count == 64 else { return .none }
        return state.withLock { s in
            let k = SHA256.hash(Array(token.utf8))
            guard let session = s.sessions[k] else { return .none }
            guard session.expires > now else { s.sessions[k] = nil; return .expired }
            return .valid(session)
        }
    }

    func end(_ token: String?) {
        guard let token else { return }
        _ = state.withLock { s in s.sessions.removeValue(forKey: SHA256.hash(Array(token.utf8))) }
    }
}

/// A console answer other than 200: its status and a page that says what went wrong.
struct ConsoleError: Error, Sendable {
    let status: HTTPResponse.Status
    let title: String
    let detail: String
    init(_ status: HTTPResponse.Status, _ title: String, _ detail: String) { self.status = status; self.title = title; self.detail = detail }
}
