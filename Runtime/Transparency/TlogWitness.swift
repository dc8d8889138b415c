public import MeridianCore
import Foundation

/// What a witness holds for one log: the latest checkpoint it cosigned, as the signed note it
/// serves to monitors (the log's signatures it verified and its own cosignature).
public struct WitnessedCheckpoint: Hashable, Sendable {
    public let size: UInt64
    public let root: Bytes32
    public let note: [UInt8]
    public init(size: UInt64, root: Bytes32, note: [UInt8]) { self.size = size; self.root = root; self.note = note }
}

/// Where a witness keeps, per log origin, the latest checkpoint it cosigned. `replace` must be
/// atomic and durable when it returns (the witness answers only after it).
public protocol WitnessStorage: AnyObject {
    func latest(origin: String) throws -> WitnessedCheckpoint?
    func replace(origin: String, with checkpoint: WitnessedCheckpoint) throws
}

/// Decides whether a checkpoint is the log's own. For a log with note keys, their signatures
/// (`NoteKeyAuthority`); for Meridian's audit log, the chain's commit as its light client checks it.
public protocol CheckpointAuthority {
    var origin: String { get }
    /// Throws, with the reason, when the note does not carry the log's valid signature.
    func authenticate(_ note: SignedNote, checkpoint: Checkpoint) throws(NoteError)
    /// Called once the witness has cosigned and stored `note`: an authority that learns from what
    /// it accepts (a light client) learns here, never from a checkpoint the witness then refused.
    func accepted(_ note: SignedNote)
}

extension CheckpointAuthority {
    public func accepted(_ note: SignedNote) {}
}

/// A log known by its Ed25519 note keys (c2sp.org/tlog-checkpoint).
public struct NoteKeyAuthority: CheckpointAuthority {
    public let origin: String
    public let keys: [NoteVerifierKey]
    public init(origin: String, keys: [NoteVerifierKey]) { self.origin = origin; self.keys = keys }
    public func authenticate(_ note: SignedNote, checkpoint: Checkpoint) throws(NoteError) { _ = try note.verified(by: keys) }
}

/// A witness's answer: an HTTP status, its content type and body, and the reason in words (for
/// the witness's log; the body is what the protocol prescribes).
public struct WitnessAnswer: Sendable, Equatable {
    public let status: Int
    public let contentType: String
    public let body: [UInt8]
    public let reason: String
    public init(status: Int, contentType: String, body: [UInt8], reason: String) {
        self.status = status; self.contentType = contentType; self.body = body; self.reason = reason
    }
    static func text(_ status: Int, _ reason: String) -> WitnessAnswer {
        WitnessAnswer(status: status, contentType: "text/plain; charset=utf-8", body: Array((reason + "\n").utf8), reason: reason)
    }
}

/// The witness of c2sp.org/tlog-witness: `add-checkpoint` checks a log's new checkpoint against
/// the latest one it cosigned for that log (a consistency proof, RFC 9162 §2.1.4) and answers with
/// its cosignature (c2sp.org/tlog-cosignature, Ed25519, type 0x04); the monitoring endpoint serves
/// that checkpoint. Checking the old size and storing the new checkpoint happen under one lock, so
/// two requests cannot roll a log back (the race the specification describes).
public final class TlogWitness: @unchecked Sendable {
    // @unchecked: every mutable step (storage check and replace) runs under `lock`.
    public let cosigner: Cosigner
    private let logs: [String: any CheckpointAuthority]
    private let storage: any WitnessStorage
    private let clock: @Sendable () -> UInt64
    private let lock = NSLock()

    /// `clock` gives POSIX seconds (the cosignature's timestamp).
    public init(cosigner: Cosigner, logs: [any CheckpointAuthority], storage: any WitnessStorage,
                clock: (@Sendable () -> UInt64)? = nil) {
        self.cosigner = cosigner
        self.logs = Dictionary(logs.map { ($0.origin, $0) }, uniquingKeysWith: { a, _ in a })
        self.storage = storage
        self.clock = clock ?? { UInt64(Date().timeIntervalSince1970) }
    }

