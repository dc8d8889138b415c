public import MeridianCore

/// One value of one vital sign at one time, in the sign's canonical unit.
public struct VitalReading: Sendable, Hashable {
    public let sign: VitalSign
    public let value: Measurement
    public let time: Timestamp

    public init(sign: VitalSign, value: Measurement, time: Timestamp) { self.sign = sign; self.value = value; self.time = time }

    /// Whether this value alone makes the reading urgent (a NEWS2 parameter at 3, or a value past
    /// the sign's critical bounds): such readings are scored ahead of the routine backlog.
    public var mayBeCritical: Bool {
        guard let bounds = sign.criticalBounds else { return false }
        return !bounds.contains(value)
    }
}

extension VitalReading: Canonical {
    public func encode(to w: inout CanonicalWriter) {
        w.write(sign.rawValue)
        // Zig-zag: small negative values (ECG) stay short and the encoding stays canonical.
        w.write(UInt64(bitPattern: (value.micro << 1) ^ (value.micro >> 63)))
        w.write(time)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        let tag = try r.readUInt8("reading.sign")
        guard let s = VitalSign(rawValue: tag) else { throw CodecError(.unknownVariant, field: "reading.sign", offset: r.offset) }
        sign = s
        let z = try r.readUInt64("reading.value")
        value = Measurement(micro: Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
        time = try r.read(Timestamp.self)
    }
}

/// Where a batch of readings came from. A device's batches carry its sequence number (the unit of
/// de-duplication and of gap reports); a hospital feed (HL7 v2 over MLLP, FHIR over the API)
/// carries the sender's message id.
public enum ReadingSource: Sendable, Hashable {
    /// A paired device, by its key, and the frame's sequence number.
    case device(PublicKey, sequence: UInt64)
    /// A hospital system: its name (e.g. HL7 MSH-3^MSH-4) and its message id (MSH-10, Observation
    /// ids), each at most `maxFeedBytes` of UTF-8 (parsers refuse longer ones).
    case feed(String, messageID: String)

    public static let maxFeedBytes = 256
}

extension ReadingSource: Canonical {
    public func encode(to w: inout CanonicalWriter) {
        switch self {
        case .device(let key, let sequence): w.write(UInt8(0)); w.write(key); w.write(sequence)
        case .feed(let name, let id): w.write(UInt8(1)); w.write(name); w.write(id)
        }
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        switch try r.readUInt8("source.kind") {
        case 0: self = .device(try r.read(PublicKey.self), sequence: try r.readUInt64("source.sequence"))
        case 1: self = .feed(try r.readString("source.feed", max: Self.maxFeedBytes), messageID: try r.readString("source.message", max: Self.maxFeedBytes))
        default: throw CodecError(.unknownVariant, field: "source.kind", offset: r.offset)
        }
    }
}

/// Readings of one patient that arrived together (a device frame, an HL7 message's OBX segments
/// for one patient, a FHIR Bundle's Observations): the unit that is persisted, acknowledged and
/// anchored. Keyed by the patient's public key only; no name or other identifier is kept.
public struct ReadingBatch: Sendable, Hashable, Canonical {
    public let patient: PublicKey
    public let source: ReadingSource
    public let readings: [VitalReading]
    /// Bound on readings per batch: a frame or message with more is refused.
    public static let maxReadings = 1024

    public init(patient: PublicKey, source: ReadingSource, readings: [VitalReading]) {
        self.patient = patient; self.source = source; self.readings = readings
    }

    /// Whether any reading may be critical: the batch goes to the front of the scoring queue.
    public var mayBeCritical: Bool { readings.contains(where: \.mayBeCritical) }

    public func encode(to w: inout CanonicalWriter) { w.write(patient); w.write(source); w.write(readings) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        patient = try r.read(PublicKey.self)
        source = try r.read(ReadingSource.self)
        let n = try r.readLength("batch.readings", max: Self.maxReadings, minimumElementSize: 3)
        var out: [VitalReading] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try r.read(VitalReading.self)) }
        readings = out
    }
}
