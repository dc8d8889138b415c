import Foundation
import MeridianTestSupport

/// A PostgreSQL server of the test's own: a cluster made by Debian's `initdb` in a temporary
/// directory, listening only on a Unix socket in that directory (no TCP port, nothing shared with
/// other tests or a system server), trust authentication for its one role. PostgreSQL refuses to
/// run as root, so when the tests run as root (CI) the cluster belongs to Debian's `postgres`
/// account and its programs run under `setpriv`.
final class PostgresCluster: @unchecked Sendable {
    // @unchecked: the process handle is only used from the owning test's task.
    let dir: TemporaryDirectory
    let data: String
    let socketDirectory: String
    static let port = 5432
    static let role = "meridian"
    private var server: BackgroundProcess?

    /// The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/N/bin).
    static let binDirectory: String? = {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted()
        return versions.last.map { "\(base)/\($0)/bin" }
    }()

    static var asRoot: Bool { geteuid() == 0 }

    init(_ label: String) async throws {
        guard let bin = Self.binDirectory else { throw HarnessError("PostgreSQL is not installed (Debian's postgresql package; `make setup` installs it)") }
        dir = try TemporaryDirectory(label)
        data = dir.path("pgdata")
        socketDirectory = dir.path("pgsocket")
        for d in [data, socketDirectory] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if Self.asRoot { try FileManager.default.setAttributes([.ownerAccountName: "postgres", .groupOwnerAccountName: "postgres"], ofItemAtPath: d) }
        }
        let initdb = try await Self.runAsOwner(bin + "/initdb", ["-D", data, "-U", Self.role, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"])
        guard initdb.status == 0 else { throw HarnessError("initdb failed: \(initdb)") }
        let (executable, arguments) = Self.ownerCommand(bin + "/postgres", ["-D", data, "-k", socketDirectory, "-p", String(Self.port), "-c", "listen_addresses=",
                                                                            "-c", "fsync=off", "-c", "max_connections=20"])
        server = try await BackgroundProcess(executable, arguments, logFile: dir.path("postgres.log"))
        while true {
            try stillWaiting("PostgreSQL to accept connections: \(logText)")
            guard server?.isRunning == true else { throw HarnessError("postgres exited: \(logText)") }
            let ready = try await ChildProcess.run(bin + "/pg_isready", ["-h", socketDirectory, "-p", String(Self.port), "-U", Self.role, "-d", "postgres"])
            if ready.status == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// A new database in this cluster; returns its libpq URL (Unix socket).
    func createDatabase(_ name: String) async throws -> String {
        let r = try await psql("postgres", ["-c", "CREATE DATABASE \"\(name)\""])
        guard r.status == 0 else { throw HarnessError("CREATE DATABASE failed: \(r)") }
        return url(name)
    }

    func url(_ database: String) -> String { "postgresql://\(Self.role)@/\(database)?host=\(socketDirectory)&port=\(Self.port)" }

    /// `psql` against `database`, unaligned, tuples only, stopping at the first error.
    func psql(_ database: String, _ arguments: [String]) async throws -> CommandResult {
        guard let bin = Self.binDirectory else { throw HarnessError("no psql") }
        return try await ChildProcess.run(bin + "/psql", ["-h", socketDirectory, "-p", String(Self.port), "-U", Self.role, "-d", database,
                                                          "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"] + arguments)
    }

    /// One value or rows of a query, trimmed.
    func query(_ database: String, _ sql: String) async throws -> String {
        let r = try await psql(database, ["-c", sql])
        guard r.status == 0 else { throw HarnessError("psql \(sql): \(r)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var logText: String { String(decoding: FileManager.default.contents(atPath: dir.path("postgres.log")) ?? Data(), as: UTF8.self).suffix(2000).description }

    /// Fast shutdown (SIGINT: roll back open transactions, stop).
    func stop() async {
        guard let server else { return }
        server.send(SIGINT)
        _ = await server.waitForExit()
        self.server = nil
    }

    deinit { server?.send(SIGKILL) }

    private static func ownerCommand(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        asRoot ? ("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", executable] + arguments) : (executable, arguments)
    }

    private static func runAsOwner(_ executable: String, _ arguments: [String]) async throws -> CommandResult {
        let (e, a) = ownerCommand(executable, arguments)
        return try await ChildProcess.run(e, a, workingDirectory: "/")
    }
}
