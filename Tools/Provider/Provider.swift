// meridian-provider: hospital staff and integrations. Enrol patients, register records, request
// access (with purpose, or break-glass), share records, and ask whether an access would be allowed.
import ArgumentParser
import Foundation
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianRecordMessages

@main
struct Provider: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-provider", abstract: "Hospital staff commands.",
        subcommands: [Enrol.self, RegisterRecord.self, EraseRecord.self, RequestAccess.self, CoSign.self, Share.self, Authorize.self, Vitals.self, SpO2Scale.self, AcknowledgeAlert.self, AlertEscalationCommand.self, TerminologyCommand.self, SummaryCommand.self])
}

struct Enrol: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sign an enrolment attestation for a patient's address (give both lines to the patient).")
    @OptionGroup var key: KeyOptions
    @Argument(help: "The patient's address.") var patient: String
    func run() async throws {
        let k = try key.key()
        let chainID = try await key.client(signedBy: k).chainID()
        let sig = try k.sign(Identity.enrolmentMessage(chainID: chainID, patient: try Parse.address(patient, "patient")))
        print("--attestor \(Address(k.publicKey)) --attestation \(sig.hex)")
    }
}

struct RegisterRecord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "register-record",
        abstract: "Hand a record body (an IPS document) to this hospital's node, which encrypts and keeps it, and register its salted commitment on chain.")
    @OptionGroup var key: KeyOptions
    @Option(help: "The patient's address.") var patient: String
    @Option(help: "Data category (summary, problems, medications, allergies, ...).") var category: String
    @Option(help: "The record body (a file, e.g. a FHIR IPS Bundle).") var body: String
    @Flag(help: "The body stays in the hospital's own record system, not at the node: only its commitment is registered (keep the printed salt with the body).")
    var heldElsewhere = false
    @Flag(help: "Print JSON.") var json = false
    func run() async throws {
        guard let data = FileManager.default.contents(atPath: body) else { throw ValidationError("cannot read \(body)") }
        guard let c = DataCategory(name: category) else { throw ValidationError("unknown category '\(category)'") }
        let patientKey = try Parse.address(patient, "patient")
        let signer = try key.key(), client = try key.client(signedBy: signer)
        if heldElsewhere {
            let salt = try SecureRandom.bytes32()
            let commitment = RecordEntry.commitment(salt: salt, bodyHash: SHA256.hash([UInt8](data)))
            let r = try await client.submit(.registerRecord(.init(commitment: commitment, patient: patientKey, category: c)), as: signer)
            if let e = r.receipt?.error { throw CLIExit.refusal(e.code, e.message) }
            if json { print("{\"record\":\"\(commitment.hex)\",\"salt\":\"\(salt.hex)\",\"height\":\(r.height ?? 0)}") }
            else { print("record \(commitment.hex)\nsalt   \(salt.hex)\nregistered at height \(r.height ?? 0)") }
            return
        }
        // 1. The node stores the body encrypted under a key of its own and answers the commitment;
        //    the salt and key never leave it.
        struct Uploaded: Decodable { let commitment: String }
        let up = try JSONDecoder().decode(Uploaded.self, from: try await client.request("POST", "/v1/records", body: data, contentType: "application/fhir+json"))
        guard let commitment = Bytes32(hex: up.commitment) else { throw ValidationError("the node answered no commitment") }
        // 2. The commitment goes on chain (the registration is on the patient's audit trail).
        let r = try await client.submit(.registerRecord(.init(commitment: commitment, patient: patientKey, category: c)), as: signer)
        if let e = r.receipt?.error { throw CLIExit.refusal(e.code, e.message) }
        if json { print("{\"record\":\"\(commitment.hex)\",\"height\":\(r.height ?? 0)}") }
        else { print("record \(commitment.hex) (\(data.count) bytes, encrypted at the node)\nregistered at height \(r.height ?? 0)") }
    }
}

struct EraseRecord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "erase-record",
        abstract: "Erase a record this hospital holds: its node and every node it was shared with delete body and keys (signed notices, acknowledged); the commitment and the audit trail stay.")
    @OptionGroup var key: KeyOptions
    @Option(help: "The record commitment.") var record: String
    func run() async throws {
        let r = try await key.submitOrRefuse(.eraseRecord(try Parse.hash(record, "--record")))
        print("record \(record) erased at height \(r.height ?? 0)")
    }
}

