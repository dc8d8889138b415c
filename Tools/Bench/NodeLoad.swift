// The node under load: a real `meridian-node` process (the release binary beside this one) on a
// loopback port, fed pre-signed transactions over keep-alive HTTP/1.1 connections while another
// connection measures query latency.
//
// Why a hand-written HTTP client: the load generator shares the machine's two cores with the node,
// so it must cost as little as possible per request. URLSession on Linux costs several times the
// node's own work per request (the figure would measure the client), and AsyncHTTPClient would add
// minutes to every cold build for one benchmark. A blocking keep-alive socket per thread is ~80 lines.
import Foundation
import Dispatch
import Synchronization
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianDemo
import MeridianRequestAuth

struct BenchError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

/// One keep-alive HTTP/1.1 connection to 127.0.0.1 (blocking; one thread uses it).
final class HTTPConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var chunk = [UInt8](repeating: 0, count: 65536)
    /// The status line and headers of the last response.
    private(set) var lastHeader = ""

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw BenchError("connect: \(errno)") }
    }

    deinit { close(fd) }

    /// Sends one request and reads the whole response; returns the status and body.
    func request(_ method: String, _ path: String, body: [UInt8] = [], contentType: String = "application/octet-stream",
                 headers: [String: String] = [:]) throws -> (Int, [UInt8]) {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if method == "POST" { head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
        let message = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < message.count {
            let n = message[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BenchError("send: \(errno)") }
            sent += n
        }
        // Headers, then Content-Length bytes of body.
        var headerEnd = headerTerminator()
        while headerEnd == nil { try fill(); headerEnd = headerTerminator() }
        let header = String(decoding: buffer[readIndex..<headerEnd!], as: UTF8.self)
        lastHeader = header
        let status = Int(header.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
        var length = 0
        for line in header.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
        }
        let start = headerEnd! + 4
        while buffer.count < start + length { try fill() }
        let responseBody = Array(buffer[start..<start + length])
        readIndex = start + length
        if readIndex == buffer.count { buffer.removeAll(keepingCapacity: true); readIndex = 0 }
        return (status, responseBody)
    }

    /// The chain id and audience the node's status names, learnt once per connection.
    private var identity: (chainID: String, audience: String)?

    /// Sends one request signed by `key` (RFC 9421, Meridian's profile), as the CLIs sign theirs.
    func signedRequest(_ method: String, _ path: String, as key: PrivateKey, body: [UInt8] = []) throws -> (Int, [UInt8]) {
        if identity == nil {
            let status = try JSONSerialization.jsonObject(with: Data(try request("GET", "/v1/status").1)) as? [String: Any] ?? [:]
            guard let chain = status["chainID"] as? String, let audience = status["nodeKey"] as? String else { throw BenchError("the node's status names no key") }
            identity = (chain, audience)
        }
        let headers = try SignedRequests.headers(method: method, targetURI: "http://127.0.0.1\(path)", body: body, chainID: identity!.chainID,
                                                 audience: identity!.audience, key: key, created: Int64(Date().timeIntervalSince1970))
        return try request(method, path, body: body, headers: Dictionary(headers.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b }))
    }

    /// Index of the first CR LF CR LF after `readIndex`.
    private func headerTerminator() -> Int? {
        buffer.withUnsafeBufferPointer { b in
            var i = readIndex
            while i + 3 < b.count {
                if b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
                i += 1
            }
            return nil
        }
    }

    private func fill() throws {
        if readIndex > 0 { buffer.removeFirst(readIndex); readIndex = 0 }
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw BenchError("recv: \(n == 0 ? "closed" : String(errno))") }
        buffer.append(contentsOf: chunk[0..<n])
    }
}

struct NodeLoadResult {
    let transactions: Int
    let acceptedPerSecond: Double
    let committedPerSecond: Double
    let refused: Int
    let queryP50Milliseconds: Double
    let queryP99Milliseconds: Double
    let queries: Int
    let blocks: Int
}

