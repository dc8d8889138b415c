public import Foundation
public import MeridianCore
import SwiftProtobuf

/// An ONNX model evaluated natively: the ModelProto decoded with swift-protobuf's generated types
/// (Generated/onnx.pb.swift, compiled once from onnx 1.23.2's onnx.proto), every node turned into
/// one of the supported operators at load, and any other operator refused by name. The graph is
/// then a list of steps over numbered value slots, so evaluation does no name lookups.
///
/// Supported: Scaler, Normalizer, LinearClassifier, TreeEnsembleClassifier, TreeEnsembleRegressor,
/// ZipMap (ai.onnx.ml) and Cast, Identity (ai.onnx); one float input `[N, C]`.
public struct ONNXModel: Sendable {
    /// SHA-256 of the model file's bytes: what an assessment records and an anchor commits to.
    public let sha256: Bytes32
    /// The graph's operators, in evaluation order (`ai.onnx.ml.` prefixed where that is the domain).
    public let operators: [String]
    public let inputName: String
    /// The input's column count when the model states it.
    public let featureCount: Int?
    /// Column names from the `meridian.features` metadata entry, when the model carries it.
    public let featureNames: [String]?
    public let outputNames: [String]
    public let producer: String

    private let steps: [Step]
    private let slotCount: Int
    private let inputSlot: Int
    private let outputSlots: [Int]

    /// The largest model file accepted: bounds what a hostile or corrupt file can make the node allocate.
    public static let maximumBytes = 64 << 20
    /// The operators this evaluator implements, by domain-qualified name (`ai.onnx.ml.` where that is the domain).
    private static let builders: [String: @Sendable (inout NodeAttributes) throws(ModelError) -> any GraphOperator] = [
        "ai.onnx.ml.Scaler": { (a: inout NodeAttributes) throws(ModelError) in try Scaler(&a) },
        "ai.onnx.ml.Normalizer": { (a: inout NodeAttributes) throws(ModelError) in try Normalizer(&a) },
        "ai.onnx.ml.LinearClassifier": { (a: inout NodeAttributes) throws(ModelError) in try LinearClassifier(&a) },
        "ai.onnx.ml.TreeEnsembleClassifier": { (a: inout NodeAttributes) throws(ModelError) in try TreeEnsembleClassifier(&a) },
        "ai.onnx.ml.TreeEnsembleRegressor": { (a: inout NodeAttributes) throws(ModelError) in try TreeEnsembleRegressor(&a) },
        "ai.onnx.ml.ZipMap": { (a: inout NodeAttributes) throws(ModelError) in try ZipMap(&a) },
        "Cast": { (a: inout NodeAttributes) throws(ModelError) in try Cast(&a) },
        "Identity": { (a: inout NodeAttributes) throws(ModelError) in try Identity(&a) },
    ]
    public static let supportedOperators = builders.keys.map { $0.split(separator: ".").last.map(String.init)! }.sorted()

    private static func qualifiedName(_ node: Onnx_NodeProto) -> String {
        node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : "\(node.domain).\(node.opType)"
    }

    private struct Step: Sendable {
        let operation: any GraphOperator
        let inputs: [Int]
        let outputs: [Int]
    }

