import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import MeridianCore
import MeridianRuntime
import MeridianMempool

/// `POST /v1/transactions/batch`: many signed transactions in one request, each admitted (or
/// refused) on its own and answered in order. A client with many to send (a hospital's bulk
/// registration, a gateway enrolling its patients, a load generator) pays one HTTP exchange and
/// one TCP round trip instead of one per transaction; admission is the same as one at a time.
extension NodeAPI {
    /// At most this many transactions in one batch (the body's size limit applies too).
    public static let maxBatchTransactions = 1000
    /// The binary framing: each transaction as a 4-byte big-endian length, then its canonical bytes.
    public static let batchContentType = "application/vnd.meridian.transactions"

    /// One transaction's answer: admitted (`pending`, with its hash) or `refused` with the reason
    /// a single submission would have been given.
    struct BatchResult: Encodable {
        let hash: String?
        let status: String
        let error: APIError.Body.Inner?
    }

    /// The transactions' bytes in a batch body: JSON `{"transactions": ["<hex>", ...]}` or the binary
    /// framing. A body that is not a batch is refused whole (400); an item that is not hex is
    /// answered as that item's refusal.
    static func batchItems(_ raw: [UInt8], contentType: String?) throws(APIError) -> [Result<[UInt8], APIError>] {
        var items: [Result<[UInt8], APIError>] = []
        if contentType?.hasPrefix("application/json") == true {
            struct Body: Decodable { let transactions: [String] }
            let decoded: Body
            do { decoded = try JSONDecoder().decode(Body.self, from: Data(raw)) }
            catch { throw APIError.badRequest("json.invalid", "expected {\"transactions\": [\"<hex of a signed transaction>\", ...]}") }
            guard decoded.transactions.count <= maxBatchTransactions else { throw tooMany(decoded.transactions.count) }
            items = decoded.transactions.enumerated().map { i, text in
                Hex.decode(text).map { .success($0) } ?? .failure(APIError.badRequest("json.invalid", "transactions[\(i)] is not hex"))
            }
        } else if contentType?.hasPrefix(batchContentType) == true {
            var offset = 0
            while offset < raw.count {
                guard raw.count - offset >= 4 else { throw APIError.badRequest("batch.framing", "a length prefix cut short at byte \(offset)") }
                let length = raw[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
                offset += 4
                guard length <= raw.count - offset else {
                    throw APIError.badRequest("batch.framing", "item \(items.count) declares \(length) bytes, \(raw.count - offset) remain")
                }
                guard items.count < maxBatchTransactions else { throw tooMany(items.count + 1) }
                items.append(.success(Array(raw[offset..<offset + length])))
                offset += length
            }
        } else {
            throw APIError(.unsupportedMediaType, "batch.content_type", "send application/json or \(batchContentType)")
        }
        guard !items.isEmpty else { throw APIError.badRequest("batch.empty", "a batch holds at least one transaction") }
        return items
    }

    private static func tooMany(_ n: Int) -> APIError {
        APIError(.contentTooLarge, "batch.too_many", "\(n) transactions; at most \(maxBatchTransactions) in one batch")
    }

    func submitBatch(_ request: Request) async throws -> Response {
        let items = try Self.batchItems(try await body(request), contentType: request.headers[.contentType])
        // A thousand admissions are ~40 ms of signature checks. Run on an event loop they would hold
        // it (NIO drains its task queue before it polls sockets again, so yielding does not help),
        // and a clinician's query on the same loop would wait for every batch queued there; on the
        // thread pool the loops stay free to answer, and the kernel shares the cores fairly.
        let chain = self.chain
        let (results, admitted) = try await NIOThreadPool.singleton.runIfActive { () -> ([BatchResult], Int) in
            var results: [BatchResult] = []
            results.reserveCapacity(items.count)
            var admitted = 0
            for item in items {
                do {
                    let bytes = try item.get()
                    let stx = try SignedTransaction.decodeSubmitted(bytes)
                    let h = try chain.admitSubmitted(stx, bytes: bytes)   // admitted and gossiped
                    results.append(BatchResult(hash: h.hex, status: "pending", error: nil))
                    admitted += 1
                } catch {
                    let e = Self.refusal(error)
                    results.append(BatchResult(hash: nil, status: "refused", error: .init(code: e.code, message: e.message)))
                }
            }
            return (results, admitted)
        }
        metrics.admitted.increment(by: Double(admitted))
        metrics.refused.increment(by: Double(items.count - admitted))
        metrics.mempoolSize.set(Double(mempool.count))
        struct Answer: Encodable { let results: [BatchResult] }
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(Answer(results: results)))))
    }

    /// The code and message a single submission refused for `error` would answer with.
    static func refusal(_ error: any Error) -> (code: String, message: String) {
        switch error {
        case let e as APIError: (e.code, e.message)
        case let e as CodecError: (e.code.rawValue, e.description)
        case let e as AdmissionError: (e.code, e.message)
        default: ("internal", "\(error)")
        }
    }
}
