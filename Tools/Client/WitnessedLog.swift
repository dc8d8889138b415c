import Foundation
public import MeridianCore
public import MeridianRuntime
public import MeridianLightClient
public import MeridianTransparency
import MeridianModules

/// A checkpoint of the chain's audit log that a client has verified: its commit from genesis (the
/// light client) and the cosignatures of its witness policy's quorum.
public struct CosignedCheckpoint: Sendable {
    /// The signed note as served (the commit's signature line and the witnesses' cosignatures).
    public let note: SignedNote
    public let opened: ChainCheckpoint
    /// The policy's witnesses whose cosignatures verified, by their policy names.
    public let cosigners: [String]
    public var size: UInt64 { opened.checkpoint.size }
    public var root: Bytes32 { opened.checkpoint.root }
    public var height: UInt64 { opened.header.height }
}

/// Why a checkpoint or an entry was refused: a code and what is missing or wrong.
public struct WitnessedLogError: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    /// For a split view: the two signed checkpoints that cannot both be true, as served.
    public let evidence: [SignedNote]
    public init(_ code: String, _ message: String, evidence: [SignedNote] = []) { self.code = code; self.message = message; self.evidence = evidence }
    public var description: String { "\(code): \(message)" }
}

/// Reads the chain's audit log as a regulator or a patient who trusts only a genesis spec and a
/// witness policy (c2sp.org/tlog-policy): every checkpoint's commit is verified from genesis, its
/// cosignatures must meet the policy's quorum, each later checkpoint must be consistent with the
/// previous one verified (RFC 9162 consistency proof), and each entry shown must be included in a
/// verified checkpoint (inclusion proof of its hash). Two signed checkpoints that cannot both be
/// true (a fork at a height, or sizes whose roots are not consistent) are a split view, reported
/// with both as evidence.
public final class WitnessedLog {
    public let policy: WitnessPolicy
    public private(set) var light: LightClient
    public let api: NodeClient
    /// The last checkpoint verified, the one the next must extend.
    public private(set) var last: CosignedCheckpoint?

    public init(policy: WitnessPolicy, genesis: GenesisSpec, api: NodeClient, last: CosignedCheckpoint? = nil) throws(LightClientError) {
        self.policy = policy
        light = try LightClient(genesis: genesis)
        self.api = api
        self.last = last
    }

    /// With a light client the caller has already brought up from genesis (its headers are not fetched again).
    public init(policy: WitnessPolicy, light: LightClient, api: NodeClient) {
        self.policy = policy
        self.light = light
        self.api = api
    }

    /// Reads a tlog-policy file, naming the file of a problem.
    public static func policy(file: String) throws -> WitnessPolicy {
        guard let text = FileManager.default.contents(atPath: file) else { throw WitnessedLogError("policy.unreadable", "cannot read the policy \(file)") }
        do { return try WitnessPolicy(parsing: String(decoding: text, as: UTF8.self)) } catch { throw WitnessedLogError(error.code, "\(file): \(error.message)") }
    }

    /// Reads a policy and a genesis spec from files, naming the file of a problem.
    public convenience init(policyFile: String, genesisFile: String, api: NodeClient) throws {
        let policy = try Self.policy(file: policyFile)
        guard let data = FileManager.default.contents(atPath: genesisFile) else { throw WitnessedLogError("genesis.unreadable", "cannot read \(genesisFile)") }
        let spec: GenesisSpec
        do { spec = try GenesisSpec.parse([UInt8](data)) } catch { throw WitnessedLogError("genesis.invalid", "\(genesisFile): \(error)") }
        try self.init(policy: policy, genesis: spec, api: api)
    }

