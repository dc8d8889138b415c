import ArgumentParser
import Foundation
import MeridianModel

/// `meridian-node model check`: what a hospital runs on a risk model before its workers use it.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Check ONNX risk models.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a model with the node's own evaluator: print its operators and SHA-256, and the class probabilities for each input row; or refuse it, naming what is not supported.")

        @Argument(help: "The .onnx file.") var model: String
        @Option(help: "CSV of input rows. With a header, columns are matched to the model's feature names (others are ignored); without one, each row has exactly the model's columns.")
        var inputs: String?
        @Option(help: "Print at most this many rows.") var limit: Int = 1_000_000

        func run() throws {
            let loaded: ONNXModel
            do {
                loaded = try ONNXModel(contentsOf: URL(fileURLWithPath: model))
            } catch {
                FileHandle.standardError.write(Data("refused: \(model): \(error.reason)\n".utf8))
                throw ExitCode(3)
            }
            print("model      \(model)")
            print("sha256     \(loaded.sha256.hex)")
            if !loaded.producer.isEmpty { print("producer   \(loaded.producer)") }
            print("operators  \(loaded.operators.joined(separator: ", "))")
            let width = loaded.featureCount.map(String.init) ?? "?"
            print("input      \(loaded.inputName) [N, \(width)]\(loaded.featureNames.map { ": " + $0.joined(separator: ", ") } ?? "")")
            guard let inputs else { return }
            let rows = try Self.readRows(inputs, model: loaded)
            let result: Classification
            do {
                result = try loaded.classify(rows)
            } catch {
                FileHandle.standardError.write(Data("error: \(error.reason)\n".utf8))
                throw ExitCode(4)
            }
            let names = (0..<result.probabilities.columns).map { result.classLabels?.name($0) ?? String($0) }
            for row in 0..<min(rows.rows, limit) {
                let probabilities = (0..<result.probabilities.columns).map {
                    "P(\(names[$0]))=\(String(format: "%.6f", result.probabilities[row, $0]))"
                }
                print("row \(row + 1): label \(result.labels.name(row))  \(probabilities.joined(separator: " "))")
            }
            print("\(rows.rows) rows scored")
        }

        /// Rows from CSV, with bad cells reported by line and column.
        static func readRows(_ path: String, model: ONNXModel) throws -> FloatMatrix {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read \(path) as UTF-8 text")
            }
            var lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).filter { !$0.allSatisfy(\.isWhitespace) }
            guard let first = lines.first else { throw ValidationError("\(path) has no rows") }
            let firstCells = first.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            var columns: [Int]? = nil
            if firstCells.contains(where: { Float($0) == nil }) {
                lines.removeFirst()
                guard let names = model.featureNames else {
                    throw ValidationError("\(path) has a header but the model names no features (no meridian.features metadata): give rows without a header")
                }
                columns = try names.map { name in
                    guard let index = firstCells.firstIndex(of: name) else { throw ValidationError("\(path): no column \(name) in the header") }
                    return index
                }
            }
            var values: [Float] = []
            var width: Int? = columns?.count ?? model.featureCount
            for (number, line) in lines.enumerated() {
                let cells = line.split(separator: ",", omittingEmptySubsequences: false)
                let picked = columns.map { $0.map { $0 < cells.count ? cells[$0] : "" } } ?? cells
                if width == nil { width = picked.count }
                guard picked.count == width else {
                    throw ValidationError("\(path) row \(number + 1): \(picked.count) values, the model takes \(width!)")
                }
                for (column, cell) in picked.enumerated() {
                    guard let value = Float(cell.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                        throw ValidationError("\(path) row \(number + 1) column \(column + 1): '\(cell)' is not a number")
                    }
                    values.append(value)
                }
            }
            guard let width, !lines.isEmpty else { throw ValidationError("\(path) has no rows") }
            return FloatMatrix(rows: lines.count, columns: width, values: values)
        }
    }
}
