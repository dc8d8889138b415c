// meridian-localnet: a network of validator processes on this machine (loopback), for the demo and
// for trying things out.
//   init     one data directory per validator from the demo genesis, free ports, full-mesh peers
//   start    start every witness and validator (logs in <dir>/node-N.log, <dir>/witness-CC.log), wait until each answers
//   status   each validator's height, round, step, peers, last block time and API address
//   stop     SIGTERM every validator and wait for it to finish its block
import ArgumentParser
import Foundation
import MeridianClient
import MeridianDemo
import MeridianCore
#if canImport(Glibc)
import Glibc
#endif

@main
struct Localnet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-localnet", abstract: "A network of Meridian validators on this machine.",
        subcommands: [Init.self, Start.self, Status.self, Stop.self])
}

/// The localnet's layout, written by `init` as `<dir>/localnet.json`.
struct Layout: Codable {
    struct Node: Codable {
        let name: String; let dataDir: String; let apiPort: Int; let p2pPort: Int
        /// A full node (a hospital without a validator): it follows consensus and votes in none.
        var fullNode: Bool? = nil
    }
    let nodes: [Node]
    /// Whether the nodes serve HTTPS under the localnet's CA (`<dir>/ca.pem`).
    var tls: Bool? = nil
    /// The data-protection authorities' witnesses of the audit log (`meridian-witness`), each
    /// following the chain through one node's headers; the validators push to all of them.
    struct Witness: Codable { let country: String; let port: Int; let dataDir: String; let keyFile: String; let node: Int }
    var witnesses: [Witness]? = nil

    func witnessURL(_ w: Witness) -> String { "http://127.0.0.1:\(w.port)" }

    /// A node's API address.
    func api(_ n: Node) -> String { "\(tls == true ? "https" : "http")://127.0.0.1:\(n.apiPort)" }

    /// A client of a node's API, trusting the localnet's CA when it has one.
    func client(_ n: Node, dir: String) throws -> NodeClient {
        try NodeClient(api(n), ca: tls == true ? dir + "/ca.pem" : nil)
    }

    static func load(_ dir: String) throws -> Layout {
        guard let data = FileManager.default.contents(atPath: dir + "/localnet.json") else {
            throw ValidationError("\(dir) holds no localnet: run meridian-localnet init --dir \(dir)")
        }
        do { return try JSONDecoder().decode(Layout.self, from: data) } catch { throw ValidationError("\(dir)/localnet.json: \(error)") }
    }
}

struct DirOption: ParsableArguments {
    @Option(help: "The localnet's directory.") var dir: String = "data/localnet"
}

/// `meridian-node` (or another tool) beside this executable (found through /proc/self/exe, so it
/// works when `meridian-localnet` was run from PATH or through a symlink), else on PATH.
func toolBinary(_ name: String) throws -> String {
    var candidates: [String] = []
    if let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path)
    }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path)
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/\(name)") }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw ValidationError("\(name) is neither beside meridian-localnet nor on PATH: swift build first")
    }
    return found
}
func nodeBinary() throws -> String { try toolBinary("meridian-node") }

