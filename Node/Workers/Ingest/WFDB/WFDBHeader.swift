public import MeridianVitals

/// A PhysioNet WFDB header (.hea), single-segment records: the record line
/// `name nsig [fs[/counterfreq[(base)]] [nsamp [basetime [basedate]]]]` and one line per signal
/// `file format[xsamp][:skew][+offset] [gain[(baseline)][/units] [resolution [zero [initial [checksum [blocksize [description]]]]]]]`.
/// Comment lines start with '#'. Formats 212 and 16 are read; any other is refused by name.
public struct WFDBHeader: Sendable, Hashable {
    public struct Signal: Sendable, Hashable {
        public let file: String
        public let format: Int
        /// ADC units per physical unit (WFDB's default 200 when absent or 0).
        public let gain: Double
        public let baseline: Int
        public let units: String
        public let resolution: Int
        public let zero: Int
        public let initialValue: Int?
        public let checksum: Int?
        public let byteOffset: Int
        public let description: String
    }

    public let name: String
    public let samplingFrequency: Double
    public let sampleCount: Int?
    public let signals: [Signal]

    public static let supportedFormats: Set<Int> = [212, 16]
    public static let maxSignals = 64
    public static let maxBytes = 64 * 1024

    public init(parsing text: String) throws(VitalsError) {
        guard text.utf8.count <= Self.maxBytes else { throw VitalsError(.tooLarge, "WFDB header of \(text.utf8.count) bytes exceeds \(Self.maxBytes)") }
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }).map { $0.trimmingPrefix(while: { $0 == " " || $0 == "\t" }) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard let recordLine = lines.first else { throw VitalsError(.malformed, "WFDB header: no record line") }
        let r = recordLine.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard r.count >= 2 else { throw VitalsError(.malformed, "WFDB header: the record line needs a name and a signal count") }
        guard !r[0].contains("/") else { throw VitalsError(.unsupported, "WFDB header: multi-segment records are not read") }
        name = String(r[0])
        guard let n = Int(r[1]), (1...Self.maxSignals).contains(n) else { throw VitalsError(.malformed, "WFDB header: signal count '\(r[1].prefix(16))' not in 1...\(Self.maxSignals)") }
        if r.count >= 3 {
            let fsText = r[2].prefix(while: { $0 != "/" && $0 != "(" })
            guard let fs = Double(fsText), fs > 0, fs <= 1_000_000, fs.isFinite else { throw VitalsError(.malformed, "WFDB header: sampling frequency '\(r[2].prefix(16))'") }
            samplingFrequency = fs
        } else { samplingFrequency = 250 }   // WFDB's default
        if r.count >= 4 {
            guard let ns = Int(r[3]), ns >= 0, ns <= 1 << 32 else { throw VitalsError(.malformed, "WFDB header: sample count '\(r[3].prefix(16))'") }
            sampleCount = ns
        } else { sampleCount = nil }
        guard lines.count >= 1 + n else { throw VitalsError(.malformed, "WFDB header: \(n) signals declared, \(lines.count - 1) signal lines") }
        var signals: [Signal] = []
        for i in 0..<n {
            let f = lines[1 + i].split(maxSplits: 8, whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 2 else { throw VitalsError(.malformed, "WFDB header signal \(i): needs a file name and a format") }
            let file = String(f[0])
            guard !file.contains("/"), file != "-", file.utf8.count <= 255 else { throw VitalsError(.unsupported, "WFDB header signal \(i): file '\(file.prefix(40))' (a plain file name beside the header)") }
            // format[xsamp][:skew][+offset]
            var formatText = f[1][...], offset = 0
            if let plus = formatText.firstIndex(of: "+") {
                guard let o = Int(formatText[formatText.index(after: plus)...]), o >= 0 else { throw VitalsError(.malformed, "WFDB header signal \(i): byte offset in '\(f[1].prefix(16))'") }
                offset = o; formatText = formatText[..<plus]
            }
            guard !formatText.contains("x"), !formatText.contains(":") else { throw VitalsError(.unsupported, "WFDB header signal \(i): multiple samples per frame and skew are not read") }
            guard let format = Int(formatText) else { throw VitalsError(.malformed, "WFDB header signal \(i): format '\(f[1].prefix(16))'") }
            guard Self.supportedFormats.contains(format) else { throw VitalsError(.unsupported, "WFDB header signal \(i): format \(format) (212 and 16 are read)") }
            var gain = 200.0, baseline: Int? = nil, units = "mV"
            if f.count >= 3 {
                var g = f[2][...]
                if let slash = g.firstIndex(of: "/") { units = String(g[g.index(after: slash)...]); g = g[..<slash] }
                if let open = g.firstIndex(of: "(") {
                    guard g.last == ")", let b = Int(g[g.index(after: open)..<g.index(before: g.endIndex)]) else { throw VitalsError(.malformed, "WFDB header signal \(i): baseline in '\(f[2].prefix(32))'") }
                    baseline = b; g = g[..<open]
                }
                guard let v = Double(g), v.isFinite, v >= 0 else { throw VitalsError(.malformed, "WFDB header signal \(i): gain '\(f[2].prefix(32))'") }
                if v > 0 { gain = v }
            }
            func int(_ k: Int, _ what: String) throws(VitalsError) -> Int? {
                guard f.count > k else { return nil }
                guard let v = Int(f[k]) else { throw VitalsError(.malformed, "WFDB header signal \(i): \(what) '\(f[k].prefix(16))'") }
                return v
            }
            let resolution = try int(3, "resolution") ?? (format == 212 ? 12 : 16)
            let zero = try int(4, "ADC zero") ?? 0
            let initial = try int(5, "initial value")
            let checksum = try int(6, "checksum")
            _ = try int(7, "block size")
            let description = f.count > 8 ? String(f[8]) : ""
            signals.append(Signal(file: file, format: format, gain: gain, baseline: baseline ?? zero, units: units, resolution: resolution, zero: zero,
                                  initialValue: initial, checksum: checksum, byteOffset: offset, description: description))
        }
        let files = Set(signals.map(\.file))
        for file in files where Set(signals.filter { $0.file == file }.map(\.format)).count > 1 {
            throw VitalsError(.unsupported, "WFDB header: signals in \(file) mix formats")
        }
        self.signals = signals
    }
}
