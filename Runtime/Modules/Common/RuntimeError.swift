public import MeridianCore
import MeridianState

/// Why a transaction or query was refused by the runtime: a stable dotted `code`
/// (`consent.not_found`, `identity.not_a_member`, ...) that APIs and CLIs map to their own
/// answers, and a human `message` naming the offending value.
public struct RuntimeError: Error, Hashable, Sendable, CustomStringConvertible, Canonical {
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code): \(message)" }

    public static func == (l: RuntimeError, r: RuntimeError) -> Bool { l.code == r.code }
    public func hash(into h: inout Hasher) { h.combine(code) }

    public func encode(to w: inout CanonicalWriter) { w.write(code); w.write(message) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        code = try r.readString("error.code", max: 64); message = try r.readString("error.message", max: 1024)
    }

    /// Whether this is a fault of the node (its storage, or an invariant that did not hold) rather
    /// than a verdict on the transaction: it never becomes a receipt; the block fails and the node stops.
    public var isStateFault: Bool { code.hasPrefix("state.") || code.hasPrefix("invariant.") }

    /// A property the runtime relies on did not hold (`InvariantViolation`, as a runtime error).
    public static func invariant(_ v: InvariantViolation) -> RuntimeError { RuntimeError("invariant.\(v.name)", v.values) }

    static func state(_ e: StateError) -> RuntimeError { RuntimeError("state.\(e.code.rawValue)", e.detail) }
    static func corrupt(_ what: String) -> RuntimeError { RuntimeError("state.corrupt", "stored \(what) does not decode") }
}
