import Foundation
import Logging
import MeridianCore
import MeridianState
import MeridianRuntime
import MeridianStorage
import MeridianNode
import MeridianDemo

/// Joining a chain (issue 24, item 2): a node whose chain holds `count` access requests (each an
/// audit entry: the state then holds about that many entries) is started as a release
/// `meridian-node`; a new node's `StateSyncer` restores its snapshot over the API (headers verified
/// from genesis, every chunk checked, the tree rebuilt and written), beside what a node without a
/// snapshot does: execute every block from genesis through `ChainService` (the block-sync path
/// without the network).
struct StateSyncFigures {
    var accessRequests = 0, stateEntries = 0, height: UInt64 = 0
    var buildSeconds = 0.0, syncSeconds = 0.0, replaySeconds = 0.0
}

func stateSyncBench(accessRequests count: Int) async throws -> StateSyncFigures {
    let nodes = try BenchNodes(label: "bench-statesync")
    defer { nodes.remove() }
    let spec = AccessRequestChain.genesisSpec()
    try JSONEncoder().encode(spec).write(to: URL(fileURLWithPath: nodes.genesis))
    let dataDir = nodes.dir.appendingPathComponent("source").path
    try nodes.node(["init", "--data-dir", dataDir, "--genesis", nodes.genesis, "--snapshot-interval", "1"] + nodes.allValidatorKeys(), wait: true)

    var f = StateSyncFigures(accessRequests: count)
    do {
        let store = try BlockStore(path: DataDirectory(dataDir).database, additionalColumns: DataDirectory.databaseColumns)
        let built = try AccessRequestChain(store: store, storeGenesis: false)
        try await built.preparePatients()
        let t0 = now()
        try await built.accessRequests(count)
        f.buildSeconds = Double(now() - t0) / 1e9
        f.height = try store.headHeight()
        var start: [UInt8]? = nil
        while true {
            let page = try store.db.scan("state.values", prefix: [], from: start, limit: 100_000)
            guard let last = page.last else { break }
            f.stateEntries += page.count
            start = last.key + [0]
        }
    }

    // Replay from genesis: every block executed and written again, as block sync does.
    do {
        let source = try BlockStore(path: DataDirectory(dataDir).database, additionalColumns: DataDirectory.databaseColumns)
        let replayPath = nodes.dir.appendingPathComponent("replay").path
        let store = try BlockStore(path: replayPath, additionalColumns: DataDirectory.databaseColumns)
        try store.storeGenesis(try Genesis.initialize(spec, into: try AuthenticatedState(storage: store.stateStorage)).header)
        var config = NodeConfig()
        config.p2p = P2PConfig()
        config.maxBlockTransactions = 1000
        var logger = Logger(label: "bench-replay"); logger.logLevel = .error
        let chain = try ChainService(store: store, signers: [], config: config, logger: logger, metrics: NodeMetrics())
        let t0 = now()
        for h in 1...f.height {
            guard let block = try source.block(at: h), let certificate = try source.commit(at: h) else { throw BenchError("replay: block \(h) missing") }
            try await chain.commit(block, certificate: certificate)
        }
        try await chain.awaitDurable()
        f.replaySeconds = Double(now() - t0) / 1e9
        guard try store.header(at: f.height)?.stateRoot == (try source.header(at: f.height))?.stateRoot else { throw BenchError("replay: another state root") }
    }

    // State sync from the running node.
    let node = try nodes.node(["start", "--data-dir", dataDir, "--api-port", "0", "--block-interval-ms", "200", "--log-level", "error"], wait: false)
    defer { node.terminate(); node.waitUntilExit() }
    let port = try nodes.apiPort(dataDir: dataDir)
    var logger = Logger(label: "bench-statesync"); logger.logLevel = .error
    let syncer = try StateSyncer(config: StateSyncConfig(servers: ["http://127.0.0.1:\(port)"]), genesis: spec,
                                 key: DemoCast.staff("sakura-general", "worker"), peers: PeerHTTP(), logger: logger)
    let store = try BlockStore(path: nodes.dir.appendingPathComponent("synced").path, additionalColumns: DataDirectory.databaseColumns)
    let t0 = now()
    guard let height = try await syncer.run(into: store) else { throw BenchError("state sync: no snapshot offered") }
    f.syncSeconds = Double(now() - t0) / 1e9
    // (restoreSnapshot checked the rebuilt state root against the header the light client verified.)
    guard height == f.height, try store.headHeight() == height else { throw BenchError("state sync: restored height \(height), expected \(f.height)") }
    return f
}
