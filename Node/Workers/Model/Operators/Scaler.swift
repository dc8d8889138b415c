/// ai.onnx.ml Scaler: `y = (x − offset) · scale`, per column (or one value for all columns).
struct Scaler: GraphOperator {
    static let inputArity = 1...1
    static let outputArity = 1...1
    let offset: [Float]
    let scale: [Float]

    init(_ attributes: inout NodeAttributes) throws(ModelError) {
        offset = try attributes.floats("offset", default: [0])
        scale = try attributes.floats("scale", default: [1])
        guard !offset.isEmpty, !scale.isEmpty else {
            throw ModelError(.badAttribute, "Scaler: offset and scale must not be empty")
        }
    }

    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue] {
        var x = try floats(inputs, 0, "Scaler")
        for (name, values) in [("offset", offset), ("scale", scale)] where values.count != 1 && values.count != x.columns {
            throw ModelError(.badInput, "Scaler: \(name) has \(values.count) values for \(x.columns) columns")
        }
        let columns = x.columns
        let offsetOne = offset.count == 1, scaleOne = scale.count == 1
        x.values.withUnsafeMutableBufferPointer { values in
            for index in values.indices {
                let column = index % columns
                values[index] = (values[index] - offset[offsetOne ? 0 : column]) * scale[scaleOne ? 0 : column]
            }
        }
        return [.floats(x)]
    }
}
