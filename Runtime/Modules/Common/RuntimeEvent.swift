public import MeridianCore

/// What a transaction did, as subscribers (wallets, consoles, workers) see it. Events go into
/// receipts, so they are part of the receipts root and provable like everything else.
public enum RuntimeEvent: Hashable, Sendable, Canonical {
    case patientRegistered(patient: PublicKey, enrolledBy: OrganizationID)
    case devicePaired(patient: PublicKey, device: PublicKey)
    case deviceUnpaired(patient: PublicKey, device: PublicKey)
    case memberChanged(organization: OrganizationID, key: PublicKey, removed: Bool)
    case consentChanged(patient: PublicKey, consent: Bytes32, version: UInt32, status: ConsentStatus)
    case accessRecorded(patient: PublicKey, sequence: UInt64, organization: OrganizationID, allowed: Bool, breakGlass: Bool)
    case recordRegistered(record: Bytes32, patient: PublicKey, custodian: OrganizationID)
    case recordShared(record: Bytes32, recipientOrganization: OrganizationID)
    case proposalChanged(proposal: Bytes32, status: ProposalStatus, effectiveHeight: UInt64?)
    case governanceVote(proposal: Bytes32, voter: PublicKey, approve: Bool)
    /// Evidence that `validator` equivocated at `height` was put on chain.
    case evidenceRecorded(validator: PublicKey, height: UInt64)
    case anchored(worker: PublicKey, kind: AnchorKind, root: Bytes32, count: UInt32)
    /// A record was erased: its custodian and every node it was shared with delete body and keys.
    case recordErased(record: Bytes32, patient: PublicKey, custodian: OrganizationID)
    /// A policy contract was uploaded (stored by the hash of its code).
    case contractDeployed(code: Bytes32, deployer: PublicKey)
    /// A policy contract emitted an event (at most 256 bytes) while deciding or updating.
    case contractEmitted(contract: Bytes32, consent: Bytes32, data: [UInt8])
    /// A patient configured the policy of one of their consents (the contract's `update`).
    case policyUpdated(patient: PublicKey, consent: Bytes32, contract: Bytes32, fuelUsed: UInt64)
    /// An organisation's validator or worker key rotation: scheduled (`applied` false, at the height
    /// it will take effect), applied at that height, or dropped there (`applied` false again, at the
    /// effective height) because it no longer held.
    case keyRotation(organization: OrganizationID, old: PublicKey, new: PublicKey, effectiveHeight: UInt64, applied: Bool)

    /// A short stable name for filtering streams.
    public var kind: String {
        switch self {
        case .patientRegistered: "patient.registered"
        case .devicePaired: "device.paired"
        case .deviceUnpaired: "device.unpaired"
        case .memberChanged: "member.changed"
        case .consentChanged: "consent.changed"
        case .accessRecorded: "audit.access"
        case .recordRegistered: "record.registered"
        case .recordShared: "record.shared"
        case .proposalChanged: "governance.proposal"
        case .governanceVote: "governance.vote"
        case .evidenceRecorded: "consensus.evidence"
        case .anchored: "anchoring.anchored"
        case .recordErased: "record.erased"
        case .contractDeployed: "contract.deployed"
        case .contractEmitted: "contract.emitted"
        case .policyUpdated: "contract.policy_updated"
        case .keyRotation: "governance.key_rotation"
        }
    }

    /// The patient the event concerns, if any (for per-patient subscriptions).
    public var patient: PublicKey? {
        switch self {
        case .patientRegistered(let p, _), .devicePaired(let p, _), .deviceUnpaired(let p, _), .consentChanged(let p, _, _, _),
             .accessRecorded(let p, _, _, _, _), .recordRegistered(_, let p, _), .recordErased(_, let p, _),
             .policyUpdated(let p, _, _, _): p
        default: nil
        }
    }

