import Foundation
import MeridianTestSupport

/// Runs a Python script (an implementation no one here wrote, installed by `make setup`) with a
/// JSON request on standard input and returns its standard output's lines. The child runs through
/// `ChildProcess` (no thread blocked; a test's time limit kills it).
enum PythonReference {
    struct Unavailable: Error, CustomStringConvertible { let description: String }

    static func run(_ script: String, input: Data, package: String, arguments: [String] = []) async throws -> [Substring] {
        let r = try await ChildProcess.run("python3", ["-c", script] + arguments, input: [UInt8](input))
        guard r.status == 0 else {
            throw Unavailable(description: "python3 with PyPI '\(package)' is needed (make setup installs it): \(r.stderr)")
        }
        return r.stdout.split(separator: "\n")
    }
}
