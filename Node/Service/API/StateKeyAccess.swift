import MeridianCore
import MeridianModules

/// Who may read a raw state entry with its proof (`GET /v1/state/{key}`): decided by the key's
/// namespace, and for patient-linked entries by whose they are. Anything not listed is refused:
/// a new namespace is unreadable until it is added here (with its reason).
extension NodeAPI {
    /// Network data, no patient in it: any known key.
    static let networkNamespaces = ["chain/", "governance/", "evidence/", "identity/org/", "identity/org_members/", "identity/member/",
                                    "anchors/", "contracts/code/", "jurisdiction/"]
    /// Keyed by the patient's key right after the namespace: the patient only.
    static let patientNamespaces = ["audit/head/", "consent/record/", "consent/active/", "identity/patient/", "identity/patient_devices/",
                                    "sharing/patient_records/", "clinical/spo2_scale/"]
    /// Per-organisation figures: its operator, a regulator of its country.
    static let figureNamespaces = ["audit/org_count/", "audit/break_glass_count/", "audit/denied_count/"]

    func permitStateKey(_ key: [UInt8], _ caller: Caller) throws(APIError) {
        func has(_ ns: String) -> Bool { key.starts(with: Array(ns.utf8)) }
        func namespace() -> String? { (Self.networkNamespaces + Self.patientNamespaces + Self.figureNamespaces + Self.decodedNamespaces).first(where: has) }
        let denied = Self.forbidden("not a state entry you may read")
        guard let ns = namespace() else { throw denied }
        let rest = Array(key.dropFirst(ns.utf8.count))
        let reader = query.reader
        func patientKey() -> PublicKey? { rest.count >= 32 ? Bytes32(rest.prefix(32)).flatMap { try? PublicKey($0) } : nil }
        func org(_ id: OrganizationID) -> Organization? { (try? Identity.organization(id, in: reader)) ?? nil }
        if Self.networkNamespaces.contains(ns) { return }
        if Self.patientNamespaces.contains(ns) {
            guard patientKey() == caller.key else { throw denied }
            return
        }
        if Self.figureNamespaces.contains(ns) {
            guard let n = rest.first.map(Int.init), rest.count == n + 1, let id = OrganizationID(String(decoding: rest.dropFirst(), as: UTF8.self)),
                  let o = org(id), mayReadFigures(of: o, as: caller) else { throw denied }
            return
        }
        // Decoded: whose the entry is comes from its value (absent: only its own patient may learn that).
        let value = (try? reader.load(key)) ?? nil
        switch ns {
        case "account/nonce/":
            guard patientKey() == caller.key || caller.operatorOrganization != nil else { throw denied }
        case "audit/entry/":
            if patientKey() == caller.key { return }
            guard let value, let e = try? AuditEntry(trustedCanonicalBytes: value), mayRead(e, as: caller) else { throw denied }
            try recordAuditDisclosure(to: caller, of: [e])
        case "sharing/record/":
            guard let value, let r = try? RecordEntry(trustedCanonicalBytes: value) else { throw denied }
            guard r.patient == caller.key || mayReadRecordEntry(custodian: r.custodian, as: caller) else { throw denied }
        case "sharing/share/":
            guard rest.count > 32, let c = Bytes32(rest.prefix(32)), let r = (try? Sharing.record(c, in: reader)) ?? nil else { throw denied }
            guard r.patient == caller.key || mayReadRecordEntry(custodian: r.custodian, as: caller) else { throw denied }
        case "identity/device/":
            guard let value, let d = try? DevicePairing(trustedCanonicalBytes: value) else { throw denied }
            guard d.patient == caller.key || d.device == caller.key else { throw denied }
        default:
            throw denied
        }
    }

    /// Namespaces decided from the entry itself.
    static let decodedNamespaces = ["account/nonce/", "audit/entry/", "sharing/record/", "sharing/share/", "identity/device/"]

    /// A record's on-chain entry (commitment, category, custodian; no body): its custodian's
    /// operator, a regulator of the custodian's country.
    func mayReadRecordEntry(custodian: OrganizationID, as caller: Caller) -> Bool {
        if caller.operatorOrganization == custodian { return true }
        if let r = caller.regulator, ((try? Identity.organization(custodian, in: query.reader)) ?? nil)?.country == r.country { return true }
        return false
    }
}
