public import MeridianCore
public import MeridianVitals

/// A decoded WFDB record as reading batches for import: each signal in millivolts (or another unit
/// the ECG sign converts from) becomes ECG-sample readings, in batches of at most
/// `ReadingBatch.maxReadings`, dated from `start` at the record's sampling frequency. The message id
/// names the record, the signal (index and description: the lead) and the chunk, so a re-import is a
/// duplicate, never a second copy.
public enum WFDBImport {
    public static func batches(record: WFDBHeader, signals: [WFDBSignals.Signal], patient: PublicKey, start: Timestamp) throws(VitalsError) -> [ReadingBatch] {
        var out: [ReadingBatch] = []
        for (k, signal) in signals.enumerated() {
            var readings: [VitalReading] = []
            readings.reserveCapacity(ReadingBatch.maxReadings)
            var chunk = 0
            func flush() {
                guard !readings.isEmpty else { return }
                let lead = signal.header.description.isEmpty ? "signal\(k)" : signal.header.description
                out.append(ReadingBatch(patient: patient, source: .feed("wfdb", messageID: "\(record.name)/\(k):\(lead.prefix(32))/\(chunk)"), readings: readings))
                readings.removeAll(keepingCapacity: true); chunk += 1
            }
            for i in signal.samples.indices {
                let value = try UnitConversion.canonical(signal.physical(i), unit: signal.header.units, sign: .ecgSample)
                let offset = UInt64((Double(i) * 1000 / record.samplingFrequency).rounded(.down))
                readings.append(VitalReading(sign: .ecgSample, value: value, time: start.adding(milliseconds: offset)))
                if readings.count == ReadingBatch.maxReadings { flush() }
            }
            flush()
        }
        return out
    }

    /// The decoded samples as CSV: sample number, seconds from the start, then each signal's physical
    /// value in its units (header row names them).
    public static func csv(record: WFDBHeader, signals: [WFDBSignals.Signal]) -> String {
        var out = "sample,seconds," + signals.enumerated().map { k, s in "\(s.header.description.isEmpty ? "signal\(k)" : s.header.description) (\(s.header.units))" }.joined(separator: ",") + "\n"
        let frames = signals.map(\.samples.count).min() ?? 0
        for i in 0..<frames {
            out += "\(i),\(Measurement(micro: Int64((Double(i) / record.samplingFrequency * 1_000_000).rounded())))"
            for s in signals { out += ",\(s.physical(i))" }
            out += "\n"
        }
        return out
    }
}
