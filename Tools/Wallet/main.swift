// meridian-wallet: the patient's wallet. Keys (BIP-39 phrase, encrypted keystore), registration,
// consents, devices, and "who accessed my data".
import ArgumentParser
import Foundation
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianWalletKit

@main
struct Wallet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-wallet", abstract: "A patient's Meridian wallet.",
        subcommands: [Create.self, Restore.self, Show.self, Register.self, ConsentCommand.self, DeviceCommand.self, RecordsCommand.self, ContractCommand.self, Accesses.self, ConsoleSignInCommand.self])
}

func writeKeystore(_ key: PrivateKey, to path: String, passphrase: String) throws {
    guard !FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(path) exists; refusing to overwrite a key") }
    let dir = (path as NSString).deletingLastPathComponent
    if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    let encoder = JSONEncoder(); encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(try Keystore.seal(key, passphrase: passphrase)).write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
}

struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a key: prints its recovery phrase once and writes an encrypted keystore.")
    @Option(help: "Keystore file to write.") var keystore: String
    @Option(help: "Words in the recovery phrase (12, 15, 18, 21, 24).") var words: Int = 24
    @Option(help: "File whose first line is the keystore passphrase (default: $MERIDIAN_PASSPHRASE).") var passphraseFile: String?

    func run() async throws {
        var opts = KeyOptions(); opts.passphraseFile = passphraseFile
        let phrase = try Mnemonic.generate(wordCount: words)
        let key = try Mnemonic.key(phrase: phrase)
        try writeKeystore(key, to: keystore, passphrase: try opts.passphrase())
        print("Write these \(words) words down and keep them safe; they are shown only now:\n\n  \(phrase.joined(separator: " "))\n")
        print("address  \(Address(key.publicKey))\nkeystore \(keystore)")
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a key from its recovery phrase into an encrypted keystore.")
    @Option(help: "Keystore file to write.") var keystore: String
    @Option(help: "The recovery phrase (default: read from standard input).") var mnemonic: String?
    @Option(help: "File whose first line is the keystore passphrase (default: $MERIDIAN_PASSPHRASE).") var passphraseFile: String?

    func run() async throws {
        var opts = KeyOptions(); opts.passphraseFile = passphraseFile
        let text = mnemonic ?? (readLine() ?? "")
        let phrase = text.split(whereSeparator: \.isWhitespace).map(String.init)
        let key: PrivateKey
        do { key = try Mnemonic.key(phrase: phrase) } catch { throw ValidationError("\(error)") }
        try writeKeystore(key, to: keystore, passphrase: try opts.passphrase())
        print("address  \(Address(key.publicKey))\nkeystore \(keystore)")
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "address", abstract: "Show the wallet's address and, if registered, its account.")
    @OptionGroup var key: KeyOptions
    @Flag(help: "Print JSON.") var json = false
    func run() async throws {
        let k = try key.key()
        if json { print("{\"address\":\"\(Address(k.publicKey))\",\"publicKey\":\"\(k.publicKey.hex)\"}") } else { print(Address(k.publicKey)) }
    }
}

struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Register as a patient with the enrolment attestation your hospital gave you (meridian-provider enrol).")
    @OptionGroup var key: KeyOptions
    @Option(help: "The attesting clinician's address.") var attestor: String
    @Option(help: "The attestation (128 hex digits).") var attestation: String
    func run() async throws {
        let k = try key.key()
        guard let sig = Bytes64(hex: attestation) else { throw ValidationError("--attestation: expected 128 hex digits") }
        let r = try await key.client(signedBy: k).submit(.registerPatient(.init(attestor: try Parse.address(attestor, "--attestor"), attestation: sig)), as: k)
        print(describe(r))
        if r.receipt?.error != nil { throw ExitCode(3) }
    }
}

