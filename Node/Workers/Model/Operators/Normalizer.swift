/// ai.onnx.ml Normalizer: each row divided by its MAX, L1 or L2 norm.
struct Normalizer: GraphOperator {
    static let inputArity = 1...1
    static let outputArity = 1...1
    enum Norm: String { case max = "MAX", l1 = "L1", l2 = "L2" }
    let norm: Norm

    init(_ attributes: inout NodeAttributes) throws(ModelError) {
        let name = try attributes.string("norm", default: "MAX")
        guard let norm = Norm(rawValue: name) else {
            throw ModelError(.unsupportedAttribute, "Normalizer: norm \(name) is not one of MAX, L1, L2")
        }
        self.norm = norm
    }

    func evaluate(_ inputs: [TensorValue]) throws(ModelError) -> [TensorValue] {
        var x = try floats(inputs, 0, "Normalizer")
        let columns = x.columns
        guard columns > 0 else { return [.floats(x)] }
        for row in 0..<x.rows {
            let range = (row * columns)..<((row + 1) * columns)
            let divisor: Float
            switch norm {
            case .max: divisor = x.values[range].max()!
            case .l1: divisor = x.values[range].reduce(0) { $0 + abs($1) }
            case .l2: divisor = x.values[range].reduce(0) { $0 + $1 * $1 }.squareRoot()
            }
            for index in range { x.values[index] /= divisor }
        }
        return [.floats(x)]
    }
}
