public import MeridianCore
import Foundation
import Synchronization

/// Meridian's profile of HTTP Message Signatures for requests to a node: the signature labelled
/// `meridian` covers the method, the absolute target URI, the body's `Content-Digest` (always, an
/// empty body's too), the chain id (`Meridian-Chain`) and the node it is meant for
/// (`Meridian-Audience`, the node's address), with `created`, a `nonce`, `keyid` (the signer's
/// address) and `alg="bip340"`. A request signed for one node, one chain or one URI is refused by
/// every other; a replay within the freshness window is refused by the replay cache.
public enum SignedRequests {
    public static let label = "meridian"
    public static let algorithm = "bip340"
    public static let chainHeader = "Meridian-Chain", audienceHeader = "Meridian-Audience"
    public static let components = ["@method", "@target-uri", "content-digest", "meridian-chain", "meridian-audience"]
    /// How far `created` may be from the node's clock, either way.
    public static let maxSkewSeconds: Int64 = 300

    /// A fresh random nonce: 16 bytes, base64url without padding.
    public static func nonce() -> String {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The five headers that sign a request: `Content-Digest`, `Meridian-Chain`,
    /// `Meridian-Audience`, `Signature-Input` and `Signature`.
    public static func headers(method: String, targetURI: String, body: [UInt8], chainID: String, audience: String, key: PrivateKey,
                               created: Int64, nonce: String = SignedRequests.nonce()) throws -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Content-Digest", HTTPMessageSignature.contentDigest(body)),
                                                        (chainHeader, chainID), (audienceHeader, audience)]
        let parameters = HTTPMessageSignature.Parameters(components: components, created: created, nonce: nonce, alg: algorithm,
                                                         keyid: Address(key.publicKey).description)
        let base = try HTTPMessageSignature.signatureBase(parameters, of: .init(method: method, targetURI: targetURI, headers: headers))
        let signature = try key.sign(HTTPMessageSignature.signingHash(base))
        headers.append(("Signature-Input", "\(label)=\(parameters.serialized)"))
        headers.append(("Signature", "\(label)=:\(Data(signature.bytes).base64EncodedString()):"))
        return headers
    }
}

/// Checks Meridian request signatures for one node: its chain, its address as the audience, the
/// freshness window, and a bounded replay cache of (signer, nonce) until the signature could no
/// longer be fresh. Thread-safe.
public final class RequestVerifier: Sendable {
    public let chainID: String
    public let audience: String
    public let replayCapacity: Int
    private let seen = Mutex(ReplayCache())

    struct ReplayCache {
        var entries: [String: Int64] = [:]
        /// Insertion order with each entry's expiry, for dropping the expired from the front.
        var queue: [(key: String, expires: Int64)] = []
        var head = 0

        mutating func prune(now: Int64) {
            while head < queue.count, queue[head].expires < now {
                if entries[queue[head].key] == queue[head].expires { entries[queue[head].key] = nil }
                head += 1
            }
            if head > 4096 && head * 2 > queue.count { queue.removeFirst(head); head = 0 }
        }
    }

    public init(chainID: String, audience: String, replayCapacity: Int = 200_000) {
        self.chainID = chainID; self.audience = audience; self.replayCapacity = replayCapacity
    }

    public typealias Failure = HTTPMessageSignature.Failure

    /// A verified request: its signer, and what they signed (the signature base and signature),
    /// which a node carries into the audit record of what it disclosed in answer.
    public struct Verified: Sendable {
        public let signer: PublicKey
        public let signatureBase: String
        public let signature: Bytes64
    }

    /// `verify`, with the signature base and signature.
    public func verifySigned(_ request: HTTPMessageSignature.Request, body: [UInt8], now: Int64) -> Result<Verified, Failure> {
        do { return .success(try check(request, body: body, now: now, record: true)) } catch { return .failure(error) }
    }

    /// The signer of a request, or why it is refused. `now` is Unix seconds. A request is recorded
    /// in the replay cache only once every other check passed.
    public func verify(_ request: HTTPMessageSignature.Request, body: [UInt8], now: Int64) -> Result<PublicKey, Failure> {
        do { return .success(try check(request, body: body, now: now, record: true).signer) } catch { return .failure(error) }
    }

