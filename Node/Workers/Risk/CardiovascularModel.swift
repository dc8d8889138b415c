public import MeridianVitals
public import MeridianModel

/// A patient's values for the cardiovascular model's inputs that no sensor measures (age, sex,
/// smoking, cholesterol, diabetes …), keyed by the model's feature names. Supplied by the hospital
/// (`PUT /v1/vitals/{patient}/risk-profile`), kept off chain with the readings.
public struct RiskProfile: Sendable, Codable, Equatable {
    public var values: [String: Double]
    public init(values: [String: Double]) { self.values = values }
}

/// The learned 10-year cardiovascular risk model as the risk worker uses it: an `ONNXModel` whose
/// input columns are named (`meridian.features` metadata), each filled from the patient's latest
/// reading of the matching vital sign when there is one, else from their risk profile. With any
/// input unknown the model is not run: an assessment says "no model risk", never a guess.
public struct CardiovascularModel: Sendable {
    public let model: ONNXModel
    /// The probability at or above which the risk counts as high (default 0.20: the 10-year risk
    /// threshold of "high" in the Framingham-based guidelines).
    public let highRisk: Double
    public let featureNames: [String]
    /// The vital sign that fills a column, where one does.
    public let vitalColumns: [VitalSign?]

    /// Feature names the node fills from the stream.
    public static let vitalFeatures: [String: VitalSign] = [
        "sysBP": .systolicPressure, "diaBP": .diastolicPressure, "heartRate": .heartRate,
    ]

    public init(model: ONNXModel, highRisk: Double = 0.20) throws(ModelError) {
        guard let names = model.featureNames, names.count == model.featureCount ?? names.count else {
            throw ModelError(.badGraph, "the model names no input columns (metadata meridian.features): the node cannot map a patient's values to them")
        }
        guard highRisk > 0, highRisk < 1 else { throw ModelError(.badInput, "high-risk threshold \(highRisk) is not a probability") }
        self.model = model
        self.highRisk = highRisk
        self.featureNames = names
        self.vitalColumns = names.map { Self.vitalFeatures[$0] }
    }

    /// The model's input row, or the names of the inputs still unknown.
    public func inputs(profile: RiskProfile?, latest: (VitalSign) -> Double?) -> Result<[Float], MissingInputs> {
        var row: [Float] = []
        var missing: [String] = []
        row.reserveCapacity(featureNames.count)
        for (name, sign) in zip(featureNames, vitalColumns) {
            if let sign, let value = latest(sign) { row.append(Float(value)); continue }
            if let value = profile?.values[name], value.isFinite { row.append(Float(value)); continue }
            missing.append(name)
        }
        return missing.isEmpty ? .success(row) : .failure(MissingInputs(names: missing))
    }

    /// The probability of the positive class (the last column) for one row.
    public func risk(_ row: [Float]) throws(ModelError) -> Double {
        let result = try model.classify(FloatMatrix(row: row))
        return Double(result.probabilities[0, result.probabilities.columns - 1])
    }

    /// Checks a profile against the model's columns: every key a column the stream does not fill
    /// alone, every value finite.
    public func validate(_ profile: RiskProfile) -> String? {
        for (name, value) in profile.values {
            guard featureNames.contains(name) else { return "\(name) is not an input of the model (inputs: \(featureNames.joined(separator: ", ")))" }
            guard value.isFinite, abs(value) < 1e6 else { return "\(name): \(value) is not a plausible value" }
        }
        return nil
    }

    public struct MissingInputs: Error, Sendable, Equatable { public let names: [String] }
}
