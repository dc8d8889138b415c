public import MeridianCore
public import MeridianVitals
import Foundation

/// FHIR R4 vital-signs Observations in and out.
///
/// In: one Observation or a Bundle of them (JSON). Each must be a vital sign by the FHIR
/// vital-signs profile: category `vital-signs`, a LOINC code, a UCUM `valueQuantity` (or, for the
/// blood-pressure panel 85354-9, systolic and diastolic components), status final, amended,
/// corrected or preliminary, an `effectiveDateTime` or `effectiveInstant` with a time zone, and a
/// subject that is a Meridian patient key (`Patient/<64 hex digits>`, or an identifier in the
/// system `urn:meridian:patient-key`). Any other Observation is refused with the reason, naming
/// the entry.
///
/// Out: the Observations the node serves for stored readings, valid against the R4 models
/// (checked with `fhir.resources` in the tests), with the vital-signs profile, LOINC display and
/// UCUM units.
public enum FHIRObservation {
    public static let loincSystem = "http://loinc.org"
    public static let ucumSystem = "http://unitsofmeasure.org"
    public static let mdcSystem = "urn:iso:std:iso:11073:10101"
    public static let categorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"
    public static let patientKeySystem = "urn:meridian:patient-key"
    public static let vitalSignsProfile = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
    public static let bloodPressurePanel = "85354-9"
    public static let maxBytes = 4 << 20
    public static let maxEntries = 1000

    /// Parses an Observation or a Bundle into one batch per patient (in order of first appearance).
    /// `feed` names the sender (the API client) for de-duplication by resource id.
    public static func batches(parsing json: [UInt8], feed: String) throws(VitalsError) -> [ReadingBatch] {
        guard feed.utf8.count <= ReadingSource.maxFeedBytes else { throw VitalsError(.malformed, "FHIR: the feed name is longer than \(ReadingSource.maxFeedBytes) bytes") }
        guard json.count <= maxBytes else { throw VitalsError(.tooLarge, "FHIR body of \(json.count) bytes exceeds \(maxBytes)") }
        let data = Data(json)
        let decoder = JSONDecoder()
        guard let type = try? decoder.decode(FHIRResourceType.self, from: data) else {
            throw VitalsError(.malformed, "FHIR: not a JSON resource with a resourceType")
        }
        var observations: [(String, FHIRObservationResource)] = []
        switch type.resourceType {
        case "Observation":
            do { observations = [("Observation", try decoder.decode(FHIRObservationResource.self, from: data))] }
            catch { throw VitalsError(.malformed, "FHIR Observation: \(describe(error))") }
        case "Bundle":
            let bundle: FHIRBundle
            do { bundle = try decoder.decode(FHIRBundle.self, from: data) } catch { throw VitalsError(.malformed, "FHIR Bundle: \(describe(error))") }
            guard let type = bundle.type, ["collection", "batch", "transaction", "message", "searchset"].contains(type) else {
                throw VitalsError(.unsupported, "FHIR Bundle type '\(bundle.type ?? "")' (collection, batch, transaction, message or searchset)")
            }
            let entries = bundle.entry ?? []
            guard !entries.isEmpty else { throw VitalsError(.malformed, "FHIR Bundle: no entries") }
            guard entries.count <= maxEntries else { throw VitalsError(.tooLarge, "FHIR Bundle of \(entries.count) entries exceeds \(maxEntries)") }
            for (i, e) in entries.enumerated() {
                guard let r = e.resource, r.resourceType == "Observation" else { throw VitalsError(.unsupported, "FHIR Bundle entry \(i): only Observation resources are ingested") }
                observations.append(("entry \(i)", r))
            }
        default:
            throw VitalsError(.unsupported, "FHIR resourceType '\(type.resourceType.prefix(40))' (Observation or Bundle)")
        }
        var order: [PublicKey] = [], byPatient: [PublicKey: [VitalReading]] = [:], ids: [PublicKey: [String]] = [:]
        for (where_, o) in observations {
            let (patient, readings) = try readings(of: o, at: where_)
            if byPatient[patient] == nil { order.append(patient) }
            byPatient[patient, default: []].append(contentsOf: readings)
            ids[patient, default: []].append(o.id ?? "")
            guard byPatient[patient]!.count <= ReadingBatch.maxReadings else { throw VitalsError(.tooLarge, "FHIR: more than \(ReadingBatch.maxReadings) readings for one patient") }
        }
        return order.map { p in
            // The message id: the resource ids when all are given (a resend de-duplicates), else the body's hash.
            let idList = ids[p]!
            // Long id lists are hashed, never truncated: two bodies must not share an id by their prefix.
            let joined = idList.joined(separator: ",")
            let messageID = idList.allSatisfy({ !$0.isEmpty }) ? (joined.utf8.count <= 200 ? joined : "ids:" + SHA256.hash(Array(joined.utf8)).hex) : SHA256.hash(json).hex
            return ReadingBatch(patient: p, source: .feed(feed, messageID: messageID), readings: byPatient[p]!)
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            let path = c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return "\(path.isEmpty ? "" : path + ": ")\(c.debugDescription)"
        default: return "invalid JSON"
        }
    }

