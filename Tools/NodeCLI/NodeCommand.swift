// meridian-node: a hospital's Meridian node.
//   init     create the data directory: config, genesis, encrypted validator keys, database
//   keygen   create an encrypted validator keystore and print its public key (for a genesis)
//   start    run the node (API, block production) until SIGINT/SIGTERM
//   status   ask a running node for its status
//   export   write committed blocks as JSON lines
//   model    check an ONNX risk model before the workers use it
import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianNode
import MeridianClient
import MeridianModel
import MeridianSummary
import MeridianTransparency

/// The passphrase for keystores: `--passphrase-file`, else `$MERIDIAN_PASSPHRASE`.
struct PassphraseOptions: ParsableArguments {
    @Option(help: "File whose first line is the keystore passphrase (default: $MERIDIAN_PASSPHRASE).")
    var passphraseFile: String?

    func passphrase() throws -> String { try readPassphrase(file: passphraseFile) }
}

@main
struct MeridianNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-node",
        abstract: "A Meridian validator node.",
        subcommands: [Init.self, Keygen.self, Start.self, Status.self, Ready.self, LogLevel.self, Backup.self, Restore.self, Prune.self, GovernanceCommand.self, Export.self, ModelCommand.self])

    /// For `start`, Swift Concurrency's jobs run on SwiftNIO's event loops (installed here, on the
    /// main thread, before anything else runs): every API request is then handled on the thread
    /// that did its I/O instead of hopping to the concurrency pool and back, which under load cost
    /// a fifth of the node's CPU in context switches (BENCHMARKS.md). Block production keeps its
    /// own thread (`ChainService`'s executor), so it never stalls an event loop.
    static func main() async {
        if CommandLine.arguments.dropFirst().first == "start" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a node's data directory from a genesis spec.")

    @Option(help: "Data directory to create.") var dataDir: String = "data/node"
    @Option(help: "Genesis spec (JSON).") var genesis: String = "Genesis/demo.json"
    @Option(help: "An existing validator keystore (see keygen); its key must be a validator in the genesis (repeatable only for a single-process network that holds every validator key).") var validatorKeystore: [String] = []
    @Option(help: "The off-chain workers' keystore (see keygen); its key needs the worker role of the hospital on chain to anchor.") var workerKeystore: String?
    @Flag(help: "A full node: no validator key; it follows consensus under its worker key (give --worker-keystore and --p2p-port).") var fullNode = false
    @Option(help: "The validator key lives in a meridian-signer listening on this Unix socket (with --signer-validator and --p2p-port): no validator keystore on this host; a signer-client key is created and printed for the signer's --client.")
    var signerSocket: String?
    @Option(help: "The validator key the signer holds: its address (mer1…) or public key (hex).") var signerValidator: String?
    @Option(help: "API port written to the config.") var apiPort: Int?
    @Option(help: "Run consensus with other validators: the P2P port to listen on (0: any free port).") var p2pPort: Int?
    @Option(help: "A persistent peer, host:port (repeatable; with --p2p-port).") var peer: [String] = []
    @Option(help: "The address P2P listens on (default 127.0.0.1; the host's own address for peers on other hosts).") var p2pHost: String?
    @Option(help: "Join by state sync: another node's API address to restore a snapshot from at the first start (repeatable; with --p2p-port).") var stateSync: [String] = []
    @Option(help: "Serve a state snapshot at every multiple of this height for nodes joining by state sync (0: none; default 1000).") var snapshotInterval: Int?
    @Option(help: "Milliseconds between blocks, written to the config.") var blockIntervalMs: Int?
    @Option(help: "A hospital system allowed to post vital signs (FHIR, bulk batches): NAME:SHA256 of its bearer token, hex (repeatable).")
    var feed: [String] = []
    @Option(help: "Listen for HL7 v2 over MLLP on this port (0: any free port, written to <data-dir>/mllp.address).") var mllpPort: Int?
    @Option(help: "The cardiovascular risk model the workers run (copied into the data directory; 'none' for NEWS2 only).")
    var model: String = "Tools/Model/cvd/cvd-logistic.onnx"
    @Option(help: "Another hospital's node for record transfers and erasure notices: ORG=URL (repeatable).") var recordNode: [String] = []
    @Option(help: "The terminology file summaries are translated with (copied into the data directory; see make terminology).") var terminology: String?
    @Option(help: "An audit-log witness this node pushes checkpoints to: URL=VKEY (its tlog-witness URL and cosigner vkey; repeatable). Only witnesses registered on chain are pushed to.")
    var witness: [String] = []
    @Option(help: "Serve HTTPS: the node's certificate chain, PEM (copied to <data-dir>/tls/node.pem; with --tls-key).") var tlsCertificate: String?
    @Option(help: "The certificate's private key, PEM (copied to <data-dir>/tls/node-key.pem, mode 600).") var tlsKey: String?
    @Option(help: "CA certificates (PEM) other nodes' HTTPS certificates must chain to (copied to <data-dir>/tls/ca.pem).") var tlsCa: String?
    @Option(help: "An HL7 v2 sender allowed over MLLP with TLS: NAME:SHA256 of its client certificate's DER, hex (repeatable; needs --tls-certificate).")
    var mllpClientCertificate: [String] = []
    @Option(help: "SHA-256 (hex) of a bearer token Prometheus scrapes /metrics with (repeatable; see Tools/Deploy/prometheus).")
    var metricsTokenSha256: [String] = []
    @Option(help: "The host the API listens on (default 127.0.0.1; a hospital's host address, with TLS, to serve other hosts).") var apiHost: String?
    @OptionGroup var passphrase: PassphraseOptions

    func run() async throws {
        let dir = DataDirectory(dataDir)
        let fm = FileManager.default
        guard !fm.fileExists(atPath: dir.database) else { throw ValidationError("\(dataDir) already holds a database; choose another --data-dir") }
        guard let genesisData = fm.contents(atPath: genesis) else { throw ValidationError("cannot read genesis \(genesis)") }
        let spec: GenesisSpec
        do { spec = try GenesisSpec.parse([UInt8](genesisData)) } catch { throw ValidationError("\(genesis): \(error)") }
        let pass = try passphrase.passphrase()
        func open(_ path: String) throws -> PrivateKey {
            guard let data = fm.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            let ks: Keystore
            do { ks = try JSONDecoder().decode(Keystore.self, from: data) } catch { throw ValidationError("\(path) is not a Meridian keystore") }
            do { return try ks.open(passphrase: pass) } catch { throw ValidationError("\(path): \(error)") }
        }
        var keys: [PrivateKey] = []
        var remoteValidator: PublicKey?
        if let signerSocket {
            guard validatorKeystore.isEmpty, !fullNode else { throw ValidationError("--signer-socket: the validator key is in the signer, so give neither --validator-keystore nor --full-node") }
            guard p2pPort != nil else { throw ValidationError("--signer-socket needs --p2p-port: a signer signs a validator's votes in a network") }
            guard let signerValidator else { throw ValidationError("--signer-socket needs --signer-validator (the key the signer holds)") }
            remoteValidator = try GovernanceCommand.publicKey(signerValidator, "--signer-validator")
        } else if signerValidator != nil {
            throw ValidationError("--signer-validator needs --signer-socket")
        } else if !validatorKeystore.isEmpty {
            guard validatorKeystore.count == 1 || p2pPort == nil else { throw ValidationError("a node in a network (--p2p-port) holds one validator key") }
            keys = try validatorKeystore.map(open)
        } else if fullNode {
            guard p2pPort != nil else { throw ValidationError("a full node follows a network: give --p2p-port and --peer") }
            if workerKeystore == nil { throw ValidationError("--full-node needs --worker-keystore: the worker key is the full node's P2P identity") }
        } else {
            throw ValidationError("give --validator-keystore (from `meridian-node keygen`; for the demo network, `meridian-demo keys`) or --full-node with --worker-keystore")
        }
        let validatorKeys = Set(try spec.validators.map { v -> PublicKey in
            if let a = Address(v.key) { return a.publicKey }
            return try PublicKey(hex: v.key)
        })
        for k in keys where !validatorKeys.contains(k.publicKey) {
            throw ValidationError("\(Address(k.publicKey)) is not a validator in \(genesis)")
        }
        if let remoteValidator, !validatorKeys.contains(remoteValidator) {
            throw ValidationError("--signer-validator \(Address(remoteValidator)) is not a validator in \(genesis)")
        }
        try fm.createDirectory(atPath: dir.keys, withIntermediateDirectories: true)
        var config = NodeConfig()
        if let apiPort { config.apiPort = apiPort }
        if let blockIntervalMs { config.blockIntervalMilliseconds = blockIntervalMs }
        if let p2pPort {
            var p2p = P2PConfig()
            p2p.listenPort = p2pPort
            p2p.peers = peer
            if let p2pHost { p2p.listenHost = p2pHost }
            config.p2p = p2p
        } else if !peer.isEmpty || p2pHost != nil {
            throw ValidationError("--peer and --p2p-host need --p2p-port")
        }
        for entry in feed {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--feed \(entry): expected NAME:SHA256") }
            config.workers.feeds[parts[0]] = parts[1].lowercased()
        }
        if let mllpPort { config.workers.mllpPort = mllpPort }
        for entry in recordNode {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--record-node \(entry): expected ORG=URL") }
            config.records.nodes[parts[0]] = parts[1]
        }
        for entry in witness {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let url = URL(string: parts[0]), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--witness \(entry.prefix(80)): expected URL=VKEY with an http(s) URL")
            }
            do { _ = try CosignerKey(parsing: parts[1]) } catch { throw ValidationError("--witness \(parts[0]): the vkey does not parse (\(error))") }
            config.witnesses.append(WitnessEndpoint(url: parts[0], vkey: parts[1]))
        }
        if let terminology {
            guard let data = fm.contents(atPath: terminology), (try? Terminology(canonicalBytes: [UInt8](data))) != nil else {
                throw ValidationError("--terminology \(terminology) is not a terminology file (make terminology writes one)")
            }
            try fm.createDirectory(atPath: dataDir + "/terminology", withIntermediateDirectories: true)
            let name = URL(fileURLWithPath: terminology).lastPathComponent
            try data.write(to: URL(fileURLWithPath: dataDir + "/terminology/" + name))
            config.records.terminology = "terminology/" + name
        }
        if model != "none" {
            // Checked with the node's own evaluator before the node depends on it.
            if FileManager.default.fileExists(atPath: model) {
                do { _ = try ONNXModel(contentsOf: URL(fileURLWithPath: model)) } catch { throw ValidationError("--model \(model) refused: \(error.reason)") }
                try fm.createDirectory(atPath: dataDir + "/models", withIntermediateDirectories: true)
                let name = URL(fileURLWithPath: model).lastPathComponent
                try fm.copyItem(atPath: model, toPath: dataDir + "/models/" + name)
                config.workers.model = "models/" + name
            } else {
                print("note: no risk model at \(model); the workers score NEWS2 and trends only (give --model PATH)")
            }
        }
        if tlsCertificate != nil || tlsKey != nil {
            guard let tlsCertificate, let tlsKey else { throw ValidationError("--tls-certificate and --tls-key go together") }
            try fm.createDirectory(atPath: dataDir + "/tls", withIntermediateDirectories: true)
            for (from, to, secret) in [(tlsCertificate, "tls/node.pem", false), (tlsKey, "tls/node-key.pem", true)] + (tlsCa.map { [($0, "tls/ca.pem", false)] } ?? []) {
                guard let data = fm.contents(atPath: from) else { throw ValidationError("cannot read \(from)") }
                fm.createFile(atPath: dataDir + "/" + to, contents: data, attributes: [.posixPermissions: secret ? 0o600 : 0o644])
            }
            config.tls = TLSConfig(certificate: "tls/node.pem", privateKey: "tls/node-key.pem", trustedCAs: tlsCa == nil ? nil : "tls/ca.pem")
            do { try config.tls?.check(in: dataDir) } catch { throw ValidationError("\(error)") }
        } else if tlsCa != nil {
            throw ValidationError("--tls-ca needs --tls-certificate and --tls-key")
        }
        for entry in mllpClientCertificate {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--mllp-client-certificate \(entry): expected NAME:SHA256") }
            config.workers.mllpClientCertificates[parts[0]] = parts[1].lowercased()
        }
        config.metricsTokens = metricsTokenSha256.map { $0.lowercased() }
        if let apiHost { config.apiHost = apiHost }
        if let signerSocket, let remoteValidator { config.signer = SignerConfig(socket: signerSocket, validator: remoteValidator.hex) }
        if !stateSync.isEmpty { config.stateSync = StateSyncConfig(servers: stateSync) }
        if let snapshotInterval { config.snapshotIntervalHeights = snapshotInterval }
        do { try config.validate() } catch { throw ValidationError("\(error)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(config).write(to: URL(fileURLWithPath: dir.config))
        try genesisData.write(to: URL(fileURLWithPath: dir.genesis))
        for (i, k) in keys.enumerated() {
            let path = "\(dir.keys)/validator-\(i).json"
            try encoder.encode(try Keystore.seal(k, passphrase: pass)).write(to: URL(fileURLWithPath: path))
            try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        }
        // The key this node proves itself with to its signer (the signer's --client).
        var signerClient: PublicKey?
        if config.signer != nil {
            let k = try PrivateKey.generate()
            try encoder.encode(try Keystore.seal(k, passphrase: pass)).write(to: URL(fileURLWithPath: dir.signerClientKey))
            try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir.signerClientKey)
            signerClient = k.publicKey
        }
        // The off-chain workers' key (role `worker` of the hospital on chain): it signs their anchors.
        let workerKey = try workerKeystore.map(open)
        if let workerKey {
            try encoder.encode(try Keystore.seal(workerKey, passphrase: pass)).write(to: URL(fileURLWithPath: dir.workerKey))
            try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir.workerKey)
        }
        let store = try BlockStore(path: dir.database)
        let state = try AuthenticatedState(storage: store.stateStorage)
        let result: Genesis.Result
        do { result = try Genesis.initialize(spec, into: state) } catch { throw ValidationError("\(genesis): \(error)") }
        try store.storeGenesis(result.header)
        if let signerClient, let remoteValidator {
            print("initialised \(dataDir): chain \(spec.chainID), genesis \(result.header.hash.hex); validator \(Address(remoteValidator)) held by the signer at \(config.signer!.socket)")
            print("signer client key \(signerClient.hex)   (give it to meridian-signer run --client)")
        } else {
            print("initialised \(dataDir): chain \(spec.chainID), genesis \(result.header.hash.hex), \(keys.isEmpty ? "a full node: its worker key" : "\(keys.count) validator key(s)\(workerKey == nil ? "" : " and the worker key")") encrypted in \(dir.keys)")
        }
    }
}

