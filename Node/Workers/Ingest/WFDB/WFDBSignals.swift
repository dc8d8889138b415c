public import MeridianVitals

/// Decoding the binary signal files of a WFDB record. Signals stored in one file are interleaved
/// frame by frame (one sample of each, in header order). Format 16 is 16-bit little-endian two's
/// complement; format 212 packs two 12-bit two's-complement samples in three bytes (the first
/// sample's low 8 bits, then a byte whose low nibble is the first sample's high 4 bits and whose
/// high nibble is the second's, then the second's low 8 bits).
public enum WFDBSignals {
    /// A decoded signal: the ADC samples and their conversion to physical units.
    public struct Signal: Sendable, Hashable {
        public let header: WFDBHeader.Signal
        public let samples: [Int32]
        /// (sample - baseline) / gain, as an exact fixed-point value in micro-units of `header.units`.
        public func physical(_ i: Int) -> Measurement {
            let micro = (Double(Int(samples[i]) - header.baseline) / header.gain * 1_000_000).rounded(.toNearestOrAwayFromZero)
            return Measurement(micro: Int64(micro))
        }
    }

    public static let maxSamples = 50_000_000

    /// Decodes the signals stored in `file` (bytes of that .dat), in header order. Checks the
    /// sample count, initial values and checksums the header gives.
    public static func decode(header: WFDBHeader, file: String, bytes: [UInt8]) throws(VitalsError) -> [Signal] {
        let group = header.signals.filter { $0.file == file }
        guard let first = group.first else { throw VitalsError(.malformed, "WFDB: no signal of \(header.name) is stored in \(file)") }
        let start = first.byteOffset
        guard start <= bytes.count else { throw VitalsError(.malformed, "WFDB \(file): byte offset \(start) is past the end (\(bytes.count) bytes)") }
        let body = bytes[start...]
        let n = group.count
        var flat: [Int32] = []
        switch first.format {
        case 16:
            guard body.count % (2 * n) == 0 else { throw VitalsError(.malformed, "WFDB \(file): \(body.count) bytes is not a whole number of format-16 frames of \(n) signals") }
            guard body.count / 2 <= maxSamples else { throw VitalsError(.tooLarge, "WFDB \(file): more than \(maxSamples) samples") }
            flat.reserveCapacity(body.count / 2)
            var i = body.startIndex
            while i < body.endIndex { flat.append(Int32(Int16(bitPattern: UInt16(body[i]) | UInt16(body[i + 1]) << 8))); i += 2 }
        case 212:
            guard body.count / 3 * 2 <= maxSamples else { throw VitalsError(.tooLarge, "WFDB \(file): more than \(maxSamples) samples") }
            flat.reserveCapacity(body.count / 3 * 2 + 1)
            var i = body.startIndex
            while i + 1 < body.endIndex {
                let b0 = Int32(body[i]), b1 = Int32(body[i + 1])
                flat.append(signExtend12(b0 | (b1 & 0x0F) << 8))
                guard i + 2 < body.endIndex else { i += 2; break }   // an odd final sample: two bytes
                let b2 = Int32(body[i + 2])
                flat.append(signExtend12(b2 | (b1 & 0xF0) << 4))
                i += 3
            }
            guard i == body.endIndex else { throw VitalsError(.malformed, "WFDB \(file): a format-212 file cannot end in one lone byte") }
            // A pair's padding sample (odd total) is dropped when the frame count says so.
            if let ns = header.sampleCount, flat.count == ns * n + 1 { flat.removeLast() }
        default:
            throw VitalsError(.unsupported, "WFDB \(file): format \(first.format)")
        }
        guard flat.count % n == 0 else { throw VitalsError(.malformed, "WFDB \(file): \(flat.count) samples do not fill frames of \(n) signals") }
        let frames = flat.count / n
        if let ns = header.sampleCount, ns != 0, ns != frames {
            throw VitalsError(.malformed, "WFDB \(file): the header says \(ns) samples per signal, the file holds \(frames)")
        }
        var out: [Signal] = []
        for (k, signal) in group.enumerated() {
            var samples = [Int32](repeating: 0, count: frames)
            for f in 0..<frames { samples[f] = flat[f * n + k] }
            if let initial = signal.initialValue, frames > 0, Int(samples[0]) != initial {
                throw VitalsError(.malformed, "WFDB \(file) signal \(k): first sample \(samples[0]), the header's initial value \(initial)")
            }
            if let checksum = signal.checksum {
                let sum = samples.reduce(0) { ($0 &+ Int($1)) & 0xFFFF }
                guard sum == checksum & 0xFFFF else { throw VitalsError(.malformed, "WFDB \(file) signal \(k): checksum \(sum) (16-bit), the header says \(checksum)") }
            }
            out.append(Signal(header: signal, samples: samples))
        }
        return out
    }

    static func signExtend12(_ v: Int32) -> Int32 { v & 0x800 != 0 ? v - 0x1000 : v }
}
