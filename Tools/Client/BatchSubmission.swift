public import Foundation
public import MeridianCore
public import MeridianModules
public import MeridianRuntime

/// Many transactions in few requests (`POST /v1/transactions/batch`): what a tool with many to
/// send uses instead of one request, and one wait for a block, per transaction.
extension NodeClient {
    /// The node's limit on one batch.
    public static let maxBatch = 1000

    /// One transaction's answer: `pending` with its hash, or `refused` with the reason.
    public struct BatchResult: Decodable, Sendable {
        public let hash: String?
        public let status: String
        public let error: ReceiptView.ErrorInfo?
    }

    /// Sends signed transactions in batches of at most `maxBatch` (binary framing: a 4-byte
    /// big-endian length, then the canonical bytes); returns each one's answer, in order.
    public func submitBatch(_ transactions: [SignedTransaction]) async throws -> [BatchResult] {
        struct Answer: Decodable { let results: [BatchResult] }
        var out: [BatchResult] = []
        out.reserveCapacity(transactions.count)
        var start = 0
        while start < transactions.count {
            let chunk = transactions[start..<min(start + Self.maxBatch, transactions.count)]
            var body: [UInt8] = []
            for stx in chunk {
                let bytes = stx.canonicalBytes
                body += [UInt8(bytes.count >> 24 & 0xff), UInt8(bytes.count >> 16 & 0xff), UInt8(bytes.count >> 8 & 0xff), UInt8(bytes.count & 0xff)] + bytes
            }
            let answer = try JSONDecoder().decode(Answer.self, from: try await request("POST", "/v1/transactions/batch", body: Data(body),
                                                                                      contentType: "application/vnd.meridian.transactions"))
            guard answer.results.count == chunk.count else {
                throw ClientError(status: 0, code: "client.batch", message: "the node answered \(answer.results.count) results for \(chunk.count) transactions")
            }
            out += answer.results
            start += chunk.count
        }
        return out
    }

    /// Signs each call as its key, with that key's next nonces in the order given, submits them all
    /// in batches, and waits (polling, with a deadline) until every one is committed; returns the
    /// committed views in order. A refused transaction throws, naming it and the reason.
    public func submitAll(_ calls: [(call: Call, key: PrivateKey)], timeoutSeconds: Double = 60) async throws -> [Committed] {
        let chain = try await chainID()
        var nonces: [PublicKey: UInt64] = [:]
        var signed: [SignedTransaction] = []
        for (call, key) in calls {
            let nonce: UInt64
            if let n = nonces[key.publicKey] { nonce = n } else { nonce = try await self.signed(by: key).nextNonce(key.publicKey) }
            nonces[key.publicKey] = nonce + 1
            signed.append(try SignedTransaction(signing: Transaction(chainID: chain, signer: key.publicKey, nonce: nonce, call: call), with: key))
        }
        let results = try await submitBatch(signed)
        for (i, r) in results.enumerated() where r.status != "pending" {
            throw ClientError(status: 0, code: r.error?.code ?? "client.batch", message: "transaction \(i) of \(results.count) refused: \(r.error?.message ?? r.status)")
        }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var committed: [Committed] = []
        for (i, r) in results.enumerated() {
            let reader = self.signed(by: calls[i].key)   // a transaction's status is read as its signer
            while true {
                let view = try await reader.get("/v1/transactions/\(r.hash ?? "")", as: Committed.self)
                if view.status == "committed" { committed.append(view); break }
                guard Date() < deadline else {
                    throw ClientError(status: 0, code: "client.timeout", message: "transaction \(r.hash ?? "") not committed within \(Int(timeoutSeconds)) s")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return committed
    }
}
