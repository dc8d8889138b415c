import Foundation

/// A node's attributes by name, read with the checks every operator needs: present, of the right
/// kind, and nothing left over that the operator would silently ignore. An evaluator that skipped
/// an attribute it does not understand would compute something other than the model says.
struct NodeAttributes {
    let operatorName: String
    private var byName: [String: Onnx_AttributeProto]
    private var read: Set<String> = []

    init(_ node: Onnx_NodeProto) throws(ModelError) {
        operatorName = node.opType
        byName = [:]
        for attribute in node.attribute {
            guard byName.updateValue(attribute, forKey: attribute.name) == nil else {
                throw ModelError(.badAttribute, "\(node.opType): attribute \(attribute.name) given twice")
            }
        }
    }

    func has(_ name: String) -> Bool { byName[name] != nil }

    mutating func floats(_ name: String, default value: [Float]? = nil) throws(ModelError) -> [Float] {
        guard let attribute = take(name) else { return try fallback(name, value) }
        guard attribute.type == .floats || (attribute.type == .undefined && !attribute.floats.isEmpty) else {
            throw kindError(name, "floats", attribute)
        }
        return attribute.floats
    }

    mutating func ints(_ name: String, default value: [Int64]? = nil) throws(ModelError) -> [Int64] {
        guard let attribute = take(name) else { return try fallback(name, value) }
        guard attribute.type == .ints || (attribute.type == .undefined && !attribute.ints.isEmpty) else {
            throw kindError(name, "ints", attribute)
        }
        return attribute.ints
    }

    mutating func strings(_ name: String, default value: [String]? = nil) throws(ModelError) -> [String] {
        guard let attribute = take(name) else { return try fallback(name, value) }
        guard attribute.type == .strings || (attribute.type == .undefined && !attribute.strings.isEmpty) else {
            throw kindError(name, "strings", attribute)
        }
        var result: [String] = []
        for data in attribute.strings {
            guard let text = String(data: data, encoding: .utf8) else {
                throw ModelError(.badAttribute, "\(operatorName): attribute \(name) holds a string that is not UTF-8")
            }
            result.append(text)
        }
        return result
    }

    mutating func int(_ name: String, default value: Int64? = nil) throws(ModelError) -> Int64 {
        guard let attribute = take(name) else { return try fallback(name, value) }
        guard attribute.type == .int || (attribute.type == .undefined && attribute.hasI) else {
            throw kindError(name, "int", attribute)
        }
        return attribute.i
    }

    mutating func string(_ name: String, default value: String? = nil) throws(ModelError) -> String {
        guard let attribute = take(name) else { return try fallback(name, value) }
        guard attribute.type == .string || (attribute.type == .undefined && attribute.hasS) else {
            throw kindError(name, "string", attribute)
        }
        guard let text = String(data: attribute.s, encoding: .utf8) else {
            throw ModelError(.badAttribute, "\(operatorName): attribute \(name) is not UTF-8")
        }
        return text
    }

    /// Refuses any attribute no reader asked for.
    func requireAllRead() throws(ModelError) {
        let left = Set(byName.keys).subtracting(read).sorted()
        if let first = left.first {
            throw ModelError(.unsupportedAttribute,
                             "\(operatorName): attribute \(first) is not supported\(left.count > 1 ? " (nor \(left.dropFirst().joined(separator: ", ")))" : "")")
        }
    }

    private mutating func take(_ name: String) -> Onnx_AttributeProto? {
        read.insert(name)
        return byName[name]
    }

    private func fallback<T>(_ name: String, _ value: T?) throws(ModelError) -> T {
        guard let value else { throw ModelError(.badAttribute, "\(operatorName): attribute \(name) is required") }
        return value
    }

    private func kindError(_ name: String, _ expected: String, _ attribute: Onnx_AttributeProto) -> ModelError {
        ModelError(.badAttribute, "\(operatorName): attribute \(name) should be \(expected), is \(attribute.type)")
    }
}
