/// UCUM units Meridian accepts for each vital sign and their exact conversion to the canonical
/// unit. Only the units a vital-signs device or system plausibly sends are listed; anything else
/// is refused with the unit named, never guessed.
public enum UnitConversion {
    /// Converts `value` in `unit` (UCUM case-sensitive code, or one of the common annotations
    /// devices send) to the canonical unit of `sign`.
    public static func toCanonical(_ value: Measurement, unit: String, sign: VitalSign) throws(VitalsError) -> Measurement {
        // Units arrive trimmed almost always; only a padded one pays for a new string.
        let u = unit.utf8.first == 0x20 || unit.utf8.last == 0x20 || unit.utf8.first == 0x09 || unit.utf8.last == 0x09 ? unit.trimmingCharacters() : unit
        let converted: Measurement?
        switch sign {
        case .heartRate, .respiratoryRate:
            switch u {
            case "/min", "{beats}/min", "{beat}/min", "{breaths}/min", "{Breaths}/min", "1/min", "bpm", "/min{beats}": converted = value
            case "/s", "1/s", "Hz": converted = value.scaled(60, 1)
            default: converted = nil
            }
        case .oxygenSaturation:
            switch u {
            case "%", "%{Oxygen}", "%{oxygen}": converted = value
            default: converted = nil
            }
        case .bodyTemperature:
            switch u {
            case "Cel", "C", "degC": converted = value
            case "[degF]", "degF": converted = Measurement(micro: value.micro - 32 * Measurement.scale).scaled(5, 9)   // (F - 32) × 5/9
            case "K": converted = Measurement(micro: value.micro - 273_150_000)
            default: converted = nil
            }
        case .systolicPressure, .diastolicPressure:
            switch u {
            case "mm[Hg]", "mmHg": converted = value
            // 1 kPa = 7.500617 mm[Hg] (1 mm[Hg] = 133.322387415 Pa), to the micro-unit.
            case "kPa": converted = value.scaled(7_500_617, 1_000_000)
            default: converted = nil
            }
        case .inhaledOxygenFlow:
            switch u {
            case "L/min", "l/min": converted = value
            case "mL/min": converted = value.scaled(1, 1000)
            default: converted = nil
            }
        case .consciousness:
            converted = (u == "{ACVPU}" || u == "{score}" || u.isEmpty) ? value : nil
        case .bodyWeight:
            switch u {
            case "kg": converted = value
            case "g": converted = value.scaled(1, 1000)
            case "[lb_av]", "lb": converted = value.scaled(45_359_237, 100_000_000)
            default: converted = nil
            }
        case .bodyHeight:
            switch u {
            case "cm": converted = value
            case "m": converted = value.scaled(100, 1)
            case "mm": converted = value.scaled(1, 10)
            case "[in_i]", "in": converted = value.scaled(254, 100)
            default: converted = nil
            }
        case .rrInterval:
            switch u {
            case "ms": converted = value
            case "s": converted = value.scaled(1000, 1)
            default: converted = nil
            }
        case .ecgSample:
            switch u {
            case "mV": converted = value
            case "uV", "µV": converted = value.scaled(1, 1000)
            case "V": converted = value.scaled(1000, 1)
            default: converted = nil
            }
        }
        guard let converted else { throw VitalsError(.unknownUnit, "\(sign.name) cannot be given in '\(unit)' (expected \(sign.canonicalUnit))") }
        return converted
    }

    /// Converts and checks the hard limits: the one entry point the parsers use.
    public static func canonical(_ value: Measurement, unit: String, sign: VitalSign) throws(VitalsError) -> Measurement {
        let v = try toCanonical(value, unit: unit, sign: sign)
        guard sign.hardLimits.contains(v) else {
            throw VitalsError(.impossibleValue, "\(sign.name) \(v) \(sign.canonicalUnit) is outside \(sign.hardLimits.lowerBound)...\(sign.hardLimits.upperBound)")
        }
        return v
    }
}

extension String {
    /// ASCII spaces and tabs trimmed (no Foundation in this layer's hot paths).
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
