public import MeridianCore
public import MeridianState
public import MeridianModules
public import MeridianRuntime

/// A page of `GET /v1/light/headers` (an open route): headers with their commit certificates, and,
/// for a header signed by a validator set its parent's header did not name, that set's state entry
/// with its proof at the parent's height, so that a light client can follow the chain from genesis
/// through validator-set changes over open routes alone. Encoded by the node, decoded and verified
/// here (hex strings, as everywhere in the API).
public struct LightHeadersPage: Codable, Sendable {
    public struct Item: Codable, Sendable {
        public let height: UInt64
        public let header: String
        public let commit: String?
        public let validatorSet: SetEntry?
        public init(height: UInt64, header: String, commit: String?, validatorSet: SetEntry?) {
            self.height = height; self.header = header; self.commit = commit; self.validatorSet = validatorSet
        }
    }
    /// The validator set's entry (`Validators.setKey`) at `height` (the parent's) with its proof.
    public struct SetEntry: Codable, Sendable {
        public let height: UInt64
        public let value: String
        public let proof: String
        public init(height: UInt64, value: String, proof: String) { self.height = height; self.value = value; self.proof = proof }
    }
    public let head: UInt64
    public let headers: [Item]
    public init(head: UInt64, headers: [Item]) { self.head = head; self.headers = headers }
}

extension LightClient {
    /// Verifies the page's headers that follow the verified head, up to `target`; returns how many
    /// it verified. Refuses, with the reason, a header or certificate that does not decode or verify.
    @discardableResult
    public mutating func advance(with page: LightHeadersPage, upTo target: UInt64) throws(LightClientError) -> Int {
        var verified = 0
        for item in page.headers where item.height == head.height + 1 && item.height <= target {
            let header = try Self.decode(BlockHeader.self, item.header, "header \(item.height)")
            guard let commit = item.commit else { throw LightClientError("light.decode", "header \(item.height) came without its certificate") }
            let certificate = try Self.decode(CommitCertificate.self, commit, "the certificate of header \(item.height)")
            var set: (value: [UInt8], proof: StateProof)?
            if let entry = item.validatorSet {
                guard entry.height == head.height, let value = Hex.decode(entry.value) else {
                    throw LightClientError("light.decode", "the validator set entry sent with header \(item.height) is not hex or not at height \(head.height)")
                }
                set = (value, try Self.decode(StateProof.self, entry.proof, "the validator set proof sent with header \(item.height)"))
            }
            try verifyNext(header, certificate: certificate, validatorSet: set)
            verified += 1
        }
        return verified
    }

    /// A canonical value from a node's hex; what does not decode is refused with the codec's reason.
    static func decode<T: CanonicalDecodable>(_ type: T.Type, _ hex: String, _ what: String) throws(LightClientError) -> T {
        guard let bytes = Hex.decode(hex) else { throw LightClientError("light.decode", "\(what) is not hex") }
        do { return try T(canonicalBytes: bytes) } catch { throw LightClientError("light.decode", "\(what) does not decode: \(error)") }
    }
}