struct Keygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an encrypted validator keystore and print its public key.")
    @Option(help: "Keystore file to write.") var out: String
    @OptionGroup var passphrase: PassphraseOptions

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: out) else { throw ValidationError("\(out) exists; refusing to overwrite a key") }
        let key = try PrivateKey.generate()
        let data = try JSONEncoder().encode(try Keystore.seal(key, passphrase: try passphrase.passphrase()))
        try data.write(to: URL(fileURLWithPath: out))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: out)
        print("public key \(key.publicKey.hex)\naddress    \(Address(key.publicKey))")
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the node until SIGINT or SIGTERM.")
    @Option(help: "Data directory (from init).") var dataDir: String = "data/node"
    @Option(help: "Override the API port (0: any free port; the address is written to <data-dir>/api.address).") var apiPort: Int?
    @Option(help: "Override the block interval in milliseconds.") var blockIntervalMs: Int?
    @Option(help: "Override the log level.") var logLevel: String?
    @Flag(help: "Exit when the process that started this node ends (test harnesses: a killed test run leaves no node behind).")
    var exitWithParent = false
    @OptionGroup var passphrase: PassphraseOptions

    func run() async throws {
        if exitWithParent { ParentWatch.start() }
        let dir = DataDirectory(dataDir)
        let config = try dir.loadConfig()
        let level = Logger.Level(rawValue: logLevel ?? config.logLevel) ?? .info
        // One level for every logger of the process, which operators change while the node runs.
        let control = LogLevelControl(level)
        LoggingSystem.bootstrap { label in control.standardError(label: label) }
        let logger = Logger(label: "meridian-node")
        do {
            try await NodeRunner.run(dataDirectory: dir, passphrase: try passphrase.passphrase(), overrides: { c in
                var c = c
                if let apiPort { c.apiPort = apiPort }
                if let blockIntervalMs { c.blockIntervalMilliseconds = blockIntervalMs }
                if let logLevel { c.logLevel = logLevel }
                return c
            }, logger: logger, logLevel: control)
        } catch let e as NodeError {
            throw ValidationError(e.description)
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a running node's status.")
    @Option(help: "Node API address (default: $MERIDIAN_NODE or <data-dir>/api.address).") var node: String?
    @Option(help: "CA certificate (PEM) an https:// node's certificate must chain to (default: $MERIDIAN_CA, else the system's roots).") var ca: String?
    @Option(help: "Data directory of the node.") var dataDir: String = "data/node"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = try NodeClient.resolve(node, dataDir: dataDir, ca: ca)
        let data = try await client.request("GET", "/v1/status")
        if json { print(String(decoding: data, as: UTF8.self)); return }
        let s = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        for key in ["chainID", "height", "latestBlockHash", "latestBlockTime", "mempoolTransactions", "mode", "syncing"] {
            print("\(key.padding(toLength: 20, withPad: " ", startingAt: 0)) \(s[key].map { "\($0)" } ?? "-")")
        }
        print("api                  \(client.base.absoluteString)")
    }
}

