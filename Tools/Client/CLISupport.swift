public import Foundation
public import ArgumentParser
public import MeridianCore
public import MeridianRuntime
public import MeridianModules
import MeridianWalletKit

/// Options every signing command shares: where the key is and how to reach the node.
public struct KeyOptions: ParsableArguments {
    @Option(help: "Encrypted keystore file (default: $MERIDIAN_KEYSTORE).") public var keystore: String?
    @Option(help: "File whose first line is the keystore passphrase (default: $MERIDIAN_PASSPHRASE).") public var passphraseFile: String?
    @Option(help: "Node API address (default: $MERIDIAN_NODE or data/node/api.address).") public var node: String?
    @Option(help: "The node's address you expect (from the operator or the chain): a node answering with another key is refused before anything is signed for it.") public var nodeKey: String?
    @Option(help: "CA certificate (PEM) an https:// node's certificate must chain to, e.g. a localnet's <dir>/ca.pem (default: $MERIDIAN_CA, else the system's roots).") public var ca: String?

    public init() {}

    public func passphrase() throws -> String { try readPassphrase(file: passphraseFile) }

    /// The signing key: the keystore opened with the passphrase. (The demo network's actors are
    /// keystores too, written by `meridian-demo keys`: no key is derived from a name here.)
    public func key() throws -> PrivateKey {
        guard let path = keystore ?? ProcessInfo.processInfo.environment["MERIDIAN_KEYSTORE"] else {
            throw ValidationError("give --keystore FILE (or set MERIDIAN_KEYSTORE)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read keystore \(path)") }
        let ks: Keystore
        do { ks = try JSONDecoder().decode(Keystore.self, from: data) } catch { throw ValidationError("\(path) is not a Meridian keystore") }
        do { return try ks.open(passphrase: try passphrase()) } catch { throw ValidationError("\(path): \(error)") }
    }

    /// The node, every request signed by this key.
    public func client() throws -> NodeClient { try client(signedBy: key()) }
    public func client(signedBy key: PrivateKey) throws -> NodeClient { try NodeClient.resolve(node, ca: ca).expecting(node: nodeKey).signed(by: key) }

    /// Signs `call` with this key, submits it and waits for its commit. A transaction the chain
    /// refused prints `refused: CODE: MESSAGE` to standard error and exits with
    /// `CLIExit.refused` (65): the command was well formed, so no usage text follows.
    public func submitOrRefuse(_ call: Call) async throws -> NodeClient.Committed {
        let k = try key()
        let r = try await client(signedBy: k).submit(call, as: k)
        if let e = r.receipt?.error { throw CLIExit.refusal(e.code, e.message) }
        return r
    }
}

/// The command-line tools' exit codes (README, "Exit codes"): 0 done, 1 the node could not be
/// reached or answered an error, 64 bad usage (with the usage text), 65 a transaction the chain refused.
public enum CLIExit {
    public static let refused: Int32 = 65

    /// Prints the chain's refusal (code and message, no usage text) and ends with exit 65.
    public static func refusal(_ code: String, _ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("refused: \(code): \(message)\n".utf8))
        return ExitCode(refused)
    }
}

