import Foundation
import MeridianCore
import MeridianStorage
import MeridianNode
import MeridianDemo

/// The regulators' SQL copy at scale (issue 24, item 8): a node whose chain holds `entries` access
/// requests (each an audit entry: allowed cross-border, denied, break-glass), written through the
/// node's own ChainService into the data directory `meridian-node init` made, then started; the
/// release `meridian-indexer` copies it into a PostgreSQL cluster made with `initdb` as Portugal's
/// regulator (who may read every one of these entries), and each report of Tools/Indexer/Reports
/// runs over the copy.
struct IndexerFigures {
    var entries = 0, blocks = 0, rows = 0
    var buildSeconds = 0.0, indexSeconds = 0.0
    var databaseBytes = 0.0
    /// Report name → median seconds of three runs (psql start-up included).
    var reports: [(String, Double)] = []
    var emptyQuerySeconds = 0.0
}

func indexerBench(entries count: Int) async throws -> IndexerFigures {
    let nodes = try BenchNodes(label: "bench-indexer")
    defer { nodes.remove() }
    let indexer = URL(fileURLWithPath: nodes.binary).deletingLastPathComponent().appendingPathComponent("meridian-indexer").path
    guard FileManager.default.isExecutableFile(atPath: indexer) else { throw BenchError("\(indexer) missing: swift build -c release --product meridian-indexer") }
    try JSONEncoder().encode(AccessRequestChain.genesisSpec()).write(to: URL(fileURLWithPath: nodes.genesis))
    let dataDir = nodes.dir.appendingPathComponent("node").path
    try nodes.node(["init", "--data-dir", dataDir, "--genesis", nodes.genesis] + nodes.allValidatorKeys(), wait: true)

    var f = IndexerFigures()
    do {
        let store = try BlockStore(path: DataDirectory(dataDir).database, additionalColumns: DataDirectory.databaseColumns)
        let built = try AccessRequestChain(store: store, storeGenesis: false)
        try await built.preparePatients()
        let t0 = now()
        try await built.accessRequests(count, mixed: true)
        f.buildSeconds = Double(now() - t0) / 1e9
    }
    let node = try nodes.node(["start", "--data-dir", dataDir, "--api-port", "0", "--block-interval-ms", "200", "--log-level", "error"], wait: false)
    defer { node.terminate(); node.waitUntilExit() }
    let port = try nodes.apiPort(dataDir: dataDir)

    let pg = try PostgresServer(in: nodes.dir.appendingPathComponent("pg").path)
    defer { pg.stop() }
    let url = try pg.createDatabase("regulator_pt")
    let keys = nodes.dir.appendingPathComponent("demo-keys").path
    let regulator = try DemoKeystores.write("dpa-pt/officer", in: keys, passphrase: "bench-passphrase")
    let t1 = now()
    let run = try runProcess(indexer, ["run", "--once", "--batch", "500", "--log-level", "error", "--database", url, "--keystore", regulator,
                                       "--node", "http://127.0.0.1:\(port)"], environment: nodes.environment)
    f.indexSeconds = Double(now() - t1) / 1e9
    guard run.status == 0 else { throw BenchError("meridian-indexer failed: \(run.output)") }
    f.entries = Int(try pg.query("regulator_pt", "SELECT count(*) FROM audit_entries")) ?? 0
    f.blocks = Int(try pg.query("regulator_pt", "SELECT count(*) FROM blocks")) ?? 0
    f.rows = f.entries + f.blocks + (Int(try pg.query("regulator_pt", "SELECT count(*) FROM anchors")) ?? 0)
    guard f.entries >= count else { throw BenchError("the copy holds \(f.entries) audit entries, fewer than the \(count) committed") }
    _ = try pg.query("regulator_pt", "VACUUM ANALYZE")
    f.databaseBytes = Double(try pg.query("regulator_pt", "SELECT pg_database_size('regulator_pt')")) ?? 0

    // make bench runs from the repository's root.
    let reports = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Tools/Indexer/Reports")
    func timed(_ arguments: [String]) throws -> Double {
        var times: [Double] = []
        for _ in 0..<3 {
            let t = now()
            let r = try pg.psql("regulator_pt", arguments + ["-o", "/dev/null"])
            guard r.status == 0 else { throw BenchError("psql \(arguments): \(r.output)") }
            times.append(Double(now() - t) / 1e9)
        }
        return times.sorted()[1]
    }
    f.emptyQuerySeconds = try timed(["-c", "SELECT 1"])
    for (name, variables) in [("transfers", [String]()), ("denied", []), ("break-glass", []), ("trail", ["-v", "organization=sakura-general"]),
                              ("trail", ["-v", "patient=\(Address(DemoCast.key("bench/disk-patient/7").publicKey))"]), ("evidence", [])] {
        let label = name + (variables.isEmpty ? "" : " " + (variables[1].hasPrefix("patient") ? "(one patient)" : "(one organisation)"))
        f.reports.append((label, try timed(variables + ["-f", reports.appendingPathComponent("\(name).sql").path])))
    }
    return f
}