    /// `POST <submission prefix>/add-checkpoint`, statuses exactly as the specification gives them:
    /// 400 a malformed request or an old size above the checkpoint's; 404 an unknown origin; 403 no
    /// valid signature of the log; 409 an old size that is not the latest cosigned one (the body is
    /// that size, `text/x.tlog.size`); 422 a proof that does not verify, a non-empty proof from size
    /// zero, equal sizes with different roots, or an empty tree whose root is not the empty hash.
    public func addCheckpoint(_ body: [UInt8]) -> WitnessAnswer {
        let request: AddCheckpointRequest, note: SignedNote, checkpoint: Checkpoint
        do throws(NoteError) {
            request = try AddCheckpointRequest(parsing: body)
            note = try SignedNote(parsing: request.checkpoint)
            checkpoint = try Checkpoint(parsing: note.text)
        } catch { return .text(400, error.description) }
        guard let authority = logs[checkpoint.origin] else { return .text(404, "unknown log origin '\(checkpoint.origin.prefix(100))'") }
        do throws(NoteError) { try authority.authenticate(note, checkpoint: checkpoint) }
        catch { return .text(403, error.description) }
        guard request.oldSize <= checkpoint.size else {
            return .text(400, "old size \(request.oldSize) is above the checkpoint's size \(checkpoint.size)")
        }
        lock.lock()
        defer { lock.unlock() }
        let stored: WitnessedCheckpoint?
        do { stored = try storage.latest(origin: checkpoint.origin) } catch { return .text(500, "witness storage: \(error)") }
        let storedSize = stored?.size ?? 0
        guard request.oldSize == storedSize else {
            return WitnessAnswer(status: 409, contentType: "text/x.tlog.size", body: Array("\(storedSize)\n".utf8),
                                 reason: "old size \(request.oldSize), the latest cosigned checkpoint has size \(storedSize)")
        }
        if checkpoint.size == 0, checkpoint.root != MerkleTree.emptyRoot {
            return .text(422, "a checkpoint of size 0 has the root of the empty tree")
        }
        if request.oldSize == 0 {
            guard request.proof.isEmpty else { return .text(422, "a consistency proof from size 0 is empty") }
        } else if request.oldSize == checkpoint.size {
            guard request.proof.isEmpty, stored?.root == checkpoint.root else {
                return .text(422, "same size \(checkpoint.size) as the latest cosigned checkpoint, different root")
            }
        } else {
            guard let old = stored, MerkleTree.verifyConsistency(oldSize: Int(old.size), newSize: Int(checkpoint.size), proof: request.proof,
                                                                 oldRoot: old.root, newRoot: checkpoint.root) else {
                return .text(422, "the consistency proof from size \(request.oldSize) to \(checkpoint.size) does not verify")
            }
        }
        let cosignature: NoteSignature
        do throws(NoteError) { cosignature = try cosigner.cosign(checkpointText: note.text, timestamp: clock()) }
        catch { return .text(500, error.description) }
        do {
            try storage.replace(origin: checkpoint.origin,
                                with: WitnessedCheckpoint(size: checkpoint.size, root: checkpoint.root, note: note.adding([cosignature]).bytes))
        } catch { return .text(500, "witness storage: \(error)") }
        authority.accepted(note)
        return WitnessAnswer(status: 200, contentType: "text/plain; charset=utf-8", body: Array(cosignature.line.utf8),
                             reason: "cosigned \(checkpoint.origin) at size \(checkpoint.size)")
    }

    /// `GET <monitoring prefix>/<origin hash>/checkpoint`: the latest cosigned checkpoint of the log
    /// whose origin hashes (SHA-256, lowercase hex) to `originHash`; 404 if there is none.
    public func checkpoint(originHash: String) -> WitnessAnswer {
        guard let origin = logs.keys.first(where: { SHA256.hash(Array($0.utf8)).hex == originHash }) else {
            return .text(404, "no log with that origin hash")
        }
        lock.lock()
        defer { lock.unlock() }
        do {
            guard let stored = try storage.latest(origin: origin) else { return .text(404, "nothing cosigned yet for '\(origin)'") }
            return WitnessAnswer(status: 200, contentType: "text/plain; charset=utf-8", body: stored.note, reason: "latest of '\(origin)'")
        } catch { return .text(500, "witness storage: \(error)") }
    }
}

/// A witness storage in memory (tests, and tools that do not need it to survive).
public final class InMemoryWitnessStorage: WitnessStorage, @unchecked Sendable {
    // @unchecked: used under TlogWitness's lock.
    private var records: [String: WitnessedCheckpoint] = [:]
    public init() {}
    public func latest(origin: String) -> WitnessedCheckpoint? { records[origin] }
    public func replace(origin: String, with checkpoint: WitnessedCheckpoint) { records[origin] = checkpoint }
}
