import Foundation
public import MeridianCore
#if canImport(Glibc)
import Glibc
#endif

/// Why the WAL or the signing guard refused.
public struct ConsensusStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code): \(message)" }
}

/// The consensus write-ahead log of the current height: every message the validator receives or
/// signs and every timeout it acts on, appended and fsynced *before* the validator acts on it (a vote
/// leaves the node only after the record that caused it is on disk). On restart the records are
/// replayed into a fresh consensus core, which then re-derives the same state and the same votes.
/// The journal keeps two of these, one per height in turn (`FileJournal`).
///
/// Record: 4-byte big-endian length, the first 8 bytes of SHA-256 of the payload, the payload.
/// Reading refuses a complete record whose checksum does not match, or a length over the bound —
/// corruption is never skipped. A final record cut short is a write torn by a crash before its
/// fsync returned: nothing was done on it, so it is dropped, and `read` reports how many bytes.
public final class ConsensusWAL {
    public static let maxRecordBytes = 8 << 20
    static let headerBytes = 12

    public let path: String
    private var fd: Int32

    /// Opens (creating if needed) the log for appending.
    public init(path: String) throws(ConsensusStoreError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConsensusStoreError("wal.open", "\(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    static func checksum(_ payload: [UInt8]) -> [UInt8] { Array(SHA256.hash(payload).bytes.prefix(8)) }

    /// Appends one record and, unless `sync` is false, fsyncs it (the journal appends a step's
    /// records and syncs once, before anything they caused leaves the node).
    public func append(_ payload: [UInt8], sync: Bool = true) throws(ConsensusStoreError) {
        guard payload.count <= Self.maxRecordBytes else { throw ConsensusStoreError("wal.record_too_large", "\(payload.count) bytes") }
        var record = withUnsafeBytes(of: UInt32(payload.count).bigEndian) { Array($0) }
        record += Self.checksum(payload)
        record += payload
        var written = 0
        while written < record.count {
            let n = record[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ConsensusStoreError("wal.write", "\(path): \(String(cString: strerror(errno)))") }
            written += n
        }
        if sync { try self.sync() }
    }

    /// Makes every appended record durable.
    public func sync() throws(ConsensusStoreError) {
        guard fsync(fd) == 0 else { throw ConsensusStoreError("wal.sync", "\(path): \(String(cString: strerror(errno)))") }
    }

    /// Cuts a torn final record (`read`'s `tornBytes`) off the end, so that appending after a
    /// recovery continues a log that reads back whole.
    public func dropTornTail(_ bytes: Int) throws(ConsensusStoreError) {
        guard bytes > 0 else { return }
        let size = lseek(fd, 0, SEEK_END)
        guard size >= bytes, ftruncate(fd, size - bytes) == 0, fsync(fd) == 0 else {
            throw ConsensusStoreError("wal.truncate", "\(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Empties the log (a new height begins) and fsyncs.
    public func reset() throws(ConsensusStoreError) {
        guard ftruncate(fd, 0) == 0, fsync(fd) == 0 else { throw ConsensusStoreError("wal.reset", "\(path): \(String(cString: strerror(errno)))") }
    }

    /// Every record of the log at `path` (none if it does not exist), and the bytes of a torn final
    /// record that were dropped.
    public static func read(path: String) throws(ConsensusStoreError) -> (records: [[UInt8]], tornBytes: Int) {
        guard FileManager.default.fileExists(atPath: path) else { return ([], 0) }
        guard let data = FileManager.default.contents(atPath: path) else { throw ConsensusStoreError("wal.read", "cannot read \(path)") }
        let bytes = [UInt8](data)
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let remaining = bytes.count - offset
            guard remaining >= headerBytes else { return (records, remaining) }
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length <= maxRecordBytes else {
                throw ConsensusStoreError("wal.corrupt", "\(path) is corrupt at byte \(offset): a record length of \(length) bytes (limit \(maxRecordBytes)). "
                    + "The node refuses to start rather than skip what it may have signed; inspect the file before moving it aside.")
            }
            guard remaining >= headerBytes + length else { return (records, remaining) }
            let payload = Array(bytes[(offset + headerBytes)..<(offset + headerBytes + length)])
            guard Array(bytes[(offset + 4)..<(offset + headerBytes)]) == checksum(payload) else {
                throw ConsensusStoreError("wal.corrupt", "\(path) is corrupt at byte \(offset): record \(records.count) fails its checksum. "
                    + "The node refuses to start rather than skip what it may have signed; inspect the file before moving it aside.")
            }
            records.append(payload)
            offset += headerBytes + length
        }
        return (records, 0)
    }
}

/// What this validator signed in its latest height, persisted before a signature leaves it, so that
/// a restarted validator never signs two different messages for one (height, round, step) and never
/// signs for a step behind the last one. Steps: 0 proposal, 1 prevote, 2 precommit. Signing again
/// exactly what it signed before at a step of the current height is allowed: that is what a restarted
/// validator replaying its WAL does (its proposal of a round after its prevote of that round).
///
/// The rule is pure (this value); `SigningGuard` keeps it in a file, the simulation's journal in memory.
public struct SigningGuardState: Hashable, Sendable, Codable {
    public struct Signed: Hashable, Sendable, Codable {
        public let height: UInt64
        public let round: UInt32
        public let step: UInt8
        /// SHA-256 of what was signed.
        public let payload: String
        var position: (UInt64, UInt32, UInt8) { (height, round, step) }
    }

    public private(set) var last: Signed?
    /// Everything signed at `last.height`.
    public private(set) var history: [Signed] = []

    public init() {}

    /// Allows signing `payload` at (height, round, step); throws if that would be a second, different
    /// signature for a step already signed, or a step behind the last one. True if the state changed
    /// (it must then be persisted before the signature leaves the node).
    public mutating func authorize(height: UInt64, round: UInt32, step: UInt8, payload: Bytes32) throws(ConsensusStoreError) -> Bool {
        let next = Signed(height: height, round: round, step: step, payload: payload.hex)
        if let earlier = history.first(where: { $0.position == next.position }) {
            guard earlier.payload == next.payload else {
                throw ConsensusStoreError("guard.double_sign", "refusing a second, different signature at height \(height) round \(round) step \(step)")
            }
            return false
        }
        if let last, !(last.position < next.position) {
            throw ConsensusStoreError("guard.regression", "refusing to sign height \(height) round \(round) step \(step): already signed height \(last.height) round \(last.round) step \(last.step)")
        }
        history = history.filter { $0.height == height } + [next]
        last = next
        return true
    }
}

/// The signing guard's file: the state as JSON, replaced atomically (temporary file, fsync, rename,
/// fsync of the directory).
public final class SigningGuard {
    public let path: String
    public private(set) var state: SigningGuardState
    public var last: SigningGuardState.Signed? { state.last }

    public init(path: String) throws(ConsensusStoreError) {
        self.path = path
        state = try Self.load(path: path)
    }

    /// The state in the file at `path` (empty if there is none).
    public static func load(path: String) throws(ConsensusStoreError) -> SigningGuardState {
        guard FileManager.default.fileExists(atPath: path) else { return SigningGuardState() }
        guard let data = FileManager.default.contents(atPath: path), let state = try? JSONDecoder().decode(SigningGuardState.self, from: data),
              state.last != nil else {
            throw ConsensusStoreError("guard.corrupt", "\(path) does not hold a signing record; the node refuses to sign without knowing what it signed last")
        }
        return state
    }

    /// Checks and, if it changed, persists the state before returning.
    public func authorize(height: UInt64, round: UInt32, step: UInt8, payload: Bytes32) throws(ConsensusStoreError) {
        var next = state
        guard try next.authorize(height: height, round: round, step: step, payload: payload) else { return }
        try save(next)
    }

    /// Writes `next` durably, then adopts it.
    public func save(_ next: SigningGuardState) throws(ConsensusStoreError) {
        let tmp = path + ".tmp"
        do {
            let data = try JSONEncoder().encode(next)
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ConsensusStoreError("guard.write", "\(tmp): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n == data.count, fsync(fd) == 0, rename(tmp, path) == 0 else { throw ConsensusStoreError("guard.write", "\(path): \(String(cString: strerror(errno)))") }
            let dir = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, O_RDONLY | O_CLOEXEC)
            if dir >= 0 { fsync(dir); close(dir) }
        } catch let e as ConsensusStoreError { throw e } catch { throw ConsensusStoreError("guard.write", "\(error)") }
        state = next
    }
}
