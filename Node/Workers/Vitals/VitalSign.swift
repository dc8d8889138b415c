/// The vital signs Meridian's workers ingest and score, each with its codes in the systems that
/// devices and hospital systems send (LOINC for FHIR and HL7 v2, IEEE 11073-10101 MDC for bedside
/// monitors), its canonical UCUM unit, and the hard limits outside which a value cannot be a
/// measurement of a living adult (a device fault or a typing error, refused with the reason).
///
/// Values are fixed-point `Measurement`s in the canonical unit: results are anchored by hash, so
/// nothing that is stored or hashed goes through floating point.
public enum VitalSign: UInt8, Sendable, Hashable, CaseIterable, Codable {
    case heartRate = 1
    case respiratoryRate = 2
    case oxygenSaturation = 3
    case bodyTemperature = 4
    case systolicPressure = 5
    case diastolicPressure = 6
    /// Supplemental oxygen flow; 0 means the patient breathes air (NEWS2's "air or oxygen").
    case inhaledOxygenFlow = 7
    /// ACVPU level coded 0 alert, 1 new confusion, 2 voice, 3 pain, 4 unresponsive.
    case consciousness = 8
    case bodyWeight = 9
    case bodyHeight = 10
    /// An RR interval between two beats (Bluetooth heart-rate straps, ECG patches).
    case rrInterval = 11
    /// One sample of an ECG lead (WFDB imports, ECG patches).
    case ecgSample = 12

    /// The short name used in the API, the CLI and the docs.
    public var name: String {
        switch self {
        case .heartRate: "heart-rate"
        case .respiratoryRate: "respiratory-rate"
        case .oxygenSaturation: "spo2"
        case .bodyTemperature: "temperature"
        case .systolicPressure: "systolic-bp"
        case .diastolicPressure: "diastolic-bp"
        case .inhaledOxygenFlow: "oxygen-flow"
        case .consciousness: "consciousness"
        case .bodyWeight: "weight"
        case .bodyHeight: "height"
        case .rrInterval: "rr-interval"
        case .ecgSample: "ecg"
        }
    }

    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    /// The LOINC code a FHIR Observation or an HL7 OBX-3 uses (vital-signs profile codes where one
    /// exists); nil for a raw ECG sample, which only IEEE 11073 names.
    public var loinc: String? {
        switch self {
        case .heartRate: "8867-4"
        case .respiratoryRate: "9279-1"
        case .oxygenSaturation: "2708-6"
        case .bodyTemperature: "8310-5"
        case .systolicPressure: "8480-6"
        case .diastolicPressure: "8462-4"
        case .inhaledOxygenFlow: "3151-8"
        case .consciousness: "80288-4"
        case .bodyWeight: "29463-7"
        case .bodyHeight: "8302-2"
        case .rrInterval: "8637-0"
        case .ecgSample: nil
        }
    }

    /// Further LOINC codes accepted for the same sign (FHIR's vital-signs profile lists 59408-5
    /// beside 2708-6 for pulse oximetry).
    var alternativeLOINC: [String] {
        switch self {
        case .oxygenSaturation: ["59408-5", "59417-6"]
        case .heartRate: ["8889-8"]   // heart rate by pulse oximetry
        case .bodyTemperature: ["8331-1", "8332-9"]   // oral, tympanic
        default: []
        }
    }

    /// IEEE 11073-10101 codes ((partition << 16) + term) accepted for the sign in HL7 OBX-3.
    public var mdcCodes: [UInt32] {
        switch self {
        case .heartRate: [147842, 149530]            // MDC_ECG_HEART_RATE, MDC_PULS_OXIM_PULS_RATE
        case .respiratoryRate: [151562]              // MDC_RESP_RATE
        case .oxygenSaturation: [150456]             // MDC_PULS_OXIM_SAT_O2
        case .bodyTemperature: [150364, 188496]      // MDC_TEMP_BODY, MDC_TEMP_TYMP
        case .systolicPressure: [150021, 150017]     // MDC_PRESS_BLD_NONINV_SYS, MDC_PRESS_BLD_SYS
        case .diastolicPressure: [150022, 150018]    // MDC_PRESS_BLD_NONINV_DIA, MDC_PRESS_BLD_DIA
        case .inhaledOxygenFlow: [151880]            // MDC_FLOW_O2_FG
        case .consciousness: []
        case .bodyWeight: [188736]                   // MDC_MASS_BODY_ACTUAL
        case .bodyHeight: [188740]                   // MDC_LEN_BODY_ACTUAL
        case .rrInterval: [147240]                   // MDC_ECG_TIME_PD_RR_GL
        case .ecgSample: [131330]                    // MDC_ECG_ELEC_POTL_II
        }
    }