    public func encode(to w: inout CanonicalWriter) {
        switch self {
        case .patientRegistered(let p, let o): w.write(varint: 0); w.write(p); w.write(o)
        case .devicePaired(let p, let d): w.write(varint: 1); w.write(p); w.write(d)
        case .deviceUnpaired(let p, let d): w.write(varint: 2); w.write(p); w.write(d)
        case .memberChanged(let o, let k, let r): w.write(varint: 3); w.write(o); w.write(k); w.write(r)
        case .consentChanged(let p, let c, let v, let s): w.write(varint: 4); w.write(p); w.write(c); w.write(v); w.write(s)
        case .accessRecorded(let p, let n, let o, let a, let b): w.write(varint: 5); w.write(p); w.write(varint: n); w.write(o); w.write(a); w.write(b)
        case .recordRegistered(let r, let p, let c): w.write(varint: 6); w.write(r); w.write(p); w.write(c)
        case .recordShared(let r, let o): w.write(varint: 7); w.write(r); w.write(o)
        case .proposalChanged(let id, let s, let h): w.write(varint: 8); w.write(id); w.write(s); w.write(h)
        case .governanceVote(let id, let v, let a): w.write(varint: 9); w.write(id); w.write(v); w.write(a)
        case .evidenceRecorded(let v, let h): w.write(varint: 10); w.write(v); w.write(varint: h)
        case .anchored(let wk, let k, let root, let n): w.write(varint: 11); w.write(wk); w.write(k); w.write(root); w.write(n)
        case .recordErased(let r, let p, let c): w.write(varint: 12); w.write(r); w.write(p); w.write(c)
        case .contractDeployed(let c, let d): w.write(varint: 13); w.write(c); w.write(d)
        case .contractEmitted(let c, let k, let d): w.write(varint: 14); w.write(c); w.write(k); w.write(bytes: d)
        case .policyUpdated(let p, let k, let c, let f): w.write(varint: 15); w.write(p); w.write(k); w.write(c); w.write(varint: f)
        case .keyRotation(let o, let old, let new, let h, let a): w.write(varint: 16); w.write(o); w.write(old); w.write(new); w.write(varint: h); w.write(a)
        }
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        let at = r.offset
        switch try r.readVarint("event") {
        case 0: self = .patientRegistered(patient: try r.read(PublicKey.self), enrolledBy: try r.read(OrganizationID.self))
        case 1: self = .devicePaired(patient: try r.read(PublicKey.self), device: try r.read(PublicKey.self))
        case 2: self = .deviceUnpaired(patient: try r.read(PublicKey.self), device: try r.read(PublicKey.self))
        case 3: self = .memberChanged(organization: try r.read(OrganizationID.self), key: try r.read(PublicKey.self), removed: try r.readBool())
        case 4: self = .consentChanged(patient: try r.read(PublicKey.self), consent: try r.readBytes32(), version: try r.readUInt32(), status: try r.read(ConsentStatus.self))
        case 5: self = .accessRecorded(patient: try r.read(PublicKey.self), sequence: try r.readVarint(), organization: try r.read(OrganizationID.self), allowed: try r.readBool(), breakGlass: try r.readBool())
        case 6: self = .recordRegistered(record: try r.readBytes32(), patient: try r.read(PublicKey.self), custodian: try r.read(OrganizationID.self))
        case 7: self = .recordShared(record: try r.readBytes32(), recipientOrganization: try r.read(OrganizationID.self))
        case 8: self = .proposalChanged(proposal: try r.readBytes32(), status: try r.read(ProposalStatus.self), effectiveHeight: try r.readOptional(UInt64.self))
        case 9: self = .governanceVote(proposal: try r.readBytes32(), voter: try r.read(PublicKey.self), approve: try r.readBool())
        case 10: self = .evidenceRecorded(validator: try r.read(PublicKey.self), height: try r.readVarint())
        case 11: self = .anchored(worker: try r.read(PublicKey.self), kind: try r.read(AnchorKind.self), root: try r.readBytes32("anchored.root"), count: try r.readUInt32("anchored.count"))
        case 12: self = .recordErased(record: try r.readBytes32("erased.record"), patient: try r.read(PublicKey.self), custodian: try r.read(OrganizationID.self))
        case 13: self = .contractDeployed(code: try r.readBytes32("deployed.code"), deployer: try r.read(PublicKey.self))
        case 14: self = .contractEmitted(contract: try r.readBytes32("emitted.contract"), consent: try r.readBytes32("emitted.consent"),
                                         data: try r.readByteString("emitted.data", max: ContractRunner.maxEventBytes))
        case 15: self = .policyUpdated(patient: try r.read(PublicKey.self), consent: try r.readBytes32("policy.consent"),
                                       contract: try r.readBytes32("policy.contract"), fuelUsed: try r.readVarint("policy.fuel"))
        case 16: self = .keyRotation(organization: try r.read(OrganizationID.self), old: try r.read(PublicKey.self), new: try r.read(PublicKey.self),
                                     effectiveHeight: try r.readVarint("rotation.effective_height"), applied: try r.readBool("rotation.applied"))
        default: throw CodecError(.unknownVariant, field: "event", offset: at)
        }
    }
}