    /// Opens and verifies a signed checkpoint: commit from genesis, the policy's quorum, and
    /// consistency with the last checkpoint verified. Becomes `last` when it verifies.
    @discardableResult
    public func verify(_ note: SignedNote) async throws -> CosignedCheckpoint {
        let opened: ChainCheckpoint
        do { opened = try ChainCheckpoint(opening: note, chainID: light.chainID, genesis: light.genesisHash) }
        catch { throw WitnessedLogError(error.code, error.message) }
        let h = opened.header.height
        if h > light.head.height {
            do { try await api.followHeaders(after: light.head.height, to: h) { page in try light.advance(with: page, upTo: h) } }
            catch let e as LightClientError { throw WitnessedLogError(e.code, e.message) }
        }
        if light.headerHashes[h] != opened.header.hash {
            let earlier = last.map { [$0.note] } ?? []
            throw WitnessedLogError("split_view.fork", "the checkpoint's block at height \(h) (\(opened.header.hash.hex.prefix(16))…) is not the one verified "
                                    + "from genesis (\((light.headerHashes[h]?.hex.prefix(16)).map { "\($0)…" } ?? "none")): two signed histories", evidence: earlier + [note])
        }
        let cosigners: [String]
        do { cosigners = try policy.verify(note) } catch { throw WitnessedLogError(error.code, error.message) }
        let checkpoint = CosignedCheckpoint(note: note, opened: opened, cosigners: cosigners)
        if let previous = last {
            try await checkConsistent(previous, checkpoint)
        }
        if last == nil || checkpoint.size >= last!.size { last = checkpoint }
        return checkpoint
    }

