public import MeridianCore

/// A software upgrade the validators agreed on (issue 24): its name, the height at which every node
/// stops unless it runs the release, and the SHA-256 of that release's `meridian-node` executable.
/// The Cosmos SDK's x/upgrade pattern, with the binary's hash checked by the node itself rather
/// than by a separate process manager: at the plan's height a node whose executable hashes to
/// anything else refuses to execute, propose or vote (it stops, naming the plan); the release
/// started on the same data goes on. Names and hashes are public release metadata, nothing personal.
public struct UpgradePlan: Hashable, Sendable, Canonical {
    public static let maxNameBytes = 64
    public let name: String
    public let height: UInt64
    public let binarySHA256: Bytes32

    public init(name: String, height: UInt64, binarySHA256: Bytes32) { self.name = name; self.height = height; self.binarySHA256 = binarySHA256 }

    /// 1-64 bytes of lower-case letters, digits, '.', '-' and '_' (a release name, e.g. `meridian-1.4.0`).
    public func validate() throws(RuntimeError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxNameBytes,
              bytes.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e || $0 == 0x2d || $0 == 0x5f }) else {
            throw RuntimeError("upgrade.bad_name", "an upgrade's name is 1-\(Self.maxNameBytes) bytes of a-z, 0-9, '.', '-', '_'")
        }
    }

    public func encode(to w: inout CanonicalWriter) { w.write(name); w.write(varint: height); w.write(binarySHA256) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        name = try r.readString("upgrade.name", max: Self.maxNameBytes)
        height = try r.readVarint("upgrade.height")
        binarySHA256 = try r.readBytes32("upgrade.binary_sha256")
    }
}

/// The upgrade plan governance scheduled (at most one at a time) and the upgrades done.
public enum Upgrades {
    static let pendingKey = StateKey("governance/upgrade/pending")
    static let lastKey = StateKey("governance/upgrade/last")
    static func doneKey(_ name: String) -> StateKey { StateKey("governance/upgrade/done").appending(name) }

    /// The plan waiting for its height, if any.
    public static func pending(in s: some StateReader) throws(RuntimeError) -> UpgradePlan? { try s.read(UpgradePlan.self, pendingKey) }

    /// The plan that decides which binary may execute now: the pending one, else the last one done
    /// (a binary older than the last upgrade must not execute the blocks after it either).
    public static func governing(in s: some StateReader) throws(RuntimeError) -> UpgradePlan? {
        if let p = try pending(in: s) { return p }
        return try s.read(UpgradePlan.self, lastKey)
    }

    /// The height an upgrade of this name was done at (its plan's height), if it was.
    public static func done(_ name: String, in s: some StateReader) throws(RuntimeError) -> UInt64? {
        try s.read(UInt64.self, doneKey(name))
    }

    /// A plan that could apply: a valid name not used before, no other plan pending, and a height
    /// after the proposal's vote and activation can have happened.
    static func check(_ plan: UpgradePlan, _ ctx: ExecutionContext, applying: Bool) throws(RuntimeError) {
        try plan.validate()
        if try done(plan.name, in: ctx.view) != nil { throw RuntimeError("upgrade.name_used", "an upgrade named '\(plan.name)' was done already") }
        if let p = try pending(in: ctx.view), p.name != plan.name { throw RuntimeError("upgrade.pending", "'\(p.name)' at height \(p.height) is pending: cancel it first") }
        // Two blocks after it applies at the earliest: every node has the plan in its committed state
        // before it executes the plan's height (a block's write may overlap the next one's execution).
        let earliest = ctx.height + (applying ? 2 : max(1, ctx.parameters.governanceActivationDelayBlocks) + 2)
        guard plan.height >= earliest else { throw RuntimeError("upgrade.height_passed", "height \(plan.height) is before \(earliest), the earliest it could apply") }
    }

    static func schedule(_ plan: UpgradePlan, _ ctx: ExecutionContext) throws(RuntimeError) {
        try check(plan, ctx, applying: true)
        ctx.write(pendingKey, plan)
    }

    static func cancel(_ name: String, _ ctx: ExecutionContext) throws(RuntimeError) {
        guard let p = try pending(in: ctx.view), p.name == name else { throw RuntimeError("upgrade.unknown", "no pending upgrade named '\(name)'") }
        ctx.delete(pendingKey)
    }

    /// At the plan's height (run only by the release: other binaries stopped before it), the plan is done.
    public static func beginBlock(_ ctx: ExecutionContext) throws(RuntimeError) {
        guard let p = try pending(in: ctx.view), p.height == ctx.height else { return }
        ctx.delete(pendingKey)
        ctx.write(doneKey(p.name), p.height)
        ctx.write(lastKey, p)
        ctx.view.commitTransaction()
    }
}
