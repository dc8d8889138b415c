import Foundation
import Testing
import MeridianCore
import MeridianVitals
import MeridianRisk
import MeridianModel
import MeridianWorkers

/// The model inside the risk worker: inputs from the stream and the profile, the risk equal to the
/// evaluator's on the same row, nothing guessed when an input is unknown, and the record carrying
/// the model's hash, inputs and risk.
@Suite(.timeLimit(.minutes(5))) struct CardiovascularModelTests {
    static func model() throws -> CardiovascularModel {
        try CardiovascularModel(model: ONNXModel(contentsOf: ONNXModelTests.modelDirectory.appendingPathComponent("cvd-logistic.onnx")))
    }
    static let profile = RiskProfile(values: ["male": 1, "age": 71, "currentSmoker": 0, "cigsPerDay": 0, "BPMeds": 1, "prevalentStroke": 0,
                                              "prevalentHyp": 1, "diabetes": 1, "totChol": 260, "BMI": 29.5, "glucose": 130])

    static func batch(_ readings: [(VitalSign, String)], at time: UInt64 = 1_795_515_290_000) -> ReadingBatch {
        ReadingBatch(patient: Fixtures.patient.publicKey, source: .feed("t", messageID: UUID().uuidString),
                     readings: readings.map { VitalReading(sign: $0.0, value: Measurement(decimal: $0.1)!, time: Timestamp(unixMilliseconds: time)) })
    }

    @Test func theWorkerRunsTheModelOnStreamAndProfileValues() throws {
        let model = try Self.model()
        let worker = try RiskWorker(inbox: ScoringInbox(capacity: 4), model: model)
        let p = Fixtures.patient.publicKey
        let before = worker.assess(Self.batch([(.systolicPressure, "168"), (.diastolicPressure, "95"), (.heartRate, "88")]))
        #expect(before.modelRisk == nil)
        #expect(before.modelMissing.contains("age") && !before.modelMissing.contains("sysBP"))
        try worker.setProfile(Self.profile, of: p)
        let a = worker.assess(Self.batch([(.heartRate, "90")], at: 1_795_515_300_000))
        let row: [Float] = [1, 71, 0, 0, 1, 0, 1, 1, 260, 168, 95, 29.5, 90, 130]
        #expect(a.modelInputs == row)
        let expected = try model.model.classify(FloatMatrix(row: row)).probabilities[0, 1]
        #expect(a.modelRisk == Double(expected))
        #expect(a.modelRisk! > 0.2, "an old diabetic hypertensive smoker-free man with high BP: high risk (\(a.modelRisk!))")
        let record = AssessmentRecord(patient: p, time: a.time, scoringVersion: RiskAssessment.scoringVersion, modelHash: model.model.sha256,
                                      score: a.score, missing: a.missing, features: a.features, modelInputs: a.modelInputs, modelRisk: a.modelRisk)
        let decoded = try AssessmentRecord(canonicalBytes: record.canonicalBytes)
        #expect(decoded == record && decoded.modelHash == model.model.sha256)
        #expect(abs(decoded.modelProbability! - a.modelRisk!) < 1e-6)
    }

    @Test func aProfileWithAnUnknownOrImpossibleValueIsRefused() throws {
        let model = try Self.model()
        #expect(model.validate(RiskProfile(values: ["age": 70])) == nil)
        #expect(model.validate(RiskProfile(values: ["shoeSize": 44]))?.contains("not an input") == true)
        #expect(model.validate(RiskProfile(values: ["age": .infinity])) != nil)
    }

    @Test func aHighRiskThresholdThatIsNotAProbabilityIsRefused() throws {
        let forest = try ONNXModel(contentsOf: ONNXModelTests.fixtureDirectory.appendingPathComponent("fixture-forest.onnx"))
        #expect(forest.featureNames != nil)
        #expect(throws: ModelError.self) { try CardiovascularModel(model: forest, highRisk: 1.5) }
    }
}
