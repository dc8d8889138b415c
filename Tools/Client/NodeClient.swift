public import Foundation
public import NIOSSL
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
public import MeridianCore
public import MeridianRuntime
import MeridianRequestAuth
import Synchronization

/// Why a call to a node failed: an HTTP error with the node's JSON error, or no answer.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public init(status: Int, code: String, message: String) { self.status = status; self.code = code; self.message = message }
    public var description: String { status == 0 ? "\(code): \(message)" : "\(code): \(message) (HTTP \(status))" }
}

/// A small client of a node's HTTP API for the command-line tools. With a signer, every request
/// is signed (RFC 9421, Meridian's profile: method, target URI, body digest, chain id, the node's
/// key as audience, creation time, nonce); the chain id and the node's key are learnt once from
/// the node's public status, and checked against `expectedNode` when one is pinned.
public struct NodeClient: Sendable {
    public let base: URL
    /// The key that signs each request (nil: unsigned, which only open routes accept).
    public let signer: PrivateKey?
    /// The node's address the caller expects (`--node-key`): a node answering another key is refused
    /// before anything is signed for it.
    public let expectedNode: String?
    /// The CA certificate (PEM) an `https://` node's certificate must chain to (`--ca`,
    /// `$MERIDIAN_CA`; a localnet's is `<dir>/ca.pem`); nil: the system's roots.
    public let ca: String?
    private let identity: NodeIdentity

    /// The chain id and audience address of the node, learnt once.
    final class NodeIdentity: Sendable {
        let value = Mutex<(chainID: String, audience: String)?>(nil)
    }

    /// A client of the node at `base` (`http://` assumed without a scheme), trusting `ca` for
    /// HTTPS (default: `$MERIDIAN_CA`).
    public init(_ base: String, ca: String? = nil) throws {
        var s = base.trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.hasPrefix("http://") && !s.hasPrefix("https://") { s = "http://" + s }
        guard let url = URL(string: s), url.host != nil else { throw ClientError(status: 0, code: "client.bad_url", message: "'\(base)' is not a URL") }
        self.base = url
        let environment = ProcessInfo.processInfo.environment["MERIDIAN_CA"].flatMap { $0.isEmpty ? nil : $0 }
        self.ca = ca ?? environment
        signer = nil; expectedNode = nil; identity = NodeIdentity()
    }

    private init(base: URL, signer: PrivateKey?, expectedNode: String?, ca: String?, identity: NodeIdentity) {
        self.base = base; self.signer = signer; self.expectedNode = expectedNode; self.ca = ca; self.identity = identity
    }

    /// The same node, each request signed by `key`.
    public func signed(by key: PrivateKey) -> NodeClient { NodeClient(base: base, signer: key, expectedNode: expectedNode, ca: ca, identity: identity) }

    /// The same client, refusing a node whose key is not `address`.
    public func expecting(node address: String?) -> NodeClient { NodeClient(base: base, signer: signer, expectedNode: address, ca: ca, identity: identity) }

    struct PublicStatus: Decodable { let chainID: String; let nodeKey: String? }

    /// The chain id and the node's address (the audience of signed requests), from its status.
    public func nodeIdentity() async throws -> (chainID: String, audience: String) {
        if let known = identity.value.withLock({ $0 }) { return known }
        let status = try JSONDecoder().decode(PublicStatus.self, from: try await send("GET", "/v1/status", body: nil, contentType: "", headers: [:], timeout: 30))
        guard let audience = status.nodeKey else {
            throw ClientError(status: 0, code: "client.no_node_key", message: "the node at \(base.absoluteString) names no key to sign requests for")
        }
        if let expectedNode, expectedNode != audience {
            throw ClientError(status: 0, code: "client.wrong_node", message: "the node at \(base.absoluteString) is \(audience), not \(expectedNode)")
        }
        identity.value.withLock { $0 = (status.chainID, audience) }
        return (status.chainID, audience)
    }

