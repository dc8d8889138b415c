public import MeridianCore
import Foundation

/// HTTP Message Signatures (RFC 9421) with Meridian's `bip340` algorithm, and the request body's
/// `Content-Digest` (RFC 9530).
///
/// Written here rather than taken from a package: no Swift package implements RFC 9421, and the
/// part Meridian needs is small (the signature base of §2.5, the `Signature-Input` and
/// `Signature` fields of §4 in the RFC 8941 forms they use). The algorithm `bip340` is ours:
/// a BIP-340 Schnorr signature (secp256k1, the keys every Meridian account has) over the SHA-256
/// of the signature base's UTF-8 bytes; the signature is the 64-byte `r || s`.
public enum HTTPMessageSignature {
    /// The request as the signer and the verifier see it: header names in any case.
    public struct Request: Sendable {
        public var method: String
        /// The absolute target URI (`scheme://authority/path?query`), as §2.2.2 `@target-uri`.
        public var targetURI: String
        public var headers: [(name: String, value: String)]
        public init(method: String, targetURI: String, headers: [(name: String, value: String)]) {
            self.method = method; self.targetURI = targetURI; self.headers = headers
        }

        /// A header's value; repeated fields are combined with ", " (RFC 9110 §5.3), whitespace trimmed.
        public func header(_ name: String) -> String? {
            let values = headers.filter { $0.name.lowercased() == name.lowercased() }.map { $0.value.trimmingCharacters(in: .whitespaces) }
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }
    }

    /// The signature parameters of §2.3, in the order they were given (they are signed as serialised).
    public struct Parameters: Sendable, Equatable {
        public var components: [String]
        public var created: Int64?
        public var expires: Int64?
        public var nonce: String?
        public var alg: String?
        public var keyid: String?
        public var tag: String?
        /// The parameter names in their serialised order.
        public var order: [String]

        public init(components: [String], created: Int64? = nil, expires: Int64? = nil, nonce: String? = nil, alg: String? = nil,
                    keyid: String? = nil, tag: String? = nil) {
            self.components = components; self.created = created; self.expires = expires; self.nonce = nonce
            self.alg = alg; self.keyid = keyid; self.tag = tag
            order = []
            if created != nil { order.append("created") }
            if expires != nil { order.append("expires") }
            if nonce != nil { order.append("nonce") }
            if alg != nil { order.append("alg") }
            if keyid != nil { order.append("keyid") }
            if tag != nil { order.append("tag") }
        }

        /// The `@signature-params` value: an RFC 8941 inner list of strings with its parameters.
        public var serialized: String {
            var out = "(" + components.map { "\"\($0)\"" }.joined(separator: " ") + ")"
            for name in order {
                switch name {
                case "created": out += ";created=\(created!)"
                case "expires": out += ";expires=\(expires!)"
                case "nonce": out += ";nonce=\"\(nonce!)\""
                case "alg": out += ";alg=\"\(alg!)\""
                case "keyid": out += ";keyid=\"\(keyid!)\""
                case "tag": out += ";tag=\"\(tag!)\""
                default: break
                }
            }
            return out
        }
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let code: String
        public let message: String
        public init(_ code: String, _ message: String) { self.code = code; self.message = message }
        public var description: String { "\(code): \(message)" }
    }

    /// A derived component (§2.2) or a header's value; nil when the request lacks it.
    public static func componentValue(_ id: String, of request: Request) -> String? {
        guard id.hasPrefix("@") else { return request.header(id) }
        guard let url = URLComponents(string: request.targetURI) else { return nil }
        switch id {
        case "@method": return request.method.uppercased()
        case "@target-uri": return request.targetURI
        case "@authority":
            guard let host = url.host?.lowercased() else { return nil }
            let defaultPort = url.scheme?.lowercased() == "https" ? 443 : 80
            return url.port.map { $0 == defaultPort ? host : "\(host):\($0)" } ?? host
        case "@scheme": return url.scheme?.lowercased()
        case "@path": return url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        case "@query": return "?" + (url.percentEncodedQuery ?? "")
        case "@request-target":
            return (url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath) + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
        default: return nil
        }
    }

    /// The signature base of §2.5: one line per covered component, then `@signature-params`.
    public static func signatureBase(_ parameters: Parameters, of request: Request) throws(Failure) -> String {
        var lines: [String] = []
        var seen: Set<String> = []
        for id in parameters.components {
            guard id == id.lowercased(), !id.isEmpty, seen.insert(id).inserted else {
                throw Failure("auth.malformed", "component '\(id)' is repeated or not lower case")
            }
            guard let value = componentValue(id, of: request) else { throw Failure("auth.component_missing", "the request has no '\(id)'") }
            guard !value.contains("\n"), !value.contains("\r") else { throw Failure("auth.malformed", "'\(id)' holds a line break") }
            lines.append("\"\(id)\": \(value)")
        }
        lines.append("\"@signature-params\": \(parameters.serialized)")
        return lines.joined(separator: "\n")
    }

    /// The `bip340` signing hash of a signature base.
    public static func signingHash(_ base: String) -> Bytes32 { SHA256.hash(Array(base.utf8)) }

