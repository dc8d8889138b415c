public import MeridianCore
public import MeridianConsensus
public import MeridianRuntime

/// A write-ahead-log record: what the driver fed to the core (blocks included, so a restarted
/// validator can re-propose or decide what it had).
public enum WALRecord: Sendable, Equatable, Canonical {
    case start(height: UInt64)
    case proposal(SignedProposal, Block, valid: Bool)
    case vote(SignedVote)
    case timeout(Timeout)
    case built(Block, round: UInt32)
    /// What this validator signed, recorded (and synced) before it leaves the node.
    case signedVote(SignedVote)
    case signedProposal(SignedProposal)

    public func encode(to w: inout CanonicalWriter) {
        switch self {
        case .start(let h): w.write(varint: 0); w.write(varint: h)
        case .proposal(let p, let b, let v): w.write(varint: 1); w.write(p); w.write(b); w.write(v)
        case .vote(let v): w.write(varint: 2); w.write(v)
        case .timeout(let t): w.write(varint: 3); w.write(t.step.rawValue); w.write(varint: t.height); w.write(t.round)
        case .built(let b, let r): w.write(varint: 4); w.write(b); w.write(r)
        case .signedVote(let v): w.write(varint: 5); w.write(v)
        case .signedProposal(let p): w.write(varint: 6); w.write(p)
        }
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        switch try r.readVarint("wal.kind") {
        case 0: self = .start(height: try r.readVarint("wal.height"))
        case 1: self = .proposal(try r.read(SignedProposal.self), try r.read(Block.self), valid: try r.readBool("wal.valid"))
        case 2: self = .vote(try r.read(SignedVote.self))
        case 3:
            guard let step = TimeoutStep(rawValue: try r.readUInt8("wal.step")) else { throw CodecError(.unknownVariant, field: "wal.step", offset: r.offset) }
            self = .timeout(Timeout(step: step, height: try r.readVarint("wal.height"), round: try r.readUInt32("wal.round")))
        case 4: self = .built(try r.read(Block.self), round: try r.readUInt32("wal.round"))
        case 5: self = .signedVote(try r.read(SignedVote.self))
        case 6: self = .signedProposal(try r.read(SignedProposal.self))
        default: throw CodecError(.unknownVariant, field: "wal.kind", offset: r.offset)
        }
    }
}

/// What survived in a journal: the WAL's records of the height being resumed and the signing guard.
public struct JournalContents: Sendable {
    public var records: [WALRecord]
    public var guardState: SigningGuardState
    /// Bytes of a torn final record that were cut off (a write the crash interrupted).
    public var tornBytes: Int
    public init(records: [WALRecord], guardState: SigningGuardState, tornBytes: Int = 0) {
        self.records = records; self.guardState = guardState; self.tornBytes = tornBytes
    }
}

/// Where the driver keeps what it must not forget across a crash: the WAL and the signing guard.
/// `DriverCore` says when (its `.append`, `.syncJournal`, `.resetJournal` and `.persistGuard`
/// actions, in that order before anything they caused leaves the node); the journal says how.
/// Appended records are durable only after `sync`; `reset` and `persistGuard` are durable when they
/// return. Production keeps it in files (`FileJournal`); the simulation in memory (`MemoryJournal`),
/// where a crash loses what was not synced.
///
/// The WAL is two logs used in turn, one per height. The node writes block *h* to its database while
/// it already executes *h + 1* (the shell waits for that write only before it signs anything of
/// *h + 1*), so the records of *h* must survive until *h* is on disk: a crash before then restarts at
/// *h* and decides it again from them. `reset` (a new height begins) therefore empties the *other*
/// log, the one of *h − 1*, which the chain made durable before it committed *h*.
public protocol ConsensusJournal: AnyObject {
    /// What survived, to resume `height`: the records of the log that begins with that height (none
    /// if neither does) and the guard. Appends go to that log from now on.
    func load(resuming height: UInt64) throws(ConsensusStoreError) -> JournalContents
    func append(_ record: WALRecord) throws(ConsensusStoreError)
    func sync() throws(ConsensusStoreError)
    /// A new height begins: the other log is emptied and becomes the current one.
    func reset() throws(ConsensusStoreError)
    func persistGuard(_ state: SigningGuardState) throws(ConsensusStoreError)
}