    /// Every check of `verify`, replay included, without recording the nonce (for a decision taken
    /// before the request is routed, e.g. a WebSocket upgrade, whose route then verifies it).
    public func check(_ request: HTTPMessageSignature.Request, body: [UInt8], now: Int64) -> Result<PublicKey, Failure> {
        do { return .success(try check(request, body: body, now: now, record: false).signer) } catch { return .failure(error) }
    }

    private func check(_ request: HTTPMessageSignature.Request, body: [UInt8], now: Int64, record: Bool) throws(Failure) -> Verified {
        guard let inputField = request.header("Signature-Input"), let signatureField = request.header("Signature") else {
            throw Failure("auth.unsigned", "sign the request (RFC 9421: Signature-Input and Signature labelled '\(SignedRequests.label)', alg bip340)")
        }
        guard inputField.utf8.count <= 2048, signatureField.utf8.count <= 1024 else { throw Failure("auth.malformed", "signature fields too long") }
        guard let input = try HTTPMessageSignature.dictionary(inputField).first(where: { $0.label == SignedRequests.label })?.value,
              let encoded = try HTTPMessageSignature.dictionary(signatureField).first(where: { $0.label == SignedRequests.label })?.value else {
            throw Failure("auth.unsigned", "no signature labelled '\(SignedRequests.label)'")
        }
        let p = try HTTPMessageSignature.parseParameters(input)
        guard p.alg == SignedRequests.algorithm else { throw Failure("auth.algorithm", "alg must be \"\(SignedRequests.algorithm)\"") }
        for c in SignedRequests.components where !p.components.contains(c) {
            throw Failure("auth.components", "the signature must cover \(SignedRequests.components.map { "\"\($0)\"" }.joined(separator: " ")); '\(c)' is missing")
        }
        guard let keyid = p.keyid, let signer = Address(keyid)?.publicKey else { throw Failure("auth.malformed", "keyid must be the signer's Meridian address") }
        guard let created = p.created else { throw Failure("auth.malformed", "the signature has no 'created'") }
        guard abs(created - now) <= SignedRequests.maxSkewSeconds else {
            throw Failure("auth.stale", "created \(created) is more than \(SignedRequests.maxSkewSeconds) s from the node's clock (\(now))")
        }
        if let expires = p.expires, expires < now { throw Failure("auth.stale", "the signature expired at \(expires)") }
        guard let nonce = p.nonce, (16...64).contains(nonce.utf8.count) else { throw Failure("auth.malformed", "a nonce of 16 to 64 characters is required") }
        guard request.header(SignedRequests.chainHeader) == chainID else {
            throw Failure("auth.wrong_chain", "signed for chain '\(request.header(SignedRequests.chainHeader) ?? "")', this is '\(chainID)'")
        }
        guard request.header(SignedRequests.audienceHeader) == audience else {
            throw Failure("auth.wrong_audience", "signed for node '\(request.header(SignedRequests.audienceHeader) ?? "")', this is \(audience)")
        }
        guard let digest = request.header("Content-Digest"), HTTPMessageSignature.digestMatches(digest, body: body) else {
            throw Failure("auth.digest", "Content-Digest (sha-256) does not match the body")
        }
        guard let signature = HTTPMessageSignature.byteSequence(encoded), signature.count == 64, let sig = Bytes64(signature) else {
            throw Failure("auth.malformed", "the signature is not 64 bytes of base64 between colons")
        }
        let base = try HTTPMessageSignature.signatureBase(p, of: request)
        guard signer.verify(sig, message: HTTPMessageSignature.signingHash(base)) else {
            throw Failure("auth.bad_signature", "the signature does not verify for \(keyid) over this method, URI, body, chain and node")
        }
        let key = keyid + " " + nonce
        let capacity = replayCapacity
        try seen.withLock { (cache: inout ReplayCache) throws(Failure) in
            cache.prune(now: now)
            guard cache.entries[key] == nil else { throw Failure("auth.replayed", "this signature's nonce was already used") }
            guard record else { return }
            guard cache.entries.count < capacity else { throw Failure("auth.busy", "too many signed requests in the freshness window; retry shortly") }
            let expiresAt = created + SignedRequests.maxSkewSeconds
            cache.entries[key] = expiresAt
            cache.queue.append((key, expiresAt))
        }
        return Verified(signer: signer, signatureBase: base, signature: sig)
    }
}
