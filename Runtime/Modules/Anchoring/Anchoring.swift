public import MeridianCore

/// What an anchor commits to: the kind of off-chain results a worker batched.
public enum AnchorKind: UInt8, CanonicalEnum, CaseIterable, Codable {
    case readings = 0, assessments = 1, alerts = 2, translations = 3
    public static func < (a: AnchorKind, b: AnchorKind) -> Bool { a.rawValue < b.rawValue }
    public var name: String { ["readings", "assessments", "alerts", "translations"][Int(rawValue)] }
    public init?(name: String) { guard let i = ["readings", "assessments", "alerts", "translations"].firstIndex(of: name) else { return nil }; self.init(rawValue: UInt8(i)) }
}

/// An off-chain worker's anchor: the RFC 9162 Merkle root of one batch of its results, how many
/// there are, the time range they cover, and the hash of what produced them (the model, the code
/// version, the terminology file). No result and no personal data goes on chain: only this.
public struct AnchorSubmission: Hashable, Sendable, Canonical {
    public let kind: AnchorKind
    public let root: Bytes32
    public let count: UInt32
    public let from: Timestamp
    public let to: Timestamp
    public let producer: Bytes32

    public init(kind: AnchorKind, root: Bytes32, count: UInt32, from: Timestamp, to: Timestamp, producer: Bytes32) {
        self.kind = kind; self.root = root; self.count = count; self.from = from; self.to = to; self.producer = producer
    }
    public func encode(to w: inout CanonicalWriter) { w.write(kind); w.write(root); w.write(count); w.write(from); w.write(to); w.write(producer) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        kind = try r.read(AnchorKind.self); root = try r.readBytes32("anchor.root"); count = try r.readUInt32("anchor.count")
        from = try r.read(Timestamp.self); to = try r.read(Timestamp.self); producer = try r.readBytes32("anchor.producer")
    }
}

/// An anchor as the chain keeps it: who submitted it, for which organisation, when.
public struct AnchorRecord: Hashable, Sendable, Canonical {
    public let anchor: AnchorSubmission
    public let worker: PublicKey
    public let organization: OrganizationID
    /// The worker's anchors are numbered from 0.
    public let sequence: UInt64
    public let height: UInt64
    public let time: Timestamp

    public func encode(to w: inout CanonicalWriter) {
        w.write(anchor); w.write(worker); w.write(organization); w.write(varint: sequence); w.write(varint: height); w.write(time)
    }
    public init(anchor: AnchorSubmission, worker: PublicKey, organization: OrganizationID, sequence: UInt64, height: UInt64, time: Timestamp) {
        self.anchor = anchor; self.worker = worker; self.organization = organization; self.sequence = sequence; self.height = height; self.time = time
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        anchor = try r.read(AnchorSubmission.self); worker = try r.read(PublicKey.self); organization = try r.read(OrganizationID.self)
        sequence = try r.readVarint("anchor.sequence"); height = try r.readVarint("anchor.height"); time = try r.read(Timestamp.self)
    }
}

/// The Anchoring module: a member with the `worker` role of its organisation records the Merkle
/// root of a batch of off-chain results. A regulator later proves any stored result against the
/// root, and the root against a verified block's state root.
public enum Anchoring {
    /// Anchors by root (one record per root, so a root can be looked up from a result's proof).
    public static func rootKey(_ root: Bytes32) -> StateKey { StateKey("anchors/by_root").appending(root) }
    /// A worker's anchors in order: the worker's sequence → root.
    public static func workerKey(_ worker: PublicKey, _ sequence: UInt64) -> StateKey { StateKey("anchors/by_worker").appending(worker).appending(sequence) }
    static func counterKey(_ worker: PublicKey) -> StateKey { StateKey("anchors/count").appending(worker) }
    public static let byRootPrefix = StateKey("anchors/by_root").bytes
    /// Bounds: results per anchor, and how far past the block time a batch may claim to end.
    public static let maxCount: UInt32 = 10_000_000
    public static let maxFutureMilliseconds: UInt64 = 5 * 60_000

    public static func submit(_ a: AnchorSubmission, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard let member = try Identity.member(ctx.signer, in: ctx.view), member.has(.worker) else {
            throw RuntimeError("anchor.not_a_worker", "\(Address(ctx.signer)) has no worker role: only an organisation's workers anchor")
        }
        guard a.count >= 1, a.count <= maxCount else { throw RuntimeError("anchor.count", "count \(a.count) not in 1...\(maxCount)") }
        guard a.from <= a.to else { throw RuntimeError("anchor.time_range", "the batch starts after it ends") }
        guard a.to <= ctx.time.adding(milliseconds: maxFutureMilliseconds) else {
            throw RuntimeError("anchor.future", "the batch ends after the block time (\(ctx.time.iso8601)) by more than five minutes")
        }
        guard a.root != MerkleTree.emptyRoot, a.root != .zero else { throw RuntimeError("anchor.empty", "an anchor commits to at least one result") }
        guard try ctx.read(AnchorRecord.self, rootKey(a.root)) == nil else { throw RuntimeError("anchor.duplicate", "this root is already anchored") }
        let sequence = try ctx.read(Counter.self, counterKey(ctx.signer))?.value ?? 0
        let record = AnchorRecord(anchor: a, worker: ctx.signer, organization: member.organization, sequence: sequence, height: ctx.height, time: ctx.time)
        ctx.write(rootKey(a.root), record)
        ctx.write(workerKey(ctx.signer, sequence), a.root)
        ctx.write(counterKey(ctx.signer), Counter(sequence + 1))
        ctx.emit(.anchored(worker: ctx.signer, kind: a.kind, root: a.root, count: a.count))
    }

    /// The anchor of a root, if any.
    public static func record(root: Bytes32, in s: some StateReader) throws(RuntimeError) -> AnchorRecord? {
        try s.read(AnchorRecord.self, rootKey(root))
    }
}
