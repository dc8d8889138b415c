/// A property the code relies on that did not hold: a bug, never bad input (bad input gets an
/// error of its own). Checked where it holds, the TigerBeetle way: a failed check throws this,
/// which fails a test and, in a node, stops it naming the invariant and the values (the failure
/// policy, docs/ARCHITECTURE.md) rather than go on from a state no one designed for.
public struct InvariantViolation: Error, Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let values: String
    public init(_ name: String, _ values: String) { self.name = name; self.values = values }
    public var description: String { "invariant \(name) does not hold: \(values)" }
}

/// Throws `InvariantViolation(name, values())` unless `condition` holds.
@inlinable
public func invariant(_ condition: Bool, _ name: @autoclosure () -> String, _ values: @autoclosure () -> String) throws(InvariantViolation) {
    if !condition { throw InvariantViolation(name(), values()) }
}