/// The consent terms flags, shared by grant and amend.
struct TermsOptions: ParsableArguments {
    @Option(help: "Organisation ids that may access (comma-separated).") var to: String
    @Option(help: "Data categories: problems, medications, allergies, ... (comma-separated).") var categories: String
    @Option(help: "Purposes: TREAT, ETREAT, HRESCH, PUBHLTH, ... (comma-separated).") var purpose: String
    @Option(help: "Countries a copy may go to (ISO codes, comma-separated).") var countries: String
    @Option(help: "Countries you explicitly consent to transfers to, knowing the risks (GDPR Art. 49(1)(a)).") var explicitTransfer: String?
    @Option(help: "Start date (YYYY-MM-DD; default: now).") var from: String?
    @Option(help: "End date (YYYY-MM-DD), exclusive.") var until: String
    @Option(help: "Emergency (break-glass) access: allow or deny.") var emergency: String = "deny"
    @Option(help: "A deployed policy contract (its hash) that decides after these terms allowed an access; it can only narrow them.") var policy: String?
    @Option(help: "A parameter for the policy contract, key=value (repeatable), e.g. grace-days=3.") var param: [String] = []

    func terms(now: Timestamp) throws -> ConsentTerms {
        guard emergency == "allow" || emergency == "deny" else { throw ValidationError("--emergency: allow or deny") }
        guard policy != nil || param.isEmpty else { throw ValidationError("--param needs --policy") }
        var parameters: [PolicyParameter] = []
        for p in param {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else { throw ValidationError("--param \(p): expected key=value") }
            let key = String(p[..<eq]), value = String(p[p.index(after: eq)...])
            guard !parameters.contains(where: { $0.key == key }) else { throw ValidationError("--param \(key) given twice") }
            parameters.append(PolicyParameter(key: key, value: value))
        }
        let contract = try policy.map { try Parse.hash($0, "--policy") }
        let t = ConsentTerms(grantees: try Parse.organizations(to), categories: try Parse.categories(categories), purposes: try Parse.purposes(purpose),
                             countries: try Parse.countries(countries), explicitTransferCountries: try explicitTransfer.map(Parse.countries) ?? [],
                             validFrom: try from.map { try Parse.date($0, "--from") } ?? now, validUntil: try Parse.date(until, "--until"),
                             emergencyAccess: emergency == "allow",
                             policy: contract.map { ConsentPolicy(contract: $0, parameters: parameters) })
        do { try t.validate() } catch { throw ValidationError("\(error)") }
        return t
    }
}

func nowTimestamp() -> Timestamp { Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)) }