    /// The newest checkpoint the node holds with the policy's quorum of cosignatures, verified, at
    /// least `size` entries long and of block `height` or later; asks again each second for up to
    /// `wait` (cosignatures arrive once the witnesses have answered the block's push), then names
    /// what is missing.
    public func witnessed(covering size: UInt64 = 0, height: UInt64 = 0, wait: Duration = .seconds(30)) async throws -> CosignedCheckpoint {
        let deadline = ContinuousClock.now + wait
        let wanted = max(1, policy.minimumCosigners())
        var lastProblem: WitnessedLogError?
        while true {
            let served = try await api.exchange("GET", "/v1/audit-log/checkpoint?witnessed=\(wanted)", contentType: "text/plain")
            if served.status == 200 {
                let note: SignedNote
                do { note = try SignedNote(parsing: Array(served.body)) } catch { throw WitnessedLogError(error.code, "the served checkpoint: \(error.message)") }
                do {
                    let checkpoint = try await verify(note)
                    if checkpoint.size >= size && checkpoint.height >= height { return checkpoint }
                    lastProblem = WitnessedLogError("checkpoint.behind", "the newest witnessed checkpoint (block \(checkpoint.height), \(checkpoint.size) entries) "
                                                    + "does not cover block \(height) and \(size) entries yet")
                } catch let e as WitnessedLogError where e.code == "policy.no_quorum" {
                    lastProblem = e
                }
            } else {
                lastProblem = WitnessedLogError("policy.no_quorum", "the node has no checkpoint with \(wanted) witness cosignature(s) (\(served.status): "
                                                + "\(String(decoding: served.body.prefix(200), as: UTF8.self)))")
            }
            // Meanwhile the node's head, witnessed or not, must extend what was verified: a head
            // signed by the validators that does not is a split view, whatever the witnesses say.
            try await checkHead()
            guard ContinuousClock.now < deadline else { throw lastProblem! }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The node's head checkpoint (signed by its commit, cosigned or not) checked against the last
    /// checkpoint verified: its commit from genesis, then consistency. Throws a split view with both
    /// notes when the validators have signed a log that does not extend the witnessed one.
    public func checkHead() async throws {
        guard let previous = last else { return }
        let served = try await api.exchange("GET", "/v1/audit-log/checkpoint", contentType: "text/plain")
        guard served.status == 200 else { return }
        let note: SignedNote, opened: ChainCheckpoint
        do {
            note = try SignedNote(parsing: Array(served.body))
            opened = try ChainCheckpoint(opening: note, chainID: light.chainID, genesis: light.genesisHash)
        } catch { throw WitnessedLogError(error.code, "the node's head checkpoint: \(error.message)") }
        let h = opened.header.height
        if h > light.head.height {
            do { try await api.followHeaders(after: light.head.height, to: h) { page in try light.advance(with: page, upTo: h) } }
            catch let e as LightClientError { throw WitnessedLogError(e.code, "the node's head checkpoint: \(e.message)") }
        }
        guard light.headerHashes[h] == opened.header.hash else {
            throw WitnessedLogError("split_view.fork", "the node's head checkpoint at height \(h) is not the block verified there: two signed histories",
                                    evidence: [previous.note, note])
        }
        try await checkConsistent(previous, CosignedCheckpoint(note: note, opened: opened, cosigners: []))
    }

    /// Checks that `b` extends `a` (or `a` extends `b`) with the node's consistency proof.
    func checkConsistent(_ a: CosignedCheckpoint, _ b: CosignedCheckpoint) async throws {
        let (old, new) = a.size <= b.size ? (a, b) : (b, a)
        if old.size == new.size {
            guard old.root == new.root else {
                throw WitnessedLogError("split_view.root", "two checkpoints of \(old.size) entries with different roots", evidence: [a.note, b.note])
            }
            return
        }
        if old.size == 0 { return }
        struct Proof: Decodable { let proof: [String] }
        let p = try await api.get("/v1/audit-log/proof/consistency?old=\(old.size)&size=\(new.size)", as: Proof.self)
        let hashes = p.proof.compactMap(Bytes32.init(hex:))
        guard hashes.count == p.proof.count,
              MerkleTree.verifyConsistency(oldSize: Int(old.size), newSize: Int(new.size), proof: hashes, oldRoot: old.root, newRoot: new.root) else {
            throw WitnessedLogError("split_view.inconsistent", "the checkpoint of \(new.size) entries does not extend the one of \(old.size) entries "
                                    + "verified before: the log was rewritten", evidence: [a.note, b.note])
        }
    }

    /// Proves that the entry with hash `entryHash` is in `checkpoint`'s tree; returns its index.
    public func proveIncluded(_ entryHash: Bytes32, in checkpoint: CosignedCheckpoint) async throws -> UInt64 {
        struct Proof: Decodable { let index: UInt64; let size: UInt64; let entryHash: String; let proof: [String] }
        let p: Proof
        do { p = try await api.get("/v1/audit-log/proof/inclusion?hash=\(entryHash.hex)&size=\(checkpoint.size)", as: Proof.self) }
        catch let e as ClientError where e.status == 404 {
            throw WitnessedLogError("entry.not_included", "entry \(entryHash.hex.prefix(16))… is not in the witnessed checkpoint of \(checkpoint.size) entries")
        }
        let path = p.proof.compactMap(Bytes32.init(hex:))
        guard p.size == checkpoint.size, p.entryHash == entryHash.hex, path.count == p.proof.count,
              MerkleTree.verifyInclusion(leafHash: MerkleTree.leafHash(entryHash.bytes), index: Int(p.index), treeSize: Int(checkpoint.size),
                                         proof: path, root: checkpoint.root) else {
            throw WitnessedLogError("entry.bad_proof", "entry \(entryHash.hex.prefix(16))…: the inclusion proof does not lead to the witnessed root")
        }
        return p.index
    }
}

/// An audit entry as `GET /v1/audit` serves it (each tool decodes its own view of the JSON): the
/// fields a tool prints and the entry's canonical bytes, which must agree.
public protocol ServedAuditEntry {
    var patient: String { get }
    var sequence: UInt64 { get }
    var height: UInt64 { get }
    var transaction: String { get }
    var organization: String { get }
    var purpose: String { get }
    var breakGlass: Bool { get }
    var allowed: Bool { get }
    var bytes: String? { get }
}

extension WitnessedLog {
    /// Proves a served entry in `checkpoint`: its canonical bytes must decode and name the same
    /// patient, sequence, block, transaction, organisation, purpose and decision as the fields shown
    /// (so what a tool prints is what the proven leaf commits to), then its hash's inclusion is
    /// verified. Returns the entry's index in the log.
    public func proveServed(_ e: some ServedAuditEntry, in checkpoint: CosignedCheckpoint) async throws -> UInt64 {
        guard let hex = e.bytes, let bytes = Hex.decode(hex) else {
            throw WitnessedLogError("entry.bad_bytes", "entry \(e.sequence) of \(e.patient) came without its canonical bytes")
        }
        let entry: MeridianModules.AuditEntry
        do { entry = try MeridianModules.AuditEntry(canonicalBytes: bytes) }
        catch { throw WitnessedLogError("entry.bad_bytes", "entry \(e.sequence) of \(e.patient): its canonical bytes do not decode (\(error))") }
        guard Address(entry.patient).description == e.patient, entry.sequence == e.sequence, entry.height == e.height, entry.transaction.hex == e.transaction,
              entry.organization.value == e.organization, entry.decision.allowed == e.allowed, entry.breakGlass == e.breakGlass, entry.purpose.code == e.purpose else {
            throw WitnessedLogError("entry.mismatch", "entry \(e.sequence) of \(e.patient): the fields served are not the entry's bytes")
        }
        return try await proveIncluded(entry.hash, in: checkpoint)
    }
}