/// A clinician sets the SpO2 scale NEWS2 uses for a patient: 2 for hypercapnic respiratory failure
/// with a prescribed 88–92 % target (RCP 2017), 1 to return to the default. On chain, on the
/// patient's trail as a clinical decision; refused (and recorded as refused) unless the patient's
/// consent covers the clinician's hospital for vital signs and treatment.
struct SpO2Scale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spo2-scale",
        abstract: "Set the SpO2 scale NEWS2 uses for a patient (2: hypercapnic respiratory failure, target 88-92 %; 1: default).")
    @OptionGroup var key: KeyOptions
    @Option(help: "The patient's address.") var patient: String
    @Option(help: "1 or 2.") var scale: UInt8
    func run() async throws {
        guard scale == 1 || scale == 2 else { throw ValidationError("--scale is 1 or 2") }
        let k = try key.key()
        let r = try await key.client(signedBy: k).submit(.setSpO2Scale(.init(patient: try Parse.address(patient, "--patient"), scale: scale)), as: k)
        print(describe(r))
        try exitForDecision(r)
    }
}

/// A clinician acknowledges a clinical alert delivered to their hospital: on the patient's trail,
/// once per alert and hospital (the alert's hash is on its delivery's audit entry and in the alert stream).
struct AcknowledgeAlert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "acknowledge-alert",
        abstract: "Acknowledge a clinical alert delivered to your hospital (recorded on the patient's audit trail).")
    @OptionGroup var key: KeyOptions
    @Option(help: "The patient's address.") var patient: String
    @Option(help: "The alert's hash (64 hex digits).") var alert: String
    func run() async throws {
        let k = try key.key()
        let r = try await key.client(signedBy: k).submit(.acknowledgeAlert(.init(patient: try Parse.address(patient, "--patient"), alert: try Parse.hash(alert, "--alert"))), as: k)
        print(describe(r))
        try exitForDecision(r)
    }
}

/// A hospital's admin sets the escalation order of the alerts delivered to the hospital: who is
/// sent a high alert nobody acknowledged, one after another, every `--after-seconds`.
struct AlertEscalationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alert-escalation",
        abstract: "Set your hospital's alert escalation order (admin): an unacknowledged high alert goes to each --recipient in turn, every --after-seconds. No --recipient removes it.")
    @OptionGroup var key: KeyOptions
    @Option(help: "A clinician of your hospital (address), in escalation order; repeat for the next ones (at most 8).") var recipient: [String] = []
    @Option(help: "Seconds without an acknowledgement before each step (30-86400).") var afterSeconds: UInt32 = 300
    func run() async throws {
        guard recipient.count <= AlertEscalation.maxRecipients else { throw ValidationError("at most \(AlertEscalation.maxRecipients) recipients") }
        guard recipient.isEmpty || AlertEscalation.delayRange.contains(afterSeconds) else {
            throw ValidationError("--after-seconds must be \(AlertEscalation.delayRange.lowerBound)-\(AlertEscalation.delayRange.upperBound)")
        }
        let recipients = try recipient.map { try Parse.address($0, "--recipient") }
        let k = try key.key()
        let r = try await key.client(signedBy: k).submit(.setAlertEscalation(AlertEscalation(recipients: recipients, afterSeconds: afterSeconds)), as: k)
        print(describe(r))
        try exitForDecision(r)
    }
}

struct RequestAccess: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "request-access",
        abstract: "Request access to a record for a purpose; the decision is written on the patient's audit trail either way.")
    @OptionGroup var key: KeyOptions
    @Option(help: "The record commitment.") var record: String
    @Option(help: "Purpose: TREAT, ETREAT, ...") var purpose: String
    @Flag(help: "Break the glass: emergency access without a grant (purpose must be ETREAT; always audited and shown to the patient).") var breakGlass = false
    @Option(help: "A second clinician's co-signature from `meridian-provider co-sign` (two-person break-glass).") var coSignature: String?
    @Option(help: "The stay token the patient gave this hospital (from `meridian-wallet contract update --stay`), for a travel-window policy.") var stayToken: String?
    @Flag(help: "Print JSON.") var json = false
    func run() async throws {
        guard let p = PurposeOfUse(code: purpose) else { throw ValidationError("unknown purpose '\(purpose)'") }
        let evidence = try stayToken.map(Parse.stayToken) ?? []
        let co = try coSignature.map { text throws -> CoSignature in
            guard let bytes = Hex.decode(text), let c = try? CoSignature(canonicalBytes: bytes) else { throw ValidationError("--co-signature: not a co-signature from `co-sign`") }
            return c
        }
        let k = try key.key()
        let r = try await key.client(signedBy: k).submit(.requestAccess(.init(record: try Parse.hash(record, "--record"), purpose: p, breakGlass: breakGlass, coSignature: co, evidence: evidence)), as: k)
        if json, let d = r.receipt?.decision {
            print("{\"allowed\":\(d.allowed),\"reason\":\"\(d.reason)\",\"transferBasis\":\"\(d.transferBasis ?? "")\",\"height\":\(r.height ?? 0)}")
        } else { print(describe(r)) }
        try exitForDecision(r)
    }
}

