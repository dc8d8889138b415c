public import MeridianCore

/// What a policy contract said about one access, as the decision and the audit trail record it:
/// which contract, the fuel it used (the whole budget when it failed), and its answer or why it
/// failed.
public struct ContractVerdict: Hashable, Sendable, Canonical {
    public static let maxFailureBytes = 160

    public let contract: Bytes32
    /// The consent whose policy it is (its storage is scoped to this consent).
    public let consent: Bytes32
    public let fuelUsed: UInt64
    /// 1 allowed, ≤ 0 the contract's deny reason; nil when the call failed.
    public let answer: Int32?
    /// Out of fuel, a trap, a host-call violation, a malformed answer; nil when the contract answered.
    public let failure: String?

    public init(contract: Bytes32, consent: Bytes32, fuelUsed: UInt64, answer: Int32?, failure: String?) {
        self.contract = contract; self.consent = consent; self.fuelUsed = fuelUsed; self.answer = answer
        self.failure = failure.map { String(decoding: Array($0.utf8.prefix(Self.maxFailureBytes)), as: UTF8.self) }
    }

    public var allowed: Bool { answer == 1 }

    public func encode(to w: inout CanonicalWriter) {
        w.write(contract); w.write(consent); w.write(varint: fuelUsed)
        if let answer { w.write(true); w.write(signed: Int64(answer)) } else { w.write(false) }
        w.write(failure)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        contract = try r.readBytes32("verdict.contract"); consent = try r.readBytes32("verdict.consent")
        fuelUsed = try r.readVarint("verdict.fuel")
        if try r.readBool("verdict.answered") {
            let v = try r.readSigned("verdict.answer")
            guard let a = Int32(exactly: v) else { throw CodecError(.integerOverflow, field: "verdict.answer", offset: r.offset) }
            answer = a
        } else { answer = nil }
        failure = try r.readOptional(String.self, "verdict.failure")
        if let f = failure, f.utf8.count > Self.maxFailureBytes { throw CodecError(.lengthTooLarge, field: "verdict.failure", offset: r.offset) }
    }
}
