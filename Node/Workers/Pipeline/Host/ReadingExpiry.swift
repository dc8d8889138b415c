public import MeridianVitals

/// How old a reading may be and still count in a NEWS2 score, per vital sign (node.json
/// `workers.readingMaxAgeMinutes`, by sign name). Defaults: 12 hours for the six charted
/// parameters (the RCP's minimum observation frequency for a score of 0 is 12-hourly, so an older
/// value is not a current observation on any chart), and 1 hour for the oxygen flow that says the
/// patient is on supplemental oxygen (it scores 2; a flow read hours ago is a stale flag, not an
/// observation). A parameter without an unexpired reading makes the score incomplete.
public struct ReadingExpiry: Sendable, Equatable {
    public static let defaultMinutes = 12 * 60
    public static let oxygenMinutes = 60
    /// Overrides by sign, in minutes.
    public var minutes: [VitalSign: Int]

    public init(minutes: [VitalSign: Int] = [:]) { self.minutes = minutes }

    public func maxAgeMilliseconds(_ sign: VitalSign) -> UInt64 {
        UInt64(max(0, minutes[sign] ?? (sign == .inhaledOxygenFlow ? Self.oxygenMinutes : Self.defaultMinutes))) * 60_000
    }
}
