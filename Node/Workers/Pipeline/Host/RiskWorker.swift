import Synchronization
import Dispatch
public import MeridianCore
public import MeridianVitals
public import MeridianRisk
public import MeridianStorage

/// A NEWS2 assessment of one patient's latest vital signs.
public struct RiskAssessment: Sendable, Hashable {
    public let patient: PublicKey
    /// The newest reading time among the inputs.
    public let time: Timestamp
    public let score: NEWS2.Score
    /// Parameters with no reading yet, or whose newest reading is older than its expiry
    /// (`ReadingExpiry`): the score is incomplete and says so. No oxygen-flow reading (or an
    /// expired one) means air, as on a chart.
    public let missing: [NEWS2.Parameter]
    /// Of `missing`, those once measured: the age of their newest reading (milliseconds before
    /// `time`), which expired.
    public var expired: [NEWS2.Parameter: UInt64] = [:]
    /// Whether every parameter had an unexpired reading: only then is the total a NEWS2 score;
    /// otherwise it is the partial sum of the parameters measured.
    public var complete: Bool { missing.isEmpty }
    /// The trend variables (`TrendFeatures.names`), NaN where not measured.
    public let features: [Double]
    /// The cardiovascular model's 10-year risk, when a model is configured and every input known.
    public var modelRisk: Double? = nil
    public var modelInputs: [Float] = []
    /// The SHA-256 of the model that produced `modelRisk` (nil when no model ran).
    public var modelHash: Bytes32? = nil
    /// The model's inputs still unknown (empty when it ran or none is configured).
    public var modelMissing: [String] = []
    public static let scoringVersion = "news2-rcp-2017/1"
}

/// The risk worker: takes batches from its inbox (critical first), keeps each patient's latest
/// value per vital sign, and scores NEWS2 on every new batch. Latest assessments are kept per
/// patient for the API; alerts build on `onAssessment`.
public final class RiskWorker: Worker, Sendable {
    public let name = "risk"
    public let inbox: ScoringInbox
    /// What the worker keeps per patient, under one lock: the latest value of each sign, the trend
    /// windows, the latest assessment, and the last record stored (an assessment equal to it, from a
    /// late upload that changed nothing, is not stored or anchored again).
    private struct PatientState {
        var latest: [VitalSign: VitalReading] = [:]
        var trends = TrendFeatures()
        var assessment: RiskAssessment?
        var lastStored: AssessmentRecord?
    }
    private let patients = Mutex<[PublicKey: PatientState]>([:])
    let onAssessment: @Sendable (RiskAssessment) -> Void
    /// Where assessments are stored and queued for anchoring (nil: kept in memory only).
    let store: AssessmentStore?
    /// The learned model scored beside NEWS2 (nil: NEWS2 and trends only).
    public let model: CardiovascularModel?
    /// How old a reading may be and still count in a score.
    public let expiry: ReadingExpiry
    /// The SpO2 scale a clinician set for a patient on chain (scale 1 unless set).
    let spo2Scale: @Sendable (PublicKey) -> NEWS2.SpO2Scale
    private let profiles: Mutex<[PublicKey: RiskProfile]>
    /// Bound on patients tracked in memory; beyond it one tracked patient is forgotten (their next
    /// batch starts their trends afresh; everything stays stored).
    public static let maxPatients = 100_000

    public init(inbox: ScoringInbox, store: AssessmentStore? = nil, model: CardiovascularModel? = nil, expiry: ReadingExpiry = ReadingExpiry(),
                spo2Scale: @escaping @Sendable (PublicKey) -> NEWS2.SpO2Scale = { _ in .scale1 },
                onAssessment: @escaping @Sendable (RiskAssessment) -> Void = { _ in }) throws(RocksDBError) {
        self.inbox = inbox; self.store = store; self.model = model; self.expiry = expiry; self.spo2Scale = spo2Scale; self.onAssessment = onAssessment
        self.profiles = Mutex(try store?.profiles() ?? [:])
    }

    /// Records a patient's risk profile (persisted first when there is a store).
    public func setProfile(_ profile: RiskProfile, of patient: PublicKey) throws(RocksDBError) {
        try store?.storeProfile(profile, of: patient)
        profiles.withLock { $0[patient] = profile }
    }

    public func profile(of patient: PublicKey) -> RiskProfile? { profiles.withLock { $0[patient] } }

