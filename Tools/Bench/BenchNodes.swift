// What both node benchmarks need: a temporary directory with the demo genesis, the release
// `meridian-node` beside this binary, load limits in node.json, and a few reads over a connection.
import Foundation
import Synchronization
import Dispatch
import MeridianDemo
import MeridianCore

/// A temporary directory for benchmark nodes, removed by `remove()`.
struct BenchNodes {
    let binary: String
    let dir: URL
    let genesis: String
    let environment: [String: String]

    init(label: String) throws {
        binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("meridian-node").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw BenchError("\(binary) missing: swift build -c release") }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        genesis = dir.appendingPathComponent("genesis.json").path
        try JSONEncoder().encode(DemoCast.genesisSpec()).write(to: URL(fileURLWithPath: genesis))
        environment = ProcessInfo.processInfo.environment.merging(["MERIDIAN_PASSPHRASE": "bench-passphrase"]) { $1 }
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// `meridian-node init`'s key arguments for a single-process demo network that holds every
    /// demo validator key and Hospital Ribeira's worker key (keystores written here).
    func allValidatorKeys() throws -> [String] {
        let keys = dir.appendingPathComponent("demo-keys").path
        return try DemoCast.hospitals.filter(\.validator).flatMap { h in
            ["--validator-keystore", try DemoKeystores.write("\(h.id)/validator", in: keys, passphrase: "bench-passphrase")]
        } + ["--worker-keystore", try DemoKeystores.write("hospital-ribeira/worker", in: keys, passphrase: "bench-passphrase")]
    }

    /// `meridian-node init`'s key arguments for one demo hospital's validator node of a localnet.
    func validatorKeys(of hospital: String) throws -> [String] {
        let keys = dir.appendingPathComponent("demo-keys").path
        return ["--validator-keystore", try DemoKeystores.write("\(hospital)/validator", in: keys, passphrase: "bench-passphrase"),
                "--worker-keystore", try DemoKeystores.write("\(hospital)/worker", in: keys, passphrase: "bench-passphrase")]
    }

    /// Runs `meridian-node` with `arguments`; with `wait`, to its end (failing on a non-zero exit).
    @discardableResult
    func node(_ arguments: [String], wait: Bool) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        p.environment = environment
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        if wait {
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw BenchError("meridian-node \(arguments.joined(separator: " ")) failed") }
        }
        return p
    }

    /// The API port a started node wrote to `api.address` (waits up to a minute for it).
    func apiPort(dataDir: String) throws -> Int {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: dataDir + "/api.address", encoding: .utf8),
               let p = text.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }), p > 0 { return p }
            usleep(20_000)
        }
        throw BenchError("the node at \(dataDir) did not start")
    }

    /// Room for the whole load: blocks as large as the chain allows, a mempool of `mempool`
    /// transactions; `extra` keys are set too.
    /// A fresh demo node in `<dir>/node` whose workers take a feed named `ward` with `token` (and
    /// `workers` settings), started with `blockIntervalMilliseconds`; returns it, its data directory
    /// and API port.
    func startFeedNode(token: String, blockIntervalMilliseconds: String, workers extra: [String: Any] = [:]) throws -> (node: Process, dataDir: String, port: Int) {
        let dataDir = dir.appendingPathComponent("node").path
        try node(["init", "--data-dir", dataDir, "--genesis", genesis] + allValidatorKeys(), wait: true)
        let path = dataDir + "/node.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var workers = config["workers"] as? [String: Any] ?? [:]
        workers["feeds"] = ["ward": SHA256.hash(Array(token.utf8)).hex]
        for (k, v) in extra { workers[k] = v }
        config["workers"] = workers
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        let started = try node(["start", "--data-dir", dataDir, "--api-port", "0", "--block-interval-ms", blockIntervalMilliseconds, "--log-level", "warning"], wait: false)
        return (started, dataDir, try apiPort(dataDir: dataDir))
    }

    func setLoadLimits(dataDir: String, mempool: Int, extra: [String: Any] = [:]) throws {
        let path = dataDir + "/node.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        config["maxBlockTransactions"] = 5000
        config["mempool"] = ["maxTransactions": mempool, "maxBytes": 256 << 20, "maxPerAccount": 256]
        // Every load generator runs on loopback, one address: the per-client bounds are lifted so
        // that what is measured is the node, not the limiter.
        config["clientLimits"] = ["requestsPerSecond": 10_000_000, "maxConnections": 100_000]
        for (k, v) in extra { config[k] = v }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
    }
}

