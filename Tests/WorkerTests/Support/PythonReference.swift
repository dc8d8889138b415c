import Foundation

/// Runs a Python script (an implementation no one here wrote, installed by `make setup`) with a
/// JSON request on standard input and returns its standard output's lines.
enum PythonReference {
    struct Unavailable: Error, CustomStringConvertible { let description: String }

    static func run(_ script: String, input: Data, package: String, arguments: [String] = []) throws -> [Substring] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin; process.standardOutput = stdout; process.standardError = stderr
        try process.run()
        // Write and read concurrently: a large request or answer would otherwise fill a pipe and stall both sides.
        let writer = Thread { stdin.fileHandleForWriting.write(input); try? stdin.fileHandleForWriting.close() }
        writer.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Unavailable(description: "python3 with PyPI '\(package)' is needed (make setup installs it): \(String(decoding: err, as: UTF8.self))")
        }
        return String(decoding: out, as: UTF8.self).split(separator: "\n")
    }
}
