import ArgumentParser
import Foundation
import MeridianCore
import MeridianClient
import MeridianSummary

/// The demo cast's summaries (../shared/SCENARIO.md), as their custodians would write them.
struct DemoSummaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "summary", abstract: "Write a demo patient's IPS document (maria, hans or jean) as its custodian holds it.")
    @Argument(help: "maria, hans or jean.") var patient: String
    @Option(help: "The patient's key (hex or mer1 address; default: the demo wallet's).") var key: String?
    @Option(help: "Where to write the FHIR Bundle.") var out: String
    @Option(help: "A node whose workers hold the patient's vital signs: the latest reading of each sign goes into the summary (read as the key of --keystore: the patient, or a clinician the chain allows).") var vitalsFrom: String?
    @Option(help: "The terminology file the problems are named with (make terminology writes one; default: $MERIDIAN_TERMINOLOGY, else data/terminology/icd10.mterm).") var terminology: String?
    @OptionGroup var reader: KeyOptions

    func run() async throws {
        let cast: [String: (String, String, [PatientSummary.Problem], [String], [String])] = [
            "maria": ("Hospital Ribeira, Lisbon", "pt", [.init(icd10: "I10", onset: "2012"), .init(icd10: "I48", onset: "2021"), .init(icd10: "E11.9", onset: "2016"), .init(icd10: "N18.3")],
                      ["Metformina 500 mg, duas vezes ao dia", "Apixabano 5 mg, duas vezes ao dia", "Ramipril 5 mg, uma vez ao dia"], ["Penicilina (urticária)"]),
            "hans": ("Klinikum Spree, Berlin", "de", [.init(icd10: "I25.1"), .init(icd10: "M17.1"), .init(icd10: "H40.1")],
                     ["Bisoprolol 2,5 mg morgens", "Atorvastatin 20 mg abends"], ["Keine bekannten Allergien"]),
            "jean": ("Hôpital Rhône, Lyon", "fr", [.init(icd10: "J44.9"), .init(icd10: "I50.9")],
                     ["Tiotropium 18 µg, une inhalation par jour", "Furosémide 40 mg le matin"], ["Iode (réaction cutanée)"]),
        ]
        guard let (custodian, language, problems, medications, allergies) = cast[patient] else { throw ValidationError("unknown demo patient '\(patient)': maria, hans or jean") }
        let keyHex: String
        if let key { keyHex = try Parse.address(key, "--key").hex } else { keyHex = SHA256.hash(Array("meridian-demo-patient/\(patient)".utf8)).hex }
        var vitals: [PatientSummary.Vital] = []
        if let vitalsFrom {
            // The workers' stored readings, newest last; the latest of each sign with a LOINC code.
            struct B: Decodable { let readings: [R]; struct R: Decodable { let sign: String; let loinc: String?; let value: String; let unit: String; let time: String } }
            let batches = try await NodeClient(vitalsFrom).expecting(node: reader.nodeKey).signed(by: try reader.key())
                .get("/v1/vitals/\(keyHex)?limit=1000", as: [B].self)
            var latest: [String: B.R] = [:]
            for r in batches.flatMap(\.readings) where r.loinc != nil { if (latest[r.loinc!]?.time ?? "") <= r.time { latest[r.loinc!] = r } }
            vitals = latest.values.sorted { $0.loinc! < $1.loinc! }.compactMap { r in
                Decimal(string: r.value).map { PatientSummary.Vital(loinc: r.loinc!, value: $0, unit: r.unit, time: r.time) }
            }
        }
        let summary = PatientSummary(patientKeyHex: keyHex, custodian: custodian, language: language, date: "2026-11-24T10:00:00Z",
                                     problems: problems, medications: medications.map { .init(text: $0) }, allergies: allergies.map { .init(text: $0) }, vitals: vitals)
        let bundle = IPSWriter.bundle(summary, terminology: try loadTerminology(), catalogue: .shipped)
        try Data(try IPSWriter.json(bundle)).write(to: URL(fileURLWithPath: out), options: .atomic)
        print("wrote \(out): \(patient)'s IPS document from \(custodian), \(problems.count) problems, \(medications.count) medications, \(allergies.count) allergies, \(vitals.count) vital signs")
    }

    func loadTerminology() throws -> TerminologyIndex {
        let terminology = self.terminology ?? ProcessInfo.processInfo.environment["MERIDIAN_TERMINOLOGY"] ?? "data/terminology/icd10.mterm"
        guard let data = FileManager.default.contents(atPath: terminology) else {
            throw ValidationError("cannot read the terminology \(terminology) (make terminology imports it)")
        }
        do { return TerminologyIndex(try Terminology(canonicalBytes: [UInt8](data))) }
        catch { throw ValidationError("\(terminology) is not a Meridian terminology file: \(error)") }
    }
}
