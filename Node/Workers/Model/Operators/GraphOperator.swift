/// One operator of a loaded graph: attributes checked at load, evaluated on the values of its
/// inputs. Each conformer implements one ONNX(-ML) operator with the semantics onnxruntime gives it
/// (the tests compare the two on the models Meridian ships).
protocol GraphOperator: Sendable {
    /// How many inputs and outputs the node must have (ranges, as some outputs are optional).
    static var inputArity: ClosedRange<Int> { get }
    static var outputArity: ClosedRange<Int> { get }
    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue]
}

extension GraphOperator {
    /// The float matrix of input `index`, or a type error naming the operator.
    func floats(_ inputs: [TensorValue], _ index: Int, _ operatorName: String) throws(ModelError) -> FloatMatrix {
        guard case .floats(let matrix) = inputs[index] else {
            throw ModelError(.unsupportedType, "\(operatorName): input \(index) is \(inputs[index].typeName), expected tensor(float)")
        }
        return matrix
    }
}

/// The label tensor a classifier writes (its first output).
func labelColumn(_ labels: ClassLabels, indices: [Int]) -> ClassLabels {
    switch labels {
    case .integers(let values): .integers(indices.map { values[$0] })
    case .strings(let values): .strings(indices.map { values[$0] })
    }
}

/// `classlabels_ints`/`int64s` or `classlabels_strings`: exactly one must be given.
func classLabels(_ attributes: inout NodeAttributes, integerName: String) throws(ModelError) -> ClassLabels {
    let integers = try attributes.ints(integerName, default: [])
    let strings = try attributes.strings("classlabels_strings", default: [])
    switch (integers.isEmpty, strings.isEmpty) {
    case (false, true): return .integers(integers)
    case (true, false): return .strings(strings)
    case (true, true): throw ModelError(.badAttribute, "\(attributes.operatorName): no class labels (\(integerName) or classlabels_strings)")
    case (false, false): throw ModelError(.badAttribute, "\(attributes.operatorName): both \(integerName) and classlabels_strings given")
    }
}
