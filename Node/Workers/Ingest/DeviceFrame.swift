public import MeridianCore
public import MeridianVitals

/// The compact binary frame a paired biosensor (or a phone gateway relaying Bluetooth payloads)
/// signs and sends. Big-endian, as IEEE 11073:
///
///     version   u8     1
///     kind      u8     0 readings, 1 Bluetooth relay
///     device    32     the device's x-only public key (paired to the patient on chain)
///     sequence  u64    per device, strictly the device's own counter (dedup and gap reports)
///     time      u64    Unix milliseconds of the frame
///     count     u8     1...255 entries
///     entries          kind 0: offset u16 (ms after `time`), code u32 (IEEE 11073 MDC),
///                              unit length u8 (1...16) + UCUM ASCII, value u32 (11073 FLOAT)
///                      kind 1: offset u16, characteristic u16 (0x2A37), length u8 (1...64) + payload
///     signature 64     BIP-340 by `device` over the tagged hash (BIP-340 style, tag
///                      "meridian/device-frame/v1") of all bytes before it
///
/// Parsing checks structure, codes, units and limits; `verifySignature()` is a separate step so
/// that the cheap checks run first and a bad frame costs no curve operation.
public struct DeviceFrame: Sendable, Hashable {
    public enum Kind: UInt8, Sendable { case readings = 0, bluetoothRelay = 1 }

    public let kind: Kind
    public let device: PublicKey
    public let sequence: UInt64
    public let time: Timestamp
    /// Readings in canonical units (Bluetooth payloads already decoded).
    public let readings: [VitalReading]
    public let signature: Bytes64
    /// The signed bytes' hash (the message the signature covers).
    public let signedHash: Bytes32

    public static let version: UInt8 = 1
    public static let maxBytes = 16 * 1024
    static let domain = "meridian/device-frame/v1"
    static let headerBytes = 1 + 1 + 32 + 8 + 8 + 1

