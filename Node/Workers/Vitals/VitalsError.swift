/// Why a reading was refused, with a stable code for the API, HL7 ERR segments and logs, and a
/// reason that names the offending field or value.
public struct VitalsError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case unknownCode = "vitals.unknown_code"
        case unknownUnit = "vitals.unknown_unit"
        case impossibleValue = "vitals.impossible_value"
        case malformed = "vitals.malformed"
        case badSignature = "vitals.bad_signature"
        case unsupported = "vitals.unsupported"
        case tooLarge = "vitals.too_large"
    }
    public let code: Code
    public let reason: String
    public init(_ code: Code, _ reason: String) { self.code = code; self.reason = reason }
    public var description: String { "\(code.rawValue): \(reason)" }
    /// Equality compares the code only, so tests can assert the exact error.
    public static func == (a: VitalsError, b: VitalsError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}