/// The second clinician of a two-person break-glass: signs the colleague's request (requester,
/// record, purpose, break-glass, now) and prints the co-signature for `request-access --co-signature`.
struct CoSign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "co-sign",
        abstract: "Co-sign a colleague's access request (two-person break-glass); prints the co-signature to pass to request-access.")
    @OptionGroup var key: KeyOptions
    @Option(help: "The colleague's address (who will submit the request).") var requester: String
    @Option(help: "The record commitment.") var record: String
    @Option(help: "Purpose: ETREAT for break-glass.") var purpose: String = "ETREAT"
    @Flag(help: "The request breaks the glass.") var breakGlass = false
    func run() async throws {
        guard let p = PurposeOfUse(code: purpose) else { throw ValidationError("unknown purpose '\(purpose)'") }
        let k = try key.key()
        struct Tip: Decodable { let chainID: String; let latestBlockTime: String }
        let tip = try await key.client(signedBy: k).get("/v1/status", as: Tip.self)
        let chain = tip.chainID
        // Dated at the chain's latest block: never after the block that will carry the request,
        // whatever the clocks of this machine and the proposer's say.
        guard let now = Timestamp(iso8601: tip.latestBlockTime) else { throw ValidationError("the node's status has no block time") }
        let message = CoSignature.message(chainID: chain, requester: try Parse.address(requester, "--requester"), record: try Parse.hash(record, "--record"),
                                          purpose: p, breakGlass: breakGlass, signedAt: now)
        let co = CoSignature(signer: k.publicKey, signedAt: now, signature: try k.sign(message))
        print(Hex.encode(co.canonicalBytes))
    }
}

struct Share: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Share a record held here with a clinician elsewhere: the record key is wrapped for them alone.")
    @OptionGroup var key: KeyOptions
    @Option(help: "The record commitment.") var record: String
    @Option(help: "The receiving clinician's address.") var recipient: String
    @Option(help: "Purpose: TREAT, ETREAT, ...") var purpose: String
    @Option(help: "The record's encryption key (64 hex digits) to wrap for the recipient.") var recordKey: String
    @Flag(help: "Emergency disclosure (break-glass; ETREAT).") var breakGlass = false
    func run() async throws {
        guard let p = PurposeOfUse(code: purpose) else { throw ValidationError("unknown purpose '\(purpose)'") }
        let rec = try Parse.hash(record, "--record")
        let to = try Parse.address(recipient, "--recipient")
        let envelope = try KeyEnvelope.seal(recordKey: try Parse.hash(recordKey, "--record-key"), for: to, context: rec.bytes)
        let k = try key.key()
        let r = try await key.client(signedBy: k).submit(.shareRecord(.init(record: rec, recipient: to, purpose: p, breakGlass: breakGlass, envelope: envelope)), as: k)
        print(describe(r))
        try exitForDecision(r)
    }
}

struct Authorize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask whether an access would be allowed now (a dry run: nothing is recorded).")
    @OptionGroup var key: KeyOptions
    @Option(help: "The patient's address.") var patient: String
    @Option(help: "Data category.") var category: String
    @Option(help: "Purpose.") var purpose: String
    @Option(help: "Custodian organisation id.") var custodian: String
    @Flag(help: "As break-glass.") var breakGlass = false
    @Option(help: "Destination country (default: the requester organisation's).") var destination: String?
    @Option(help: "The stay token the patient gave this hospital, for a travel-window policy.") var stayToken: String?
    func run() async throws {
        let k = try key.key()
        var body: [String: Any] = ["requester": Address(k.publicKey).description, "patient": patient, "category": category, "purpose": purpose,
                                   "custodian": custodian, "breakGlass": breakGlass]
        if let destination { body["destination"] = destination }
        if let stayToken { body["evidence"] = Hex.encode(try Parse.stayToken(stayToken)) }
        let data = try await key.client(signedBy: k).request("POST", "/v1/authorize", body: try JSONSerialization.data(withJSONObject: body))
        print(Output.json(data))
    }
}
