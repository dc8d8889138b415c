/// Why an HL7 v2 message was refused, as the ERR segment of the acknowledgement says it: an HL7
/// table 0357 error code, the location (segment-field, e.g. "OBX-5" or "OBX[3]-6") and a reason.
public struct HL7Error: Error, Hashable, Sendable, CustomStringConvertible {
    /// HL7 table 0357 (message error condition codes).
    public enum Code: Int, Sendable, Hashable {
        case segmentSequence = 100
        case requiredFieldMissing = 101
        case dataType = 102
        case tableValueNotFound = 103
        case unsupportedMessageType = 200
        case unsupportedEventCode = 201
        case unsupportedProcessingID = 202
        case unsupportedVersionID = 203
        case unknownKey = 204
        case applicationError = 207

        public var text: String {
            switch self {
            case .segmentSequence: "Segment sequence error"
            case .requiredFieldMissing: "Required field missing"
            case .dataType: "Data type error"
            case .tableValueNotFound: "Table value not found"
            case .unsupportedMessageType: "Unsupported message type"
            case .unsupportedEventCode: "Unsupported event code"
            case .unsupportedProcessingID: "Unsupported processing id"
            case .unsupportedVersionID: "Unsupported version id"
            case .unknownKey: "Unknown key identifier"
            case .applicationError: "Application internal error"
            }
        }
        /// Whether the sender should not resend as is (AR) rather than fix the content (AE).
        public var rejects: Bool { [.unsupportedMessageType, .unsupportedEventCode, .unsupportedProcessingID, .unsupportedVersionID].contains(self) || self == .segmentSequence }
    }
    public let code: Code
    public let location: String
    public let reason: String
    public init(_ code: Code, location: String = "", reason: String) { self.code = code; self.location = location; self.reason = reason }
    public var description: String { "HL7 \(code.rawValue) \(code.text)\(location.isEmpty ? "" : " at \(location)"): \(reason)" }
    public static func == (a: HL7Error, b: HL7Error) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}