struct ConsentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "consent", abstract: "Grant, amend, revoke, list and export consents.",
                                                    subcommands: [Grant.self, Amend.self, Revoke.self, List.self, ExportFHIR.self])

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a consent.")
        @OptionGroup var key: KeyOptions
        @OptionGroup var terms: TermsOptions
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            let k = try key.key()
            let r = try await key.client(signedBy: k).submit(.grantConsent(try terms.terms(now: nowTimestamp())), as: k)
            if let e = r.receipt?.error { throw CLIExit.refusal(e.code, e.message) }
            if json { print("{\"consent\":\"\(r.receipt?.createdID ?? "")\",\"height\":\(r.height ?? 0)}") }
            else { print("consent \(r.receipt?.createdID ?? "?") granted at height \(r.height ?? 0)") }
        }
    }

    struct Amend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a consent's terms (a new version; the old one stays in its history).")
        @OptionGroup var key: KeyOptions
        @Argument(help: "Consent id.") var id: String
        @OptionGroup var terms: TermsOptions
        func run() async throws {
            let r = try await key.submitOrRefuse(.amendConsent(.init(consent: try Parse.hash(id, "consent id"), terms: try terms.terms(now: nowTimestamp()))))
            print("consent \(id) amended at height \(r.height ?? 0)")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a consent.")
        @OptionGroup var key: KeyOptions
        @Argument(help: "Consent id.") var id: String
        func run() async throws {
            let r = try await key.submitOrRefuse(.revokeConsent(try Parse.hash(id, "consent id")))
            print("consent \(id) revoked at height \(r.height ?? 0)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your consents in plain words.")
        @OptionGroup var key: KeyOptions
        @Flag(help: "Print JSON.") var json = false
        struct C: Decodable { let id: String; let status: String; let version: UInt32; let terms: T
            struct T: Decodable { let grantees: [String]; let categories: [String]; let purposes: [String]; let countries: [String]
                let explicitTransferCountries: [String]; let validFrom: String; let validUntil: String; let emergencyAccess: Bool
                let policy: P? }
            struct P: Decodable { let contract: String; let parameters: [String: String] } }
        func run() async throws {
            let k = try key.key()
            let data = try await key.client(signedBy: k).request("GET", "/v1/patients/\(Address(k.publicKey))/consents")
            if json { print(Output.json(data)); return }
            let list = try JSONDecoder().decode([C].self, from: data)
            if list.isEmpty { print("no consents"); return }
            for c in list {
                let t = c.terms
                print("\(c.id) (\(c.status), version \(c.version))")
                print("  \(t.grantees.joined(separator: ", ")) may access \(t.categories.joined(separator: ", ")) for \(t.purposes.joined(separator: ", "))")
                print("  copies may go to \(t.countries.joined(separator: ", "))\(t.explicitTransferCountries.isEmpty ? "" : "; explicit transfer consent for \(t.explicitTransferCountries.joined(separator: ", "))")")
                print("  from \(t.validFrom.prefix(10)) until \(t.validUntil.prefix(10)); emergency access \(t.emergencyAccess ? "allowed" : "not allowed")")
                if let p = t.policy {
                    let params = p.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                    print("  narrowed by policy contract \(p.contract)\(params.isEmpty ? "" : " (\(params))")")
                }
            }
        }
    }

    struct ExportFHIR: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export", abstract: "Export a consent as an HL7 FHIR R4 Consent resource.")
        @OptionGroup var key: KeyOptions
        @Argument(help: "Consent id.") var id: String
        @Option(help: "Write to this file (default: standard output).") var fhir: String?
        func run() async throws {
            let k = try key.key()
            let data = try await key.client(signedBy: k).request("GET", "/v1/patients/\(Address(k.publicKey))/consents/\(try Parse.hash(id, "consent id").hex)/fhir")
            if let fhir { try data.write(to: URL(fileURLWithPath: fhir)); print("wrote \(fhir)") } else { print(Output.json(data)) }
        }
    }
}

/// The patient's records: listed from the chain (commitments only; the bodies stay at their
/// custodians), and erased (GDPR Art. 17) by the patient.
struct RecordsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "records", abstract: "Your records: list them, erase one.",
                                                    subcommands: [List.self, Erase.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your records: what, held by whom, since when, erased or not, and who they were shared with.")
        @OptionGroup var key: KeyOptions
        @Flag(help: "Print JSON.") var json = false
        struct R: Decodable { let commitment: String; let category: String; let custodian: String; let registeredAt: String; let erased: Bool }
        struct D: Decodable { let shares: [S]; struct S: Decodable { let organization: String; let purpose: String; let sharedAt: String } }
        func run() async throws {
            let k = try key.key(), client = try key.client(signedBy: k)
            let data = try await client.request("GET", "/v1/patients/\(Address(k.publicKey))/records")
            if json { print(Output.json(data)); return }
            let rows = try JSONDecoder().decode([R].self, from: data).sorted { $0.registeredAt < $1.registeredAt }
            if rows.isEmpty { print("no records"); return }
            for r in rows {
                print("\(r.commitment)  \(r.category.padding(toLength: 12, withPad: " ", startingAt: 0)) held by \(r.custodian), since \(r.registeredAt.prefix(10))\(r.erased ? "  ERASED" : "")")
                let detail = try await client.get("/v1/records/\(r.commitment)", as: D.self)
                for s in detail.shares { print("    shared with \(s.organization) for \(s.purpose) on \(s.sharedAt.prefix(19))") }
            }
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Erase a record: its custodian and every hospital it was shared with delete body and keys; the fact and every audit entry stay.")
        @OptionGroup var key: KeyOptions
        @Argument(help: "The record (its commitment, from `records list`).") var record: String
        func run() async throws {
            let r = try await key.submitOrRefuse(.eraseRecord(try Parse.hash(record, "record")))
            print("record \(record) erased at height \(r.height ?? 0): its custodian's node deletes the body and keys and tells every hospital it was shared with")
        }
    }
}

