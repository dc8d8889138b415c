public import MeridianCore
public import MeridianVitals
public import MeridianIngest
import Foundation

/// Ingestion of vital signs into the node: parse (the project's own parsers), check who may send
/// (a device frame's signature and its on-chain pairing; a feed's patient registered on chain),
/// persist (synced, group-committed) and only then acknowledge, then queue for scoring, critical
/// batches first. Nothing is acknowledged before it is on disk; nothing is stored twice.
public final class VitalsIngestor: Sendable {
    public let store: ReadingStore
    let committer: GroupCommitter
    public let inbox: ScoringInbox
    /// The patient a device is paired to in the committed state (nil: not, or no longer, paired).
    let pairedPatient: @Sendable (PublicKey) -> PublicKey?
    /// Whether a key is a registered patient in the committed state.
    let isPatient: @Sendable (PublicKey) -> Bool
    /// The node's clock: readings dated more than `maxFutureMilliseconds` ahead of it are refused
    /// (a device with a wrong clock; such a time could also never be anchored).
    let now: @Sendable () -> Timestamp
    public static let maxFutureMilliseconds: UInt64 = 120_000

    public init(store: ReadingStore, inbox: ScoringInbox, pairedPatient: @escaping @Sendable (PublicKey) -> PublicKey?,
                isPatient: @escaping @Sendable (PublicKey) -> Bool, now: @escaping @Sendable () -> Timestamp = VitalsIngestor.systemClock) {
        self.store = store; committer = GroupCommitter(store: store); self.inbox = inbox
        self.pairedPatient = pairedPatient; self.isPatient = isPatient; self.now = now
    }

    /// The wall clock, as the rest of the node reads it.
    public static let systemClock: @Sendable () -> Timestamp = { Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)) }

    func futureReading(_ b: ReadingBatch) -> VitalReading? {
        let limit = now().adding(milliseconds: Self.maxFutureMilliseconds)
        return b.readings.first { $0.time > limit }
    }

    /// What happened to one submitted frame or message.
    public struct Outcome: Sendable, Hashable {
        public enum Status: String, Sendable { case stored, duplicate, refused, busy }
        public let status: Status
        public let reason: String?
        public let device: PublicKey?
        public let sequence: UInt64?
        public let readings: Int
        public static func refused(_ reason: String, device: PublicKey? = nil, sequence: UInt64? = nil) -> Outcome {
            Outcome(status: .refused, reason: reason, device: device, sequence: sequence, readings: 0)
        }
    }

    /// Splits a gateway upload (`application/x-meridian-frames`: each frame preceded by its length,
    /// u16 big-endian) into frames; nil if the lengths do not tile the body exactly.
    public static func splitFrames(_ body: [UInt8], max: Int = 10_000) -> [[UInt8]]? {
        var out: [[UInt8]] = [], i = 0
        while i < body.count {
            guard i + 2 <= body.count, out.count < max else { return nil }
            let n = Int(body[i]) << 8 | Int(body[i + 1])
            i += 2
            guard n > 0, i + n <= body.count else { return nil }
            out.append(Array(body[i..<(i + n)])); i += n
        }
        return out
    }

    /// Ingests signed device frames: each is refused (with the reason), a duplicate, or stored.
    public func ingest(frames: [[UInt8]]) async throws -> [Outcome] {
        var outcomes = [Outcome?](repeating: nil, count: frames.count)
        var batches: [ReadingBatch] = [], at: [Int] = []
        for (i, bytes) in frames.enumerated() {
            let frame: DeviceFrame
            do { frame = try DeviceFrame(parsing: bytes) } catch { outcomes[i] = .refused(error.description); continue }
            // The pairing (a state read) before the signature (a Schnorr verification): a stream of
            // frames from unpaired keys costs no signature checks.
            guard let patient = pairedPatient(frame.device) else {
                outcomes[i] = .refused("vitals.unpaired: device \(Address(frame.device)) is not paired to a patient on chain", device: frame.device, sequence: frame.sequence); continue
            }
            guard frame.verifySignature() else { outcomes[i] = .refused("\(VitalsError.Code.badSignature.rawValue): the frame is not signed by its device key", device: frame.device, sequence: frame.sequence); continue }
            let batch = frame.batch(patient: patient)
            if let r = futureReading(batch) {
                outcomes[i] = .refused("vitals.future_time: a reading is dated \(r.time.iso8601), more than two minutes ahead of this node's clock", device: frame.device, sequence: frame.sequence); continue
            }
            batches.append(batch); at.append(i)
        }
        for (k, result) in try await persistAndQueue(batches).enumerated() { outcomes[at[k]] = result }
        return outcomes.map { $0! }
    }

    /// Ingests already-parsed batches from a hospital feed (FHIR, HL7): every patient must be registered.
    public func ingest(feedBatches batches: [ReadingBatch]) async throws -> [Outcome] {
        for b in batches where !isPatient(b.patient) {
            return batches.map { _ in .refused("vitals.unknown_patient: \(Address(b.patient)) is not a registered patient") }
        }
        for b in batches { if let r = futureReading(b) {
            return batches.map { _ in .refused("vitals.future_time: a reading is dated \(r.time.iso8601), more than two minutes ahead of this node's clock") }
        } }
        return try await persistAndQueue(batches)
    }

    func persistAndQueue(_ batches: [ReadingBatch]) async throws -> [Outcome] {
        // Back-pressure before anything is written: a full scoring queue answers "busy" for routine
        // batches (the gateway keeps them and retries); critical ones are always taken.
        // A batch that may be critical gets a promised place in the scoring queue first: once it is
        // acknowledged as stored it is always scored. With the critical lane full it is "busy" too.
        var accepted: [ReadingBatch] = [], results = [Outcome?](repeating: nil, count: batches.count), index: [Int] = []
        let room = inbox.count
        var promised = inbox.reserveCritical(batches.filter(\.mayBeCritical).count)
        let reserved = promised
        for (i, b) in batches.enumerated() {
            let busy = b.mayBeCritical ? promised == 0 : room + accepted.count >= inbox.capacity
            if busy {
                results[i] = Outcome(status: .busy, reason: "vitals.busy: the scoring queue is full; retry later", device: b.device, sequence: b.sequence, readings: 0)
                continue
            }
            if b.mayBeCritical { promised -= 1 }
            accepted.append(b); index.append(i)
        }
        let stored: [ReadingStore.Outcome]
        do { stored = try await committer.persist(accepted) } catch { inbox.releaseCritical(reserved); throw error }
        var unused = reserved
        for (k, outcome) in stored.enumerated() {
            let b = accepted[k]
            switch outcome {
            case .stored:
                if b.mayBeCritical { inbox.pushReserved(b); unused -= 1 } else { inbox.push(b) }
                results[index[k]] = Outcome(status: .stored, reason: nil, device: b.device, sequence: b.sequence, readings: b.readings.count)
            case .duplicate:
                results[index[k]] = Outcome(status: .duplicate, reason: nil, device: b.device, sequence: b.sequence, readings: b.readings.count)
            case .conflict:
                results[index[k]] = .refused("vitals.conflict: this source already sent different readings under the same id", device: b.device, sequence: b.sequence)
            }
        }
        inbox.releaseCritical(unused)
        return results.map { $0! }
    }
}

extension ReadingBatch {
    var device: PublicKey? { if case .device(let d, _) = source { return d }; return nil }
    var sequence: UInt64? { if case .device(_, let s) = source { return s }; return nil }
}