extension HTTPConnection {
    /// The node's committed height.
    func height() throws -> Int {
        (try JSONSerialization.jsonObject(with: Data(try request("GET", "/v1/status").1)) as? [String: Any])?["height"] as? Int ?? 0
    }

    /// `meridian_committed_transactions_total` from the node's metrics.
    func committedTotal() throws -> Int {
        let line = String(decoding: try signedRequest("GET", "/metrics", as: DemoCast.staff("hospital-ribeira", "admin")).1, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("meridian_committed_transactions_total") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map(Int.init) ?? 0
    }

    /// Polls until at least `target` transactions are committed (deadline `seconds`).
    func waitCommitted(atLeast target: Int, seconds: Double = 120) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try committedTotal() < target {
            guard Date() < deadline else { throw BenchError("\(target) committed transactions not reached within \(Int(seconds)) s") }
            usleep(2_000)
        }
    }
}

/// Runs `body(part)` for each part on a thread of its own and returns when all are done: one
/// blocking connection per thread, so that `count` requests are in flight at once.
/// `DispatchQueue.concurrentPerform` runs only as many iterations at a time as there are cores: on
/// 2 cores it kept 2 of the "8 connections" busy, and the node's throughput was measured at the
/// round-trip latency of 2 requests in flight, not at its capacity (the CPU was 21 % idle; perf).
func onThreads(_ count: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        // The threads end before this returns, so `body` never outlives the call (what
        // concurrentPerform's non-escaping closure promised its callers).
        nonisolated(unsafe) let run = body
        let threads = (0..<count).map { part in Thread { run(part) } }
        for t in threads { t.start() }
        while threads.contains(where: { !$0.isFinished }) { usleep(1_000) }
    }
}

/// Submits every body once over `connections` connections spread over `ports` (setup phases, not
/// measured; refusals are ignored and show up as a missing commit).
func submitAll(_ bodies: [[UInt8]], ports: [Int], connections: Int) {
    onThreads(connections) { part in
        guard let c = try? HTTPConnection(port: ports[part % ports.count]) else { return }
        let mine = Array(stride(from: part, to: bodies.count, by: connections).map { bodies[$0] })
        for start in stride(from: 0, to: mine.count, by: benchBatchSize) {
            _ = try? c.submitBatch(mine[start..<min(start + benchBatchSize, mine.count)])
        }
    }
}

/// Transactions per batch request in the load generators (the node takes at most 1000);
/// `MERIDIAN_BENCH_BATCH` changes it for an experiment.
let benchBatchSize = ProcessInfo.processInfo.environment["MERIDIAN_BENCH_BATCH"].flatMap { Int($0) }.map { min(max($0, 1), 1000) } ?? 250

extension HTTPConnection {
    /// Posts signed transactions as one batch (`POST /v1/transactions/batch`, binary framing:
    /// a 4-byte big-endian length, then the bytes); returns how many the node admitted. Each
    /// item's answer is read from the JSON reply; a reply that is not one answer per item throws.
    func submitBatch(_ transactions: ArraySlice<[UInt8]>) throws -> Int {
        var body: [UInt8] = []
        body.reserveCapacity(transactions.reduce(0) { $0 + 4 + $1.count })
        for t in transactions {
            let n = UInt32(t.count).bigEndian
            withUnsafeBytes(of: n) { body.append(contentsOf: $0) }
            body.append(contentsOf: t)
        }
        let (status, reply) = try request("POST", "/v1/transactions/batch", body: body, contentType: "application/vnd.meridian.transactions")
        guard status == 200, let answer = try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any],
              let results = answer["results"] as? [[String: Any]], results.count == transactions.count else {
            throw BenchError("batch of \(transactions.count) answered \(status): \(String(decoding: reply.prefix(200), as: UTF8.self))")
        }
        var admitted = 0
        for r in results {
            if r["status"] as? String == "pending" { admitted += 1; continue }
            let code = (r["error"] as? [String: Any])?["code"] as? String ?? "?"
            benchRefusals.withLock { $0[code, default: 0] += 1 }
        }
        return admitted
    }
}

/// The codes of refused batch items, counted (printed by the sections that batch).
let benchRefusals = Mutex<[String: Int]>([:])

extension Mutex where Value == [String: Int] {
    /// The counts, cleared.
    func take() -> [String: Int] { withLock { let v = $0; $0 = [:]; return v } }
}
