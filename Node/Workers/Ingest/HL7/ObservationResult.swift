public import MeridianCore
public import MeridianVitals

/// Reading an ORU^R01 (unsolicited observation result, as a bedside-monitor gateway sends under
/// IHE PCD-01) into reading batches, one per patient, or the first error as the ERR segment will
/// report it.
///
/// - The patient is identified by PID-3 only: the repetition whose assigning authority
///   (component 4) is `MERIDIAN`, or whose id is 64 hex digits, is the patient's public key.
///   Names and every other PID field are ignored and never stored.
/// - A message keeps what it can read and says what it skipped: an observation outside the
///   vital-sign set (another LOINC or MDC code, another coding system, a local code table), of a
///   value type not read (anything but NM and SN; for consciousness CWE, CE, CNE and ST), or whose
///   result status is not final, is skipped with a warning (an ERR of severity W in an AA), never
///   an AE for the whole message. A vital sign this node reads whose value or unit is wrong is
///   still an error: silently dropping a wrong heart rate would hide it.
/// - OBX-3 is LOINC (`LN`), IEEE 11073 (`MDC`, numeric code in component 1), or, for the level of
///   consciousness, SNOMED CT (`SCT`, `SNM`, `SNOMEDCT`: 1104441000000107 |ACVPU scale score|, the
///   NHS NEWS2 observation). Consciousness values: an ACVPU letter, the SNOMED CT ACVPU value set
///   (248234008 alert, 130987000 acute confusion, 300202002 voice, 450847001 pain, 422768004
///   unresponsive) as a CWE/CE code, or the level's name as text. OBX without a value (PCD-01's
///   device-hierarchy rows) are skipped silently.
/// - SN (structured numeric) values are read: `=^84` or `^84` exactly; a bound `<^5`, `>^250`
///   (what monitors send at the edge of their measuring range) as its number, where NEWS2 scores
///   the bound as it scores anything beyond it; a range (`^10^-^20`) is skipped with a warning.
/// - OBX-11 (table 0085): F, C and U are stored; a C replaces an earlier value of the same
///   observation at the same time in the message; P, R, S, I, O, N, X, D and W (preliminary, not
///   verified, partial, pending, order detail, not asked, cannot obtain, deleted, wrong) are not
///   scored: skipped with a warning.
/// - The time is OBX-14, else OBR-7, else MSH-7; a time without an offset takes MSH-7's offset (the
///   sender's local time), else the feed's configured offset.
public enum ObservationResult {
    public static let patientAuthority = "MERIDIAN"
    /// At most this many skipped observations are named (each as an ERR segment) in one acknowledgement.
    public static let maxWarnings = 20

    /// What a message held: its readings, per patient, and the observations it skipped, each as the
    /// warning its acknowledgement carries (the first `maxWarnings`), with how many there were.
    public struct Result: Sendable {
        public var batches: [ReadingBatch] = []
        public var warnings: [HL7Error] = []
        public var skipped = 0
    }

    public static func batches(of message: HL7Message, defaultOffsetMinutes: Int = 0) throws(HL7Error) -> [ReadingBatch] {
        try read(message, defaultOffsetMinutes: defaultOffsetMinutes).batches
    }

