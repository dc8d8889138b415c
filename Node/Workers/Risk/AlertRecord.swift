public import MeridianCore
public import MeridianModules
public import MeridianVitals

/// A clinical alert as the node stores, delivers and anchors it (canonical bytes; their SHA-256 is
/// the anchored leaf and the hash on each delivery's audit entry). Keyed by the patient's public
/// key only; no name anywhere.
public struct AlertRecord: Sendable, Hashable, Canonical {
    /// Why the alert fired; several may hold at once.
    public struct Reasons: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The NEWS2 band rose to medium or high.
        public static let bandRose = Reasons(rawValue: 1)
        /// A parameter newly scores 3 (the RCP's single-parameter trigger).
        public static let parameterAtThree = Reasons(rawValue: 2)
        /// Raised by earlier versions when the long-term cardiovascular model's risk reached a
        /// threshold. No longer raised (a 10-year risk is not an acute signal: no bedside action
        /// answers it); kept so stored alerts still decode and name it.
        public static let highModelRisk = Reasons(rawValue: 4)
        /// NEWS2 rose by `AlertRule.trendRise` (2) or more within `AlertRule.trendWindowMilliseconds`
        /// (one hour): deterioration before a band is crossed.
        public static let rising = Reasons(rawValue: 8)

        public var names: [String] {
            [(Self.bandRose, "news2-band-rose"), (.parameterAtThree, "news2-parameter-at-3"), (.rising, "news2-rising"), (.highModelRisk, "high-model-risk")]
                .filter { contains($0.0) }.map(\.1)
        }
    }

    public let patient: PublicKey
    /// The assessment's time (the newest reading it used).
    public let time: Timestamp
    public let reasons: Reasons
    /// NEWS2 sub-scores in `NEWS2.Parameter` order.
    public let subscores: [UInt8]
    /// The model's risk × 10⁶, `AssessmentRecord.notMeasured` when no model ran.
    public let modelRisk: Int64
    /// The model file's SHA-256, zero when no model ran.
    public let modelHash: Bytes32
    public let scoringVersion: String
    /// The organisations it was delivered to (covered by consent for TREAT/ETREAT), sorted.
    public let recipients: [OrganizationID]

    public init(patient: PublicKey, time: Timestamp, reasons: Reasons, score: NEWS2.Score, modelRisk: Double?, modelHash: Bytes32,
                scoringVersion: String, recipients: [OrganizationID]) {
        self.patient = patient; self.time = time; self.reasons = reasons
        subscores = score.subscores.map { UInt8(clamping: $0) }
        self.modelRisk = modelRisk.map(AssessmentRecord.micro) ?? AssessmentRecord.notMeasured
        self.modelHash = modelHash; self.scoringVersion = scoringVersion
        self.recipients = recipients.sorted { $0.value < $1.value }
    }

    public var score: NEWS2.Score { NEWS2.Score(subscores: subscores.map(Int.init)) }
    public var hash: Bytes32 { SHA256.hash(canonicalBytes) }
    public var modelProbability: Double? { modelRisk == AssessmentRecord.notMeasured ? nil : Double(modelRisk) / 1_000_000 }

    public func encode(to w: inout CanonicalWriter) {
        w.write(patient); w.write(time); w.write(reasons.rawValue); w.write(bytes: subscores)
        w.write(signed: modelRisk); w.write(modelHash); w.write(scoringVersion)
        w.write(varint: UInt64(recipients.count))
        for r in recipients { w.write(r) }
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        patient = try r.read(PublicKey.self); time = try r.read(Timestamp.self)
        reasons = Reasons(rawValue: try r.readUInt8("alert.reasons"))
        subscores = try r.readByteString("alert.subscores", max: 16)
        modelRisk = try r.readSigned("alert.model_risk"); modelHash = try r.readBytes32("alert.model")
        scoringVersion = try r.readString("alert.version", max: 64)
        let n = try r.readLength("alert.recipients", max: 256)
        var out: [OrganizationID] = []
        for _ in 0..<n { out.append(try r.read(OrganizationID.self)) }
        recipients = out
    }
}

