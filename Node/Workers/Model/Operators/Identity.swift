/// ONNX Identity: its input, unchanged.
struct Identity: GraphOperator {
    static let inputArity = 1...1
    static let outputArity = 1...1

    init(_ attributes: inout NodeAttributes) throws(ModelError) {}

    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue] { [inputs[0]] }
}