/// Starts the release node on a fresh demo data directory, submits `count` pre-signed consent grants
/// over `connections` connections (`batched`: in batch requests of `benchBatchSize`, else one request
/// each), and measures admission, end-to-end commit and query latency.
func nodeLoadBench(count: Int, connections: Int, blockIntervalMilliseconds: Int, batched: Bool) throws -> NodeLoadResult {
    let nodes = try BenchNodes(label: "load")
    defer { nodes.remove() }
    let dataDir = nodes.dir.appendingPathComponent("node").path
    try nodes.node(["init", "--data-dir", dataDir, "--genesis", nodes.genesis] + nodes.allValidatorKeys(), wait: true)
    try nodes.setLoadLimits(dataDir: dataDir, mempool: max(50_000, count))
    let node = try nodes.node(["start", "--data-dir", dataDir, "--api-port", "0", "--block-interval-ms", String(blockIntervalMilliseconds), "--log-level", "warning"], wait: false)
    defer { node.terminate(); node.waitUntilExit() }
    let apiPort = try nodes.apiPort(dataDir: dataDir)

    let (patients, perPatient, registrations, grants) = presignConsentLoad(count: count)
    let probe = try HTTPConnection(port: apiPort)
    // Setup (not measured): register the patients and wait for their block.
    let setupTarget = try probe.committedTotal() + patients
    submitAll(registrations, ports: [apiPort], connections: connections)
    try probe.waitCommitted(atLeast: setupTarget)
    let committedBefore = try probe.committedTotal(), heightBefore = try probe.height()

    // Queries under load: an account lookup on its own connection, as fast as answers come back.
    let queryLatencies = Mutex<[Double]>([])
    let loading = Atomic<Bool>(true)
    let queryThread = Thread {
        guard let c = try? HTTPConnection(port: apiPort) else { return }
        // A signed read (the node verifies the signature, the replay cache and the caller's standing).
        let reader = DemoCast.staff("hospital-ribeira", "clinician")
        let path = "/v1/accounts/\(Address(reader.publicKey))"
        var local: [Double] = []
        while loading.load(ordering: .relaxed) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            guard (try? c.signedRequest("GET", path, as: reader))?.0 == 200 else { break }
            local.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            usleep(1000)
        }
        queryLatencies.withLock { $0 = local }
    }
    queryThread.start()

    let refused = Atomic<Int>(0)
    let t0 = DispatchTime.now().uptimeNanoseconds
    // Each patient's grants go in nonce order on one connection; connections interleave patients.
    // Sent as batches (one request, many transactions, each admitted on its own), or one request each.
    onThreads(connections) { part in
        guard let c = try? HTTPConnection(port: apiPort) else { refused.add(count, ordering: .relaxed); return }
        let mine = Array(stride(from: part, to: patients, by: connections))
        let ordered = (0..<perPatient).flatMap { n in mine.map { grants[$0][n] } }
        if batched {
            for start in stride(from: 0, to: ordered.count, by: benchBatchSize) {
                let chunk = ordered[start..<min(start + benchBatchSize, ordered.count)]
                let admitted = (try? c.submitBatch(chunk)) ?? 0
                refused.add(chunk.count - admitted, ordering: .relaxed)
            }
        } else {
            for bytes in ordered where (try? c.request("POST", "/v1/transactions", body: bytes))?.0 != 202 { refused.add(1, ordering: .relaxed) }
        }
    }
    let accepted = DispatchTime.now().uptimeNanoseconds
    let total = patients * perPatient
    let expected = committedBefore + total - refused.load(ordering: .relaxed)
    try probe.waitCommitted(atLeast: expected)
    let committed = DispatchTime.now().uptimeNanoseconds
    loading.store(false, ordering: .relaxed)
    while !queryThread.isFinished { usleep(1000) }
    let latencies = queryLatencies.withLock { $0 }
    let admitted = total - refused.load(ordering: .relaxed)
    return NodeLoadResult(transactions: total,
                          acceptedPerSecond: Double(admitted) / (Double(accepted - t0) / 1e9),
                          committedPerSecond: Double(admitted) / (Double(committed - t0) / 1e9),
                          refused: refused.load(ordering: .relaxed),
                          queryP50Milliseconds: latencies.isEmpty ? .nan : percentile(latencies, 0.5),
                          queryP99Milliseconds: latencies.isEmpty ? .nan : percentile(latencies, 0.99),
                          queries: latencies.count, blocks: try probe.height() - heightBefore)
}

/// Pre-signs a consent load on both cores: `count / 30` fresh patients' registrations (for an
/// unmeasured setup phase), then `count` consent grants — the transaction kind of the runtime's block
/// benchmark, so ratios compare like with like — 30 per patient in nonce order.
func presignConsentLoad(count: Int) -> (patients: Int, perPatient: Int, registrations: [[UInt8]], grants: [[[UInt8]]]) {
    let patients = max(1, count / 30)
    let clinician = DemoCast.staff("hospital-ribeira", "clinician")
    let keys = (0..<patients).map { _ in try! PrivateKey.generate() }
    let perPatient = (count + patients - 1) / patients
    let signed = Mutex(([[UInt8]](repeating: [], count: patients), [[[UInt8]]](repeating: [], count: patients)))
    DispatchQueue.concurrentPerform(iterations: 2) { part in
        for p in stride(from: part, to: patients, by: 2) {
            let key = keys[p]
            let attestation = try! clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: key.publicKey))
            let registration = try! SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: key.publicKey, nonce: 0,
                call: .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation))), with: key).canonicalBytes
            let grants = (0..<perPatient).map { n in
                try! SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: key.publicKey, nonce: UInt64(1 + n), call: .grantConsent(
                    ConsentTerms(grantees: [OrganizationID(DemoCast.hospitals[(p + n) % 7].id)!], categories: [.problems, .medications, .allergies],
                                 purposes: [.treat, .emergencyTreatment], countries: [CountryCode("JP")!, CountryCode("ES")!],
                                 validFrom: Timestamp(iso8601: "2027-01-01")!, validUntil: Timestamp(iso8601: "2027-12-31")!, emergencyAccess: n % 2 == 0))),
                    with: key).canonicalBytes
            }
            signed.withLock { $0.0[p] = registration; $0.1[p] = grants }
        }
    }
    let (registrations, grants) = signed.withLock { $0 }
    return (patients, perPatient, registrations, grants)
}