/// Policy contracts (WebAssembly, `make contracts` builds them): upload one, look one up.
struct ContractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "contract", abstract: "Consent-policy contracts: deploy, show, configure.",
                                                    subcommands: [Deploy.self, Show.self, Update.self])

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload a policy contract (.wasm); every validator checks it; prints its hash.")
        @OptionGroup var key: KeyOptions
        @Argument(help: "The contract (e.g. Contracts/build/TravelWindow.wasm).") var file: String
        func run() async throws {
            guard let code = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let r = try await key.submitOrRefuse(.deployContract([UInt8](code)))
            print("contract \(r.receipt?.createdID ?? SHA256.hash([UInt8](code)).hex) deployed at height \(r.height ?? 0) (\(code.count) bytes)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a deployed contract: size, uploader, block, host imports.")
        @OptionGroup var key: KeyOptions
        @Argument(help: "The contract's hash.") var hash: String
        @Flag(help: "Print JSON.") var json = false
        struct C: Decodable { let hash: String; let bytes: Int; let deployer: String; let height: UInt64; let imports: [String]; let update: Bool; let memoryPages: UInt32 }
        func run() async throws {
            let data = try await key.client(signedBy: try key.key()).request("GET", "/v1/contracts/\(try Parse.hash(hash, "hash").hex)")
            if json { print(Output.json(data)); return }
            let c = try JSONDecoder().decode(C.self, from: data)
            print("contract \(c.hash)\n  \(c.bytes) bytes, deployed by \(c.deployer) at height \(c.height)")
            print("  host functions: \(c.imports.joined(separator: ", ")); \(c.update ? "takes the patient's update messages" : "no update"); memory \(c.memoryPages) page(s)")
        }
    }
}

extension ContractCommand {
    /// The patient configures the policy of one of their consents: the contract's `update` checks
    /// the message and stores it. `--stay` writes the travel-window itinerary: one salted
    /// commitment per stay (`TravelItinerary`), and prints each stay's token (its opening) for the
    /// patient to give the hospital that treats them there; `--hex` sends any message.
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Configure a consent's policy contract, e.g. a travel itinerary.")
        @OptionGroup var key: KeyOptions
        @Argument(help: "The consent whose policy to configure.") var consent: String
        @Option(help: "A stay for the travel-window policy: COUNTRY,FROM,UNTIL with dates (YYYY-MM-DD; a date as UNTIL includes that day) or times (YYYY-MM-DDTHH:MM:SSZ); repeatable, at most 8.") var stay: [String] = []
        @Option(help: "The message as hex (for other policies).") var hex: String?
        func run() async throws {
            guard stay.isEmpty != (hex == nil) else { throw ValidationError("give --stay (one or more) or --hex") }
            let openings = try Self.itinerary(stay).map(TravelItinerary.Opening.random)
            let message = try hex.map { h throws -> [UInt8] in
                guard let b = Hex.decode(h) else { throw ValidationError("--hex: not hex") }
                return b
            } ?? TravelItinerary.message(openings)
            let r = try await key.submitOrRefuse(.updatePolicy(.init(consent: try Parse.hash(consent, "consent"), message: message)))
            print("policy of consent \(consent) updated at height \(r.height ?? 0) (contract \(r.receipt?.createdID ?? "?"))")
            // The chain holds only the commitments: each stay's token is the one way to use it.
            for o in openings {
                print("stay \(o.stay.country.code) \(o.stay.from.iso8601)..\(o.stay.until.iso8601) token \(Hex.encode(o.bytes))")
            }
        }