/// A PostgreSQL cluster for the benchmark: `initdb` in its directory, a Unix socket there and no
/// TCP port; run as Debian's `postgres` account when the benchmark runs as root (PostgreSQL refuses root).
final class PostgresServer {
    let dir: String, socket: String, bin: String
    let server: Process
    static let role = "meridian"

    init(in dir: String) throws {
        let base = "/usr/lib/postgresql"
        guard let version = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).max() else {
            throw BenchError("PostgreSQL is not installed (make setup installs Debian's postgresql)")
        }
        bin = "\(base)/\(version)/bin"
        self.dir = dir
        socket = dir + "/socket"
        for d in [dir, dir + "/data", socket] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if geteuid() == 0 { try FileManager.default.setAttributes([.ownerAccountName: "postgres", .groupOwnerAccountName: "postgres"], ofItemAtPath: d) }
        }
        let initdb = try runProcess(Self.owner(bin + "/initdb").0, Self.owner(bin + "/initdb").1 + ["-D", dir + "/data", "-U", Self.role, "--auth=trust", "--no-locale", "--encoding=UTF8"])
        guard initdb.status == 0 else { throw BenchError("initdb: \(initdb.output)") }
        let (e, a) = Self.owner(bin + "/postgres")
        server = Process()
        server.executableURL = URL(fileURLWithPath: e)
        server.arguments = a + ["-D", dir + "/data", "-k", socket, "-c", "listen_addresses=", "-c", "shared_buffers=256MB"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        let deadline = Date().addingTimeInterval(60)
        while try runProcess(bin + "/pg_isready", ["-h", socket, "-U", Self.role, "-d", "postgres"]).status != 0 {
            guard Date() < deadline, server.isRunning else { throw BenchError("PostgreSQL did not start") }
            usleep(50_000)
        }
    }

    static func owner(_ program: String) -> (String, [String]) {
        geteuid() == 0 ? ("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", program]) : (program, [])
    }

    func createDatabase(_ name: String) throws -> String {
        _ = try query("postgres", "CREATE DATABASE \(name)")
        return "postgresql://\(Self.role)@/\(name)?host=\(socket)"
    }

    func psql(_ database: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try runProcess(bin + "/psql", ["-h", socket, "-U", Self.role, "-d", database, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"] + arguments)
    }

    func query(_ database: String, _ sql: String) throws -> String {
        let r = try psql(database, ["-c", sql])
        guard r.status == 0 else { throw BenchError("psql \(sql): \(r.output)") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() { server.interrupt(); server.waitUntilExit() }
}

/// Runs a program to its end; its exit status and output (standard output and error together).
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-bench-out-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: out) }
    let handle = try FileHandle(forWritingTo: out)
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    p.waitUntilExit()
    try handle.close()
    return (p.terminationStatus, String(decoding: (try? Data(contentsOf: out)) ?? Data(), as: UTF8.self))
}