    public func run(metrics: WorkerMetrics) async throws {
        while !Task.isCancelled {
            guard let batch = await inbox.next() else { return }   // cancelled: the node is stopping
            metrics.queueDepth.set(Double(inbox.count))
            let started = DispatchTime.now().uptimeNanoseconds
            let a = assess(batch)
            if let store {
                let record = AssessmentRecord(patient: a.patient, time: a.time, scoringVersion: RiskAssessment.scoringVersion,
                                              modelHash: a.modelHash ?? .zero,
                                              score: a.score, missing: a.missing, features: a.features,
                                              modelInputs: a.modelInputs, modelRisk: a.modelRisk)
                let changed = patients.withLock { all in
                    guard all[a.patient]?.lastStored != record else { return false }
                    all[a.patient]?.lastStored = record
                    return true
                }
                if changed { try store.store(record) }
            }
            metrics.seconds.record(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            metrics.processed.increment()
            onAssessment(a)
        }
    }

    /// Folds a batch into the patient's latest values and trends and scores them.
    public func assess(_ batch: ReadingBatch) -> RiskAssessment {
        let profile = model == nil ? nil : profiles.withLock { $0[batch.patient] }
        let scale = spo2Scale(batch.patient)
        return patients.withLock { all in
            if all[batch.patient] == nil, all.count >= Self.maxPatients, let any = all.keys.first { all[any] = nil }
            var a = Self.fold(batch, into: &all[batch.patient, default: PatientState()], expiry: expiry, scale: scale)   // in place: the windows are not copied
            if let model {
                let latest = all[batch.patient]?.latest ?? [:]
                switch model.inputs(profile: profile, latest: { latest[$0]?.value.doubleValue }) {
                case .success(let row):
                    a.modelInputs = row
                    a.modelRisk = try? model.risk(row)
                    a.modelHash = a.modelRisk == nil ? nil : model.model.sha256
                case .failure(let missing):
                    a.modelMissing = missing.names
                }
                all[batch.patient]?.assessment = a
            }
            return a
        }
    }

    private static func fold(_ batch: ReadingBatch, into state: inout PatientState, expiry: ReadingExpiry, scale: NEWS2.SpO2Scale) -> RiskAssessment {
        for r in batch.readings where r.sign != .ecgSample && r.sign != .rrInterval {
            if let old = state.latest[r.sign], old.time > r.time { continue }   // a late upload does not replace a newer value
            state.latest[r.sign] = r
        }
        let scored = score(patient: batch.patient, state.latest, expiry: expiry, scale: scale)
        for r in batch.readings.sorted(by: { $0.time < $1.time }) { state.trends.add(r) }
        let features = state.trends.vector(score: scored.score, time: scored.time.unixMilliseconds)
        var a = RiskAssessment(patient: scored.patient, time: scored.time, score: scored.score, missing: scored.missing, features: features)
        a.expired = scored.expired
        state.assessment = a
        return a
    }

    public func assessment(of patient: PublicKey) -> RiskAssessment? { patients.withLock { $0[patient]?.assessment } }

    public static func score(patient: PublicKey, _ all: [VitalSign: VitalReading], expiry: ReadingExpiry = ReadingExpiry(),
                             scale: NEWS2.SpO2Scale = .scale1) -> RiskAssessment {
        // "Now" is the newest reading's time (the score is a pure function of the readings); a
        // reading older than its sign's expiry before it no longer counts.
        let now = all.values.map(\.time).max() ?? .zero
        var v: [VitalSign: VitalReading] = [:]
        var ages: [VitalSign: UInt64] = [:]
        for (sign, r) in all {
            let age = now.unixMilliseconds - min(now.unixMilliseconds, r.time.unixMilliseconds)
            if age <= expiry.maxAgeMilliseconds(sign) { v[sign] = r } else { ages[sign] = age }
        }
        var missing: [NEWS2.Parameter] = []
        var expired: [NEWS2.Parameter: UInt64] = [:]
        func value(_ s: VitalSign, _ p: NEWS2.Parameter, normal: Measurement) -> Measurement {
            if let r = v[s] { return r.value }
            missing.append(p); if let age = ages[s] { expired[p] = age }
            return normal
        }
        let o = NEWS2.Observation(
            respirationRate: value(.respiratoryRate, .respirationRate, normal: Measurement(whole: 16)),
            oxygenSaturation: value(.oxygenSaturation, .oxygenSaturation, normal: Measurement(whole: 98)),
            scale: scale,
            onOxygen: (v[.inhaledOxygenFlow]?.value.micro ?? 0) > 0,
            systolicPressure: value(.systolicPressure, .systolicPressure, normal: Measurement(whole: 120)),
            pulse: value(.heartRate, .pulse, normal: Measurement(whole: 70)),
            consciousness: NEWS2.Consciousness(rawValue: UInt8(clamping: v[.consciousness]?.value.roundedWhole ?? 0)) ?? .alert,
            temperature: value(.bodyTemperature, .temperature, normal: Measurement(whole: 37)))
        if v[.consciousness] == nil { missing.append(.consciousness); if let age = ages[.consciousness] { expired[.consciousness] = age } }
        var a = RiskAssessment(patient: patient, time: now, score: NEWS2.score(o), missing: missing, features: [])
        a.expired = expired
        return a
    }
}
