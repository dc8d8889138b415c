import Foundation
import Testing
import MeridianCore
@testable import MeridianModel

/// The native ONNX evaluator against onnxruntime (PyPI, written elsewhere) on the models Meridian
/// ships and on fixtures for the remaining operators: probabilities within 1e-6, labels exactly, on
/// the whole held-out test split and on 10,000 random inputs per model. Then the refusals.
@Suite(.timeLimit(.minutes(5))) struct ONNXModelTests {
    static let modelDirectory = Fixtures.repositoryRoot.appendingPathComponent("Tools/Model/cvd")
    static let fixtureDirectory = Fixtures.repositoryRoot.appendingPathComponent("Tests/Fixtures/onnx")

    /// The held-out rows (without their outcome column).
    static func testSplit() throws -> FloatMatrix {
        let text = try String(contentsOf: modelDirectory.appendingPathComponent("test-split.csv"), encoding: .utf8)
        var values: [Float] = [], rows = 0
        for line in text.split(separator: "\n").dropFirst() {
            let cells = line.split(separator: ",").dropLast()
            values += cells.map { Float($0)! }
            rows += 1
        }
        return FloatMatrix(rows: rows, columns: values.count / rows, values: values)
    }

    /// 10,000 random rows: each column uniform over its observed range widened by a quarter, and
    /// every third row snapped to halves, where scikit-learn puts its split thresholds (so `<=`
    /// versus `<` at a threshold is exercised).
    static func randomRows(like sample: FloatMatrix, seed: UInt64) -> FloatMatrix {
        var rng = SeededRandom(seed: seed)
        var low = [Float](repeating: .infinity, count: sample.columns), high = [Float](repeating: -.infinity, count: sample.columns)
        for row in 0..<sample.rows {
            for column in 0..<sample.columns {
                low[column] = min(low[column], sample[row, column])
                high[column] = max(high[column], sample[row, column])
            }
        }
        var result = FloatMatrix(rows: 10_000, columns: sample.columns)
        for row in 0..<result.rows {
            for column in 0..<sample.columns {
                let span = max(high[column] - low[column], 1)
                var value = Float.random(in: (low[column] - span / 4)...(high[column] + span / 4), using: &rng)
                if row % 3 == 0 { value = (value * 2).rounded() / 2 }
                result[row, column] = value
            }
        }
        return result
    }

    /// onnxruntime's answer, one line per row (Tools/Model/onnxruntime_reference.py).
    static func onnxruntime(_ model: URL, _ rows: FloatMatrix) async throws -> [[Substring]] {
        var csv = ""
        for row in 0..<rows.rows { csv += rows.row(row).map { "\($0)" }.joined(separator: ",") + "\n" }
        let script = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("Tools/Model/onnxruntime_reference.py"), encoding: .utf8)
        let lines = try await PythonReference.run(script, input: Data(csv.utf8), package: "onnxruntime", arguments: [model.path])
        return lines.map { $0.split(separator: " ") }
    }

    static let classifiers = [modelDirectory.appendingPathComponent("cvd-logistic.onnx"), modelDirectory.appendingPathComponent("cvd-trees.onnx"),
                              fixtureDirectory.appendingPathComponent("fixture-normalizer.onnx"), fixtureDirectory.appendingPathComponent("fixture-forest.onnx"),
                              fixtureDirectory.appendingPathComponent("fixture-small-trees.onnx")]

    @Test(arguments: classifiers)
    func classifierEqualsOnnxruntimeOnTheTestSplitAndRandomInputs(_ url: URL) async throws {
        let model = try ONNXModel(contentsOf: url)
        let split = try Self.testSplit()
        for (name, rows) in [("test split", split), ("random", Self.randomRows(like: split, seed: 0x0_4E_4E_58))] {
            let ours = try model.classify(rows)
            let theirs = try await Self.onnxruntime(url, rows)
            #expect(theirs.count == rows.rows, "\(url.lastPathComponent) \(name): onnxruntime answered \(theirs.count) rows")
            var worst: Float = 0, labelMismatches = 0
            for row in 0..<min(rows.rows, theirs.count) {
                if ours.labels.name(row) != String(theirs[row][0]) { labelMismatches += 1 }
                for column in 0..<ours.probabilities.columns {
                    worst = max(worst, abs(ours.probabilities[row, column] - Float(theirs[row][column + 1])!))
                }
            }
            #expect(labelMismatches == 0, "\(url.lastPathComponent) \(name): \(labelMismatches) labels differ")
            #expect(worst <= 1e-6, "\(url.lastPathComponent) \(name): probabilities differ by up to \(worst)")
        }
    }

    @Test func regressorEqualsOnnxruntimeOnTheTestSplitAndRandomInputs() async throws {
        let url = Self.fixtureDirectory.appendingPathComponent("fixture-regressor.onnx")
        let model = try ONNXModel(contentsOf: url)
        #expect(model.operators == ["ai.onnx.ml.TreeEnsembleRegressor"])
        let split = try Self.testSplit()
        for rows in [split, Self.randomRows(like: split, seed: 0x5245_4752)] {
            guard case .floats(let ours) = try model.run(rows)[0] else { Issue.record("not floats"); return }
            let theirs = try await Self.onnxruntime(url, rows)
            #expect(theirs.count == rows.rows)
            var worst: Float = 0
            for row in 0..<min(rows.rows, theirs.count) { worst = max(worst, abs(ours[row, 0] - Float(theirs[row][0])!)) }
            #expect(worst <= 1e-6, "regressor differs by up to \(worst)")
        }
    }

    @Test func theShippedModelsAreTheCommittedOnesAndListTheirOperators() throws {
        let sums = try String(contentsOf: Self.modelDirectory.appendingPathComponent("SHA256SUMS"), encoding: .utf8)
        let logistic = try ONNXModel(contentsOf: Self.modelDirectory.appendingPathComponent("cvd-logistic.onnx"))
        let trees = try ONNXModel(contentsOf: Self.modelDirectory.appendingPathComponent("cvd-trees.onnx"))
        #expect(sums.contains("\(logistic.sha256.hex)  cvd-logistic.onnx"))
        #expect(sums.contains("\(trees.sha256.hex)  cvd-trees.onnx"))
        #expect(logistic.operators == ["ai.onnx.ml.Scaler", "ai.onnx.ml.LinearClassifier", "Cast", "ai.onnx.ml.ZipMap"])
        #expect(trees.operators == ["ai.onnx.ml.TreeEnsembleClassifier", "Cast", "ai.onnx.ml.ZipMap"])
        #expect(trees.featureNames?.count == 14 && trees.featureNames?.first == "male" && trees.featureCount == 14)
    }

    // MARK: refusals

    /// A one-node model built here: `features [N, 2]` → op → `out`.
    static func model(_ opType: String, domain: String = "ai.onnx.ml", attributes: [Onnx_AttributeProto] = [],
                      outputs: [String] = ["out"]) -> Data {
        var model = Onnx_ModelProto()
        model.irVersion = 8
        var ml = Onnx_OperatorSetIdProto(); ml.domain = "ai.onnx.ml"; ml.version = 1
        var core = Onnx_OperatorSetIdProto(); core.domain = ""; core.version = 17
        model.opsetImport = [ml, core]
        var input = Onnx_ValueInfoProto(); input.name = "features"
        input.type.tensorType.elemType = 1
        var batch = Onnx_TensorShapeProto.Dimension(); batch.dimParam = "N"
        var width = Onnx_TensorShapeProto.Dimension(); width.dimValue = 2
        input.type.tensorType.shape.dim = [batch, width]
        var node = Onnx_NodeProto(); node.opType = opType; node.domain = domain
        node.input = ["features"]; node.output = outputs; node.attribute = attributes
        model.graph.node = [node]
        model.graph.input = [input]
        model.graph.output = outputs.map { var o = Onnx_ValueInfoProto(); o.name = $0; return o }
        return try! model.serializedData()
    }

    static func ints(_ name: String, _ values: [Int64]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = values; return a
    }
    static func floats(_ name: String, _ values: [Float]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .floats; a.floats = values; return a
    }
    static func strings(_ name: String, _ values: [String]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .strings; a.strings = values.map { Data($0.utf8) }; return a
    }

    static func refusal(_ bytes: Data) -> ModelError? {
        do { _ = try ONNXModel(bytes: bytes); return nil } catch { return error }
    }

    @Test func anOperatorOutsideTheSupportedSetIsRefusedByName() throws {
        let error = try #require(Self.refusal(Self.model("MatMul", domain: "")))
        #expect(error.code == .unsupportedOperator && error.reason.contains("MatMul"))
        let svm = try #require(Self.refusal(Self.model("SVMClassifier")))
        #expect(svm.reason.contains("ai.onnx.ml.SVMClassifier"))
    }

    @Test func garbageAndTruncatedModelsAreRefusedNotCrashed() throws {
        #expect(Self.refusal(Data([0xFF, 0x00, 0x13, 0x37]))?.code == .malformed)
        let good = try Data(contentsOf: Self.modelDirectory.appendingPathComponent("cvd-trees.onnx"))
        #expect(Self.refusal(good.prefix(good.count / 2)) != nil)
        var rng = SeededRandom(seed: 77)
        for _ in 0..<200 {  // flipped bytes: any outcome but a crash
            var bytes = [UInt8](good)
            for _ in 0..<4 { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
            if let model = try? ONNXModel(bytes: Data(bytes)) { _ = try? model.classify(FloatMatrix(row: [Float](repeating: 1, count: 14))) }
        }
    }

    @Test func anUnknownAttributeOrModeIsRefusedNotIgnored() throws {
        let scaler = Self.model("Scaler", attributes: [Self.floats("offset", [0, 0]), Self.floats("scale", [1, 1]), Self.ints("surprise", [1])])
        #expect(Self.refusal(scaler)?.code == .unsupportedAttribute)
        let normalizer = Self.model("Normalizer", attributes: [Self.strings("norm", ["L3"])].map { var a = $0; a.type = .string; a.s = Data("L3".utf8); a.strings = []; return a })
        #expect(Self.refusal(normalizer)?.code == .unsupportedAttribute)
    }

    static func tree(nodes: [Int64], trueIds: [Int64], falseIds: [Int64], modes: [String], features: [Int64] = [0, 0, 0]) -> Data {
        model("TreeEnsembleRegressor", attributes: [
            ints("nodes_treeids", nodes.map { _ in 0 }), ints("nodes_nodeids", nodes), ints("nodes_featureids", features),
            floats("nodes_values", nodes.map { _ in 0.5 }), strings("nodes_modes", modes),
            ints("nodes_truenodeids", trueIds), ints("nodes_falsenodeids", falseIds),
            ints("target_treeids", [0]), ints("target_nodeids", [1]), ints("target_ids", [0]), floats("target_weights", [1]),
        ])
    }

    @Test func aTreeThatLoopsOrPointsNowhereIsRefused() throws {
        let loop = Self.tree(nodes: [0, 1, 2], trueIds: [1, 0, 0], falseIds: [2, 0, 0], modes: ["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"])
        #expect(Self.refusal(loop)?.reason.contains("loops") == true)
        let dangling = Self.tree(nodes: [0, 1, 2], trueIds: [1, 0, 0], falseIds: [9, 0, 0], modes: ["BRANCH_LEQ", "LEAF", "LEAF"])
        #expect(Self.refusal(dangling)?.reason.contains("does not exist") == true)
        let good = Self.tree(nodes: [0, 1, 2], trueIds: [1, 0, 0], falseIds: [2, 0, 0], modes: ["BRANCH_LEQ", "LEAF", "LEAF"])
        let model = try ONNXModel(bytes: good)
        guard case .floats(let out) = try model.run(FloatMatrix(rows: 2, columns: 2, values: [0.5, 0, 0.6, 0]))[0] else { Issue.record("no floats"); return }
        #expect(out.values == [1, 0])  // 0.5 <= 0.5 goes to node 1 (weight 1); 0.6 to node 2 (no vote)
        let wide = Self.tree(nodes: [0, 1, 2], trueIds: [1, 0, 0], falseIds: [2, 0, 0], modes: ["BRANCH_LEQ", "LEAF", "LEAF"], features: [5, 0, 0])
        #expect(throws: ModelError(.badInput, "")) { try ONNXModel(bytes: wide).run(FloatMatrix(rows: 1, columns: 2, values: [0, 0])) }
    }

    @Test func theWrongNumberOfColumnsIsABadInput() throws {
        let model = try ONNXModel(contentsOf: Self.modelDirectory.appendingPathComponent("cvd-logistic.onnx"))
        #expect(throws: ModelError(.badInput, "")) { try model.classify(FloatMatrix(row: [1, 2, 3])) }
    }
}
