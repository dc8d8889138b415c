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

        var batches: [ReadingBatch] = []
        var patient: PublicKey?, readings: [VitalReading] = [], order: HL7Message.Segment?
        var patientIndex = 0
        func close() {
            if let p = patient, !readings.isEmpty {
                batches.append(ReadingBatch(patient: p, source: .feed(feed, messageID: patientIndex == 1 ? control : "\(control)#\(patientIndex)"), readings: readings))
            }
            readings = []
            readings.reserveCapacity(message.segments.count)
        }
        // Occurrence counters for the error locations (OBX[3]-5); the location text is built only on error.
        var pidCount = 0, obxCount = 0
        var lastTime: (text: ArraySlice<UInt8>, time: Timestamp)? = nil
        readings.reserveCapacity(message.segments.count)
        let pid = HL7Message.Segment.code("PID"), obr = HL7Message.Segment.code("OBR"), obx = HL7Message.Segment.code("OBX")
        for segment in message.segments {
            switch segment.nameCode {
            case pid:
                close()
                patientIndex += 1; pidCount += 1
                patient = try patientKey(segment, location: "PID[\(pidCount)]")
                order = nil
            case obr:
                order = segment
            case obx:
                obxCount += 1
                guard patient != nil else { throw HL7Error(.segmentSequence, location: "OBX[\(obxCount)]", reason: "OBX before any PID") }
                guard let reading = try reading(segment, index: obxCount, order: order, header: msh, defaultOffsetMinutes: defaultOffsetMinutes, lastTime: &lastTime) else { continue }
                readings.append(reading)
                guard readings.count <= ReadingBatch.maxReadings else { throw HL7Error(.applicationError, location: "OBX[\(obxCount)]", reason: "more than \(ReadingBatch.maxReadings) observations for one patient") }
            default: continue
            }
        }
        close()
        guard patientIndex > 0 else { throw HL7Error(.requiredFieldMissing, location: "PID", reason: "the message has no PID segment") }
        return batches
    }

    static func patientKey(_ pid: HL7Message.Segment, location: String) throws(HL7Error) -> PublicKey {
        // One pass over the repetitions; strings are built only for the identifier that is ours.
        for rep in pid.repetitionRanges(3) {
            let ours = pid.value(inRepetition: rep, component: 4, is: "MERIDIAN")
            guard ours || pid.value(inRepetition: rep, component: 4, is: "") else { continue }
            let id = pid.value(inRepetition: rep, component: 1)
            guard ours || id.utf8.count == 64 else { continue }
            guard let key = KeyCache.shared.key(hex: id) else {
                throw HL7Error(.unknownKey, location: "\(location)-3", reason: "'\(id.prefix(70))' is not a Meridian patient key (64 hex digits of an x-only public key)")
            }
            return key
        }
        throw HL7Error(.requiredFieldMissing, location: "\(location)-3", reason: "no patient identifier with assigning authority \(patientAuthority)")
    }

    /// One OBX as a reading; its time is OBX-14, else the order's OBR-7, else the header's MSH-7
    /// (the fallbacks are read only when needed). `lastTime` caches the previous OBX-14.
    static func reading(_ obx: HL7Message.Segment, index: Int, order: HL7Message.Segment?, header: HL7Message.Segment, defaultOffsetMinutes: Int,
                        lastTime: inout (text: ArraySlice<UInt8>, time: Timestamp)?) throws(HL7Error) -> VitalReading? {
        var location: String { "OBX[\(index)]" }
        let plainValue = obx.plainBytes(5)
        var rawValue: String { obx.value(5) }   // built only where needed (the plain bytes serve the common case)
        if plainValue?.isEmpty ?? rawValue.isEmpty { return nil }   // device hierarchy rows (MDS, VMD, channel) carry no value
        // Codes are compared on bytes (no string built) on this per-observation path.
        if obx.valueIs(11, "F") || obx.valueIs(11, "C") || obx.valueIs(11, "P") || obx.valueIs(11, "R") {}
        else if obx.valueIs(11, "D") || obx.valueIs(11, "W") || obx.valueIs(11, "X") { return nil }
        else { throw HL7Error(.tableValueNotFound, location: "\(location)-11", reason: "result status '\(obx.value(11))' (table 0085)") }
        let sign: VitalSign?
        if obx.valueIs(3, component: 3, "MDC") { sign = (obx.plainBytes(3).flatMap(decimalUInt32) ?? UInt32(obx.value(3))).flatMap(VitalSign.fromMDC) }
        else if obx.valueIs(3, component: 3, "LN") { sign = VitalSign.fromLOINC(obx.value(3, component: 1)) }
        else { throw HL7Error(.tableValueNotFound, location: "\(location)-3", reason: "coding system '\(obx.value(3, component: 3))' (LN or MDC are read)") }
        guard let sign else {
            throw HL7Error(.tableValueNotFound, location: "\(location)-3", reason: "\(obx.value(3, component: 3)) code '\(obx.value(3, component: 1))' is not a vital sign this node ingests")
        }
        let value: Measurement
        if sign == .consciousness, obx.valueIs(2, "ST") || obx.valueIs(2, "CWE") || obx.valueIs(2, "CE") {
            guard let level = ["A", "C", "V", "P", "U"].firstIndex(of: rawValue.uppercased()) else {
                throw HL7Error(.dataType, location: "\(location)-5", reason: "'\(rawValue.prefix(32))' is not an ACVPU level")
            }
            value = Measurement(whole: Int64(level))
        } else {
            guard obx.valueIs(2, "NM") else { throw HL7Error(.dataType, location: "\(location)-2", reason: "value type '\(obx.value(2))' for \(sign.name) (NM expected)") }
            let parsed = plainValue.map { b in b.withUnsafeBufferPointer { Measurement(decimalUTF8: $0) } } ?? Measurement(decimal: rawValue)
            guard let v = parsed else { throw HL7Error(.dataType, location: "\(location)-5", reason: "'\(rawValue.prefix(32))' is not a number") }
            value = v
        }
        let unit: String
        if obx.valueIs(6, component: 3, "MDC") { let text = obx.value(6, component: 2); unit = mdcUnits[text] ?? text }
        else { unit = obx.value(6, component: 1) }
        let canonical: Measurement
        do { canonical = try UnitConversion.canonical(value, unit: unit, sign: sign) }
        catch { throw HL7Error(error.code == .unknownUnit ? .tableValueNotFound : .dataType, location: "\(location)-\(error.code == .unknownUnit ? 6 : 5)", reason: error.reason) }
        let time: Timestamp
        let rawTime = obx.plainBytes(14)
        if let last = lastTime, let raw = rawTime, raw == last.text { time = last.time }   // a monitor stamps its OBX rows alike
        else if case let timeText = obx.value(14), !timeText.isEmpty {
            do {
                guard let t = HL7Time.parse(timeText, defaultOffsetMinutes: defaultOffsetMinutes) else { throw HL7Error(.dataType, location: "\(location)-14", reason: "'\(timeText.prefix(32))' is not an HL7 DTM") }
                time = t
                if let raw = rawTime { lastTime = (raw, t) }
            }
        } else {
            guard let t = order.flatMap({ HL7Time.parse($0.value(7), defaultOffsetMinutes: defaultOffsetMinutes) })
                    ?? HL7Time.parse(header.value(7), defaultOffsetMinutes: defaultOffsetMinutes) else { throw HL7Error(.requiredFieldMissing, location: "\(location)-14", reason: "no observation time (OBX-14, OBR-7 or MSH-7)") }
            time = t
        }
        return VitalReading(sign: sign, value: canonical, time: time)
    }

    /// Digits as a UInt32 (an MDC code), nil for anything else.
    static func decimalUInt32(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
        var v: UInt32 = 0
        for b in bytes { guard b >= 48, b <= 57 else { return nil }; v = v * 10 + UInt32(b - 48) }
        return v
    }

    /// IEEE 11073-10101 unit names (OBX-6 component 2 when the system is MDC) and their UCUM codes.
    static let mdcUnits: [String: String] = [
        "MDC_DIM_BEAT_PER_MIN": "/min", "MDC_DIM_RESP_PER_MIN": "/min", "MDC_DIM_PERCENT": "%", "MDC_DIM_MMHG": "mm[Hg]",
        "MDC_DIM_KILO_PASCAL": "kPa", "MDC_DIM_DEGC": "Cel", "MDC_DIM_FAHR": "[degF]", "MDC_DIM_KILO_G": "kg", "MDC_DIM_CENTI_M": "cm",
        "MDC_DIM_MILLI_SEC": "ms", "MDC_DIM_MILLI_VOLT": "mV", "MDC_DIM_X_L_PER_MIN": "L/min",
    ]
}
