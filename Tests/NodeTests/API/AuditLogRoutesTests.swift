import Testing
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import MeridianCore
import MeridianModules
import MeridianDemo
import MeridianTestSupport
import MeridianTransparency

/// The audit log's tree as the node serves it to anyone: size and root as the header commits them,
/// proofs that verify, and c2sp.org/tlog-tiles resources whose leaves are the entries' hashes in
/// block order; the root is recomputed by pymerkle (an RFC 9162 implementation no one here wrote).
@Suite(.timeLimit(.minutes(5))) struct AuditLogRoutesTests {
    @Test func proofsAndTilesOfTheAuditLogVerifyAgainstTheHeadersRoot() async throws {
        let node = try TestNode()
        let (maria, record, _) = try await node.seedMaria()
        for _ in 0..<3 {
            try await node.submit(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        }
        // The leaves in order: Maria's entries (the only patient here), oldest first.
        let entries = try Audit.byPatient(maria.publicKey, limit: 1000, in: node.chain.query.reader).entries
        let hashes = entries.map(\.hash)
        #expect(hashes.count >= 5)
        let header = try #require(try node.chain.store.header(at: try node.chain.store.headHeight()))
        #expect(header.auditLogSize == UInt64(hashes.count))
        #expect(header.auditLogRoot == MerkleTree.root(leafHashes: hashes.map { AuditLog.leafHash(ofEntryHash: $0) }))

        let app = Application(router: node.api.router())
        let n = hashes.count
        let answers = try await app.test(.router) { client -> [String: (Int, [UInt8])] in
            var out: [String: (Int, [UInt8])] = [:]
            var uris = ["/v1/audit-log", "/v1/audit-log/checkpoint", "/v1/audit-log/proof/consistency?old=2", "/v1/audit-log/tile/0/000.p/\(n)", "/v1/audit-log/tile/entries/000.p/\(n)",
                        "/v1/audit-log/tile/0/000.p/2", "/v1/audit-log/tile/0/000", "/v1/audit-log/tile/0/000.p/\(n + 1)", "/v1/audit-log/tile/1/000.p/1",
                        "/v1/audit-log/tile/0/00", "/v1/audit-log/tile/0/000.p/0", "/v1/audit-log/tile/64/000", "/v1/audit-log/tile/0/x000/001",
                        "/v1/audit-log/tile/0/000.p/07", "/v1/audit-log/tile/x/000", "/v1/audit-log/proof/inclusion?index=\(n)",
                        "/v1/audit-log/proof/consistency?old=\(n + 1)", "/v1/audit-log/proof/consistency", "/v1/audit-log/proof/inclusion?index=-1"]
            uris += (0..<n).map { "/v1/audit-log/proof/inclusion?index=\($0)" }
            for uri in uris {
                try await client.execute(uri: uri, method: .get) { response in out[uri] = (Int(response.status.code), Array(response.body.readableBytesView)) }
            }
            return out
        }
        struct Status: Decodable { let size: UInt64; let root: String }
        let status = try JSONDecoder().decode(Status.self, from: Data(try #require(answers["/v1/audit-log"]).1))
        #expect(status.size == UInt64(n) && status.root == header.auditLogRoot.hex)
        struct Inclusion: Decodable { let index: Int; let size: Int; let root: String; let entryHash: String; let proof: [String] }
        for i in 0..<n {
            let (code, body) = try #require(answers["/v1/audit-log/proof/inclusion?index=\(i)"])
            #expect(code == 200)
            let p = try JSONDecoder().decode(Inclusion.self, from: Data(body))
            #expect(p.entryHash == hashes[i].hex && p.root == header.auditLogRoot.hex)
            #expect(MerkleTree.verifyInclusion(leafHash: AuditLog.leafHash(ofEntryHash: hashes[i]), index: i, treeSize: n,
                                               proof: p.proof.compactMap { Bytes32(hex: $0) }, root: header.auditLogRoot))
        }
        struct Consistency: Decodable { let old: Int; let oldRoot: String; let root: String; let proof: [String] }
        let c = try JSONDecoder().decode(Consistency.self, from: Data(try #require(answers["/v1/audit-log/proof/consistency?old=2"]).1))
        #expect(MerkleTree.verifyConsistency(oldSize: 2, newSize: n, proof: c.proof.compactMap { Bytes32(hex: $0) },
                                             oldRoot: try #require(Bytes32(hex: c.oldRoot)), newRoot: header.auditLogRoot))
        // The level-0 tile holds the leaf hashes; the entry bundle the entry hashes, each with its u16 length.
        let tile = try #require(answers["/v1/audit-log/tile/0/000.p/\(n)"])
        #expect(tile.0 == 200 && tile.1 == hashes.flatMap { AuditLog.leafHash(ofEntryHash: $0).bytes })
        let bundle = try #require(answers["/v1/audit-log/tile/entries/000.p/\(n)"])
        #expect(bundle.0 == 200 && bundle.1 == hashes.flatMap { [0, 32] + $0.bytes })
        // An older partial width is the prefix of today's.
        #expect(answers["/v1/audit-log/tile/0/000.p/2"]?.1 == Array(tile.1.prefix(64)))
        // Not (yet) in the log: 404. Malformed: 400.
        for uri in ["/v1/audit-log/tile/0/000", "/v1/audit-log/tile/0/000.p/\(n + 1)", "/v1/audit-log/tile/1/000.p/1"] {
            #expect(answers[uri]?.0 == 404, "\(uri)")
        }
        for uri in ["/v1/audit-log/tile/0/00", "/v1/audit-log/tile/0/000.p/0", "/v1/audit-log/tile/64/000", "/v1/audit-log/tile/0/x000/001",
                    "/v1/audit-log/tile/0/000.p/07", "/v1/audit-log/tile/x/000", "/v1/audit-log/proof/inclusion?index=\(n)",
                    "/v1/audit-log/proof/consistency?old=\(n + 1)", "/v1/audit-log/proof/consistency", "/v1/audit-log/proof/inclusion?index=-1"] {
            #expect(answers[uri]?.0 == 400, "\(uri): \(String(decoding: answers[uri]?.1 ?? [], as: UTF8.self))")
        }

        // The checkpoint after the latest block opens to that block's header and commit, which the
        // validators signed.
        let (code, note) = try #require(answers["/v1/audit-log/checkpoint"])
        #expect(code == 200)
        let genesis = try #require(try node.chain.store.genesisHeader()).hash
        let opened = try ChainCheckpoint(opening: note, chainID: DemoCast.chainID, genesis: genesis)
        #expect(opened.header == header && opened.checkpoint.size == UInt64(n) && opened.checkpoint.root == header.auditLogRoot)
        let powers = try await node.chain.currentValidators()
        #expect((try? opened.commit.verify(chainID: DemoCast.chainID, validators: powers, blockHash: header.hash).get()) != nil)

        // pymerkle builds the same tree from the entry bundle's entries.
        let script = """
            import json, sys
            from pymerkle import InmemoryTree
            t = InmemoryTree(algorithm='sha256')
            for h in json.load(sys.stdin):
                t.append_entry(bytes.fromhex(h))
            print(t.get_state().hex())
            """
        let r = try await ChildProcess.run("python3", ["-W", "ignore", "-c", script], input: [UInt8](try JSONSerialization.data(withJSONObject: hashes.map(\.hex))))
        try #require(r.status == 0, "python3 with PyPI 'pymerkle' is needed (make setup installs it): \(r.stderr)")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == header.auditLogRoot.hex)
    }
}
