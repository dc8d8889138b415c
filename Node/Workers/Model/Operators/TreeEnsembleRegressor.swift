/// ai.onnx.ml TreeEnsembleRegressor: per target, the trees' votes combined by
/// `aggregate_function` (SUM, AVERAGE, MIN, MAX), base values added, then post-transformed. With a
/// single target only PROBIT is applied, as onnxruntime does.
struct TreeEnsembleRegressor: GraphOperator {
    static let inputArity = 1...1
    static let outputArity = 1...1
    let trees: TreeEnsemble
    let targets: Int
    let baseValues: [Float]
    let aggregate: TreeEnsemble.Aggregate
    let transform: PostTransform

    init(_ attributes: inout NodeAttributes) throws(ModelError) {
        let targetCount = try attributes.int("n_targets", default: 1)
        guard targetCount >= 1, targetCount <= 4096 else {
            throw ModelError(.badAttribute, "TreeEnsembleRegressor: n_targets \(targetCount) out of range 1...4096")
        }
        targets = Int(targetCount)
        baseValues = try attributes.floats("base_values", default: [])
        guard baseValues.isEmpty || baseValues.count == targets else {
            throw ModelError(.badAttribute, "TreeEnsembleRegressor: \(baseValues.count) base values for \(targets) targets")
        }
        let aggregateName = try attributes.string("aggregate_function", default: "SUM")
        guard let aggregate = TreeEnsemble.Aggregate(rawValue: aggregateName) else {
            throw ModelError(.unsupportedAttribute, "TreeEnsembleRegressor: aggregate_function \(aggregateName) is not one of SUM, AVERAGE, MIN, MAX")
        }
        self.aggregate = aggregate
        transform = try PostTransform(attribute: attributes.string("post_transform", default: "NONE"), operatorName: "TreeEnsembleRegressor")
        trees = try TreeEnsemble(&attributes, votePrefix: "target", targetCount: targets)
    }

    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue] {
        let x = try floats(inputs, 0, "TreeEnsembleRegressor")
        try trees.check(columns: x.columns, operatorName: "TreeEnsembleRegressor")
        var output = FloatMatrix(rows: x.rows, columns: targets)
        let treeCount = Float(trees.treeCount)
        trees.evaluate(x, targets: targets, combine: aggregate) { row, scores, voted in
            for index in 0..<targets {
                var value = voted[index] ? scores[index] : 0
                if aggregate == .average { value /= treeCount }
                if !baseValues.isEmpty { value += baseValues[index] }
                scores[index] = value
            }
            var slice = scores[...]
            if targets == 1 {
                if transform == .probit { slice[0] = PostTransform.probit(slice[0]) }
            } else {
                transform.apply(&slice)
            }
            for index in 0..<targets { output[row, index] = slice[index] }
        }
        return [.floats(output)]
    }
}
