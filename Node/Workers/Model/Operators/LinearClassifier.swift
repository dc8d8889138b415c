/// ai.onnx.ml LinearClassifier: per class `score = intercept + Σ coefficient · x`, the label the
/// class with the highest score (the first on a tie), the scores then post-transformed. With one
/// coefficient row and two labels, the single score decides (`> 0` is the second label) and the
/// output gets both columns, as onnxruntime writes it.
struct LinearClassifier: GraphOperator {
    static let inputArity = 1...1
    static let outputArity = 1...2
    let labels: ClassLabels
    let coefficients: [Float]
    let intercepts: [Float]
    let targets: Int
    let transform: PostTransform

    init(_ attributes: inout NodeAttributes) throws(ModelError) {
        labels = try classLabels(&attributes, integerName: "classlabels_ints")
        coefficients = try attributes.floats("coefficients")
        intercepts = try attributes.floats("intercepts", default: [])
        transform = try PostTransform(attribute: attributes.string("post_transform", default: "NONE"), operatorName: "LinearClassifier")
        _ = try attributes.int("multi_class", default: 0)  // informative only; onnxruntime ignores it too
        targets = intercepts.isEmpty ? labels.count : intercepts.count
        guard targets > 0, coefficients.count % targets == 0 else {
            throw ModelError(.badAttribute, "LinearClassifier: \(coefficients.count) coefficients do not split into \(targets) classes")
        }
        guard targets == labels.count || (targets == 1 && labels.count <= 2) else {
            throw ModelError(.badAttribute, "LinearClassifier: \(targets) coefficient rows for \(labels.count) labels")
        }
    }

    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue] {
        let x = try floats(inputs, 0, "LinearClassifier")
        let features = coefficients.count / targets
        guard x.columns == features else {
            throw ModelError(.badInput, "LinearClassifier: input has \(x.columns) columns, the model \(features)")
        }
        let binaryFromOne = targets == 1 && labels.count == 2
        var scores = FloatMatrix(rows: x.rows, columns: binaryFromOne ? 2 : targets)
        var labelIndex = [Int](repeating: 0, count: x.rows)
        x.values.withUnsafeBufferPointer { input in
            coefficients.withUnsafeBufferPointer { weights in
                for row in 0..<x.rows {
                    let base = row * features
                    var best = 0
                    var bestScore = -Float.infinity
                    for target in 0..<targets {
                        var sum: Float = intercepts.isEmpty ? 0 : intercepts[target]
                        let wBase = target * features
                        for column in 0..<features { sum += input[base + column] * weights[wBase + column] }
                        if binaryFromOne {
                            labelIndex[row] = sum > 0 ? 1 : 0
                            let positive = transform == .logistic ? PostTransform.logistic(sum) : sum
                            scores[row, 0] = transform == .logistic ? 1 - positive : -positive
                            scores[row, 1] = positive
                        } else {
                            scores[row, target] = sum
                            if sum > bestScore || target == 0 { best = target; bestScore = sum }
                        }
                    }
                    if !binaryFromOne { labelIndex[row] = best }
                }
            }
        }
        if !binaryFromOne, transform != .none {
            for row in 0..<scores.rows { transform.apply(&scores.values[(row * scores.columns)..<((row + 1) * scores.columns)]) }
        }
        return [.labels(labelColumn(labels, indices: labelIndex)), .floats(scores)]
    }
}