    public static func read(_ message: HL7Message, defaultOffsetMinutes configuredOffset: Int = 0) throws(HL7Error) -> Result {
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
        // A time without an offset is the sender's local time: MSH-7's offset when it states one.
        let defaultOffsetMinutes = HL7Time.offsetMinutes(msh.value(7)) ?? configuredOffset
        let feed = "\(msh.value(3))^\(msh.value(4))"
        guard feed.utf8.count <= ReadingSource.maxFeedBytes else { throw HL7Error(.dataType, location: "MSH-3", reason: "sending application and facility are longer than \(ReadingSource.maxFeedBytes) bytes") }

        var result = Result()
        var batches: [ReadingBatch] { get { result.batches } set { result.batches = newValue } }
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
                let read: Read
                do { read = try reading(segment, index: obxCount, order: order, header: msh, defaultOffsetMinutes: defaultOffsetMinutes, lastTime: &lastTime) }
                catch let skip as Skip { result.skipped += 1; if result.warnings.count < maxWarnings { result.warnings.append(skip.warning) }; continue }
                catch let e as HL7Error { throw e }
                catch { throw HL7Error(.applicationError, location: "OBX[\(obxCount)]", reason: "\(error)") }
                guard case .reading(let reading, let corrects) = read else { continue }
                if corrects, let earlier = readings.lastIndex(where: { $0.sign == reading.sign && $0.time == reading.time }) {
                    readings[earlier] = reading   // a correction replaces the value it corrects
                    continue
                }
                readings.append(reading)
                guard readings.count <= ReadingBatch.maxReadings else { throw HL7Error(.applicationError, location: "OBX[\(obxCount)]", reason: "more than \(ReadingBatch.maxReadings) observations for one patient") }
            default: continue
            }
        }
        close()
        guard patientIndex > 0 else { throw HL7Error(.requiredFieldMissing, location: "PID", reason: "the message has no PID segment") }
        return result
    }

    /// What one OBX gave: a reading (and whether it corrects an earlier one), or nothing to read
    /// (a device-hierarchy row without a value).
    enum Read { case reading(VitalReading, corrects: Bool), nothing }

    /// An observation skipped with a warning (not an error of the message).
    struct Skip: Error { let warning: HL7Error }

    /// SNOMED CT: the NHS NEWS2 level-of-consciousness observable, and the ACVPU value set in ACVPU order.
    static let snomedConsciousness = "1104441000000107"
    static let snomedACVPU = ["248234008", "130987000", "300202002", "450847001", "422768004"]
    static let acvpuNames = [["alert", "mentally alert"], ["confusion", "new confusion", "acute confusion", "confused"], ["voice", "responds to voice"],
                             ["pain", "responds to pain"], ["unresponsive"]]

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
    /// (the fallbacks are read only when needed). `lastTime` caches the previous OBX-14. Throws
    /// `Skip` for an observation not read, `HL7Error` for one read and wrong.
    static func reading(_ obx: HL7Message.Segment, index: Int, order: HL7Message.Segment?, header: HL7Message.Segment, defaultOffsetMinutes: Int,
                        lastTime: inout (text: ArraySlice<UInt8>, time: Timestamp)?) throws -> Read {
        var location: String { "OBX[\(index)]" }
        func skip(_ code: HL7Error.Code, _ field: Int, _ why: String) -> Skip { Skip(warning: HL7Error(code, location: "\(location)-\(field)", reason: why)) }
        let plainValue = obx.plainBytes(5)
        var rawValue: String { obx.value(5) }   // built only where needed (the plain bytes serve the common case)
        if obx.isEmpty(5) { return .nothing }   // device hierarchy rows (MDS, VMD, channel) carry no value
        // Codes are compared on bytes (no string built) on this per-observation path.
        let corrects: Bool
        if obx.valueIs(11, "F") || obx.valueIs(11, "U") { corrects = false }
        else if obx.valueIs(11, "C") { corrects = true }
        else { throw skip(.tableValueNotFound, 11, "result status '\(obx.value(11).prefix(8))' is not final (F, C or U are stored): not scored") }
        let sign: VitalSign?
        let system = obx.value(3, component: 3)
        if obx.valueIs(3, component: 3, "MDC") { sign = (obx.plainBytes(3).flatMap(decimalUInt32) ?? UInt32(obx.value(3))).flatMap(VitalSign.fromMDC) }
        else if obx.valueIs(3, component: 3, "LN") { sign = VitalSign.fromLOINC(obx.value(3, component: 1)) }
        else if ["SCT", "SNM", "SNOMEDCT", "SNOMED-CT"].contains(system.uppercased()) { sign = obx.value(3, component: 1) == snomedConsciousness ? .consciousness : nil }
        else { throw skip(.tableValueNotFound, 3, "coding system '\(system.prefix(20))' is not read (LN, MDC, or SNOMED CT for consciousness): observation skipped") }
        guard let sign else {
            throw skip(.tableValueNotFound, 3, "\(system.prefix(20)) code '\(obx.value(3, component: 1).prefix(32))' is not a vital sign this node reads: observation skipped")
        }
        let value: Measurement
        if sign == .consciousness {
            guard obx.valueIs(2, "ST") || obx.valueIs(2, "CWE") || obx.valueIs(2, "CE") || obx.valueIs(2, "CNE") else {
                throw skip(.dataType, 2, "value type '\(obx.value(2).prefix(8))' for consciousness is not read (CWE, CE, CNE or ST)")
            }
            guard let level = acvpuLevel(obx) else {
                throw HL7Error(.dataType, location: "\(location)-5", reason: "'\(rawValue.prefix(40))' is not an ACVPU level (a letter, a SNOMED CT ACVPU code or the level's name)")
            }
            value = Measurement(whole: Int64(level))
        } else if obx.valueIs(2, "NM") {
            let parsed = plainValue.map { b in b.withUnsafeBufferPointer { Measurement(decimalUTF8: $0) } } ?? Measurement(decimal: rawValue)
            guard let v = parsed else { throw HL7Error(.dataType, location: "\(location)-5", reason: "'\(rawValue.prefix(32))' is not a number") }
            value = v
        } else if obx.valueIs(2, "SN") {
            // comparator ^ num1 [^ separator ^ num2]
            let comparator = obx.value(5, component: 1), first = obx.value(5, component: 2)
            guard obx.value(5, component: 3).isEmpty && obx.value(5, component: 4).isEmpty else {
                throw skip(.dataType, 5, "a structured numeric range or ratio ('\(rawValue.prefix(32))') is not a single value: observation skipped")
            }
            guard ["", "=", "<", ">", "<=", ">="].contains(comparator) else {
                throw HL7Error(.dataType, location: "\(location)-5", reason: "'\(comparator.prefix(8))' is not an SN comparator (=, <, >, <=, >=)")
            }
            guard let v = Measurement(decimal: first) else { throw HL7Error(.dataType, location: "\(location)-5", reason: "'\(first.prefix(32))' is not a number") }
            value = v
        } else {
            throw skip(.dataType, 2, "value type '\(obx.value(2).prefix(8))' for \(sign.name) is not read (NM or SN): observation skipped")
        }
        let unit: String
        if obx.valueIs(6, component: 3, "MDC") { let text = obx.value(6, component: 2); unit = mdcUnits[text] ?? text }
        else { unit = obx.value(6, component: 1) }
        let canonical: Measurement
        do throws(VitalsError) { canonical = try UnitConversion.canonical(value, unit: unit, sign: sign) }
        catch { throw HL7Error(error.code == .unknownUnit ? .tableValueNotFound : .dataType, location: "\(location)-\(error.code == .unknownUnit ? 6 : 5)", reason: error.reason) }
        let time: Timestamp
        let rawTime = obx.plainBytes(14)
        if let last = lastTime, let raw = rawTime, raw == last.text { time = last.time }   // a monitor stamps its OBX rows alike
        else if case let timeText = obx.value(14), !timeText.isEmpty {
            guard let t = HL7Time.parse(timeText, defaultOffsetMinutes: defaultOffsetMinutes) else { throw HL7Error(.dataType, location: "\(location)-14", reason: "'\(timeText.prefix(32))' is not an HL7 DTM") }
            time = t
            if let raw = rawTime { lastTime = (raw, t) }
        } else {
            guard let t = order.flatMap({ HL7Time.parse($0.value(7), defaultOffsetMinutes: defaultOffsetMinutes) })
                    ?? HL7Time.parse(header.value(7), defaultOffsetMinutes: defaultOffsetMinutes) else { throw HL7Error(.requiredFieldMissing, location: "\(location)-14", reason: "no observation time (OBX-14, OBR-7 or MSH-7)") }
            time = t
        }
        return .reading(VitalReading(sign: sign, value: canonical, time: time), corrects: corrects)
    }

    /// The ACVPU level (0 alert … 4 unresponsive) of a consciousness OBX-5: a letter, a SNOMED CT
    /// ACVPU code (component 3 naming SNOMED CT, or a code of the value set), or the level's name.
    static func acvpuLevel(_ obx: HL7Message.Segment) -> Int? {
        func trimmed(_ t: String) -> String { String(t.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
        let code = trimmed(obx.value(5, component: 1))
        if let level = ["A", "C", "V", "P", "U"].firstIndex(of: code.uppercased()) { return level }
        if let level = snomedACVPU.firstIndex(of: code) { return level }
        let text = trimmed(code.isEmpty || obx.valueIs(2, "CWE") || obx.valueIs(2, "CE") || obx.valueIs(2, "CNE") ? obx.value(5, component: 2) : code).lowercased()
        let named = text.isEmpty ? code.lowercased() : text
        return acvpuNames.firstIndex { $0.contains(named) }
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