/// When an assessment raises an alert: from acute signals only. The NEWS2 band rising to medium or
/// high, a parameter newly at 3 (the RCP's single-parameter trigger; not again once the patient was
/// alerted at high, the emergency response), or NEWS2 rising by 2 or more within an hour before any
/// band alert (the early warning; a further rise of 2 within the hour alerts again) — each compared
/// with what the patient was last alerted for, not with the previous reading. A patient hovering between low-medium and
/// medium, or staying high, does not page the ward on every reading (alert fatigue is a safety
/// problem of its own); getting worse than last alerted does. Back to a NEWS2 total of
/// `recoveredTotal` (2) or less with no parameter at 3, the patient counts as recovered, and
/// deteriorating again alerts again: the gap below the low band's top (4) is hysteresis, so a
/// one-point dip does not re-arm the alert.
///
/// The long-term cardiovascular model does not page anyone (a 10-year risk is not answered at the
/// bedside, and it does not track acute deterioration); it is shown on the patient's and the
/// clinician's pages as a long-term risk.
public struct AlertRule: Sendable {
    public static let recoveredTotal = 2
    /// The trend: a rise of this many NEWS2 points over the lowest total within the window, to a
    /// total of at least `trendFloor` (0 → 2 stays inside what the RCP answers with routine ward
    /// monitoring, and would page for every pulse crossing 90 in a stable patient).
    public static let trendRise = 2
    public static let trendFloor = 3
    public static let trendWindowMilliseconds: UInt64 = 3_600_000
    public init() {}

    /// A patient's condition as the rule sees it: of one assessment, or what was last alerted.
    public struct State: Sendable, Hashable {
        public var band: NEWS2.Band = .low
        public var total = 0
        public var parametersAtThree: Set<NEWS2.Parameter> = []
        /// The assessment's time (current), or the last one folded in (alerted).
        public var time = Timestamp.zero
        /// NEWS2 totals of the last hour, oldest first (alerted state only).
        public var recent: [Sample] = []
        /// The total last alerted for as a trend, and when (within the window, a further rise of
        /// `trendRise` is needed to alert again).
        public var trendAlertedTotal: Int?
        public var trendAlertedAt = Timestamp.zero
        public init() {}
    }
    public struct Sample: Sendable, Hashable { public let time: Timestamp; public let total: Int }

    public func state(of score: NEWS2.Score, at time: Timestamp) -> State {
        var s = State()
        s.band = score.band
        s.total = score.total
        s.parametersAtThree = Set(NEWS2.Parameter.allCases.filter { score.subscore($0) >= 3 })
        s.time = time
        return s
    }

    /// The reasons `current` raises an alert given what was last `alerted`, and what counts as
    /// alerted afterwards.
    public func evaluate(alerted: State, current: State) -> (reasons: AlertRecord.Reasons, alerted: State) {
        var base = alerted
        let recovered = current.total <= Self.recoveredTotal && current.parametersAtThree.isEmpty
        if recovered { base.band = .low; base.parametersAtThree = [] }
        if let _ = base.trendAlertedTotal, base.trendAlertedAt.unixMilliseconds &+ Self.trendWindowMilliseconds < current.time.unixMilliseconds {
            base.trendAlertedTotal = nil   // the trend alert left the window: a new rise counts from the window alone
        }
        // The last hour's totals, this one included (an assessment older than the newest seen does
        // not move the window back).
        let now = max(current.time, base.time)
        var recent = base.recent.filter { $0.time.unixMilliseconds &+ Self.trendWindowMilliseconds >= now.unixMilliseconds }
        recent.append(Sample(time: current.time, total: current.total))
        if recent.count > 256 { recent.removeFirst(recent.count - 256) }
        var reasons: AlertRecord.Reasons = []
        if current.band >= .medium && current.band > base.band { reasons.insert(.bandRose) }
        // Once the patient was alerted at high (the emergency response), a further parameter at 3
        // or a further rise does not page again; the band's own rises and recovery do.
        if base.band < .high, !current.parametersAtThree.subtracting(base.parametersAtThree).isEmpty { reasons.insert(.parameterAtThree) }
        // The trend is the early warning before the bands: once a band alert went out it adds nothing.
        let lowest = recent.map(\.total).min() ?? current.total
        if base.band < .medium, current.total >= Self.trendFloor, current.total - lowest >= Self.trendRise,
           current.total >= (base.trendAlertedTotal ?? Int.min) + Self.trendRise {
            reasons.insert(.rising)
        }
        var next = base
        next.band = max(base.band, current.band >= .medium ? current.band : base.band)
        next.parametersAtThree.formUnion(current.parametersAtThree)
        next.time = now
        next.recent = recent
        if reasons.contains(.rising) { next.trendAlertedTotal = current.total; next.trendAlertedAt = current.time }
        return (reasons, next)
    }
}