        /// `--stay` options as TravelWindow stays; an UNTIL given as a date runs to the end of that day.
        static func itinerary(_ stays: [String]) throws -> [TravelItinerary.Stay] {
            guard stays.count <= TravelItinerary.maxStays else { throw ValidationError("at most \(TravelItinerary.maxStays) stays") }
            var parsed: [TravelItinerary.Stay] = []
            for s in stays {
                let parts = s.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 3, let country = CountryCode(parts[0]) else { throw ValidationError("--stay \(s): expected COUNTRY,FROM,UNTIL, e.g. JP,2027-04-01,2027-04-20") }
                let from = try Parse.date(parts[1], "--stay from")
                var until = try Parse.date(parts[2], "--stay until")
                if parts[2].count == 10 { until = until.adding(milliseconds: 86_399_999) }
                guard from <= until else { throw ValidationError("--stay \(s): the stay ends before it starts") }
                parsed.append(TravelItinerary.Stay(country: country, from: from, until: until))
            }
            return parsed
        }
    }
}

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "device", abstract: "Pair and unpair biosensor devices.", subcommands: [Pair.self, Unpair.self])
    struct Pair: AsyncParsableCommand {
        @OptionGroup var key: KeyOptions
        @Argument(help: "The device's address (printed on it or by its app).") var device: String
        @Option(help: "Kind: \(DeviceKind.allCases.map(\.name).joined(separator: ", ")).") var kind: String
        func run() async throws {
            guard let k = DeviceKind(name: kind) else { throw ValidationError("--kind: one of \(DeviceKind.allCases.map(\.name).joined(separator: ", "))") }
            let r = try await key.submitOrRefuse(.pairDevice(.init(device: try Parse.address(device, "device"), kind: k)))
            print("paired \(device) (\(kind)) at height \(r.height ?? 0)")
        }
    }
    struct Unpair: AsyncParsableCommand {
        @OptionGroup var key: KeyOptions
        @Argument(help: "The device's address.") var device: String
        func run() async throws {
            let r = try await key.submitOrRefuse(.unpairDevice(try Parse.address(device, "device")))
            print("unpaired \(device) at height \(r.height ?? 0)")
        }
    }
}

