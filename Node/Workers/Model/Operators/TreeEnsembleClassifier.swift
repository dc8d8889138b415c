/// ai.onnx.ml TreeEnsembleClassifier. The votes of all trees are summed per class, base values
/// added, and the label chosen, with onnxruntime's reading of the cases the ONNX text leaves vague:
/// - Two labels and every vote for one class (how scikit-learn's binary ensembles export): one score
///   `s`. With all weights ≥ 0 (averaged forests) `s` is the second class's probability: label 2 when
///   `s > 0.5`, probabilities `[1 − s, s]`. With signed weights (boosting) label 2 when `s > 0`, and
///   probabilities `[σ(−s), σ(s)]` under LOGISTIC, `[−s, s]` otherwise.
/// - Otherwise one score per class, the label the highest-scoring class that got a vote, every
///   score post-transformed.
struct TreeEnsembleClassifier: GraphOperator {
    static let inputArity = 1...1
    static let outputArity = 1...2
    let trees: TreeEnsemble
    let labels: ClassLabels
    let baseValues: [Float]
    let transform: PostTransform
    /// Two labels, every vote for the same class: the single-score binary case.
    let singleScoreBinary: Bool
    let weightsAllPositive: Bool

    init(_ attributes: inout NodeAttributes) throws(ModelError) {
        labels = try classLabels(&attributes, integerName: "classlabels_int64s")
        baseValues = try attributes.floats("base_values", default: [])
        transform = try PostTransform(attribute: attributes.string("post_transform", default: "NONE"), operatorName: "TreeEnsembleClassifier")
        trees = try TreeEnsemble(&attributes, votePrefix: "class", targetCount: labels.count)
        guard baseValues.isEmpty || baseValues.count == labels.count || (labels.count == 2 && baseValues.count == 1) else {
            throw ModelError(.badAttribute, "TreeEnsembleClassifier: \(baseValues.count) base values for \(labels.count) classes")
        }
        let votedClasses = Set(trees.voteTargets)
        singleScoreBinary = labels.count == 2 && votedClasses.count <= 1
        weightsAllPositive = trees.voteWeights.allSatisfy { $0 >= 0 }
        if singleScoreBinary, let only = votedClasses.first, only != 0 {
            throw ModelError(.unsupportedAttribute, "TreeEnsembleClassifier: a binary ensemble whose votes are all for class 1 (not 0) is not supported")
        }
    }

    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue] {
        let x = try floats(inputs, 0, "TreeEnsembleClassifier")
        try trees.check(columns: x.columns, operatorName: "TreeEnsembleClassifier")
        let classes = labels.count
        var probabilities = FloatMatrix(rows: x.rows, columns: classes)
        var labelIndex = [Int](repeating: 0, count: x.rows)
        trees.evaluate(x, targets: classes, combine: .sum) { row, scores, voted in
            if singleScoreBinary {
                var score = scores[0]
                if let base = baseValues.last { score += baseValues.count == 2 ? base : baseValues[0] }
                let positive: Float, negative: Float
                if weightsAllPositive {
                    labelIndex[row] = score > 0.5 ? 1 : 0
                    if transform == .probit {
                        positive = PostTransform.probit(score); negative = 0
                    } else {
                        positive = score; negative = 1 - score
                    }
                } else {
                    labelIndex[row] = score > 0 ? 1 : 0
                    if transform == .logistic {
                        positive = PostTransform.logistic(score); negative = PostTransform.logistic(-score)
                    } else {
                        positive = score; negative = -score
                    }
                }
                probabilities[row, 0] = negative
                probabilities[row, 1] = positive
            } else {
                var best = -1
                for index in 0..<classes {
                    let hasScore = voted[index] || baseValues.count == classes
                    if baseValues.count == classes { scores[index] += baseValues[index] }
                    if hasScore, best < 0 || scores[index] > scores[best] { best = index }
                }
                labelIndex[row] = max(best, 0)
                var slice = scores[...]
                transform.apply(&slice)
                for index in 0..<classes { probabilities[row, index] = slice[index] }
            }
        }
        return [.labels(labelColumn(labels, indices: labelIndex)), .floats(probabilities)]
    }
}