extension WALRecord {
    /// The height a log begins with (its first record is `start`).
    static func height(beginning log: [WALRecord]) -> UInt64? {
        if case .start(let h)? = log.first { return h }
        return nil
    }
}

/// The journal in files: the two logs (`ConsensusWAL`, at `walPath` and `walPath + ".2"`) and the
/// signing guard (`SigningGuard`).
public final class FileJournal: ConsensusJournal {
    public let walPath: String
    /// The paths of the two logs.
    public var walPaths: [String] { logs.map(\.path) }
    let logs: [ConsensusWAL]
    private var current = 0
    let signingGuard: SigningGuard

    public init(walPath: String, guardPath: String) throws(ConsensusStoreError) {
        self.walPath = walPath
        logs = [try ConsensusWAL(path: walPath), try ConsensusWAL(path: walPath + ".2")]
        signingGuard = try SigningGuard(path: guardPath)
    }

    /// Reads both logs; a torn final record is cut off its file (so appends continue a log that reads
    /// back whole); a record that does not decode stops the node (never skipped).
    public func load(resuming height: UInt64) throws(ConsensusStoreError) -> JournalContents {
        var decoded: [[WALRecord]] = []
        var torn = 0
        for log in logs {
            let (raw, tornBytes) = try ConsensusWAL.read(path: log.path)
            var records: [WALRecord] = []
            for (i, r) in raw.enumerated() {
                do { records.append(try WALRecord(canonicalBytes: r)) }
                catch { throw ConsensusStoreError("wal.corrupt", "\(log.path): record \(i) does not decode (\(error)); refusing to start") }
            }
            try log.dropTornTail(tornBytes)
            torn += tornBytes
            decoded.append(records)
        }
        guard let resumed = decoded.firstIndex(where: { WALRecord.height(beginning: $0) == height }) else {
            // Neither log holds this height: both hold heights already on disk, and the first `reset`
            // empties one of them.
            return JournalContents(records: [], guardState: signingGuard.state, tornBytes: torn)
        }
        current = resumed
        return JournalContents(records: decoded[resumed], guardState: signingGuard.state, tornBytes: torn)
    }

    public func append(_ record: WALRecord) throws(ConsensusStoreError) { try logs[current].append(record.canonicalBytes, sync: false) }
    public func sync() throws(ConsensusStoreError) { try logs[current].sync() }
    public func reset() throws(ConsensusStoreError) {
        let next = 1 - current
        try logs[next].reset()
        current = next
    }
    public func persistGuard(_ state: SigningGuardState) throws(ConsensusStoreError) { try signingGuard.save(state) }
}

/// The journal in memory, for the simulation: `crash()` loses the records appended since the last
/// sync (what a power cut does to a file's page cache); `crash(losingLog: true)` loses both logs
/// too (a replaced disk), keeping only the signing guard, the last line of defence against signing
/// twice.
public final class MemoryJournal: ConsensusJournal {
    /// The two logs' synced records.
    public private(set) var logs: [[WALRecord]] = [[], []]
    public private(set) var current = 0
    public private(set) var unsynced: [WALRecord] = []
    public private(set) var guardState = SigningGuardState()
    public private(set) var syncs = 0

    public init() {}

    /// The current log's synced records.
    public var durable: [WALRecord] { logs[current] }

    public func load(resuming height: UInt64) -> JournalContents {
        guard let resumed = logs.firstIndex(where: { WALRecord.height(beginning: $0) == height }) else {
            return JournalContents(records: [], guardState: guardState)
        }
        current = resumed
        return JournalContents(records: logs[resumed], guardState: guardState)
    }
    public func append(_ record: WALRecord) { unsynced.append(record) }
    public func sync() { logs[current] += unsynced; unsynced = []; syncs += 1 }
    public func reset() {
        // What was appended to the current log and not synced is lost here, as in a file that is
        // never synced again before a power cut.
        unsynced = []
        current = 1 - current
        logs[current] = []
    }
    public func persistGuard(_ state: SigningGuardState) { guardState = state }

    public func crash(losingLog: Bool = false) {
        unsynced = []
        if losingLog { logs = [[], []] }
    }
}
