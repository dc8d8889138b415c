import MeridianCore
import MeridianModules

/// A page of audit entries as CSV (RFC 4180) and as a FHIR R4 Bundle of AuditEvents.
enum AuditExport {
    static let csvHeader = ["patient", "sequence", "time", "kind", "action", "actor", "organization", "category", "purpose", "allowed",
                            "reason", "break_glass", "source_country", "destination_country", "transfer_basis", "legal_basis",
                            "policy_contract", "height", "transaction", "entry_hash"]

    static func csvRow(_ e: AuditEntry) -> [String] {
        let d = e.decision
        return [Address(e.patient).description, String(e.sequence), e.time.iso8601, e.kind.name, e.action.code, Address(e.actor).description,
                e.organization.value, e.category.name, e.purpose.code, e.allowed ? "true" : "false", d.reason.code, e.breakGlass ? "true" : "false",
                d.sourceCountry?.code ?? "", d.destinationCountry?.code ?? "", d.transferBasis?.name ?? "", d.transferBasis?.legalReference ?? "",
                d.contract?.contract.hex ?? "", String(e.height), e.transaction.hex, e.hash.hex]
    }

    /// The entries through the project's one CSV writer (`CSV`: RFC 4180, formula-injection guard).
    static func csv(_ entries: [AuditEntry]) -> [UInt8] {
        Array(CSV.document(header: csvHeader, rows: entries.map(csvRow)).utf8)
    }

    /// A `collection` Bundle of the entries' AuditEvents, each spliced in as `FHIRExport.auditEvent`
    /// wrote it (keys in sorted order, as the node writes all JSON).
    static func fhirBundle(_ entries: [AuditEntry], time: Timestamp) throws -> [UInt8] {
        var out = Array("{\"entry\":[".utf8)
        for (i, e) in entries.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += Array("{\"fullUrl\":\"urn:meridian:audit:\(Address(e.patient)):\(e.sequence)\",\"resource\":".utf8)
            out += try FHIRExport.auditEvent(e)
            out.append(UInt8(ascii: "}"))
        }
        out += Array("],\"resourceType\":\"Bundle\",\"timestamp\":\"\(time.iso8601)\",\"type\":\"collection\"}".utf8)
        return out
    }
}
