/// A dense row-major matrix of 32-bit floats: the only numeric tensor the supported operators need
/// (ONNX-ML's classical operators take `[N, C]` float input and produce `[N, K]` scores).
public struct FloatMatrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var values: [Float]

    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "FloatMatrix: \(values.count) values for \(rows)x\(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        self.init(rows: rows, columns: columns, values: Array(repeating: value, count: rows * columns))
    }

    /// One row, for a single patient's inputs.
    public init(row: [Float]) {
        self.init(rows: 1, columns: row.count, values: row)
    }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    public func row(_ index: Int) -> ArraySlice<Float> {
        values[(index * columns)..<((index + 1) * columns)]
    }
}

/// Labels, integers or strings as ONNX-ML allows: a classifier's set of class labels, or the label
/// chosen for each row.
public enum ClassLabels: Sendable, Equatable {
    case integers([Int64])
    case strings([String])

    public var count: Int {
        switch self {
        case .integers(let labels): labels.count
        case .strings(let labels): labels.count
        }
    }

    /// The label at `index`, printed.
    public func name(_ index: Int) -> String {
        switch self {
        case .integers(let labels): String(labels[index])
        case .strings(let labels): labels[index]
        }
    }
}

/// A value flowing between operators.
public enum TensorValue: Sendable, Equatable {
    /// A float tensor `[N, C]`.
    case floats(FloatMatrix)
    /// A label (or int64) tensor `[N]`.
    case labels(ClassLabels)
    /// ZipMap's output: per row, a map from class label to probability. Kept as the score matrix
    /// and its labels; `probabilities(row:)` builds the map on demand.
    case probabilityMaps(FloatMatrix, ClassLabels)

    var typeName: String {
        switch self {
        case .floats: "tensor(float)"
        case .labels(.integers): "tensor(int64)"
        case .labels(.strings): "tensor(string)"
        case .probabilityMaps: "seq(map)"
        }
    }
}
