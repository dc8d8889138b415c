public import MeridianCore

/// One parameter a consent gives its policy contract (`--param key=value`): text the contract
/// reads as bytes with `param_get`.
public struct PolicyParameter: Hashable, Sendable, Canonical, Comparable {
    public static let maxKeyBytes = 32, maxValueBytes = 64
    public let key: String
    public let value: String
    public init(key: String, value: String) { self.key = key; self.value = value }
    public static func < (l: PolicyParameter, r: PolicyParameter) -> Bool { Array(l.key.utf8).lexicographicallyPrecedes(Array(r.key.utf8)) }
    public func encode(to w: inout CanonicalWriter) { w.write(key); w.write(value) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        key = try r.readString("policy.parameter.key", max: Self.maxKeyBytes); value = try r.readString("policy.parameter.value", max: Self.maxValueBytes)
    }
}

/// A policy contract a consent names: the code hash of a deployed contract and its parameters.
/// The contract runs only after the consent's own terms and the transfer rules allowed an access,
/// so it can narrow the consent and never widen it.
public struct ConsentPolicy: Hashable, Sendable, Canonical {
    public static let maxParameters = 8
    public let contract: Bytes32
    /// Sorted by key, keys unique.
    public let parameters: [PolicyParameter]

    public init(contract: Bytes32, parameters: [PolicyParameter] = []) {
        self.contract = contract
        self.parameters = parameters.sorted()
    }

    /// The parameters as the host hands them to `param_get`.
    public var parameterBytes: [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for p in parameters { out[p.key] = Array(p.value.utf8) }
        return out
    }

    /// What the codec cannot check: non-empty keys, unique, within the bounds.
    public func validate() throws(RuntimeError) {
        for (i, p) in parameters.enumerated() {
            guard !p.key.isEmpty, p.key.utf8.count <= PolicyParameter.maxKeyBytes else {
                throw RuntimeError("consent.policy_parameter", "a policy parameter's name is 1 to \(PolicyParameter.maxKeyBytes) bytes")
            }
            guard p.value.utf8.count <= PolicyParameter.maxValueBytes else {
                throw RuntimeError("consent.policy_parameter", "policy parameter '\(p.key)' is over \(PolicyParameter.maxValueBytes) bytes")
            }
            if i > 0, !(parameters[i - 1] < p) { throw RuntimeError("consent.policy_parameter", "policy parameter '\(p.key)' is given twice") }
        }
    }

    public func encode(to w: inout CanonicalWriter) { w.write(contract); w.write(parameters) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        contract = try r.readBytes32("policy.contract")
        parameters = try r.readSortedSet(PolicyParameter.self, "policy.parameters", max: Self.maxParameters)
    }
}
