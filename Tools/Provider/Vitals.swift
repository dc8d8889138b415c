import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MeridianCore
import MeridianClient
import MeridianVitals
import MeridianIngest

/// Vital signs from hospital systems: PhysioNet WFDB records decoded by Meridian's own parser,
/// printed as CSV or imported in bulk into the node as a feed.
struct Vitals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Vital-sign records from hospital systems (WFDB).",
                                                    subcommands: [WFDBCSV.self, ImportWFDB.self])

    /// Reads a record: its header and every signal file it names (beside the header).
    static func load(_ headerPath: String) throws -> (WFDBHeader, [WFDBSignals.Signal]) {
        guard let text = FileManager.default.contents(atPath: headerPath) else { throw ValidationError("cannot read \(headerPath)") }
        let header: WFDBHeader
        do { header = try WFDBHeader(parsing: String(decoding: text, as: UTF8.self)) } catch { throw ValidationError("\(headerPath): \(error)") }
        let dir = URL(fileURLWithPath: headerPath).deletingLastPathComponent()
        var signals: [WFDBSignals.Signal] = []
        for file in Set(header.signals.map(\.file)).sorted(by: { a, b in header.signals.firstIndex { $0.file == a }! < header.signals.firstIndex { $0.file == b }! }) {
            let path = dir.appendingPathComponent(file).path
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path) (named by \(headerPath))") }
            do { signals += try WFDBSignals.decode(header: header, file: file, bytes: [UInt8](data)) } catch { throw ValidationError("\(path): \(error)") }
        }
        return (header, signals)
    }

    struct WFDBCSV: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "wfdb-csv", abstract: "Print a WFDB record's decoded samples as CSV (physical units).")
        @Argument(help: "The record's header file (.hea).") var header: String
        func run() async throws {
            let (h, signals) = try Vitals.load(header)
            FileHandle.standardOutput.write(Data(WFDBImport.csv(record: h, signals: signals).utf8))
        }
    }

    struct ImportWFDB: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import-wfdb",
            abstract: "Import a WFDB record's ECG signals into the node for a patient (a feed known by its token; MERIDIAN_FEED_TOKEN).")
        @Argument(help: "The record's header file (.hea).") var header: String
        @Option(help: "The patient's address.") var patient: String
        @Option(help: "When the record starts (YYYY-MM-DDTHH:MM:SSZ). Given explicitly, so that importing the same record again is recognised as a duplicate.") var start: String
        @Option(help: "Node API address.") var node: String?
        @Option(help: "CA certificate (PEM) an https:// node's certificate must chain to (default: $MERIDIAN_CA).") var ca: String?
        func run() async throws {
            guard let token = ProcessInfo.processInfo.environment["MERIDIAN_FEED_TOKEN"], !token.isEmpty else {
                throw ValidationError("set MERIDIAN_FEED_TOKEN to the feed's token (node.json workers.feeds holds its SHA-256)")
            }
            let (h, signals) = try Vitals.load(header)
            let key = try Parse.address(patient, "--patient")
            guard let startTime = Timestamp(iso8601: start) else { throw ValidationError("--start: expected YYYY-MM-DDTHH:MM:SSZ") }
            let batches: [ReadingBatch]
            do { batches = try WFDBImport.batches(record: h, signals: signals, patient: key, start: startTime) } catch { throw ValidationError("\(header): \(error)") }
            let api = try NodeClient.resolve(node, ca: ca)
            var tally: [String: Int] = [:]
            // Requests of up to ~512 KiB (the node's default body limit is 1 MiB).
            var i = 0
            while i < batches.count {
                var body: [UInt8] = []
                var n = 0
                while i + n < batches.count {
                    let b = batches[i + n].canonicalBytes
                    if !body.isEmpty, body.count + b.count > 512 * 1024 { break }
                    body += [UInt8(b.count >> 24 & 0xff), UInt8(b.count >> 16 & 0xff), UInt8(b.count >> 8 & 0xff), UInt8(b.count & 0xff)] + b
                    n += 1
                }
                let (status, data) = try await api.exchange("POST", "/v1/vitals/batches", body: Data(body), contentType: "application/x-meridian-batches",
                                                            headers: ["Authorization": "Bearer \(token)"])
                struct R: Decodable { let results: [S]; struct S: Decodable { let status: String; let reason: String? } }
                guard let r = try? JSONDecoder().decode(R.self, from: data) else {
                    FileHandle.standardError.write(Data("import refused (HTTP \(status)): \(String(decoding: data.prefix(300), as: UTF8.self))\n".utf8))
                    throw ExitCode(1)
                }
                for s in r.results { tally[s.status, default: 0] += 1 }
                if let refused = r.results.first(where: { $0.status == "refused" }) {
                    FileHandle.standardError.write(Data("refused: \(refused.reason ?? "")\n".utf8)); throw ExitCode(1)
                }
                i += n
            }
            let samples = signals.map(\.samples.count).reduce(0, +)
            print("imported  \(h.name): \(signals.count) signal(s), \(samples) samples at \(h.samplingFrequency) Hz in \(batches.count) batches for \(Address(key)): "
                  + tally.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
            if tally["busy", default: 0] > 0 { throw ExitCode(75) }   // some not stored: run again (the rest are duplicates)
        }
    }
}
