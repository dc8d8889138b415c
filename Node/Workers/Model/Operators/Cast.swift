/// ONNX Cast, between the two element types the supported graphs carry: float and int64.
/// Float to int64 truncates toward zero (C's conversion, which onnxruntime uses).
struct Cast: GraphOperator {
    static let inputArity = 1...1
    static let outputArity = 1...1
    enum Target { case float, int64 }
    let target: Target

    init(_ attributes: inout NodeAttributes) throws(ModelError) {
        let to = try attributes.int("to")
        switch to {
        case 1: target = .float
        case 7: target = .int64
        default:
            throw ModelError(.unsupportedType, "Cast: to=\(to) (\(Onnx_TensorProto.DataType(rawValue: Int(to)).map { "\($0)" } ?? "unknown")) is not supported; only FLOAT (1) and INT64 (7)")
        }
        _ = try attributes.int("saturate", default: 1)  // applies to 8-bit float targets only
    }

    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue] {
        switch (inputs[0], target) {
        case (.floats, .float), (.labels(.integers), .int64):
            return [inputs[0]]
        case (.labels(.integers(let values)), .float):
            return [.floats(FloatMatrix(rows: values.count, columns: 1, values: values.map { Float($0) }))]
        case (.floats(let matrix), .int64):
            var values: [Int64] = []
            values.reserveCapacity(matrix.values.count)
            for value in matrix.values {
                guard value.isFinite, abs(value) < 9.2e18 else {
                    throw ModelError(.badInput, "Cast: \(value) does not fit an int64")
                }
                values.append(Int64(value))
            }
            return [.labels(.integers(values))]
        default:
            throw ModelError(.unsupportedType, "Cast: cannot cast \(inputs[0].typeName) to \(target)")
        }
    }
}