/// The pid a node wrote to `<data-dir>/node.pid` at its start, if that process is still this node
/// (its command line names the data directory: a pid reused by another process is never signalled).
func runningNode(_ dataDir: String) -> pid_t? {
    guard let text = try? String(contentsOfFile: dataDir + "/node.pid", encoding: .utf8),
          let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0,
          let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
    let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    return args.contains(dataDir) && args.contains("start") ? pid : nil
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the validators' data directories from the demo genesis.")
    @OptionGroup var dir: DirOption
    @Option(help: "Validators (1 to 4: the demo network's validator hospitals).") var validators: Int = 4
    @Option(help: "Milliseconds between blocks.") var blockIntervalMs: Int = 1000
    @Option(help: "Genesis spec.") var genesis: String = "Genesis/demo.json"
    @Option(help: "A demo hospital without a validator that runs a full node (e.g. sakura-general; repeatable).") var fullNode: [String] = []
    @Option(help: "The terminology file every node translates summaries with (make terminology writes one).") var terminology: String?
    @Flag(inversion: .prefixedNo, help: "The data-protection authorities of PT, DE, FR and CH run meridian-witness beside the network (the default), with the demo keys registered in the genesis; the validators push each checkpoint of the audit log to them. The demo's policy (2 of the 4) is written to <dir>/witnesses.policy.")
    var witnesses = true
    @Flag(inversion: .prefixedNo, help: "HTTPS (the default): a local CA (<dir>/ca.pem; clients trust it with --ca or $MERIDIAN_CA) issues each node's certificate, and the ward gateway's MLLP client certificate (<dir>/ward-gateway.pem, registered on the first node, whose MLLP then speaks TLS only).")
    var tls = true

    func run() async throws {
        let validatorHospitals = DemoCast.hospitals.filter(\.validator).map(\.id)
        guard (1...validatorHospitals.count).contains(validators) else { throw ValidationError("--validators: 1 to \(validatorHospitals.count)") }
        for h in fullNode where !DemoCast.hospitals.contains(where: { $0.id == h && !$0.validator }) {
            throw ValidationError("--full-node: '\(h)' is not a demo hospital without a validator")
        }
        let hospitals = Array(validatorHospitals.prefix(validators)) + fullNode
        let count = hospitals.count
        guard !FileManager.default.fileExists(atPath: dir.dir + "/localnet.json") else { throw ValidationError("\(dir.dir) already holds a localnet") }
        try FileManager.default.createDirectory(atPath: dir.dir, withIntermediateDirectories: true)
        let witnessCountries = witnesses ? DemoCast.witnessCountries : []
        let ports = try freeLoopbackPorts(count * 2 + witnessCountries.count)
        let p2p = Array(ports.prefix(count)), api = Array(ports.dropFirst(count).prefix(count)), witnessPorts = Array(ports.suffix(witnessCountries.count))
        // The authorities' witnesses: each a key file (the demo's public seeds, mode 600) and a data
        // directory; witness i follows the chain through node i mod the validators' count.
        var witnessLayout: [Layout.Witness] = []
        for (i, c) in witnessCountries.enumerated() {
            let base = "\(dir.dir)/witness-\(c.lowercased())"
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            let cosigner = DemoCast.witness(c)
            try LocalCA.write(cosigner.encodedPrivateKey(seed: DemoCast.witnessSeed(c)) + "\n", to: base + "/witness.key", secret: true)
            witnessLayout.append(.init(country: c, port: witnessPorts[i], dataDir: base + "/data", keyFile: base + "/witness.key", node: i % validators))
        }
        if witnesses { try DemoCast.witnessPolicy().write(toFile: dir.dir + "/witnesses.policy", atomically: true, encoding: .utf8) }
        let witnessArguments = witnessLayout.flatMap { ["--witness", "http://127.0.0.1:\($0.port)=\(DemoCast.witness($0.country).key.encoded)"] }
        // Hospital Ribeira's node (node-0) takes its ward's feeds: a bedside-monitor gateway over HL7 v2
        // MLLP (any free port, in node-0/mllp.address) and a FHIR/bulk feed whose token is written to
        // <dir>/ward-feed.token (mode 600) for meridian-sensors and meridian-provider.
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let tokenPath = dir.dir + "/ward-feed.token"
        try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: tokenPath))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokenPath)
        var nodes: [Layout.Node] = []
        // Every node knows every other hospital's node API, to fetch records it is shared and to send
        // erasure notices (the directory a real network would publish).
        let scheme = tls ? "https" : "http"
        let recordNodes = (0..<count).flatMap { ["--record-node", "\(hospitals[$0])=\(scheme)://127.0.0.1:\(api[$0])"] }
        // The local CA, each node's certificate, and the ward gateway's MLLP client certificate.
        var tlsArguments: [[String]] = Array(repeating: [], count: count)
        var gatewayRegistration: [String] = []
        if tls {
            let ca = try LocalCA(commonName: "Meridian localnet CA (\(URL(fileURLWithPath: dir.dir).lastPathComponent))")
            try LocalCA.write(try LocalCA.pem(ca.certificate), to: dir.dir + "/ca.pem", secret: false)
            try LocalCA.write(ca.key.pemRepresentation + "\n", to: dir.dir + "/ca-key.pem", secret: true)
            for i in 0..<count {
                let (cert, key) = try ca.issue(commonName: hospitals[i], server: true)
                let base = "\(dir.dir)/tls/\(hospitals[i])"
                try LocalCA.write(try LocalCA.pem(cert) + LocalCA.pem(ca.certificate), to: base + ".pem", secret: false)
                try LocalCA.write(key.pemRepresentation + "\n", to: base + "-key.pem", secret: true)
                tlsArguments[i] = ["--tls-certificate", base + ".pem", "--tls-key", base + "-key.pem", "--tls-ca", dir.dir + "/ca.pem"]
            }
            let (gateway, gatewayKey) = try ca.issue(commonName: "ward-gateway", server: false)
            try LocalCA.write(try LocalCA.pem(gateway), to: dir.dir + "/ward-gateway.pem", secret: false)
            try LocalCA.write(gatewayKey.pemRepresentation + "\n", to: dir.dir + "/ward-gateway-key.pem", secret: true)
            gatewayRegistration = ["--mllp-client-certificate", "ward-gateway:\(try LocalCA.fingerprint(gateway))"]
        }
        // The demo hospitals' keys, as the keystores `meridian-node init` takes from any hospital
        // (sealed with $MERIDIAN_PASSPHRASE, under <dir>/demo-keys).
        let passphrase = try readPassphrase(file: nil)
        let keys = dir.dir + "/demo-keys"
        for i in 0..<count {
            let dataDir = "\(dir.dir)/node-\(i)"
            let full = i >= validators
            let worker = try DemoKeystores.write("\(hospitals[i])/worker", in: keys, passphrase: passphrase)
            let keyArguments = full ? ["--full-node", "--worker-keystore", worker]
                : ["--validator-keystore", try DemoKeystores.write("\(hospitals[i])/validator", in: keys, passphrase: passphrase), "--worker-keystore", worker]
            // Validators peer with each other; a full node dials the validators only.
            let peers = (0..<validators).filter { $0 != i }.flatMap { ["--peer", "127.0.0.1:\(p2p[$0])"] }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try nodeBinary())
            p.arguments = ["init", "--data-dir", dataDir, "--genesis", genesis] + keyArguments + [
                           "--p2p-port", String(p2p[i]), "--api-port", String(api[i]), "--block-interval-ms", String(blockIntervalMs)] + peers
                + recordNodes.enumerated().filter { $0.offset / 2 != i }.map(\.element)
                + (terminology.map { ["--terminology", $0] } ?? [])
                + (full ? [] : witnessArguments)
                + (i == 0 ? ["--feed", "ward-gateway:\(SHA256.hash(Array(token.utf8)).hex)", "--mllp-port", "0"] + gatewayRegistration : [])
                + tlsArguments[i]
            try p.run(); p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw ExitCode(p.terminationStatus) }
            nodes.append(.init(name: hospitals[i], dataDir: dataDir, apiPort: api[i], p2pPort: p2p[i], fullNode: full ? true : nil))
        }
        let encoder = JSONEncoder(); encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(Layout(nodes: nodes, tls: tls ? true : nil, witnesses: witnesses ? witnessLayout : nil)).write(to: URL(fileURLWithPath: dir.dir + "/localnet.json"))
        print("localnet of \(validators) validators\(fullNode.isEmpty ? "" : " and \(fullNode.count) full node(s)") in \(dir.dir): " + nodes.map { "\($0.name) api :\($0.apiPort) p2p :\($0.p2pPort)" }.joined(separator: ", "))
        if witnesses {
            print("witnesses of the audit log: " + witnessLayout.map { "dpa-\($0.country.lowercased()) :\($0.port)" }.joined(separator: ", ") + "; policy \(dir.dir)/witnesses.policy (2 of 4)")
        }
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start every validator and wait until each API answers.")
    @OptionGroup var dir: DirOption
    @Option(help: "Seconds to wait for each node's API before giving up (a node that exits fails at once).") var waitSeconds: Int = 300

    func runningPID(_ s: String) -> pid_t? { pid_t(s) }

    func run() async throws {
        let layout = try Layout.load(dir.dir)
        var pids: [String] = []
        // The witnesses first, so that the validators' first pushes find them.
        for w in layout.witnesses ?? [] {
            let log = "\(dir.dir)/witness-\(w.country.lowercased()).log"
            FileManager.default.createFile(atPath: log, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try toolBinary("meridian-witness"))
            // Its own node first, then the others: a witness keeps following when one node stops.
            let order = (0..<layout.nodes.count).map { (w.node + $0) % layout.nodes.count }
            p.arguments = ["serve", "--key", w.keyFile, "--chain", Self.genesisPath(dir.dir)] + order.flatMap { ["--node", layout.api(layout.nodes[$0])] }
                + ["--data-dir", w.dataDir, "--port", String(w.port)] + (layout.tls == true ? ["--node-ca", dir.dir + "/ca.pem"] : [])
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = handle; p.standardError = handle; p.standardInput = FileHandle.nullDevice
            try p.run()
            pids.append(String(p.processIdentifier))
        }
        for (i, n) in layout.nodes.enumerated() {
            let log = "\(dir.dir)/node-\(i).log"
            FileManager.default.createFile(atPath: log, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try nodeBinary())
            p.arguments = ["start", "--data-dir", n.dataDir]
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = handle; p.standardError = handle; p.standardInput = FileHandle.nullDevice
            try p.run()
            pids.append(String(p.processIdentifier))
        }
        try (pids.joined(separator: "\n") + "\n").write(toFile: dir.dir + "/pids", atomically: true, encoding: .utf8)
        for (i, n) in layout.nodes.enumerated() {
            let client = try layout.client(n, dir: dir.dir)
            let deadline = Date().addingTimeInterval(Double(waitSeconds))
            while (try? await client.request("GET", "/health", timeout: 5)) == nil {
                if let pid = runningPID(pids[i]), kill(pid, 0) != 0 { throw ValidationError("\(n.name) exited; see \(dir.dir)/node-\(i).log") }
                guard Date() < deadline else { throw ValidationError("\(n.name) did not answer within \(waitSeconds) s; see \(dir.dir)/node-\(i).log (it names its slow start phase)") }
                try await Task.sleep(for: .milliseconds(100))
            }
            print("\(n.name) running: API \(layout.api(n)), log \(dir.dir)/node-\(i).log")
        }
        for w in layout.witnesses ?? [] {
            print("witness of dpa-\(w.country.lowercased()) running: \(layout.witnessURL(w)) (following \(layout.nodes[w.node].name)), log \(dir.dir)/witness-\(w.country.lowercased()).log")
        }
    }

    /// The genesis spec the nodes were made from (copied into each data directory by `meridian-node init`).
    static func genesisPath(_ dir: String) -> String { dir + "/node-0/genesis.json" }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Each validator's height, round, step, peers and last block time.")
    @OptionGroup var dir: DirOption
    @Flag(help: "Print JSON.") var json = false

    struct S: Codable {
        let height: UInt64; let latestBlockTime: String; let mode: String
        let consensus: C?
        struct C: Codable { let round: UInt32; let step: String; let peers: Int; let syncing: Bool; let evidence: Int }
    }

    func run() async throws {
        let layout = try Layout.load(dir.dir)
        var rows: [[String]] = []
        var out: [String: S] = [:]
        for n in layout.nodes {
            let api = layout.api(n)
            if let s = try? await layout.client(n, dir: dir.dir).get("/v1/status", as: S.self) {
                out[n.name] = s
                rows.append([n.name + (n.fullNode == true ? " (full node)" : ""), String(s.height), s.consensus.map { String($0.round) } ?? "-", s.consensus?.step ?? s.mode,
                             s.consensus.map { String($0.peers) } ?? "-", s.latestBlockTime, s.consensus?.syncing == true ? "syncing" : "", api])
            } else {
                rows.append([n.name, "-", "-", "down", "-", "-", "", api])
            }
        }
        if json { print(String(decoding: try JSONEncoder().encode(out), as: UTF8.self)); return }
        print(Output.table(["node", "height", "round", "step", "peers", "last block", "", "API"], rows))
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop every validator (SIGTERM) and wait until each has exited.")
    @OptionGroup var dir: DirOption

    func run() async throws {
        // Every node of the layout that is running now, however it was started (by `start`, or
        // restarted by hand), from the pid it wrote in its data directory; and any pid `start` recorded.
        let layout = try? Layout.load(dir.dir)
        var pids = Set((layout?.nodes ?? []).compactMap { runningNode($0.dataDir) })
        if let text = try? String(contentsOfFile: dir.dir + "/pids", encoding: .utf8) {
            for pid in text.split(separator: "\n").compactMap({ pid_t($0) }) where kill(pid, 0) == 0 {
                if let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                   ["meridian-node", "meridian-witness"].contains(where: String(decoding: cmd, as: UTF8.self).contains) { pids.insert(pid) }
            }
        }
        guard !pids.isEmpty else { try? FileManager.default.removeItem(atPath: dir.dir + "/pids"); print("not running"); return }
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(30)
        while pids.contains(where: { kill($0, 0) == 0 }) && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let stuck = pids.filter { kill($0, 0) == 0 }
        try? FileManager.default.removeItem(atPath: dir.dir + "/pids")
        guard stuck.isEmpty else { throw ValidationError("still running after 30 s: \(stuck)") }
        print("stopped \(pids.count) processes (nodes and witnesses)")
    }
}