struct Accesses: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "accesses", abstract: "Who accessed my data: when, from which country, why, and on what basis.",
        discussion: "With --policy, every access shown is proven included in a checkpoint of the audit log cosigned by the policy's quorum of witnesses (the data-protection authorities), whose commit verifies from --genesis; an answer that cannot be so proven is refused (exit 2) naming what is missing. With --follow, each new access is printed as it is committed, with its proof (EHDS Art. 9: the right to know who accessed one's data).")
    @OptionGroup var key: KeyOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "A witness policy (c2sp.org/tlog-policy).") var policy: String?
    @Option(help: "With --policy: the genesis spec you trust.") var genesis: String = "Genesis/demo.json"
    @Flag(help: "Keep printing each new access as it is committed (with --policy: with its inclusion proof against a witnessed checkpoint).") var follow = false
    @Option(help: "With --follow: seconds between polls.") var interval: Int = 2
    @Option(help: "With --policy: seconds to wait for a checkpoint with the quorum that covers the accesses (cosignatures follow each block) before refusing the answer.")
    var wait: Int = 30
    struct Page: Decodable { let entries: [E]; let next: String? }
    struct E: Decodable, ServedAuditEntry {
        var allowed: Bool { decision.allowed }
        let patient: String, sequence: UInt64, kind: String, organization: String, purpose: String, breakGlass: Bool, time: String, height: UInt64, category: String
        let transaction: String, bytes: String?
        let decision: D
        struct D: Decodable { let allowed: Bool; let reason: String; let transferBasis: String?; let sourceCountry: String?; let destinationCountry: String?
            let contract: NodeClient.ContractView? }
    }

    func validate() throws { guard interval >= 1 else { throw ValidationError("--interval is at least 1 second") } }

    func row(_ e: E) -> [String] {
        [String(e.time.prefix(19)).replacingOccurrences(of: "T", with: " "), e.organization, "\(e.decision.sourceCountry ?? "?")→\(e.decision.destinationCountry ?? "?")",
         e.purpose, e.category, e.kind, e.decision.allowed ? "allowed" : "denied", e.decision.transferBasis ?? "-",
         e.decision.contract.map { "\($0.hash.prefix(12))… \(describe($0))" } ?? "-", e.breakGlass ? "BREAK-GLASS" : "", "\(e.height)"]
    }
    static let header = ["time (UTC)", "organisation", "route", "purpose", "data", "what", "decision", "basis", "policy contract", "emergency", "block"]

    /// The patient's entries from sequence `after` on (all pages).
    func fetch(_ client: NodeClient, _ me: PublicKey, after: UInt64?) async throws -> [E] {
        var entries: [E] = []
        var cursor: String? = ""
        while let c = cursor {   // opaque cursors, each page checked like the first
            let page = try await client.get("/v1/audit?patient=\(Address(me))&limit=1000" + (c.isEmpty ? "" : "&cursor=\(c)"), as: Page.self)
            entries += page.entries.filter { after == nil || $0.sequence > after! }; cursor = page.next
        }
        return entries.sorted { $0.sequence < $1.sequence }
    }

    /// Each entry's bytes checked against what is shown and its inclusion proven in `checkpoint`.
    func prove(_ entries: [E], _ log: WitnessedLog, _ checkpoint: CosignedCheckpoint) async throws -> [UInt64] {
        var indexes: [UInt64] = []
        for e in entries { indexes.append(try await log.proveServed(e, in: checkpoint)) }
        return indexes
    }

    func run() async throws {
        let k = try key.key()
        let client = try key.client(signedBy: k)
        let log = try policy.map { try WitnessedLog(policyFile: $0, genesisFile: genesis, api: client) }
        do {
            var entries = try await fetch(client, k.publicKey, after: nil)
            var statement: String?
            if let log {
                let checkpoint = try await log.witnessed(height: entries.map(\.height).max() ?? 0, wait: .seconds(max(0, wait)))
                _ = try await prove(entries, log, checkpoint)
                statement = "witnessed: all \(entries.count) accesses included in the audit log's checkpoint of \(checkpoint.size) entries at block \(checkpoint.height) "
                    + "(commit verified from genesis), cosigned by \(checkpoint.cosigners.joined(separator: ", ")): quorum '\(log.policy.quorum)' met"
            }
            if json {
                print(String(decoding: try JSONEncoder().encode(entries.map { ["sequence": "\($0.sequence)", "organization": $0.organization, "time": $0.time, "allowed": "\($0.decision.allowed)", "breakGlass": "\($0.breakGlass)"] }), as: UTF8.self))
                if let statement { FileHandle.standardError.write(Data((statement + "\n").utf8)) }
            } else {
                print(Output.table(Self.header, entries.map(row)))
                if let statement { print("\n" + statement) }
            }
            guard follow else { return }
            var last = entries.last?.sequence
            print("following: each new access to your data is printed as it is committed" + (log == nil ? "" : ", with its inclusion proof against a witnessed checkpoint"))
            fflush(nil)   // each line as it comes, also into a file or a pipe (nil: every stream, stdout among them)
            while true {
                try await Task.sleep(for: .seconds(interval))
                let new = try await fetch(client, k.publicKey, after: last)
                guard !new.isEmpty else { continue }
                if let log {
                    let checkpoint = try await log.witnessed(height: new.map(\.height).max() ?? 0, wait: .seconds(max(0, wait)))
                    let indexes = try await prove(new, log, checkpoint)
                    for (e, i) in zip(new, indexes) {
                        print(row(e).filter { !$0.isEmpty && $0 != "-" }.joined(separator: "  ")
                              + "  [entry #\(i) of the log's \(checkpoint.size), checkpoint at block \(checkpoint.height) cosigned by \(checkpoint.cosigners.joined(separator: ", "))]")
                    }
                } else {
                    for e in new { print(row(e).filter { !$0.isEmpty && $0 != "-" }.joined(separator: "  ")) }
                }
                fflush(nil)
                last = new.last?.sequence
            }
        } catch let e as WitnessedLogError {
            FileHandle.standardError.write(Data("ACCESSES REFUSED: \(e)\n".utf8))
            for note in e.evidence { FileHandle.standardError.write(Data("--- signed checkpoint (evidence)\n".utf8) + Data(note.bytes)) }
            Foundation.exit(2)
        }
    }
}
