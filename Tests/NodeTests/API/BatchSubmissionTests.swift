import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianDemo
@testable import MeridianNode

/// `POST /v1/transactions/batch`: each transaction admitted or refused on its own, exactly as a
/// single submission would be, answered in order; a body that is not a batch refused whole.
@Suite(.timeLimit(.minutes(5))) struct BatchSubmissionTests {
    static func framed(_ items: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for b in items {
            let n = UInt32(b.count)
            out += [UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            out += b
        }
        return out
    }

    static func post(_ app: some ApplicationProtocol, _ uri: String, _ body: [UInt8], type: String) async throws -> (Int, [String: Any]) {
        try await app.test(.router) { client in
            try await client.execute(uri: uri, method: .post, headers: [.contentType: type], body: ByteBuffer(bytes: body)) {
                (Int($0.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: $0.body))) as? [String: Any] ?? [:])
            }
        }
    }

    @Test func eachTransactionIsAdmittedOrRefusedOnItsOwnAsASingleSubmissionWouldBe() async throws {
        let node = try TestNode()
        let app = Application(router: node.api.router())
        let clinician = DemoCast.staff("hospital-ribeira", "clinician"), maria = DemoCast.patient("maria")
        func record(_ n: UInt8) -> Call { .registerRecord(.init(commitment: SHA256.hash([n]), patient: maria.publicKey, category: .problems)) }
        let first = try node.tx(clinician, record(1)), second = try node.tx(clinician, record(2))
        var forged = try node.tx(DemoCast.staff("klinikum-spree", "clinician"), record(3))
        var sig = forged.signature.bytes; sig[10] ^= 1
        forged = SignedTransaction(transaction: forged.transaction, signature: Bytes64(sig)!)
        let otherChain = try SignedTransaction(signing: Transaction(chainID: "another-chain", signer: clinician.publicKey, nonce: 2, call: record(4)), with: clinician)
        let gap = try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: clinician.publicKey, nonce: 9, call: record(5)), with: clinician)
        let stranger = try PrivateKey(secret: SHA256.hash(Array("not registered".utf8)))
        let unregistered = try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: stranger.publicKey, nonce: 0, call: record(6)), with: stranger)
        let items: [[UInt8]] = [first.canonicalBytes, second.canonicalBytes, forged.canonicalBytes, first.canonicalBytes, otherChain.canonicalBytes,
                                gap.canonicalBytes, unregistered.canonicalBytes, [0xde, 0xad]]
        let (status, answer) = try await Self.post(app, "/v1/transactions/batch", Self.framed(items), type: NodeAPI.batchContentType)
        #expect(status == 200, "\(answer)")
        let results = try #require(answer["results"] as? [[String: Any]])
        #expect(results.count == items.count)
        #expect(results.map { $0["status"] as? String } == ["pending", "pending", "refused", "refused", "refused", "refused", "refused", "refused"])
        #expect(results[0]["hash"] as? String == first.hash.hex && results[1]["hash"] as? String == second.hash.hex)
        // Each refusal carries the code a single submission of the same bytes gets (on a fresh node
        // for the ones that depend on what the batch admitted before them).
        let refusedCodes = results.dropFirst(2).map { ($0["error"] as? [String: Any])?["code"] as? String }
        #expect(refusedCodes.allSatisfy { $0 != nil && !$0!.isEmpty }, "\(results)")
        for (i, bytes) in items.enumerated().dropFirst(2) where i != 3 && i != 5 {
            let (single, body) = try await Self.post(app, "/v1/transactions", bytes, type: "application/octet-stream")
            #expect(single >= 400 && (body["error"] as? [String: Any])?["code"] as? String == refusedCodes[i - 2], "item \(i): \(single) \(body)")
        }
        // The admitted ones are pending in the mempool and commit in the next block; nothing else does.
        #expect(node.chain.mempool.count == 2)
        let tip = await node.chain.tip
        let block = try #require(try await node.chain.produceBlock(now: tip.time.adding(milliseconds: 1000)))
        #expect(block.transactions.map(\.hash) == [first.hash, second.hash])
    }

    @Test func aBodyThatIsNotABatchIsRefusedWhole() async throws {
        let node = try TestNode()
        let app = Application(router: node.api.router())
        let one = try node.tx(DemoCast.staff("hospital-ribeira", "clinician"),
                              .registerRecord(.init(commitment: SHA256.hash([1]), patient: DemoCast.patient("maria").publicKey, category: .problems)))
        let type = NodeAPI.batchContentType
        func code(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["code"] as? String }
        var r = try await Self.post(app, "/v1/transactions/batch", [], type: type)
        #expect(r.0 == 400 && code(r.1) == "batch.empty", "\(r)")
        r = try await Self.post(app, "/v1/transactions/batch", [0, 0, 1], type: type)
        #expect(r.0 == 400 && code(r.1) == "batch.framing", "a length prefix cut short: \(r)")
        r = try await Self.post(app, "/v1/transactions/batch", [0xff, 0xff, 0xff, 0xff, 1, 2, 3], type: type)
        #expect(r.0 == 400 && code(r.1) == "batch.framing", "a length past the body: \(r)")
        r = try await Self.post(app, "/v1/transactions/batch", Self.framed([one.canonicalBytes]) + [0, 0], type: type)
        #expect(r.0 == 400 && code(r.1) == "batch.framing", "trailing bytes: \(r)")
        r = try await Self.post(app, "/v1/transactions/batch", Self.framed(Array(repeating: [1], count: NodeAPI.maxBatchTransactions + 1)), type: type)
        #expect(r.0 == 413 && code(r.1) == "batch.too_many", "\(r)")
        r = try await Self.post(app, "/v1/transactions/batch", Array("{\"transactions\":\"\(Hex.encode(one.canonicalBytes))\"}".utf8), type: "application/json")
        #expect(r.0 == 400 && code(r.1) == "json.invalid", "not an array: \(r)")
        r = try await Self.post(app, "/v1/transactions/batch", one.canonicalBytes, type: "application/octet-stream")
        #expect(r.0 == 415 && code(r.1) == "batch.content_type", "\(r)")
        #expect(node.chain.mempool.count == 0, "nothing of a refused body is admitted")
        // The same transaction as JSON is admitted.
        r = try await Self.post(app, "/v1/transactions/batch", Array("{\"transactions\":[\"\(Hex.encode(one.canonicalBytes))\"]}".utf8), type: "application/json")
        #expect(r.0 == 200 && (r.1["results"] as? [[String: Any]])?.first?["hash"] as? String == one.hash.hex, "\(r)")
    }
}
