public import MeridianCore
public import MeridianVitals

/// Reading an ORU^R01 (unsolicited observation result, as a bedside-monitor gateway sends under
/// IHE PCD-01) into reading batches, one per patient, or the first error as the ERR segment will
/// report it.
///
/// - The patient is identified by PID-3 only: the repetition whose assigning authority
///   (component 4) is `MERIDIAN`, or whose id is 64 hex digits, is the patient's public key.
///   Names and every other PID field are ignored and never stored.
/// - OBX-3 is LOINC (coding system `LN`) or IEEE 11073 (`MDC`, numeric code in component 1).
///   OBX without a value (PCD-01's device-hierarchy rows) are skipped.
/// - OBX-11 F, C, P and R are ingested; D, W and X (deleted, wrong, cannot obtain) carry no
///   measurement and are skipped; any other status is refused.
/// - The time is OBX-14, else OBR-7, else MSH-7.
public enum ObservationResult {
    public static let patientAuthority = "MERIDIAN"

    public static func batches(of message: HL7Message, defaultOffsetMinutes: Int = 0) throws(HL7Error) -> [ReadingBatch] {
        let msh = message.header
        guard msh.value(9, component: 1) == "ORU" else {
            throw HL7Error(.unsupportedMessageType, location: "MSH-9", reason: "'\(msh.value(9, component: 1))' (this endpoint takes ORU^R01)")
        }
        guard msh.value(9, component: 2) == "R01" else {
            throw HL7Error(.unsupportedEventCode, location: "MSH-9", reason: "'\(msh.value(9, component: 2))' (this endpoint takes ORU^R01)")
        }
        let version = msh.value(12)
        guard version.hasPrefix("2."), let minor = Int(version.dropFirst(2).prefix(while: { $0 != "." })), (3...9).contains(minor) else {
            throw HL7Error(.unsupportedVersionID, location: "MSH-12", reason: "version '\(version)' (2.3 to 2.9 are read)")
        }
        guard ["P", "T", "D"].contains(msh.value(11)) else { throw HL7Error(.unsupportedProcessingID, location: "MSH-11", reason: "processing id '\(msh.value(11))'") }
        let control = message.controlID
        guard !control.isEmpty else { throw HL7Error(.requiredFieldMissing, location: "MSH-10", reason: "the message control id is empty") }
        // HL7 allows 199 characters; the bound leaves room for the "#n" of a message's later patients.
        guard control.utf8.count <= ReadingSource.maxFeedBytes - 16 else { throw HL7Error(.dataType, location: "MSH-10", reason: "the message control id is longer than \(ReadingSource.maxFeedBytes - 16) bytes") }
        let feed = "\(msh.value(3))^\(msh.value(4))"
        guard feed.utf8.count <= ReadingSource.maxFeedBytes else { throw HL7Error(.dataType, location: "MSH-3", reason: "sending application and facility are longer than \(ReadingSource.maxFeedBytes) bytes") }
        let messageTime = HL7Time.parse(msh.value(7), defaultOffsetMinutes: defaultOffsetMinutes)

        var batches: [ReadingBatch] = []
        var patient: PublicKey?, readings: [VitalReading] = [], orderTime: Timestamp?
        var patientIndex = 0
        func close() {
            if let p = patient, !readings.isEmpty {
                batches.append(ReadingBatch(patient: p, source: .feed(feed, messageID: patientIndex == 1 ? control : "\(control)#\(patientIndex)"), readings: readings))
            }
            readings = []
        }
        var counts: [String: Int] = [:]
        for segment in message.segments {
            counts[segment.name, default: 0] += 1
            let at = "\(segment.name)[\(counts[segment.name]!)]"
            switch segment.name {
            case "PID":
                close()
                patientIndex += 1
                patient = try patientKey(segment, location: at)
                orderTime = nil
            case "OBR":
                orderTime = HL7Time.parse(segment.value(7), defaultOffsetMinutes: defaultOffsetMinutes)
            case "OBX":
                guard let p = patient else { throw HL7Error(.segmentSequence, location: at, reason: "OBX before any PID") }
                _ = p
                guard let reading = try reading(segment, location: at, fallbackTime: orderTime ?? messageTime, defaultOffsetMinutes: defaultOffsetMinutes) else { continue }
                readings.append(reading)
                guard readings.count <= ReadingBatch.maxReadings else { throw HL7Error(.applicationError, location: at, reason: "more than \(ReadingBatch.maxReadings) observations for one patient") }
            default: continue
            }
        }
        close()
        guard patientIndex > 0 else { throw HL7Error(.requiredFieldMissing, location: "PID", reason: "the message has no PID segment") }
        return batches
    }