/// Parsing of the words people type.
public enum Parse {
    /// A travel stay's token (the hex opening `meridian-wallet contract update --stay` prints).
    public static func stayToken(_ s: String) throws -> [UInt8] {
        guard let b = Hex.decode(s), TravelItinerary.Opening(bytes: b) != nil else {
            throw ValidationError("--stay-token: not a stay token (\(TravelItinerary.openingBytes * 2) hex digits from `meridian-wallet contract update --stay`)")
        }
        return b
    }
    public static func address(_ s: String, _ what: String) throws -> PublicKey {
        switch Address.parse(s) {
        case .success(let a): return a.publicKey
        case .failure(let e):
            if let k = try? PublicKey(hex: s) { return k }
            throw ValidationError("\(what): \(e)")
        }
    }
    public static func list(_ s: String) -> [String] { s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    public static func organizations(_ s: String) throws -> [OrganizationID] {
        try list(s).map { guard let o = OrganizationID($0) else { throw ValidationError("'\($0)' is not an organisation id") }; return o }
    }
    public static func categories(_ s: String) throws -> [DataCategory] {
        try list(s).map { guard let c = DataCategory(name: $0) else {
            throw ValidationError("unknown category '\($0)'; one of \(DataCategory.allCases.map(\.name).joined(separator: ", "))") }; return c }
    }
    public static func purposes(_ s: String) throws -> [PurposeOfUse] {
        try list(s).map { guard let p = PurposeOfUse(code: $0) else {
            throw ValidationError("unknown purpose '\($0)'; one of \(PurposeOfUse.allCases.map(\.code).joined(separator: ", "))") }; return p }
    }
    public static func countries(_ s: String) throws -> [CountryCode] {
        try list(s).map { guard let c = CountryCode($0.uppercased()) else { throw ValidationError("'\($0)' is not an ISO 3166-1 alpha-2 country") }; return c }
    }
    public static func date(_ s: String, _ what: String) throws -> Timestamp {
        guard let t = Timestamp(iso8601: s) else { throw ValidationError("\(what): '\(s)' is not YYYY-MM-DD") }
        return t
    }
    public static func hash(_ s: String, _ what: String) throws -> Bytes32 {
        guard let h = Bytes32(hex: s) else { throw ValidationError("\(what): expected 64 hex digits") }
        return h
    }
}

/// Plain text tables for people; `--json` output for scripts.
public enum Output {
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
    }

    /// Through the project's one CSV writer (`CSV`: RFC 4180, formula-injection guard).
    public static func csv(_ header: [String], _ rows: [[String]]) -> String {
        CSV.document(header: header, rows: rows)
    }

    public static func json(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }
}

/// The exit status of a command that recorded an access decision: 3 if the transaction was refused,
/// 2 if the access was denied (the denial is on the audit trail all the same), 0 if allowed.
public func exitForDecision(_ committed: NodeClient.Committed) throws {
    if committed.receipt?.error != nil { throw ExitCode(3) }
    if committed.receipt?.decision?.allowed == false { throw ExitCode(2) }
}

/// The keystore passphrase: the first line of `file`, else `$MERIDIAN_PASSPHRASE`.
public func readPassphrase(file: String?) throws -> String {
    if let file {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read passphrase file \(file)") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }
    guard let p = ProcessInfo.processInfo.environment["MERIDIAN_PASSPHRASE"], !p.isEmpty else {
        throw ValidationError("no passphrase: set MERIDIAN_PASSPHRASE or give --passphrase-file")
    }
    return p
}

/// Exit with a clear message for a refused transaction.
/// A contract's answer in words: allowed, its deny reason, or why it failed; with the fuel.
public func describe(_ c: NodeClient.ContractView) -> String {
    let what: String
    if let f = c.failure { what = "failed (\(f))" }
    else if c.answer == 1 { what = "allowed" }
    else { what = "denied, reason \(c.answer.map(String.init) ?? "?")\(c.answer.flatMap(contractReasonName).map { " (\($0))" } ?? "")" }
    return "\(what), \(c.fuelUsed) fuel"
}

/// The SDK's shared deny reasons (`Contracts/SDK/Meridian.swift`, `Deny`).
public func contractReasonName(_ answer: Int32) -> String? {
    switch answer {
    case 0: "malformed request"
    case -1: "outside the travel window"
    case -2: "no itinerary"
    case -3: "limit reached"
    case -4: "not named"
    case -5: "co-signature missing"
    case -6: "co-signature too old"
    case -7: "bad parameter"
    case -8: "no stay opened (the request carries no stay token of the itinerary)"
    default: nil
    }
}

public func describe(_ committed: NodeClient.Committed) -> String {
    guard let r = committed.receipt else { return "committed at height \(committed.height ?? 0)" }
    if let e = r.error { return "refused (\(r.outcome)): \(e.code): \(e.message)" }
    if let d = r.decision {
        let basis = d.legalBasis.map { " on \($0)" } ?? ""
        var line = "\(d.allowed ? "ALLOWED" : "DENIED") (\(d.reason))\(basis) \(d.sourceCountry ?? "?")→\(d.destinationCountry ?? "?") at height \(committed.height ?? 0)"
        if let c = d.contract { line += "\n  policy contract \(c.hash.prefix(16))…: \(describe(c))" }
        if let co = d.coSigner { line += "\n  co-signed by \(co)" }
        return line
    }
    return "committed at height \(committed.height ?? 0)"
}
