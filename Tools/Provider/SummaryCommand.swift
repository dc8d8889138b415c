import ArgumentParser
import Foundation
import MeridianCore
import MeridianSummary
import MeridianClient
import MeridianModules
import MeridianRecordMessages

/// Patient summaries for a person: an IPS document translated by code into the clinician's
/// language, printed as readable text (and, with `--fhir`, written as the translated FHIR Bundle).
/// `summary PATIENT --lang ja` asks the chain (an access request on the patient's trail), then this
/// hospital's node, which fetches the document from the custodian's node, checks and translates it;
/// `translate` does the translation alone on a file.
struct SummaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "summary", abstract: "Patient summaries in the clinician's language.",
                                                    subcommands: [Fetch.self, Translate.self], defaultSubcommand: Fetch.self)

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fetch",
            abstract: "A patient's summary through this hospital's node, in your language: the access is decided and audited on chain first.")
        @OptionGroup var key: KeyOptions
        @Argument(help: "The patient's address.") var patient: String
        @Option(help: "Your language (BCP 47: ja, es, de, ...; 'original' for the document as written).") var lang: String
        @Option(help: "Purpose of use: TREAT, ETREAT, ...") var purpose: String = "TREAT"
        @Flag(help: "Break the glass (emergency access without consent; always audited and shown to the patient).") var breakGlass = false
        @Option(help: "The record (default: the patient's latest summary on chain).") var record: String?
        @Option(help: "Write the FHIR Bundle served to this file.") var fhir: String?
        @Flag(help: "Print the node's JSON answer.") var json = false

        func run() async throws {
            let patientKey = try Parse.address(patient, "patient")
            guard let p = PurposeOfUse(code: purpose) else { throw ValidationError("unknown purpose '\(purpose)'") }
            let signer = try key.key(), client = try key.client(signedBy: signer)
            let commitment: Bytes32
            if let record { commitment = try Parse.hash(record, "--record") } else {
                struct R: Decodable { let commitment: String; let category: String; let registeredAt: String; let erased: Bool }
                // Listed as the chain allows this clinician's organisation for the purpose now (a
                // break-glass request names its record with --record: no consent lists it).
                let rows = try await client.get("/v1/patients/\(Address(patientKey))/records?purpose=\(p.code)", as: [R].self)
                guard let latest = rows.filter({ $0.category == DataCategory.summary.name && !$0.erased }).max(by: { $0.registeredAt < $1.registeredAt }),
                      let c = Bytes32(hex: latest.commitment) else {
                    throw ValidationError("\(Address(patientKey)) has no summary on chain that is not erased")
                }
                commitment = c
            }
            // 1. The chain decides, and the decision goes on the patient's audit trail either way.
            let r = try await client.submit(.requestAccess(.init(record: commitment, purpose: p, breakGlass: breakGlass)), as: signer)
            if let e = r.receipt?.error { throw CLIExit.refusal(e.code, e.message) }
            guard let d = r.receipt?.decision else { throw ValidationError("the access request's receipt carries no decision") }
            let route = "\(d.sourceCountry ?? "?")→\(d.destinationCountry ?? "?")"
            let basis = d.transferBasis.map { " on \($0)" } ?? ""
            print("access   \(d.allowed ? "ALLOWED" : "DENIED") (\(d.reason))\(basis) \(route), on the patient's audit trail at height \(r.height ?? 0)\(breakGlass ? ", BREAK-GLASS" : "")")
            if let c = d.contract { print("policy   contract \(c.hash.prefix(16))…: \(describe(c))") }
            guard d.allowed else { throw ExitCode(3) }
            // 2. This hospital's node fetches the document from the custodian's node, checks it
            //    against the commitment, translates it and anchors what it served.
            let chainID = try await client.chainID()
            let language = lang == "original" ? "" : lang
            guard let access = Bytes32(hex: r.hash) else { throw ValidationError("the node answered no transaction hash") }
            let request = try SummaryRequest(chainID: chainID, record: commitment, access: access, requester: signer, purpose: p, breakGlass: breakGlass,
                                             language: language, time: Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)))
            let data = try await client.request("POST", "/v1/summaries", body: Data(request.canonicalBytes), contentType: RecordMessages.contentType, timeout: 90)
            struct C: Decodable { let translated: Int; let codes: Int; let untranslatedFreeText: Int; let percent: Double }
            struct S: Decodable { let custodian: String; let language: String; let terminology: String; let catalogue: String; let output: String; let coverage: C?; let bundle: String }
            let s = try JSONDecoder().decode(S.self, from: data)
            if let fhir { try Data(s.bundle.utf8).write(to: URL(fileURLWithPath: fhir), options: .atomic) }
            if json { print(String(decoding: data, as: UTF8.self)); return }
            print("from     \(s.custodian)'s node, checked against record \(commitment.hex.prefix(16))…")
            guard let bundle = try? JSONValue(parsing: Array(s.bundle.utf8)) else { print(s.bundle); return }
            Translate.printSummary(bundle)
            if let c = s.coverage {
                print("\n\(s.language): \(c.translated)/\(c.codes) codes translated (\(String(format: "%.1f", c.percent))%), \(c.untranslatedFreeText) free-text entries shown as written")
            }
            print("anchored: record, language \(s.language), terminology \(s.terminology.prefix(16))…, output \(s.output.prefix(16))…")
            if let fhir { print("wrote \(fhir)") }
        }
    }

    struct Translate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Translate an IPS document (FHIR R4 JSON) by code and print it; --fhir writes the translated Bundle.")
        @Option(name: .customLong("in"), help: "The IPS document Bundle (JSON).") var input: String
        @Option(help: "The clinician's language (BCP 47: ja, es, de, ...).") var lang: String
        @Option(help: "Write the translated FHIR Bundle to this file.") var fhir: String?
        @OptionGroup var terminology: TerminologyCommand.FileOption

        func run() throws {
            guard let data = FileManager.default.contents(atPath: input) else { throw ValidationError("cannot read \(input)") }
            guard data.count <= 16 << 20, let bundle = try? JSONValue(parsing: [UInt8](data)), bundle.object != nil else { throw ValidationError("\(input) is not a JSON object") }
            let index = try terminology.load()
            let result: (bundle: JSONValue, coverage: SummaryTranslator.Coverage)
            do { result = try SummaryTranslator.translate(bundle, to: lang, terminology: index, catalogue: .shipped) }
            catch { throw ValidationError("\(input): \(error)") }
            if let fhir { try Data(try IPSWriter.json(result.bundle)).write(to: URL(fileURLWithPath: fhir), options: .atomic) }
            Self.printSummary(result.bundle)
            let c = result.coverage
            print("\n\(lang): \(c.translated)/\(c.codes) codes translated (\(String(format: "%.1f", c.fraction * 100))%), \(c.untranslatedFreeText) free-text entries shown as written")
            print("terminology \(index.terminology.version.hex.prefix(16))…, catalogue \(SummaryCatalogue.shipped.version.hex.prefix(16))…")
        }

        /// The Composition's title and each section's narrative, as text.
        static func printSummary(_ bundle: JSONValue) {
            let composition = bundle["entry"]?.array?.first?["resource"] ?? [:]
            print(composition["title"]?.string ?? "")
            for section in composition["section"]?.array ?? [] {
                print("\n\(section["title"]?.string ?? "")")
                let div = section["text"]?["div"]?.string ?? ""
                for item in div.components(separatedBy: "<li>").dropFirst() {
                    print("  - " + Self.plain(item.components(separatedBy: "</li>").first ?? ""))
                }
            }
        }

        /// The narrative's text without its tags, entities decoded.
        static func plain(_ html: String) -> String {
            var out = "", inTag = false
            for c in html { if c == "<" { inTag = true } else if c == ">" { inTag = false } else if !inTag { out.append(c) } }
            return out.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
        }
    }
}