    /// The sign a LOINC code names, if Meridian ingests it.
    public static func fromLOINC(_ code: String) -> VitalSign? { byLOINC[code] }

    /// The sign an IEEE 11073 MDC code names, if Meridian ingests it.
    public static func fromMDC(_ code: UInt32) -> VitalSign? { byMDC[code] }

    // Lookup tables built once (parsers look codes up per reading).
    private static let byLOINC: [String: VitalSign] = {
        var d: [String: VitalSign] = [:]
        for s in allCases { if let l = s.loinc { d[l] = s }; for a in s.alternativeLOINC { d[a] = s } }
        return d
    }()
    private static let byMDC: [UInt32: VitalSign] = {
        var d: [UInt32: VitalSign] = [:]
        for s in allCases { for c in s.mdcCodes { d[c] = s } }
        return d
    }()

    /// The canonical UCUM unit every stored value is in.
    public var canonicalUnit: String {
        switch self {
        case .heartRate, .respiratoryRate: "/min"
        case .oxygenSaturation: "%"
        case .bodyTemperature: "Cel"
        case .systolicPressure, .diastolicPressure: "mm[Hg]"
        case .inhaledOxygenFlow: "L/min"
        case .consciousness: "{ACVPU}"
        case .bodyWeight: "kg"
        case .bodyHeight: "cm"
        case .rrInterval: "ms"
        case .ecgSample: "mV"
        }
    }

    /// The FHIR display text of the sign's LOINC code.
    public var display: String {
        switch self {
        case .heartRate: "Heart rate"
        case .respiratoryRate: "Respiratory rate"
        case .oxygenSaturation: "Oxygen saturation in Arterial blood"
        case .bodyTemperature: "Body temperature"
        case .systolicPressure: "Systolic blood pressure"
        case .diastolicPressure: "Diastolic blood pressure"
        case .inhaledOxygenFlow: "Inhaled oxygen flow rate"
        case .consciousness: "Level of consciousness (ACVPU)"
        case .bodyWeight: "Body weight"
        case .bodyHeight: "Body height"
        case .rrInterval: "R-R interval"
        case .ecgSample: "ECG lead II sample"
        }
    }

    /// Values in the canonical unit outside these bounds (inclusive) are impossible for a living
    /// adult or a working device and are refused.
    public var hardLimits: ClosedRange<Measurement> {
        switch self {
        case .heartRate: Measurement(whole: 1)...Measurement(whole: 350)
        case .respiratoryRate: Measurement(whole: 0)...Measurement(whole: 120)
        case .oxygenSaturation: Measurement(whole: 30)...Measurement(whole: 100)
        case .bodyTemperature: Measurement(whole: 20)...Measurement(whole: 46)
        case .systolicPressure: Measurement(whole: 30)...Measurement(whole: 320)
        case .diastolicPressure: Measurement(whole: 10)...Measurement(whole: 250)
        case .inhaledOxygenFlow: Measurement(whole: 0)...Measurement(whole: 80)
        case .consciousness: Measurement(whole: 0)...Measurement(whole: 4)
        case .bodyWeight: Measurement(whole: 1)...Measurement(whole: 650)
        case .bodyHeight: Measurement(whole: 30)...Measurement(whole: 280)
        case .rrInterval: Measurement(whole: 150)...Measurement(whole: 3000)
        case .ecgSample: Measurement(whole: -30)...Measurement(whole: 30)
        }
    }

    /// Beyond these (inclusive bounds of the ordinary range) a value is urgent on its own: the
    /// node scores it ahead of the routine backlog even before NEWS2 says so.
    public var criticalBounds: ClosedRange<Measurement>? {
        switch self {
        case .heartRate: Measurement(whole: 41)...Measurement(whole: 130)
        case .respiratoryRate: Measurement(whole: 9)...Measurement(whole: 24)
        case .oxygenSaturation: Measurement(whole: 92)...Measurement(whole: 100)
        case .bodyTemperature: Measurement(micro: 35_100_000)...Measurement(whole: 40)
        case .systolicPressure: Measurement(whole: 91)...Measurement(whole: 219)
        case .consciousness: Measurement(whole: 0)...Measurement(whole: 0)
        default: nil
        }
    }
}
