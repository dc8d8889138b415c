// Four validator processes (the release `meridian-node`) running Tendermint over P2P on loopback,
// all on this machine's cores together with the load generator: blocks per minute with no load,
// sustained finalised consent transactions per second, and submission-to-finality latency at a
// paced offered load.
import Foundation
import Dispatch
import Synchronization
import MeridianCore
import MeridianRuntime
import MeridianDemo
import MeridianClient

struct LocalnetLoadResult {
    let blocksPerMinuteIdle: Double
    let transactions: Int
    let finalisedPerSecond: Double
    let rounds: Int
    let offeredPerSecond: Int
    let latencyP50Milliseconds: Double
    let latencyP99Milliseconds: Double
    let latencySamples: Int
}

func localnetBench(count: Int, rounds: Int, offeredPerSecond: Int, latencySeconds: Int, idleSeconds: Int) throws -> LocalnetLoadResult {
    let nodes = try BenchNodes(label: "localnet-bench")
    defer { nodes.remove() }
    let hospitals = DemoCast.hospitals.filter(\.validator).map(\.id)
    let ports = try freeLoopbackPorts(hospitals.count * 2)
    let p2p = Array(ports.prefix(hospitals.count)), api = Array(ports.suffix(hospitals.count))
    var processes: [Process] = []
    defer { for p in processes { p.terminate() }; for p in processes { p.waitUntilExit() } }
    for (i, hospital) in hospitals.enumerated() {
        let dataDir = nodes.dir.appendingPathComponent("node-\(i)").path
        let peers = p2p.indices.filter { $0 != i }.flatMap { ["--peer", "127.0.0.1:\(p2p[$0])"] }
        try nodes.node(["init", "--data-dir", dataDir, "--genesis", nodes.genesis] + nodes.validatorKeys(of: hospital) + ["--p2p-port", String(p2p[i]),
                        "--api-port", String(api[i]), "--block-interval-ms", "200"] + peers, wait: true)
        try nodes.setLoadLimits(dataDir: dataDir, mempool: 100_000,
                                extra: ["consensus": ["proposeMilliseconds": 2000, "prevoteMilliseconds": 1000, "precommitMilliseconds": 1000]])
        let node = try nodes.node(["start", "--data-dir", dataDir, "--log-level", "warning"], wait: false)
        processes.append(node)
    }
    func connect(_ port: Int) throws -> HTTPConnection {
        let deadline = Date().addingTimeInterval(60)
        while true {
            if let c = try? HTTPConnection(port: port), (try? c.request("GET", "/health"))?.0 == 200 { return c }
            guard Date() < deadline else { throw BenchError("validator on port \(port) did not start") }
            usleep(50_000)
        }
    }
    let probe = try connect(api[0])
    for port in api.dropFirst() { _ = try connect(port) }
    // Blocks per minute with no load.
    while try probe.height() < 2 { usleep(50_000) }
    let idleStart = DispatchTime.now().uptimeNanoseconds, h0 = try probe.height()
    sleep(UInt32(idleSeconds))
    let h1 = try probe.height()
    let blocksPerMinute = Double(h1 - h0) / (Double(DispatchTime.now().uptimeNanoseconds - idleStart) / 60e9)

    // Pre-signed loads: `rounds` for throughput, one (other patients) for latency; patients registered first.
    let latencyCount = offeredPerSecond * latencySeconds
    let loads = (0..<rounds).map { _ in presignConsentLoad(count: count) }, paced = presignConsentLoad(count: latencyCount)
    let connections = 8
    let setupTarget = try probe.committedTotal() + loads.reduce(0) { $0 + $1.patients } + paced.patients
    submitAll(loads.flatMap(\.registrations) + paced.registrations, ports: api, connections: connections)
    // Every validator must hold the registrations before the grants arrive (admission checks the
    // signer against each validator's own stored state; validator 0 may be a block ahead).
    try probe.waitCommitted(atLeast: setupTarget)
    for port in api.dropFirst() { try connect(port).waitCommitted(atLeast: setupTarget) }

    // Sustained finalised throughput, `rounds` times (the median is reported): grants spread over
    // the four validators' APIs, in batch requests.
    var rates: [Double] = []
    var total = 0
    for throughput in loads {
        let refused = Atomic<Int>(0)
        let before = try probe.committedTotal()
        FileHandle.standardError.write(Data("localnet throughput phase begins\n".utf8))
        let t0 = DispatchTime.now().uptimeNanoseconds
        onThreads(connections) { part in
            guard let c = try? HTTPConnection(port: api[part % api.count]) else { refused.add(count, ordering: .relaxed); return }
            let mine = Array(stride(from: part, to: throughput.patients, by: connections))
            let ordered = (0..<throughput.perPatient).flatMap { n in mine.map { throughput.grants[$0][n] } }
            for start in stride(from: 0, to: ordered.count, by: benchBatchSize) {
                let chunk = ordered[start..<min(start + benchBatchSize, ordered.count)]
                refused.add(chunk.count - ((try? c.submitBatch(chunk)) ?? 0), ordering: .relaxed)
            }
        }
        total = throughput.patients * throughput.perPatient - refused.load(ordering: .relaxed)
        print("localnet throughput round: \(total) admitted, refused by code \(benchRefusals.take())")
        try probe.waitCommitted(atLeast: before + total)
        rates.append(Double(total) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
    }
    print("localnet throughput rounds: \(rates.map { Int($0) }) tx/s")
    let finalised = median(rates)

    printConsensus(probe, "before the latency phase")
    // Latency at the offered rate: submission time per transaction; a poller records when each
    // transaction's block appears as finalised on validator 0.
    let submitted = Mutex<[String: UInt64]>([:]), finalisedAt = Mutex<[String: UInt64]>([:])
    let done = Atomic<Bool>(false)
    let poller = Thread {
        guard let c = try? HTTPConnection(port: api[0]) else { return }
        var seen = (try? JSONSerialization.jsonObject(with: Data(c.request("GET", "/v1/status").1)) as? [String: Any])?["height"] as? Int ?? 0
        while !done.load(ordering: .relaxed) {
            let head = ((try? JSONSerialization.jsonObject(with: Data(c.request("GET", "/v1/status").1))) as? [String: Any])?["height"] as? Int ?? seen
            let now = DispatchTime.now().uptimeNanoseconds
            if head > seen {
                for h in (seen + 1)...head {
                    guard let block = (try? JSONSerialization.jsonObject(with: Data(c.signedRequest("GET", "/v1/blocks/\(h)", as: DemoCast.staff("hospital-ribeira", "admin")).1))) as? [String: Any] else { continue }
                    let hashes = (block["transactions"] as? [[String: Any]] ?? []).compactMap { $0["hash"] as? String }
                    finalisedAt.withLock { for x in hashes { $0[x] = now } }
                }
                seen = head
            }
            usleep(2_000)
        }
    }
    poller.start()
    let flat = (0..<paced.perPatient).flatMap { n in (0..<paced.patients).map { paced.grants[$0][n] } }
    let senders = (0..<4).map { try? HTTPConnection(port: api[$0 % api.count]) }
    let start = DispatchTime.now().uptimeNanoseconds
    let interval = UInt64(1_000_000_000 / offeredPerSecond)
    for (i, bytes) in flat.enumerated() {
        let due = start + UInt64(i) * interval
        let now = DispatchTime.now().uptimeNanoseconds
        if due > now { usleep(useconds_t((due - now) / 1000)) }
        let hash = (try? SignedTransaction(canonicalBytes: bytes))?.hash.hex ?? ""
        let sentAt = DispatchTime.now().uptimeNanoseconds
        // One patient's transactions always go to the same validator (nonces must arrive in order).
        let sender = senders[(i % paced.patients) % senders.count]
        if (try? sender?.request("POST", "/v1/transactions", body: bytes))??.0 == 202 { submitted.withLock { $0[hash] = sentAt } }
    }
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline && finalisedAt.withLock({ f in submitted.withLock { s in s.keys.contains { f[$0] == nil } } }) { usleep(20_000) }
    done.store(true, ordering: .relaxed)
    while !poller.isFinished { usleep(1_000) }
    printConsensus(probe, "after the latency phase")
    let latencies = submitted.withLock { s in finalisedAt.withLock { f in s.compactMap { (h, t) in f[h].map { Double($0 - min($0, t)) / 1e6 } } } }
    return LocalnetLoadResult(blocksPerMinuteIdle: blocksPerMinute, transactions: total, finalisedPerSecond: finalised, rounds: rates.count, offeredPerSecond: offeredPerSecond,
                              latencyP50Milliseconds: latencies.isEmpty ? .nan : percentile(latencies, 0.5),
                              latencyP99Milliseconds: latencies.isEmpty ? .nan : percentile(latencies, 0.99), latencySamples: latencies.count)
}

/// What consensus did on a validator so far (printed with the figures; `make bench` keeps the output):
/// a height that needed a second round explains a latency tail.
func printConsensus(_ connection: HTTPConnection, _ when: String) {
    guard let status = try? JSONSerialization.jsonObject(with: Data(connection.request("GET", "/v1/status").1)) as? [String: Any],
          let c = status["consensus"] as? [String: Any] else { return }
    print("localnet consensus on validator 0, \(when): heights decided \(c["heightsDecided"] ?? "?"), rounds \(c["roundsTotal"] ?? "?"), compact proposals rebuilt from the mempool \(c["compactProposalsAssembled"] ?? "?"), completed by request \(c["compactProposalsFetched"] ?? "?")")
}
