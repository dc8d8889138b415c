// meridian-demo tamper: a fault-injecting proxy in front of one node that shows a rewritten audit log,
// as hospitals that control more than two thirds of the validators could. The demo's validator keys
// are public (DemoCast), so this command can play those colluding validators: it takes the node's
// head, removes one entry from the log, signs a next block whose header commits to the rewritten log
// with the validators' keys, and serves that view over the routes a regulator's tools read. It offers
// the forged checkpoint to the witnesses as the colluding node would, and prints their answers.
//
// Who may call the proxy: anyone (a test and the README's story point a regulator's tool at it).
// Nothing here is part of a node: it exists to show that the witnesses and the tools catch a split view.
import ArgumentParser
import Foundation
import Hummingbird
import MeridianCore
import MeridianRuntime
import MeridianLightClient
import MeridianTransparency
import MeridianClient
import MeridianDemo

struct TamperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tamper",
        abstract: "Serve a node's chain with one audit entry removed from the log, signed by the demo's (public) validator keys: a split view for the witnesses and the regulator's tools to catch.")
    @Option(help: "The honest node whose head is rewritten.") var node: String
    @Option(help: "CA certificate (PEM) of an https:// node (default: $MERIDIAN_CA).") var ca: String?
    @Option(help: "The audit-log entry to remove: its index in the log, or its entry hash (64 hex digits; default: the log's last entry).") var hide: String?
    @Option(help: "A witness to offer the forged checkpoint to (its tlog-witness URL; repeatable).") var pushTo: [String] = []
    @Option(help: "Port to serve the rewritten view on (0: any free one).") var port = 0
    @Option(help: "Write the proxy's address here once it listens.") var addressFile: String?

    struct Head: Decodable { let height: UInt64; let size: UInt64; let root: String }
    struct Inclusion: Decodable { let entryHash: String }

    /// The forged view: the honest chain up to `base`, then one block whose header commits to the
    /// rewritten log, signed by the demo validators.
    struct Forgery: Sendable {
        let base: UInt64
        let header: BlockHeader
        let commit: CommitCertificate
        let leaves: [Bytes32]
        let note: SignedNote
    }

    func run() async throws {
        let honest = try NodeClient(node, ca: ca ?? ProcessInfo.processInfo.environment["MERIDIAN_CA"])
        let (forgery, hidden) = try await forge(honest)
        FileHandle.standardError.write(Data(("tamper: block \(forgery.header.height) forged on the honest block \(forgery.base): the log of \(forgery.leaves.count) entries "
                                              + "without entry \(hidden), root \(forgery.header.auditLogRoot.hex.prefix(16))…, "
                                              + "signed by the \(forgery.commit.signatures.count) demo validators\n").utf8))
        for url in pushTo { try await offer(forgery, to: url, honest: honest) }
        try await serve(forgery, honest: honest)
    }

    func forge(_ honest: NodeClient) async throws -> (Forgery, hidden: UInt64) {
        let head = try await honest.get("/v1/audit-log", as: Head.self)
        guard head.size > 0 else { throw ValidationError("the node's audit log is empty: nothing to hide") }
        let hidden: UInt64
        if let hide, let hash = Bytes32(hex: hide) {
            struct At: Decodable { let index: UInt64 }
            hidden = try await honest.get("/v1/audit-log/proof/inclusion?hash=\(hash.hex)&size=\(head.size)", as: At.self).index
        } else if let hide {
            guard let i = UInt64(hide) else { throw ValidationError("--hide: an index or an entry hash (64 hex digits)") }
            hidden = i
        } else {
            hidden = head.size - 1
        }
        guard hidden < head.size else { throw ValidationError("--hide \(hidden): the log holds \(head.size) entries") }
        var leaves: [Bytes32] = []
        for i in 0..<head.size where i != hidden {
            let p = try await honest.get("/v1/audit-log/proof/inclusion?index=\(i)&size=\(head.size)", as: Inclusion.self)
            guard let h = Bytes32(hex: p.entryHash) else { throw ValidationError("entry \(i): not a hash") }
            leaves.append(h)
        }
        // The same size as the honest log, so that no count gives it away: a filler leaf at the end.
        leaves.append(SHA256.hash(Array("meridian-demo/tamper/\(hidden)".utf8)))
        let page = try await honest.lightHeaders(from: head.height, limit: 1)
        guard let item = page.headers.first(where: { $0.height == head.height }), let bytes = Hex.decode(item.header) else {
            throw ValidationError("the node sent no header \(head.height)")
        }
        let base = try BlockHeader(canonicalBytes: bytes)
        let root = MerkleTree.root(leafHashes: leaves.map { MerkleTree.leafHash($0.bytes) })
        let header = BlockHeader(chainID: base.chainID, height: base.height + 1, time: base.time.adding(milliseconds: 1000), parentHash: base.hash,
                                 lastCommitHash: base.lastCommitHash, transactionsRoot: MerkleTree.emptyRoot, receiptsRoot: MerkleTree.emptyRoot,
                                 stateRoot: base.stateRoot, validatorsHash: base.validatorsHash, proposer: base.proposer,
                                 auditLogSize: UInt64(leaves.count), auditLogRoot: root)
        let validators = DemoCast.hospitals.filter(\.validator).map { DemoCast.staff($0.id, "validator") }
        let signatures = try validators.map { k in
            CommitSignature(validator: k.publicKey, signature: try k.sign(CommitCertificate.precommitMessage(chainID: header.chainID, height: header.height, round: 0, blockHash: header.hash)))
        }
        let commit = CommitCertificate(height: header.height, round: 0, blockHash: header.hash, signatures: signatures)
        guard let genesis = try await honest.lightHeaders(from: 0, limit: 1).headers.first.flatMap({ Hex.decode($0.header) }) else {
            throw ValidationError("the node sent no genesis header")
        }
        let note = ChainCheckpoint(header: header, commit: commit).note(genesis: try BlockHeader(canonicalBytes: genesis).hash)
        return (Forgery(base: base.height, header: header, commit: commit, leaves: leaves, note: note), hidden)
    }

    /// Offers the forged checkpoint to a witness as the colluding node would: from the size the
    /// witness holds (learnt from its 409), with a consistency proof over the rewritten log.
    func offer(_ f: Forgery, to url: String, honest: NodeClient) async throws {
        let witness = try NodeClient(url)
        let hashes = f.leaves.map { MerkleTree.leafHash($0.bytes) }
        var old: UInt64 = 0
        for _ in 0..<2 {
            let proof = old == 0 || old >= UInt64(hashes.count) ? [] : MerkleTree.consistencyProof(oldSize: Int(old), leafHashes: hashes)
            let body = AddCheckpointRequest(oldSize: old, proof: proof, checkpoint: f.note.bytes).body
            let answer = try await witness.exchange("POST", "/add-checkpoint", body: Data(body), contentType: "text/plain")
            let text = String(decoding: answer.body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if answer.status == 409, let held = UInt64(text) { old = held; continue }
            FileHandle.standardError.write(Data("witness \(url): \(answer.status) \(text)\n".utf8))
            return
        }
    }

    func serve(_ f: Forgery, honest: NodeClient) async throws {
        let router = Router()
        let tree = (f.leaves.map { MerkleTree.leafHash($0.bytes) })
        router.get("v1/light/headers") { request, _ -> Response in
            let from = request.uri.queryParameters.get("from", as: UInt64.self) ?? 0
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 500
            var items: [LightHeadersPage.Item] = []
            if from <= f.base {
                let page = try await honest.lightHeaders(from: from, limit: max(1, min(limit, 500)))
                items = page.headers.filter { $0.height <= f.base }
            }
            if from <= f.header.height && items.count < limit && (items.last?.height ?? from - 1) + 1 == f.header.height {
                items.append(.init(height: f.header.height, header: Hex.encode(f.header.canonicalBytes), commit: Hex.encode(f.commit.canonicalBytes), validatorSet: nil))
            }
            return try json(LightHeadersPage(head: f.header.height, headers: items))
        }
        router.get("v1/audit-log") { _, _ in
            struct S: Encodable { let height: UInt64; let size: Int; let root: String }
            return try json(S(height: f.header.height, size: f.leaves.count, root: f.header.auditLogRoot.hex))
        }
        router.get("v1/audit-log/checkpoint") { request, _ -> Response in
            if request.uri.queryParameters.get("witnessed") != nil {
                return try error(.notFound, "auditlog.not_witnessed", "none of this node's recent checkpoints has the cosignatures asked for")
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: f.note.bytes)))
        }
        router.get("v1/audit-log/proof/consistency") { request, _ -> Response in
            let size = request.uri.queryParameters.get("size", as: Int.self) ?? tree.count
            guard let old = request.uri.queryParameters.get("old", as: Int.self), old <= size, size <= tree.count else {
                return try error(.badRequest, "parameter.invalid", "old and size up to \(tree.count)")
            }
            struct P: Encodable { let old: Int; let size: Int; let proof: [String] }
            return try json(P(old: old, size: size, proof: MerkleTree.consistencyProof(oldSize: old, leafHashes: Array(tree.prefix(size))).map(\.hex)))
        }
        router.get("v1/audit-log/proof/inclusion") { request, _ -> Response in
            let size = request.uri.queryParameters.get("size", as: Int.self) ?? tree.count
            let index: Int?
            if let h = request.uri.queryParameters.get("hash").flatMap({ Bytes32(hex: String($0)) }) { index = f.leaves.firstIndex(of: h) }
            else { index = request.uri.queryParameters.get("index", as: Int.self) }
            guard let index, index < size, size <= tree.count else { return try error(.notFound, "auditlog.not_included", "no such entry in the log of size \(size)") }
            struct P: Encodable { let index: Int; let size: Int; let root: String; let entryHash: String; let proof: [String] }
            let leaves = Array(tree.prefix(size))
            return try json(P(index: index, size: size, root: MerkleTree.root(leafHashes: leaves).hex, entryHash: f.leaves[index].hex,
                              proof: MerkleTree.inclusionProof(index: index, leafHashes: leaves).map(\.hex)))
        }
        // The node's status (its identity, which signing clients read first), from the honest node unchanged.
        router.get("v1/status") { request, _ -> Response in
            let answer = try await honest.exchange("GET", request.uri.description)
            return Response(status: HTTPResponse.Status(code: answer.status), headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: Array(answer.body))))
        }
        let addressFile = self.addressFile
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "meridian-demo-tamper"),
                              onServerRunning: { channel in
                                  let address = "http://127.0.0.1:\(channel.localAddress?.port ?? 0)"
                                  if let addressFile {
                                      do { try Data((address + "\n").utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic) }
                                      catch { FileHandle.standardError.write(Data("tamper: cannot write \(addressFile): \(error)\n".utf8)) }
                                  }
                                  FileHandle.standardError.write(Data("tamper: serving the rewritten view at \(address)\n".utf8))
                              })
        try await app.runService()
    }
}

private func json(_ v: some Encodable) throws -> Response {
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(v))))
}

private func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) throws -> Response {
    struct E: Encodable { let error: I; struct I: Encodable { let code: String; let message: String } }
    var r = try json(E(error: .init(code: code, message: message))); r.status = status; return r
}
