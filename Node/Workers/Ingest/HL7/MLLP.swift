public import MeridianVitals

/// The Minimal Lower Layer Protocol framing of HL7 v2 over TCP: each message is sent as
/// 0x0B, the message, 0x1C 0x0D. A pure, bounded decoder: bytes in, complete messages out; bytes
/// outside a frame or a frame over the size limit are an error (the connection is closed).
public struct MLLPDecoder: Sendable {
    public static let start: UInt8 = 0x0B, end: UInt8 = 0x1C, carriageReturn: UInt8 = 0x0D
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var inFrame = false

    public init(maxMessageBytes: Int = HL7Message.maxBytes) { self.maxMessageBytes = maxMessageBytes }

    /// Feeds received bytes; returns the messages they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(VitalsError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for b in bytes {
            if !inFrame {
                if b == Self.start { inFrame = true; buffer.removeAll(keepingCapacity: true) }
                else if b == Self.carriageReturn || b == 0x0A { continue }   // stray line ends between frames are tolerated
                else { throw VitalsError(.malformed, "MLLP: byte 0x\(String(b, radix: 16)) outside a frame (expected 0x0B)") }
            } else if b == Self.carriageReturn, buffer.last == Self.end {
                buffer.removeLast()
                out.append(buffer)
                buffer.removeAll(keepingCapacity: true)
                inFrame = false
            } else {
                guard buffer.count < maxMessageBytes + 1 else { throw VitalsError(.tooLarge, "MLLP: a frame exceeds \(maxMessageBytes) bytes") }
                buffer.append(b)
            }
        }
        return out
    }

    public static func frame(_ message: [UInt8]) -> [UInt8] { [start] + message + [end, carriageReturn] }
}