    /// Parses and validates a frame (not its signature).
    public init(parsing bytes: [UInt8]) throws(VitalsError) {
        guard bytes.count <= Self.maxBytes else { throw VitalsError(.tooLarge, "device frame of \(bytes.count) bytes exceeds \(Self.maxBytes)") }
        guard bytes.count >= Self.headerBytes + 64 else { throw VitalsError(.malformed, "device frame: \(bytes.count) bytes is shorter than a header and signature") }
        var r = BinaryReader(bytes, format: "device frame")
        let version = try r.u8("version")
        guard version == Self.version else { throw VitalsError(.unsupported, "device frame version \(version) (this node reads version \(Self.version))") }
        let kindByte = try r.u8("kind")
        guard let kind = Kind(rawValue: kindByte) else { throw VitalsError(.malformed, "device frame: unknown kind \(kindByte)") }
        let keyBytes = try r.take(32, "device")
        guard let key = try? PublicKey(Bytes32(keyBytes)!) else { throw VitalsError(.malformed, "device frame: the device key is not a valid x-only public key") }
        let sequence = try r.u64be("sequence")
        let time = Timestamp(unixMilliseconds: try r.u64be("time"))
        let count = Int(try r.u8("count"))
        guard count > 0 else { throw VitalsError(.malformed, "device frame: no entries") }
        var readings: [VitalReading] = []
        readings.reserveCapacity(count)
        for i in 0..<count {
            let offset = try r.u16be("entry \(i) offset")
            let at = time.adding(milliseconds: UInt64(offset))
            switch kind {
            case .readings:
                let code = try r.u32be("entry \(i) code")
                guard let sign = VitalSign.fromMDC(code) else { throw VitalsError(.unknownCode, "device frame entry \(i): MDC code \(code) is not a vital sign this node ingests") }
                let unitLength = Int(try r.u8("entry \(i) unit length"))
                guard (1...16).contains(unitLength) else { throw VitalsError(.malformed, "device frame entry \(i): unit length \(unitLength) not in 1...16") }
                let unitBytes = try r.take(unitLength, "entry \(i) unit")
                guard unitBytes.allSatisfy({ $0 >= 0x21 && $0 < 0x7f }) else { throw VitalsError(.malformed, "device frame entry \(i): unit is not printable ASCII") }
                let raw = try DeviceFloat.decode(try r.u32be("entry \(i) value"))
                let value = try UnitConversion.canonical(raw, unit: String(decoding: unitBytes, as: UTF8.self), sign: sign)
                readings.append(VitalReading(sign: sign, value: value, time: at))
            case .bluetoothRelay:
                let characteristic = try r.u16be("entry \(i) characteristic")
                guard characteristic == HeartRateMeasurement.characteristic else {
                    throw VitalsError(.unsupported, "device frame entry \(i): Bluetooth characteristic 0x\(String(characteristic, radix: 16)) (this node reads 0x2A37)")
                }
                let length = Int(try r.u8("entry \(i) payload length"))
                guard (1...64).contains(length) else { throw VitalsError(.malformed, "device frame entry \(i): payload length \(length) not in 1...64") }
                let measurement = try HeartRateMeasurement(parsing: r.take(length, "entry \(i) payload"))
                readings.append(contentsOf: measurement.readings(at: at))
            }
            guard readings.count <= ReadingBatch.maxReadings else { throw VitalsError(.tooLarge, "device frame: more than \(ReadingBatch.maxReadings) readings") }
        }
        let signedEnd = r.offset
        guard r.remaining == 64 else {
            throw VitalsError(.malformed, "device frame: \(r.remaining) bytes after the entries where the 64-byte signature should end the frame")
        }
        signature = Bytes64(try r.take(64, "signature"))!
        self.kind = kind; device = key; self.sequence = sequence; self.time = time; self.readings = readings
        var h = Hasher256(tag: Self.domain)
        bytes.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[..<signedEnd])) }
        signedHash = h.finalize()
    }

    /// Whether the device's key signed this frame.
    public func verifySignature() -> Bool { device.verify(signature, message: signedHash) }

    /// The frame's readings as the batch the node persists, for the patient the device is paired to.
    public func batch(patient: PublicKey) -> ReadingBatch {
        ReadingBatch(patient: patient, source: .device(device, sequence: sequence), readings: readings)
    }

    /// One entry to encode (simulators, tests, benchmarks).
    public enum Entry: Sendable {
        case reading(offsetMilliseconds: UInt16, mdc: UInt32, unit: String, value: Measurement)
        case bluetooth(offsetMilliseconds: UInt16, payload: [UInt8])
    }

    /// Encodes and signs a frame with the device's key. Throws if an entry cannot be encoded.
    public static func encode(kind: Kind, device: PrivateKey, sequence: UInt64, time: Timestamp, entries: [Entry]) throws -> [UInt8] {
        var out: [UInt8] = [version, kind.rawValue]
        device.publicKey.bytes32.withUnsafeBytes { out.append(contentsOf: $0) }
        out.appendBE(sequence); out.appendBE(time.unixMilliseconds)
        out.append(UInt8(entries.count))
        for e in entries {
            switch e {
            case .reading(let offset, let mdc, let unit, let value):
                guard let raw = DeviceFloat.encode(value) else { throw VitalsError(.impossibleValue, "\(value) does not fit a device FLOAT") }
                out.appendBE(offset); out.appendBE(mdc); out.append(UInt8(unit.utf8.count)); out.append(contentsOf: unit.utf8); out.appendBE(raw)
            case .bluetooth(let offset, let payload):
                out.appendBE(offset); out.appendBE(HeartRateMeasurement.characteristic); out.append(UInt8(payload.count)); out.append(contentsOf: payload)
            }
        }
        var h = Hasher256(tag: domain)
        h.update(out)
        let signature = try device.sign(h.finalize())
        signature.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }
}
