public import MeridianCore

/// The original-mode acknowledgement Meridian answers every HL7 message with: AA when the
/// observations it reads were accepted and persisted (with an ERR segment of severity W for each
/// observation it skipped, and a last one counting those not named), AE (application error: fix
/// the content) or AR (reject: this node does not take such messages) with an ERR segment of
/// severity E saying what and where.
public enum Acknowledgement {
    public enum Code: String, Sendable { case accept = "AA", error = "AE", reject = "AR" }

    /// Builds the ACK for `message` (nil when the message was too broken to read its header: a
    /// bare ACK with the error is sent instead).
    public static func build(for message: HL7Message?, code: Code, error: HL7Error?, warnings: [HL7Error] = [], unnamedWarnings: Int = 0,
                             sendingFacility: String, now: Timestamp, ackID: String) -> [UInt8] {
        let e = message?.encoding ?? HL7Message.Encoding(field: 0x7C, component: 0x5E, repetition: 0x7E, escape: 0x5C, subcomponent: 0x26)
        let f = String(UnicodeScalar(e.field)), c = String(UnicodeScalar(e.component))
        let encodingChars = [e.component, e.repetition, e.escape, e.subcomponent].map { String(UnicodeScalar($0)) }.joined()
        func esc(_ s: String) -> String { HL7Message.escape(s, e) }
        let msh = message?.header
        let version = msh.map { $0.value(12) }.flatMap { $0.isEmpty ? nil : $0 } ?? "2.6"
        var segments = [
            ["MSH", encodingChars, "MERIDIAN", esc(sendingFacility), esc(msh?.value(3) ?? ""), esc(msh?.value(4) ?? ""), HL7Time.format(now), "",
             "ACK\(c)\(esc(msh?.value(9, component: 2) ?? ""))\(c)ACK", esc(ackID), "P", esc(version)].joined(separator: f),
            ["MSA", code.rawValue, esc(message?.controlID ?? "")].joined(separator: f),
        ]
        // ERR-2 location (segment^sequence^field), ERR-3 code (table 0357), ERR-4 severity (table 0516:
        // E error, W warning), ERR-8 the reason for a person.
        func err(_ e: HL7Error, _ severity: String) -> String {
            ["ERR", "", errorLocation(e.location, c), "\(e.code.rawValue)\(c)\(esc(e.code.text))\(c)HL70357", severity, "", "", "", esc(e.reason)].joined(separator: f)
        }
        if let error { segments.append(err(error, "E")) }
        for w in warnings { segments.append(err(w, "W")) }
        if unnamedWarnings > 0 {
            segments.append(err(HL7Error(.applicationError, reason: "\(unnamedWarnings) more observations skipped (not named)"), "W"))
        }
        return Array((segments.joined(separator: "\r") + "\r").utf8)
    }

    /// "OBX[3]-6" → "OBX^3^6"; "MSH-9" → "MSH^1^9".
    static func errorLocation(_ location: String, _ c: String) -> String {
        guard !location.isEmpty else { return "" }
        var name = location, sequence = "1", field = ""
        if let dash = location.lastIndex(of: "-") { name = String(location[..<dash]); field = String(location[location.index(after: dash)...]) }
        if let open = name.firstIndex(of: "["), let close = name.firstIndex(of: "]") {
            sequence = String(name[name.index(after: open)..<close]); name = String(name[..<open])
        }
        return [name, sequence, field].joined(separator: c)
    }
}
