/// Why a model was refused at load or an evaluation failed. `code` is stable (tests and the CLI
/// match on it); `reason` names the operator, attribute or value at fault.
public struct ModelError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The bytes are not an ONNX ModelProto.
        case malformed
        /// The graph uses an operator (or operator domain) this evaluator does not implement.
        case unsupportedOperator
        /// A supported operator carries an attribute or attribute value this evaluator does not honour.
        case unsupportedAttribute
        /// An attribute is missing or inconsistent (lengths differ, an id points nowhere, a tree loops).
        case badAttribute
        /// A tensor type other than the ones the supported operators take (float, int64).
        case unsupportedType
        /// The graph's wiring is wrong (a value used before it is produced, an output never produced).
        case badGraph
        /// The caller's input does not fit the model (column count, non-finite value).
        case badInput
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }

    /// Equality compares the code only, so tests can assert the kind of refusal.
    public static func == (lhs: ModelError, rhs: ModelError) -> Bool { lhs.code == rhs.code }
}