    /// The node's address from `--node`, else `$MERIDIAN_NODE`, else `<data-dir>/api.address`, else the default.
    /// The CA is `ca`, else `$MERIDIAN_CA`.
    public static func resolve(_ explicit: String?, dataDir: String? = nil, ca: String? = nil) throws -> NodeClient {
        if let explicit { return try NodeClient(explicit, ca: ca) }
        if let env = ProcessInfo.processInfo.environment["MERIDIAN_NODE"], !env.isEmpty { return try NodeClient(env, ca: ca) }
        let dir = dataDir ?? ProcessInfo.processInfo.environment["MERIDIAN_DATA_DIR"] ?? "data/node"
        if let data = FileManager.default.contents(atPath: dir + "/api.address") { return try NodeClient(String(decoding: data, as: UTF8.self), ca: ca) }
        return try NodeClient("http://127.0.0.1:26657", ca: ca)
    }

    struct ErrorBody: Decodable { let error: Inner; struct Inner: Decodable { let code: String; let message: String } }

    /// Sends a request, signed when the client has a signer.
    public func request(_ method: String, _ path: String, body: Data? = nil, contentType: String = "application/json",
                        headers: [String: String] = [:], timeout: TimeInterval = 30) async throws -> Data {
        var headers = headers
        for (name, value) in try await signatureHeaders(method, path, body: body) { headers[name] = value }
        return try await send(method, path, body: body, contentType: contentType, headers: headers, timeout: timeout)
    }

    /// The headers that sign a request to `path` with this client's key (none without a signer).
    public func signatureHeaders(_ method: String, _ path: String, body: Data?) async throws -> [String: String] {
        guard let signer else { return [:] }
        guard let url = URL(string: path, relativeTo: base) else { throw ClientError(status: 0, code: "client.bad_path", message: path) }
        let node = try await nodeIdentity()
        let signed = try SignedRequests.headers(method: method, targetURI: url.absoluteString, body: body.map { [UInt8]($0) } ?? [],
                                                chainID: node.chainID, audience: node.audience, key: signer,
                                                created: Int64(Date().timeIntervalSince1970))
        return Dictionary(signed.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
    }

    private func send(_ method: String, _ path: String, body: Data?, contentType: String, headers: [String: String], timeout: TimeInterval) async throws -> Data {
        guard let url = URL(string: path, relativeTo: base) else { throw ClientError(status: 0, code: "client.bad_path", message: path) }
        var headers = headers
        if body != nil { headers["Content-Type"] = contentType }
        let status: Int, data: Data
        do { (status, data) = try await HTTPTransport.send(method, url, headers: headers, body: body, timeout: timeout, ca: ca) }
        catch let e as ClientError { throw e }
        catch { throw ClientError(status: 0, code: "client.unreachable", message: "no answer from \(base.absoluteString): \(error)") }
        guard (200..<300).contains(status) else {
            if let e = try? JSONDecoder().decode(ErrorBody.self, from: data) { throw ClientError(status: status, code: e.error.code, message: e.error.message) }
            throw ClientError(status: status, code: "http.\(status)", message: String(decoding: data.prefix(200), as: UTF8.self))
        }
        return data
    }

    /// Sends an unsigned request (a feed's bearer-token calls, device frames) and returns the
    /// status and body whatever the status; throws only when the node does not answer.
    public func exchange(_ method: String, _ path: String, body: Data? = nil, contentType: String = "application/json",
                         headers: [String: String] = [:], timeout: TimeInterval = 60) async throws -> (status: Int, body: Data) {
        guard let url = URL(string: path, relativeTo: base) else { throw ClientError(status: 0, code: "client.bad_path", message: path) }
        var headers = headers
        if body != nil { headers["Content-Type"] = contentType }
        do { return try await HTTPTransport.send(method, url, headers: headers, body: body, timeout: timeout, ca: ca) }
        catch let e as ClientError { throw e }
        catch { throw ClientError(status: 0, code: "client.unreachable", message: "no answer from \(base.absoluteString): \(error)") }
    }

    /// The TLS configuration for other connections to this node (its WebSocket streams): nil for
    /// `http://`, else trusting `ca` (or the system's roots).
    public func tlsConfiguration() throws -> TLSConfiguration? {
        guard base.scheme == "https" else { return nil }
        return try HTTPTransport.tlsConfiguration(trusting: ca)
    }

    /// The WebSocket URL of `path` on this node (`ws://`, or `wss://` for an HTTPS node).
    public func webSocketURL(_ path: String) -> String {
        let host = base.host ?? "127.0.0.1", port = base.port.map { ":\($0)" } ?? ""
        return "\(base.scheme == "https" ? "wss" : "ws")://\(host)\(port)\(path)"
    }

    public func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        try JSONDecoder().decode(T.self, from: try await request("GET", path))
    }