    static func readings(of o: FHIRObservationResource, at place: String) throws(VitalsError) -> (PublicKey, [VitalReading]) {
        func fail(_ code: VitalsError.Code, _ reason: String) -> VitalsError { VitalsError(code, "FHIR \(place)\(o.id.map { " (\($0.prefix(64)))" } ?? ""): \(reason)") }
        guard let status = o.status else { throw fail(.malformed, "status is required") }
        guard ["final", "amended", "corrected", "preliminary"].contains(status) else { throw fail(.unsupported, "status '\(status.prefix(32))' carries no measurement") }
        guard (o.category ?? []).contains(where: { ($0.coding ?? []).contains { $0.system == categorySystem && $0.code == "vital-signs" } }) else {
            throw fail(.malformed, "category vital-signs (\(categorySystem)) is required")
        }
        guard let code = o.code?.coding?.first(where: { $0.system == loincSystem })?.code else { throw fail(.unknownCode, "no LOINC coding in code") }
        let patient = try patientKey(o.subject, fail)
        guard let timeText = o.effectiveDateTime ?? o.effectiveInstant else { throw fail(.malformed, "effectiveDateTime or effectiveInstant is required") }
        guard let time = FHIRDateTime.parse(timeText) else { throw fail(.malformed, "'\(timeText.prefix(40))' is not a FHIR dateTime with a time and zone") }
        if code == bloodPressurePanel {
            var out: [VitalReading] = []
            for c in o.component ?? [] {
                guard let cc = c.code.coding?.first(where: { $0.system == loincSystem })?.code, let sign = VitalSign.fromLOINC(cc),
                      sign == .systolicPressure || sign == .diastolicPressure else { continue }
                out.append(VitalReading(sign: sign, value: try quantity(c.valueQuantity, sign, fail), time: time))
            }
            guard out.contains(where: { $0.sign == .systolicPressure }) else { throw fail(.malformed, "the blood-pressure panel has no systolic component (8480-6)") }
            return (patient, out)
        }
        guard let sign = VitalSign.fromLOINC(code) else { throw fail(.unknownCode, "LOINC \(code.prefix(16)) is not a vital sign this node ingests") }
        if sign == .consciousness {
            let letter = o.valueCodeableConcept?.coding?.first?.code ?? o.valueString ?? ""
            guard let level = ["A", "C", "V", "P", "U"].firstIndex(of: letter) else { throw fail(.impossibleValue, "'\(letter.prefix(16))' is not an ACVPU level") }
            return (patient, [VitalReading(sign: sign, value: MeridianVitals.Measurement(whole: Int64(level)), time: time)])
        }
        return (patient, [VitalReading(sign: sign, value: try quantity(o.valueQuantity, sign, fail), time: time)])
    }

    static func quantity(_ q: FHIRQuantity?, _ sign: VitalSign, _ fail: (VitalsError.Code, String) -> VitalsError) throws(VitalsError) -> MeridianVitals.Measurement {
        guard let q, let value = q.value else { throw fail(.malformed, "valueQuantity.value is required for \(sign.name)") }
        guard q.system == ucumSystem, let unit = q.code else { throw fail(.unknownUnit, "valueQuantity needs a UCUM code (system \(ucumSystem))") }
        guard let m = MeridianVitals.Measurement(decimal: value.description) else { throw fail(.impossibleValue, "\(value) is out of range") }
        do throws(VitalsError) { return try UnitConversion.canonical(m, unit: unit, sign: sign) } catch { throw fail(error.code, error.reason) }
    }

