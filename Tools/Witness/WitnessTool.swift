// meridian-witness: the witness a data-protection authority runs beside the network
// (c2sp.org/tlog-witness). It cosigns a log's checkpoints (c2sp.org/tlog-cosignature, Ed25519)
// only when each is consistent with the last one it cosigned, keeps that one checkpoint per log
// durably, and serves it to monitors.
//
// Who may call: anyone (the protocol has no authentication beyond the log's signature on the
// checkpoint, which the witness checks); the witness's only state is the latest checkpoint per log.
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MeridianCore
import MeridianRuntime
import MeridianTransparency
import MeridianLightClient
import MeridianClient

@main
struct WitnessTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-witness", abstract: "A transparency-log witness (c2sp.org/tlog-witness) with an Ed25519 cosigner key.",
        subcommands: [Keygen.self, ShowKey.self, Serve.self])
}

struct WitnessToolError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Reads the cosigner's private key file (`PRIVATE+KEY+...`, written by `keygen`).
func loadCosigner(_ path: String) throws -> Cosigner {
    guard let data = FileManager.default.contents(atPath: path) else { throw WitnessToolError("cannot read the key file \(path)") }
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    do { return try Cosigner(parsing: text) } catch { throw WitnessToolError("\(path): \(error)") }
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Makes a cosigner key; writes the private key (mode 0600) and prints the verifier key (vkey).")
    @Option(help: "The witness's name, a schema-less URL (e.g. dpa.pt.example/witness).") var name: String
    @Option(help: "Where to write the private key; must not exist.") var out: String

    func run() throws {
        guard !FileManager.default.fileExists(atPath: out) else { throw WitnessToolError("\(out) exists; a witness key is never overwritten") }
        let (cosigner, seed) = try Cosigner.generate(name: name)
        guard FileManager.default.createFile(atPath: out, contents: Data((cosigner.encodedPrivateKey(seed: seed) + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw WitnessToolError("cannot write \(out)")
        }
        print(cosigner.key.encoded)
    }
}

struct ShowKey: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vkey", abstract: "Prints the verifier key (vkey) of a private key file.")
    @Option(help: "The private key file.") var key: String
    func run() throws { print(try loadCosigner(key).key.encoded) }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serves POST /add-checkpoint and GET /<origin hash>/checkpoint.")
    @Option(help: "The cosigner's private key file.") var key: String
    @Option(name: .customLong("log"), help: "A log this witness follows, as its note verifier key (<origin>+<id>+<key>); repeat for more logs or keys.")
    var logs: [String] = []
    @Option(help: "A Meridian chain whose audit log this witness follows: its genesis spec (JSON). Each checkpoint's commit is verified by a light client from this genesis.")
    var chain: String?
    @Option(help: "With --chain: a node of that chain to fetch headers from (its open /v1/light/headers; nothing it sends is trusted). Repeatable: the next is asked when one does not answer.")
    var node: [String] = []
    @Option(help: "With --node https://...: the CA certificate (PEM) its certificate must chain to (default: the system's roots).") var nodeCa: String?
    @Option(help: "Directory for the latest checkpoint of each log.") var dataDir: String
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free one).") var port = 0
    @Option(help: "Write the listening address here once the server runs.") var addressFile: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func run() async throws {
        let cosigner = try loadCosigner(key)
        var byOrigin: [String: [NoteVerifierKey]] = [:]
        for text in logs {
            let k: NoteVerifierKey
            do { k = try NoteVerifierKey(parsing: text) } catch { throw WitnessToolError("--log \(text.prefix(60)): \(error)") }
            byOrigin[k.name, default: []].append(k)
        }
        var authorities: [any CheckpointAuthority] = byOrigin.map { NoteKeyAuthority(origin: $0.key, keys: $0.value) }
        var chainLog: (authority: ChainCheckpointAuthority, nodes: [NodeClient])?
        if let chain {
            guard !node.isEmpty else { throw WitnessToolError("--chain needs --node, a node to fetch the chain's headers from") }
            guard let data = FileManager.default.contents(atPath: chain) else { throw WitnessToolError("cannot read the genesis spec \(chain)") }
            let authority: ChainCheckpointAuthority
            do { authority = ChainCheckpointAuthority(client: try LightClient(genesis: try GenesisSpec.parse([UInt8](data)))) }
            catch { throw WitnessToolError("\(chain): \(error)") }
            authorities.append(authority)
            chainLog = (authority, try node.map { try NodeClient($0, ca: nodeCa) })
        } else if !node.isEmpty {
            throw WitnessToolError("--node goes with --chain")
        }
        guard !authorities.isEmpty else { throw WitnessToolError("name at least one log to witness (--log <vkey> or --chain <genesis spec> --node <url>)") }
        guard let level = Logger.Level(rawValue: logLevel) else { throw WitnessToolError("--log-level: one of trace, debug, info, notice, warning, error, critical") }
        var configured = Logger(label: "meridian-witness")
        configured.logLevel = level
        let logger = configured, origins = authorities.map(\.origin).sorted(), followed = chainLog
        let witness = TlogWitness(cosigner: cosigner, logs: authorities, storage: try WitnessFileStorage(directory: dataDir))
        let router = Router()
        router.post("add-checkpoint") { request, _ -> Response in
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: AddCheckpointRequest.maxBytes) }
            catch { return Self.response(WitnessAnswer(status: 413, contentType: "text/plain", body: Array("request body too large\n".utf8), reason: "too large")) }
            let bytes = Array(body.readableBytesView)
            if let (authority, nodes) = followed { await Self.catchUp(authority, from: nodes, for: bytes, logger: logger) }
            let answer = witness.addCheckpoint(bytes)
            logger.log(level: answer.status == 200 ? .info : .notice, "add-checkpoint", metadata: ["status": "\(answer.status)", "reason": "\(answer.reason)"])
            return Self.response(answer)
        }
        router.get(":hash/checkpoint") { _, context -> Response in
            Self.response(witness.checkpoint(originHash: try context.parameters.require("hash")))
        }
        let addressFile = self.addressFile, host = self.host
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "meridian-witness"),
                              onServerRunning: { channel in
                                  let address = "http://\(host):\(channel.localAddress?.port ?? 0)"
                                  if let addressFile { try? Data((address + "\n").utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic) }
                                  logger.notice("witness listening", metadata: ["address": "\(address)", "vkey": "\(cosigner.key.encoded)", "logs": "\(origins)"])
                              }, logger: logger)
        try await app.runService()
    }

    /// Before a checkpoint of the chain is judged, the light client is brought up to the parent of
    /// its block from the node (every header verified). A failure here is logged and left to the
    /// witness's answer: a checkpoint the light client cannot reach is refused as unverified.
    static func catchUp(_ authority: ChainCheckpointAuthority, from nodes: [NodeClient], for body: [UInt8], logger: Logger) async {
        let request: AddCheckpointRequest, note: SignedNote
        do { request = try AddCheckpointRequest(parsing: body); note = try SignedNote(parsing: request.checkpoint) }
        catch { return }   // malformed: the witness's answer names why
        guard let height = authority.height(of: note), height > authority.verifiedHeight + 1 else { return }
        // Each node in turn, with a short timeout, so that one stopped or partitioned node does not
        // hold the witness: nothing a node sends is trusted, so any of them will do.
        for node in nodes {
            do {
                try await node.followHeaders(after: authority.verifiedHeight, to: height - 1, timeout: 5) { page in try authority.advance(with: page, upTo: height - 1) }
                return
            } catch {
                logger.warning("could not verify the chain's headers up to the checkpoint from a node", metadata: ["height": "\(height - 1)", "error": "\(error)"])
            }
        }
    }

    static func response(_ answer: WitnessAnswer) -> Response {
        Response(status: HTTPResponse.Status(code: answer.status), headers: [.contentType: answer.contentType],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