    public init(contentsOf url: URL) throws(ModelError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError(.malformed, "cannot read \(url.path): \(error.localizedDescription)")
        }
        try self.init(bytes: data)
    }

    public init(bytes: Data) throws(ModelError) {
        guard bytes.count <= Self.maximumBytes else {
            throw ModelError(.malformed, "model is \(bytes.count) bytes, over the \(Self.maximumBytes)-byte limit")
        }
        let proto: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            proto = try Onnx_ModelProto(serializedBytes: bytes, options: options)
        } catch {
            throw ModelError(.malformed, "not an ONNX model: \(error)")
        }
        guard proto.hasGraph else { throw ModelError(.malformed, "the model has no graph") }
        sha256 = SHA256.hash([UInt8](bytes))
        producer = [proto.producerName, proto.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        featureNames = proto.metadataProps.first { $0.key == "meridian.features" }
            .map { $0.value.split(separator: ",").map(String.init) }

        var opsets: [String: Int64] = [:]
        for entry in proto.opsetImport { opsets[entry.domain == "ai.onnx" ? "" : entry.domain] = entry.version }

        let graph = proto.graph
        // Name an unsupported operator before anything else: it is the answer a hospital needs.
        for node in graph.node where Self.builders[Self.qualifiedName(node)] == nil {
            throw ModelError(.unsupportedOperator, "operator \(Self.qualifiedName(node)) is not supported (supported: \(Self.supportedOperators.joined(separator: ", ")))")
        }
        guard graph.initializer.isEmpty, graph.sparseInitializer.isEmpty else {
            throw ModelError(.unsupportedOperator, "the graph has initializers (constant tensors); none of the supported operators takes one")
        }
        guard graph.input.count == 1, let input = graph.input.first else {
            throw ModelError(.badGraph, "the graph has \(graph.input.count) inputs; exactly one float tensor is supported")
        }
        guard input.type.tensorType.elemType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw ModelError(.unsupportedType, "input \(input.name) is element type \(input.type.tensorType.elemType), only float (1) is supported")
        }
        inputName = input.name
        let dims = input.type.tensorType.shape.dim
        featureCount = dims.count == 2 && dims[1].dimValue > 0 ? Int(dims[1].dimValue) : nil

        var slots: [String: Int] = [input.name: 0]
        var slotCount = 1
        var steps: [Step] = []
        var operators: [String] = []
        for node in graph.node {
            let qualified = Self.qualifiedName(node)
            let domain = node.domain == "ai.onnx" ? "" : node.domain
            guard opsets[domain] != nil else {
                throw ModelError(.badGraph, "\(qualified): domain \(domain.isEmpty ? "ai.onnx" : domain) is not in the model's opset imports")
            }
            var attributes = try NodeAttributes(node)
            let operation = try Self.builders[qualified]!(&attributes)   // present: checked above
            try attributes.requireAllRead()
            let kind = type(of: operation)
            let usedInputs = node.input.filter { !$0.isEmpty }
            guard kind.inputArity.contains(usedInputs.count), kind.outputArity.contains(node.output.count) else {
                throw ModelError(.badGraph, "\(qualified): \(usedInputs.count) inputs and \(node.output.count) outputs, expected \(kind.inputArity) and \(kind.outputArity)")
            }
            var inputSlots: [Int] = []
            for name in usedInputs {
                guard let slot = slots[name] else {
                    throw ModelError(.badGraph, "\(qualified): input \(name) is used before any node produces it")
                }
                inputSlots.append(slot)
            }
            var outputSlots: [Int] = []
            for name in node.output {
                guard slots[name] == nil || name.isEmpty else {
                    throw ModelError(.badGraph, "\(qualified): output \(name) is produced twice")
                }
                if !name.isEmpty { slots[name] = slotCount }
                outputSlots.append(slotCount)
                slotCount += 1
            }
            steps.append(Step(operation: operation, inputs: inputSlots, outputs: outputSlots))
            operators.append(qualified)
        }
        var outputSlots: [Int] = []
        for output in graph.output {
            guard let slot = slots[output.name] else {
                throw ModelError(.badGraph, "graph output \(output.name) is never produced")
            }
            outputSlots.append(slot)
        }
        guard !outputSlots.isEmpty else { throw ModelError(.badGraph, "the graph has no outputs") }
        self.steps = steps
        self.operators = operators
        self.slotCount = slotCount
        self.inputSlot = 0
        self.outputSlots = outputSlots
        self.outputNames = graph.output.map(\.name)
    }

    /// Evaluates the graph on `input` (`[N, C]`) and returns its outputs in graph order.
    public func run(_ input: FloatMatrix) throws(ModelError) -> [TensorValue] {
        if let featureCount, input.columns != featureCount {
            throw ModelError(.badInput, "the model takes \(featureCount) columns, the input has \(input.columns)")
        }
        var values = [TensorValue?](repeating: nil, count: slotCount)
        values[inputSlot] = .floats(input)
        for step in steps {
            var inputs: [TensorValue] = []
            inputs.reserveCapacity(step.inputs.count)
            for slot in step.inputs { inputs.append(values[slot]!) }
            let results = try step.operation.evaluate(inputs)
            for (index, slot) in step.outputs.enumerated() where index < results.count {
                values[slot] = results[index]
            }
        }
        var outputs: [TensorValue] = []
        for (position, slot) in outputSlots.enumerated() {
            guard let value = values[slot] else {
                throw ModelError(.badGraph, "graph output \(outputNames[position]) was not produced")
            }
            outputs.append(value)
        }
        return outputs
    }

    /// A classifier's result: the label and the probability of every class, per row. Accepts the
    /// shapes converters emit (label tensor + ZipMap, or label tensor + float scores).
    public func classify(_ input: FloatMatrix) throws(ModelError) -> Classification {
        let outputs = try run(input)
        var labels: ClassLabels?
        var probabilities: FloatMatrix?
        var classLabels: ClassLabels?
        for output in outputs {
            switch output {
            case .labels(let column) where labels == nil: labels = column
            case .probabilityMaps(let matrix, let names) where probabilities == nil:
                probabilities = matrix
                classLabels = names
            case .floats(let matrix) where probabilities == nil: probabilities = matrix
            default: continue
            }
        }
        guard let labels, let probabilities else {
            throw ModelError(.badGraph, "the model is not a classifier: it has no label and probability outputs")
        }
        return Classification(labels: labels, probabilities: probabilities, classLabels: classLabels)
    }
}

/// What a classifier says about each row.
public struct Classification: Sendable, Equatable {
    public let labels: ClassLabels
    /// `[N, K]`: the probability of each class, columns in class-label order.
    public let probabilities: FloatMatrix
    /// The class labels of the probability columns, when the graph names them (ZipMap).
    public let classLabels: ClassLabels?
}