    /// RFC 9530 `Content-Digest` with SHA-256: `sha-256=:<base64>:`.
    public static func contentDigest(_ body: [UInt8]) -> String {
        "sha-256=:" + Data(SHA256.hash(body).bytes).base64EncodedString() + ":"
    }

    /// Whether a `Content-Digest` field holds this body's SHA-256 (other algorithms are ignored;
    /// a field without sha-256 does not match).
    public static func digestMatches(_ field: String, body: [UInt8]) -> Bool {
        let expected = Data(SHA256.hash(body).bytes).base64EncodedString()
        for member in field.split(separator: ",") {
            let parts = member.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "sha-256" else { continue }
            let value = parts[1]
            guard value.count >= 2, value.first == ":", value.last == ":" else { return false }
            return value.dropFirst().dropLast() == Substring(expected)
        }
        return false
    }

    // MARK: The two fields (RFC 8941 dictionaries, in the forms §4 uses)

    /// Parses a `Signature-Input` member value: an inner list of strings with parameters.
    public static func parseParameters(_ text: String) throws(Failure) -> Parameters {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        guard s.first == "(" else { throw Failure("auth.malformed", "Signature-Input is not an inner list") }
        s = s.dropFirst()
        var components: [String] = []
        while true {
            s = s.drop { $0 == " " }
            if s.first == ")" { s = s.dropFirst(); break }
            guard s.first == "\"" else { throw Failure("auth.malformed", "Signature-Input: a component is not a string") }
            s = s.dropFirst()
            guard let end = s.firstIndex(of: "\"") else { throw Failure("auth.malformed", "Signature-Input: unterminated string") }
            let id = String(s[..<end])
            guard id.allSatisfy({ $0.isASCII && !$0.isNewline && $0 != "\\" }) else { throw Failure("auth.malformed", "Signature-Input: bad component") }
            components.append(id)
            guard components.count <= 32 else { throw Failure("auth.malformed", "Signature-Input: too many components") }
            s = s[s.index(after: end)...]
        }
        var p = Parameters(components: components)
        while !s.isEmpty {
            guard s.first == ";" else { throw Failure("auth.malformed", "Signature-Input: expected ';' before a parameter") }
            s = s.dropFirst().drop { $0 == " " }
            guard let eq = s.firstIndex(of: "=") else { throw Failure("auth.malformed", "Signature-Input: a parameter has no value") }
            let name = String(s[..<eq])
            s = s[s.index(after: eq)...]
            if s.first == "\"" {
                s = s.dropFirst()
                guard let end = s.firstIndex(of: "\"") else { throw Failure("auth.malformed", "Signature-Input: unterminated string") }
                let value = String(s[..<end]); s = s[s.index(after: end)...]
                guard value.allSatisfy({ $0.isASCII && !$0.isNewline && $0 != "\\" }) else { throw Failure("auth.malformed", "Signature-Input: bad \(name)") }
                switch name {
                case "nonce": p.nonce = value
                case "alg": p.alg = value
                case "keyid": p.keyid = value
                case "tag": p.tag = value
                default: throw Failure("auth.malformed", "Signature-Input: unknown parameter '\(name)'")
                }
            } else {
                let digits = s.prefix { $0 == "-" || ("0"..."9").contains($0) }
                s = s.dropFirst(digits.count)
                guard digits.count <= 16, let n = Int64(digits) else { throw Failure("auth.malformed", "Signature-Input: \(name) is not an integer") }
                switch name {
                case "created": p.created = n
                case "expires": p.expires = n
                default: throw Failure("auth.malformed", "Signature-Input: unknown parameter '\(name)'")
                }
            }
            guard !p.order.contains(name) else { throw Failure("auth.malformed", "Signature-Input: '\(name)' is repeated") }
            p.order.append(name)
        }
        return p
    }

    /// The members of a dictionary field whose values are not split further (`label=value`).
    public static func dictionary(_ field: String) throws(Failure) -> [(label: String, value: String)] {
        var out: [(String, String)] = []
        var s = Substring(field)
        while true {
            s = s.drop { $0 == " " }
            guard let eq = s.firstIndex(of: "=") else { break }
            let label = String(s[..<eq])
            guard !label.isEmpty, label.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "." || $0 == "*" }) else {
                throw Failure("auth.malformed", "'\(label.prefix(40))' is not a signature label")
            }
            s = s[s.index(after: eq)...]
            // The value runs to the next top-level comma (commas never occur inside our strings).
            var depth = 0, inString = false, end = s.endIndex
            for i in s.indices {
                let c = s[i]
                if c == "\"" { inString.toggle() } else if !inString && c == "(" { depth += 1 } else if !inString && c == ")" { depth -= 1 }
                else if !inString && depth == 0 && c == "," { end = i; break }
            }
            out.append((label, String(s[..<end]).trimmingCharacters(in: .whitespaces)))
            guard out.count <= 8 else { throw Failure("auth.malformed", "too many signatures") }
            if end == s.endIndex { break }
            s = s[s.index(after: end)...]
        }
        return out
    }

    /// A byte-sequence value `:<base64>:`.
    public static func byteSequence(_ value: String) -> [UInt8]? {
        guard value.count >= 2, value.first == ":", value.last == ":", let data = Data(base64Encoded: String(value.dropFirst().dropLast())) else { return nil }
        return Array(data)
    }
}
