/// Why canonical bytes were refused. Each case has a stable `code` for APIs and logs; the decoder
/// reports the offset where it stopped so a bad frame can be located in a capture.
public struct CodecError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case truncated = "codec.truncated"
        case trailingBytes = "codec.trailing_bytes"
        case nonMinimalInteger = "codec.non_minimal_integer"
        case integerOverflow = "codec.integer_overflow"
        case lengthTooLarge = "codec.length_too_large"
        case unknownVariant = "codec.unknown_variant"
        case invalidBoolean = "codec.invalid_boolean"
        case invalidUTF8 = "codec.invalid_utf8"
        case notSorted = "codec.not_sorted_or_duplicate"
        case invalidValue = "codec.invalid_value"
    }

    public let code: Code
    /// The field or type being decoded.
    public let field: String
    /// Byte offset in the input where the problem was found.
    public let offset: Int

    public init(_ code: Code, field: String, offset: Int) {
        self.code = code; self.field = field; self.offset = offset
    }

    public var description: String { "\(code.rawValue) in \(field) at byte \(offset)" }

    /// Errors compare by code only, so tests assert the kind of failure, not where it was found.
    public static func == (lhs: CodecError, rhs: CodecError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
