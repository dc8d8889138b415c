/// ai.onnx.ml ZipMap: each row of class scores becomes a map from class label to score.
struct ZipMap: GraphOperator {
    static let inputArity = 1...1
    static let outputArity = 1...1
    let labels: ClassLabels

    init(_ attributes: inout NodeAttributes) throws(ModelError) {
        labels = try classLabels(&attributes, integerName: "classlabels_int64s")
    }

    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue] {
        let scores = try floats(inputs, 0, "ZipMap")
        guard scores.columns == labels.count else {
            throw ModelError(.badInput, "ZipMap: \(scores.columns) scores per row for \(labels.count) labels")
        }
        return [.probabilityMaps(scores, labels)]
    }
}
