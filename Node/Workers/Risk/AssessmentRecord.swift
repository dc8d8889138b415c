public import MeridianCore

/// A risk assessment as the node stores and anchors it (canonical bytes: its hash is the anchored
/// leaf). Trend variables are kept as fixed-point millionths (NaN, "not measured", as `Int64.min`),
/// so the record hashes the same on every machine; `modelHash` names the model that contributed,
/// zero when none did, with the inputs it was given and the risk it returned (micro-units), so that
/// an anchored assessment proves which data and which model produced its figure.
public struct AssessmentRecord: Sendable, Hashable, Canonical {
    public let patient: PublicKey
    public let time: Timestamp
    public let scoringVersion: String
    public let modelHash: Bytes32
    /// NEWS2 sub-scores in `NEWS2.Parameter` order.
    public let subscores: [UInt8]
    /// Parameters charted as normal because never measured, as a bit set over `NEWS2.Parameter`.
    public let missing: UInt8
    /// The trend variables (`TrendFeatures.names`), micro-units, `Int64.min` for not measured.
    public let features: [Int64]
    /// The model's inputs (micro-units, in its column order); empty when no model ran.
    public let modelInputs: [Int64]
    /// The model's risk (probability × 10⁶), `notMeasured` when no model ran.
    public let modelRisk: Int64

    public static let notMeasured = Int64.min
    public static let maxFeatures = 512

    public init(patient: PublicKey, time: Timestamp, scoringVersion: String, modelHash: Bytes32, score: NEWS2.Score, missing: [NEWS2.Parameter], features: [Double],
                modelInputs: [Float] = [], modelRisk: Double? = nil) {
        self.patient = patient; self.time = time; self.scoringVersion = scoringVersion; self.modelHash = modelHash
        self.modelInputs = modelInputs.map { Self.micro(Double($0)) }
        self.modelRisk = modelRisk.map(Self.micro) ?? Self.notMeasured
        subscores = score.subscores.map { UInt8(clamping: $0) }
        self.missing = missing.reduce(0) { $0 | 1 << $1.rawValue }
        self.features = features.map(Self.micro)
    }

    /// A value as fixed-point millionths, `notMeasured` for NaN or infinite.
    public static func micro(_ value: Double) -> Int64 {
        value.isNaN || !value.isFinite ? notMeasured : Int64((max(min(value, 9e12), -9e12) * 1_000_000).rounded())
    }

    /// The model's risk as a probability, nil when no model ran.
    public var modelProbability: Double? { modelRisk == Self.notMeasured ? nil : Double(modelRisk) / 1_000_000 }

    public var total: Int { subscores.reduce(0) { $0 + Int($1) } }
    public var score: NEWS2.Score { NEWS2.Score(subscores: subscores.map(Int.init)) }

    public func encode(to w: inout CanonicalWriter) {
        w.write(patient); w.write(time); w.write(scoringVersion); w.write(modelHash)
        w.write(bytes: subscores); w.write(missing)
        w.write(varint: UInt64(features.count))
        for f in features { w.write(signed: f) }
        w.write(varint: UInt64(modelInputs.count))
        for f in modelInputs { w.write(signed: f) }
        w.write(signed: modelRisk)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        patient = try r.read(PublicKey.self); time = try r.read(Timestamp.self)
        scoringVersion = try r.readString("assessment.version", max: 64); modelHash = try r.readBytes32("assessment.model")
        subscores = try r.readByteString("assessment.subscores", max: 16); missing = try r.readUInt8("assessment.missing")
        features = try Self.readSignedList(&r, "assessment.features")
        modelInputs = try Self.readSignedList(&r, "assessment.model_inputs")
        modelRisk = try r.readSigned("assessment.model_risk")
    }

    private static func readSignedList(_ r: inout CanonicalReader, _ field: String) throws(CodecError) -> [Int64] {
        let n = try r.readLength(field, max: maxFeatures)
        var out: [Int64] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try r.readSigned(field)) }
        return out
    }
}