    public struct Account: Decodable, Sendable { public let nonce: UInt64; public let kind: String; public let organization: String?; public let roles: [String]? }
    public struct Status: Decodable, Sendable { public let chainID: String; public let height: UInt64 }

    /// The next nonce of `key` (0 for an account the chain does not know yet).
    public func nextNonce(_ key: PublicKey) async throws -> UInt64 {
        do { return try await get("/v1/accounts/\(Address(key))", as: Account.self).nonce }
        catch let e as ClientError where e.status == 404 { return 0 }
    }

    public func chainID() async throws -> String { try await nodeIdentity().chainID }

    public struct Submitted: Decodable, Sendable { public let hash: String }

    public struct Committed: Decodable, Sendable {
        public let hash: String
        public let status: String
        public let height: UInt64?
        public let receipt: ReceiptView?
    }
    public struct ReceiptView: Decodable, Sendable {
        public let outcome: String
        public let error: ErrorInfo?
        public let decision: DecisionView?
        public let createdID: String?
        public let events: [EventView]?
        public struct ErrorInfo: Decodable, Sendable { public let code: String; public let message: String }
    }
    public struct EventView: Decodable, Sendable { public let kind: String; public let detail: [String: String] }
    public struct DecisionView: Decodable, Sendable {
        public let allowed: Bool, reason: String, consent: String?, transferBasis: String?, legalBasis: String?
        public let sourceCountry: String?, destinationCountry: String?
        public let contract: ContractView?
        public let coSigner: String?
    }
    /// A policy contract's part in a decision.
    public struct ContractView: Codable, Sendable {
        public let hash: String, consent: String, fuelUsed: UInt64, answer: Int32?, failure: String?
    }

    /// Signs `call` as `key` with its next nonce, submits it, and waits (polling, with a deadline)
    /// until it is committed; returns the committed view with its receipt.
    public func submit(_ call: Call, as key: PrivateKey, timeoutSeconds: Double = 30) async throws -> Committed {
        let client = signed(by: key)   // its account and its transaction's status are read as itself
        return try await client.submitSigned(call, as: key, timeoutSeconds: timeoutSeconds)
    }

    private func submitSigned(_ call: Call, as key: PrivateKey, timeoutSeconds: Double) async throws -> Committed {
        let chain = try await chainID()
        let nonce = try await nextNonce(key.publicKey)
        let stx = try SignedTransaction(signing: Transaction(chainID: chain, signer: key.publicKey, nonce: nonce, call: call), with: key)
        let submitted = try JSONDecoder().decode(Submitted.self, from: try await request("POST", "/v1/transactions", body: Data(stx.canonicalBytes), contentType: "application/octet-stream"))
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            let view = try await get("/v1/transactions/\(submitted.hash)", as: Committed.self)
            if view.status == "committed" { return view }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClientError(status: 0, code: "client.timeout", message: "transaction \(submitted.hash) not committed within \(Int(timeoutSeconds)) s")
    }
}