    static func patientKey(_ subject: FHIRReference?, _ fail: (VitalsError.Code, String) -> VitalsError) throws(VitalsError) -> PublicKey {
        var hex: String?
        if let r = subject?.reference, r.hasPrefix("Patient/") { hex = String(r.dropFirst("Patient/".count)) }
        else if let i = subject?.identifier, i.system == patientKeySystem { hex = i.value }
        guard let hex else { throw fail(.malformed, "subject must be Patient/<key> or an identifier in \(patientKeySystem)") }
        guard let key = try? PublicKey(hex: hex.lowercased()) else { throw fail(.malformed, "subject '\(hex.prefix(70))' is not a Meridian patient key") }
        return key
    }

    /// The FHIR R4 Observation (JSON) for a stored reading: vital-signs profile, LOINC code, UCUM value.
    public static func encode(_ reading: VitalReading, patient: PublicKey, id: String) -> [UInt8] {
        var o = FHIRObservationResource(resourceType: "Observation")
        o.id = id
        o.meta = FHIRMeta(profile: [vitalSignsProfile])
        o.status = "final"
        o.category = [FHIRCodeableConcept(coding: [FHIRCoding(system: categorySystem, code: "vital-signs", display: "Vital Signs")], text: "Vital Signs")]
        let coding = reading.sign.loinc.map { FHIRCoding(system: loincSystem, code: $0, display: reading.sign.display) }
            ?? FHIRCoding(system: mdcSystem, code: reading.sign.mdcCodes.first.map(String.init), display: reading.sign.display)
        o.code = FHIRCodeableConcept(coding: [coding], text: reading.sign.display)
        o.subject = FHIRReference(reference: "Patient/\(patient.hex)")
        o.effectiveDateTime = FHIRDateTime.format(reading.time)
        if reading.sign == .consciousness {
            let letter = ["A", "C", "V", "P", "U"][Int(max(0, min(4, reading.value.roundedWhole)))]
            o.valueCodeableConcept = FHIRCodeableConcept(coding: [FHIRCoding(system: "urn:meridian:acvpu", code: letter)], text: letter)
        } else {
            o.valueQuantity = FHIRQuantity(value: Decimal(string: reading.value.description), unit: reading.sign.canonicalUnit, system: ucumSystem, code: reading.sign.canonicalUnit)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(o)) ?? Data())
    }
}

/// FHIR dateTime/instant with a time: YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm).
public enum FHIRDateTime {
    public static func parse(_ s: String) -> Timestamp? {
        let b = Array(s.utf8)
        guard b.count >= 20, b.count <= 35, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":") else { return nil }
        func digits(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r { guard b[i] >= 48, b[i] <= 57 else { return nil }; v = v * 10 + Int(b[i] - 48) }
            return v
        }
        guard let y = digits(0..<4), let mo = digits(5..<7), let d = digits(8..<10), let h = digits(11..<13), let mi = digits(14..<16), let sec = digits(17..<19) else { return nil }
        var i = 19, millis = 0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var n = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 { if n < 3 { millis = millis * 10 + Int(b[i] - 48) }; n += 1; i += 1 }
            guard n >= 1, n <= 9 else { return nil }
            for _ in min(n, 3)..<3 { millis *= 10 }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == UInt8(ascii: "Z") { guard i + 1 == b.count else { return nil } }
        else {
            guard b.count == i + 6, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), b[i + 3] == UInt8(ascii: ":"),
                  let oh = digits((i + 1)..<(i + 3)), let om = digits((i + 4)..<(i + 6)), oh <= 14, om < 60 else { return nil }
            offset = (oh * 60 + om) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        guard y >= 1970, (1...12).contains(mo), d >= 1, d <= Int(CivilDate.daysInMonth(Int64(y), Int64(mo))), h < 24, mi < 60, sec < 60 else { return nil }
        let ms = ((Int(CivilDate.toDays(Int64(y), Int64(mo), Int64(d))) * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + millis - offset * 60_000
        return ms >= 0 ? Timestamp(unixMilliseconds: UInt64(ms)) : nil
    }

    /// UTC with milliseconds: 2026-11-24T10:14:50.000Z (the runtime's ISO 8601 form).
    public static func format(_ t: Timestamp) -> String { t.iso8601 }
}
