public import MeridianVitals

/// The variables of one risk assessment: for each trended vital sign and each window (1 h, 6 h)
/// the last value, minimum, maximum, mean, least-squares slope per hour and number of readings;
/// then NEWS2 now, its sub-scores and its change over each window. 6 signs × 2 windows × 6 + 7 +
/// 1 + 2 = 82 variables, named in `names` (the docs list them). A missing value is NaN (a model
/// sees "not measured", never a made-up number).
public struct TrendFeatures: Sendable {
    public static let signs: [VitalSign] = [.heartRate, .respiratoryRate, .oxygenSaturation, .bodyTemperature, .systolicPressure, .diastolicPressure]
    public static let windows: [(name: String, milliseconds: UInt64)] = [("1h", 3_600_000), ("6h", 21_600_000)]
    public static let statistics = ["last", "min", "max", "mean", "slope_per_h", "count"]

    public static let names: [String] = {
        var out: [String] = []
        for s in signs { for w in windows { for st in statistics { out.append("\(s.name).\(w.name).\(st)") } } }
        out.append("news2.total")
        for p in NEWS2.Parameter.allCases { out.append("news2.\(p.name)") }
        for w in windows { out.append("news2.change_\(w.name)") }
        return out
    }()

    private var windows: [[SlidingWindow]]   // [sign][window]
    private var news2History: SlidingWindow, news2Long: SlidingWindow

    public init() {
        windows = Self.signs.map { _ in Self.windows.map { SlidingWindow(lengthMilliseconds: $0.milliseconds) } }
        news2History = SlidingWindow(lengthMilliseconds: Self.windows[0].milliseconds)
        news2Long = SlidingWindow(lengthMilliseconds: Self.windows[1].milliseconds)
    }

    /// Folds a reading into the trends.
    public mutating func add(_ r: VitalReading) {
        guard let i = Self.signs.firstIndex(of: r.sign) else { return }
        for w in windows[i].indices { windows[i][w].add(t: r.time.unixMilliseconds, value: r.value.doubleValue) }
    }

    /// The feature vector for an assessment at `time` with NEWS2 `score` (recorded for the change).
    public mutating func vector(score: NEWS2.Score, time: UInt64) -> [Double] {
        news2History.add(t: time, value: Double(score.total))
        news2Long.add(t: time, value: Double(score.total))
        var out: [Double] = []
        out.reserveCapacity(Self.names.count)
        for sign in windows {
            for w in sign {
                out.append(w.last ?? .nan); out.append(w.minimum ?? .nan); out.append(w.maximum ?? .nan)
                out.append(w.mean ?? .nan); out.append(w.slopePerHour ?? .nan); out.append(Double(w.count))
            }
        }
        out.append(Double(score.total))
        for p in NEWS2.Parameter.allCases { out.append(Double(score.subscore(p))) }
        // Change: now minus the oldest score still in the window.
        for h in [news2History, news2Long] { out.append(h.count >= 2 ? Double(score.total) - (h.oldest ?? Double(score.total)) : 0) }
        return out
    }
}

