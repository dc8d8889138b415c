public import MeridianVitals

/// The National Early Warning Score 2 (Royal College of Physicians, 2017), exactly as its chart:
/// seven parameters, two SpO2 scales, and the bands low (0-4), low-medium (any single parameter
/// scoring 3 with a total below 5), medium (5-6) and high (7 or more).
///
/// Inputs are the values a chart records: whole breaths, beats, percent and mmHg, and temperature
/// in tenths of a degree; `NEWS2.Observation(from:)` rounds measured values to these (halves away
/// from zero), so 91.5 % scores as 92 %.
public enum NEWS2 {
    /// ACVPU: alert, or new confusion, voice, pain, unresponsive (all four score 3).
    public enum Consciousness: UInt8, Sendable, Hashable, CaseIterable {
        case alert = 0, confusion = 1, voice = 2, pain = 3, unresponsive = 4
        public var letter: String { ["A", "C", "V", "P", "U"][Int(rawValue)] }
    }

    /// SpO2 scale 1 for everyone, except scale 2 for hypercapnic respiratory failure with a
    /// prescribed 88-92 % target (a clinician's decision, recorded per patient).
    public enum SpO2Scale: UInt8, Sendable, Hashable { case scale1 = 1, scale2 = 2 }

    public enum Band: UInt8, Sendable, Hashable, Comparable, CaseIterable {
        case low = 0, lowMedium = 1, medium = 2, high = 3
        public var name: String { ["low", "low-medium", "medium", "high"][Int(rawValue)] }
        public static func < (a: Band, b: Band) -> Bool { a.rawValue < b.rawValue }
    }

    /// The seven parameters a NEWS2 chart scores.
    public enum Parameter: UInt8, Sendable, Hashable, CaseIterable {
        case respirationRate = 0, oxygenSaturation, airOrOxygen, systolicPressure, pulse, consciousness, temperature
        public var name: String { ["respiration-rate", "spo2", "air-or-oxygen", "systolic-bp", "pulse", "consciousness", "temperature"][Int(rawValue)] }
    }

    /// One set of observations as charted.
    public struct Observation: Sendable, Hashable {
        public var respirationRate: Int
        public var oxygenSaturation: Int
        public var scale: SpO2Scale
        public var onOxygen: Bool
        public var systolicPressure: Int
        public var pulse: Int
        public var consciousness: Consciousness
        /// Tenths of a degree Celsius (36.6 °C is 366).
        public var temperatureTenths: Int

        public init(respirationRate: Int, oxygenSaturation: Int, scale: SpO2Scale = .scale1, onOxygen: Bool, systolicPressure: Int,
                    pulse: Int, consciousness: Consciousness, temperatureTenths: Int) {
            self.respirationRate = respirationRate; self.oxygenSaturation = oxygenSaturation; self.scale = scale; self.onOxygen = onOxygen
            self.systolicPressure = systolicPressure; self.pulse = pulse; self.consciousness = consciousness; self.temperatureTenths = temperatureTenths
        }

        /// Charted values from measurements in canonical units: whole numbers rounded half away
        /// from zero, temperature to the tenth.
        public init(respirationRate: Measurement, oxygenSaturation: Measurement, scale: SpO2Scale, onOxygen: Bool,
                    systolicPressure: Measurement, pulse: Measurement, consciousness: Consciousness, temperature: Measurement) {
            self.init(respirationRate: Int(respirationRate.roundedWhole), oxygenSaturation: Int(oxygenSaturation.roundedWhole), scale: scale,
                      onOxygen: onOxygen, systolicPressure: Int(systolicPressure.roundedWhole), pulse: Int(pulse.roundedWhole),
                      consciousness: consciousness, temperatureTenths: Int(temperature.roundedTenths))
        }
    }

    /// A scored observation: each parameter's sub-score, the total and the band.
    public struct Score: Sendable, Hashable {
        /// Sub-scores indexed by `Parameter.rawValue`.
        public let subscores: [Int]
        public init(subscores: [Int]) { self.subscores = subscores }
        public var total: Int { subscores.reduce(0, +) }
        public func subscore(_ p: Parameter) -> Int { subscores[Int(p.rawValue)] }
        /// The parameters that scored 3 (each alone makes the band at least low-medium).
        public var parametersAtThree: [Parameter] { Parameter.allCases.filter { subscore($0) == 3 } }
        /// Parameters that contributed to the total, highest first.
        public var contributing: [(Parameter, Int)] {
            Parameter.allCases.map { ($0, subscore($0)) }.filter { $0.1 > 0 }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.rawValue < $1.0.rawValue }
        }
        public var band: Band {
            let t = total
            if t >= 7 { return .high }
            if t >= 5 { return .medium }
            if subscores.contains(3) { return .lowMedium }
            return .low
        }
    }

    public static func score(_ o: Observation) -> Score {
        Score(subscores: [
            respirationRate(o.respirationRate),
            o.scale == .scale1 ? spo2Scale1(o.oxygenSaturation) : spo2Scale2(o.oxygenSaturation, onOxygen: o.onOxygen),
            o.onOxygen ? 2 : 0,
            systolicPressure(o.systolicPressure),
            pulse(o.pulse),
            o.consciousness == .alert ? 0 : 3,
            temperature(tenths: o.temperatureTenths),
        ])
    }

    // One function per chart row; each branch is one cell of the RCP table.

    static func respirationRate(_ v: Int) -> Int {
        switch v {
        case ...8: 3
        case 9...11: 1
        case 12...20: 0
        case 21...24: 2
        default: 3        // >= 25
        }
    }

    static func spo2Scale1(_ v: Int) -> Int {
        switch v {
        case ...91: 3
        case 92...93: 2
        case 94...95: 1
        default: 0        // >= 96
        }
    }

    static func spo2Scale2(_ v: Int, onOxygen: Bool) -> Int {
        switch v {
        case ...83: return 3
        case 84...85: return 2
        case 86...87: return 1
        case 88...92: return 0
        default: break    // >= 93: scores only on oxygen (above the prescribed target)
        }
        guard onOxygen else { return 0 }
        switch v {
        case 93...94: return 1
        case 95...96: return 2
        default: return 3   // >= 97 on oxygen
        }
    }

    static func systolicPressure(_ v: Int) -> Int {
        switch v {
        case ...90: 3
        case 91...100: 2
        case 101...110: 1
        case 111...219: 0
        default: 3        // >= 220
        }
    }

    static func pulse(_ v: Int) -> Int {
        switch v {
        case ...40: 3
        case 41...50: 1
        case 51...90: 0
        case 91...110: 1
        case 111...130: 2
        default: 3        // >= 131
        }
    }

    static func temperature(tenths v: Int) -> Int {
        switch v {
        case ...350: 3
        case 351...360: 1
        case 361...380: 0
        case 381...390: 1
        default: 2        // >= 39.1
        }
    }
}