struct Ready: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask a running node whether it is ready; exit 1 naming each failing component (GET /readyz).")
    @Option(help: "Node API address (default: $MERIDIAN_NODE or <data-dir>/api.address).") var node: String?
    @Option(help: "CA certificate (PEM) an https:// node's certificate must chain to (default: $MERIDIAN_CA, else the system's roots).") var ca: String?
    @Option(help: "Data directory of the node.") var dataDir: String = "data/node"

    func run() async throws {
        let client = try NodeClient.resolve(node, dataDir: dataDir, ca: ca)
        let (status, data) = try await client.exchange("GET", "/readyz", timeout: 10)
        struct Check: Decodable { let component: String; let status: String; let reason: String? }
        struct Answer: Decodable { let status: String; let checks: [Check] }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: data) else {
            throw ValidationError("\(client.base.absoluteString)/readyz answered \(status) without a readiness report")
        }
        for c in answer.checks { print("\(c.component.padding(toLength: 10, withPad: " ", startingAt: 0)) \(c.status)\(c.reason.map { ": \($0)" } ?? "")") }
        print("node       \(answer.status)")
        if status != 200 { throw ExitCode(1) }
    }
}

struct LogLevel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-level",
        abstract: "Show or change a running node's log level (signed as an operator of the node's organisation).",
        discussion: "On the node's host, editing logLevel in node.json and sending SIGHUP does the same.")
    @Argument(help: "The new level: trace, debug, info, notice, warning, error, critical (none: show the current one).") var level: String?
    @OptionGroup var key: KeyOptions
    @Option(help: "Data directory of the node.") var dataDir: String = "data/node"

    func run() async throws {
        let client = try NodeClient.resolve(key.node, dataDir: dataDir, ca: key.ca).expecting(node: key.nodeKey).signed(by: key.key())
        struct Answer: Decodable { let level: String; let previous: String? }
        let answer: Answer
        if let level {
            guard Logger.Level(rawValue: level) != nil else { throw ValidationError("'\(level)' is not a level: trace, debug, info, notice, warning, error, critical") }
            let data = try await client.request("PUT", "/v1/node/log-level", body: try JSONEncoder().encode(["level": level]), contentType: "application/json")
            answer = try JSONDecoder().decode(Answer.self, from: data)
        } else {
            answer = try await client.get("/v1/node/log-level", as: Answer.self)
        }
        print(answer.previous.map { "log level \(answer.level) (was \($0))" } ?? "log level \(answer.level)")
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write committed blocks (with commits and receipts) as JSON lines (signed as a hospital operator or a regulator: blocks are network data).")
    @OptionGroup var key: KeyOptions
    @Option(help: "Data directory of the node.") var dataDir: String = "data/node"
    @Option(help: "First height.") var from: UInt64 = 1
    @Option(help: "Last height (default: the latest).") var to: UInt64?
    @Option(help: "Output file (default: standard output).") var out: String?

    func run() async throws {
        let client = try NodeClient.resolve(key.node, dataDir: dataDir).expecting(node: key.nodeKey).signed(by: key.key())
        struct S: Decodable { let height: UInt64 }
        let last: UInt64
        if let to { last = to } else { last = try await client.get("/v1/status", as: S.self).height }
        guard from <= last else { throw ValidationError("--from \(from) is after the last height \(last)") }
        var output = Data()
        for h in from...last {
            output.append(try await client.request("GET", "/v1/blocks/\(h)"))
            output.append(0x0a)
        }
        if let out { try output.write(to: URL(fileURLWithPath: out)) } else { FileHandle.standardOutput.write(output) }
    }
}

/// Ends the node when its parent process ends (it is re-parented: `getppid()` changes). Polled,
/// because PR_SET_PDEATHSIG fires when the spawning *thread* ends, which a thread pool may do.
enum ParentWatch {
    static func start() {
        let parent = getppid()
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "meridian.parent-watch"))
        timer.schedule(deadline: .now() + .milliseconds(500), repeating: .milliseconds(500))
        timer.setEventHandler {
            if getppid() != parent {
                FileHandle.standardError.write(Data("meridian-node: the process that started it ended; stopping\n".utf8))
                _exit(70)
            }
        }
        timer.resume()
        retained = timer
    }
    nonisolated(unsafe) static var retained: (any DispatchSourceTimer)?
}