    static func patientKey(_ pid: HL7Message.Segment, location: String) throws(HL7Error) -> PublicKey {
        let reps = pid.repetitionCount(3)
        for r in 1...max(reps, 1) {
            let id = pid.value(3, repetition: r, component: 1), authority = pid.value(3, repetition: r, component: 4)
            guard authority == patientAuthority || (id.utf8.count == 64 && authority.isEmpty) else { continue }
            guard let key = try? PublicKey(hex: id.lowercased()) else {
                throw HL7Error(.unknownKey, location: "\(location)-3", reason: "'\(id.prefix(70))' is not a Meridian patient key (64 hex digits of an x-only public key)")
            }
            return key
        }
        throw HL7Error(.requiredFieldMissing, location: "\(location)-3", reason: "no patient identifier with assigning authority \(patientAuthority)")
    }

    static func reading(_ obx: HL7Message.Segment, location: String, fallbackTime: Timestamp?, defaultOffsetMinutes: Int) throws(HL7Error) -> VitalReading? {
        let rawValue = obx.value(5)
        if rawValue.isEmpty { return nil }   // device hierarchy rows (MDS, VMD, channel) carry no value
        let status = obx.value(11)
        switch status {
        case "F", "C", "P", "R": break
        case "D", "W", "X": return nil
        default: throw HL7Error(.tableValueNotFound, location: "\(location)-11", reason: "result status '\(status)' (table 0085)")
        }
        let code = obx.value(3, component: 1), system = obx.value(3, component: 3)
        let sign: VitalSign?
        switch system {
        case "LN": sign = VitalSign.fromLOINC(code)
        case "MDC": sign = UInt32(code).flatMap(VitalSign.fromMDC)
        default: throw HL7Error(.tableValueNotFound, location: "\(location)-3", reason: "coding system '\(system)' (LN or MDC are read)")
        }
        guard let sign else { throw HL7Error(.tableValueNotFound, location: "\(location)-3", reason: "\(system) code '\(code)' is not a vital sign this node ingests") }
        let type = obx.value(2)
        let value: Measurement
        if sign == .consciousness, type == "ST" || type == "CWE" || type == "CE" {
            guard let level = ["A", "C", "V", "P", "U"].firstIndex(of: rawValue.uppercased()) else {
                throw HL7Error(.dataType, location: "\(location)-5", reason: "'\(rawValue.prefix(32))' is not an ACVPU level")
            }
            value = Measurement(whole: Int64(level))
        } else {
            guard type == "NM" else { throw HL7Error(.dataType, location: "\(location)-2", reason: "value type '\(type)' for \(sign.name) (NM expected)") }
            guard let v = Measurement(decimal: rawValue) else { throw HL7Error(.dataType, location: "\(location)-5", reason: "'\(rawValue.prefix(32))' is not a number") }
            value = v
        }
        let unitCode = obx.value(6, component: 1), unitText = obx.value(6, component: 2), unitSystem = obx.value(6, component: 3)
        let unit = unitSystem == "MDC" ? (mdcUnits[unitText] ?? unitText) : unitCode
        let canonical: Measurement
        do { canonical = try UnitConversion.canonical(value, unit: unit, sign: sign) }
        catch { throw HL7Error(error.code == .unknownUnit ? .tableValueNotFound : .dataType, location: "\(location)-\(error.code == .unknownUnit ? 6 : 5)", reason: error.reason) }
        let timeText = obx.value(14)
        let time: Timestamp
        if !timeText.isEmpty {
            guard let t = HL7Time.parse(timeText, defaultOffsetMinutes: defaultOffsetMinutes) else { throw HL7Error(.dataType, location: "\(location)-14", reason: "'\(timeText.prefix(32))' is not an HL7 DTM") }
            time = t
        } else {
            guard let t = fallbackTime else { throw HL7Error(.requiredFieldMissing, location: "\(location)-14", reason: "no observation time (OBX-14, OBR-7 or MSH-7)") }
            time = t
        }
        return VitalReading(sign: sign, value: canonical, time: time)
    }

    /// IEEE 11073-10101 unit names (OBX-6 component 2 when the system is MDC) and their UCUM codes.
    static let mdcUnits: [String: String] = [
        "MDC_DIM_BEAT_PER_MIN": "/min", "MDC_DIM_RESP_PER_MIN": "/min", "MDC_DIM_PERCENT": "%", "MDC_DIM_MMHG": "mm[Hg]",
        "MDC_DIM_KILO_PASCAL": "kPa", "MDC_DIM_DEGC": "Cel", "MDC_DIM_FAHR": "[degF]", "MDC_DIM_KILO_G": "kg", "MDC_DIM_CENTI_M": "cm",
        "MDC_DIM_MILLI_SEC": "ms", "MDC_DIM_MILLI_VOLT": "mV", "MDC_DIM_X_L_PER_MIN": "L/min",
    ]
}
