public import MeridianCore

/// FHIR AuditEvent action codes.
public enum AuditAction: UInt8, CanonicalEnum, Codable, CaseIterable {
    case create = 0, read = 1, update = 2, delete = 3, execute = 4
    public var code: String { ["C", "R", "U", "D", "E"][Int(rawValue)] }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(code) }
}

/// What happened, in Meridian's terms.
public enum AuditEventKind: UInt8, CanonicalEnum, Codable, CaseIterable {
    /// A provider asked to read data.
    case accessRequest = 0
    /// A custodian disclosed a record to another organisation.
    case disclosure = 1
    /// A custodian registered a record.
    case recordRegistration = 2
    /// A record body and its keys were erased.
    case erasure = 3
    /// A risk worker's clinical alert was delivered to an organisation.
    case alertDelivery = 4
    /// Someone viewed the patient's audit data in a node's console (`ConsoleView`).
    case consoleView = 5
    /// Someone other than the patient read the patient's data through a node's API (`APIRead`).
    case apiRead = 6
    /// A clinician changed how the patient is scored (`Clinical.setSpO2Scale`).
    case clinicalDecision = 7
    /// A clinician of the recipient organisation acknowledged a clinical alert (`AlertAcknowledgement`).
    case alertAcknowledgement = 8
    public var name: String {
        ["access-request", "disclosure", "record-registration", "erasure", "alert-delivery", "console-view", "api-read", "clinical-decision",
         "alert-acknowledgement"][Int(rawValue)]
    }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(name) }
}

/// One entry of a patient's audit trail. Entries are numbered per patient from 0 and hash-chained
/// (`previousHash` is the hash of the entry before, zero for the first), so a trail cannot be
/// edited or shortened without every later hash changing; each entry is also a state key, so it
/// can be proven against any later state root.
public struct AuditEntry: Hashable, Sendable, Canonical {
    public let patient: PublicKey
    public let sequence: UInt64
    public let kind: AuditEventKind
    public let action: AuditAction
    public let actor: PublicKey
    public let organization: OrganizationID
    public let record: Bytes32?
    public let category: DataCategory
    public let purpose: PurposeOfUse
    public let decision: AccessDecision
    public let breakGlass: Bool
    public let height: UInt64
    public let time: Timestamp
    public let transaction: Bytes32
    public let previousHash: Bytes32

    public init(patient: PublicKey, sequence: UInt64, kind: AuditEventKind, action: AuditAction, actor: PublicKey,
                organization: OrganizationID, record: Bytes32?, category: DataCategory, purpose: PurposeOfUse,
                decision: AccessDecision, breakGlass: Bool, height: UInt64, time: Timestamp, transaction: Bytes32, previousHash: Bytes32) {
        self.patient = patient; self.sequence = sequence; self.kind = kind; self.action = action; self.actor = actor
        self.organization = organization; self.record = record; self.category = category; self.purpose = purpose
        self.decision = decision; self.breakGlass = breakGlass; self.height = height; self.time = time
        self.transaction = transaction; self.previousHash = previousHash
    }

    public var allowed: Bool { decision.allowed }
    public var hash: Bytes32 { SHA256.tagged("meridian/audit-entry", canonicalBytes) }

    public func encode(to w: inout CanonicalWriter) {
        w.write(patient); w.write(varint: sequence); w.write(kind); w.write(action); w.write(actor); w.write(organization)
        w.write(record); w.write(category); w.write(purpose); w.write(decision); w.write(breakGlass); w.write(varint: height)
        w.write(time); w.write(transaction); w.write(previousHash)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        patient = try r.read(PublicKey.self); sequence = try r.readVarint("audit.sequence"); kind = try r.read(AuditEventKind.self)
        action = try r.read(AuditAction.self); actor = try r.read(PublicKey.self); organization = try r.read(OrganizationID.self)
        record = try r.readOptional(Bytes32.self, "audit.record"); category = try r.read(DataCategory.self)
        purpose = try r.read(PurposeOfUse.self); decision = try r.read(AccessDecision.self); breakGlass = try r.readBool("audit.break_glass")
        height = try r.readVarint("audit.height"); time = try r.read(Timestamp.self); transaction = try r.readBytes32("audit.transaction")
        previousHash = try r.readBytes32("audit.previous_hash")
    }
}

/// The head of a patient's trail: how many entries and the hash of the last.
public struct AuditHead: Hashable, Sendable, Canonical {
    public let count: UInt64
    public let lastHash: Bytes32
    public func encode(to w: inout CanonicalWriter) { w.write(varint: count); w.write(lastHash) }
    public init(count: UInt64, lastHash: Bytes32) { self.count = count; self.lastHash = lastHash }
    public init(from r: inout CanonicalReader) throws(CodecError) { count = try r.readVarint("audit.count"); lastHash = try r.readBytes32("audit.last_hash") }
}

/// Where an organisation's n-th audit entry lives in a patient's trail.
public struct AuditPointer: Hashable, Sendable, Canonical {
    public let patient: PublicKey
    public let sequence: UInt64
    public func encode(to w: inout CanonicalWriter) { w.write(patient); w.write(varint: sequence) }
    public init(patient: PublicKey, sequence: UInt64) { self.patient = patient; self.sequence = sequence }
    public init(from r: inout CanonicalReader) throws(CodecError) { patient = try r.read(PublicKey.self); sequence = try r.readVarint("audit.pointer") }
}
