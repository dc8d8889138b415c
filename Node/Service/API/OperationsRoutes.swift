import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Logging
import MeridianCore

/// The routes that run the node rather than the chain: readiness for load balancers and the
/// operator's page, metrics for Prometheus, and the log level changed at run time.
extension NodeAPI {
    func operationsRoutes() -> [Route] {
        [
            .open(.get, "readyz", "which component of this node is failing and why (storage, chain, peers, sync, workers, disk); nothing about a patient") { _, _ in
                try readiness()
            },
            .selfAuthenticating(.get, "metrics", "a Prometheus scrape's bearer token whose SHA-256 node.json lists (metricsTokens), else an operator's signed request, checked first") { request, _ in
                try await scrapeMetrics(request)
            },
            .signed(.get, "v1/node/log-level", .nodeOperator) { _, _, _ in try logLevelAnswer(previous: nil) },
            .signed(.put, "v1/node/log-level", .nodeOperator) { request, _, caller in try await setLogLevel(request, caller) },
            .signed(.post, "v1/node/backups", .nodeOperator) { _, _, caller in try await checkpointForBackup(caller) },
        ]
    }

    /// Every component's state; 503 when one fails (Fabric's `/healthz` pattern), naming it and why.
    func readiness() throws -> Response {
        let results = (services.readiness ?? NodeReadiness(checks: [.storage(query.store)])).evaluate()
        struct Failed: Encodable { let component: String; let reason: String }
        struct Answer: Encodable { let status: String; let checks: [NodeReadiness.Result]; let failedChecks: [Failed] }
        let failed = results.compactMap { r in r.reason.map { Failed(component: r.component, reason: $0) } }
        return try json(Answer(status: failed.isEmpty ? "ready" : "unavailable", checks: results, failedChecks: failed),
                        status: failed.isEmpty ? .ok : .serviceUnavailable)
    }

    /// Prometheus text: for a scrape presenting a configured bearer token, or an operator's signed request.
    func scrapeMetrics(_ request: Request) async throws -> Response {
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw Self.unauthorized("auth.malformed", "expected Authorization: Bearer <token>, or a signed request")
            }
            let digest = SHA256.hash(Array(parts[1].utf8)).hex
            // Compared against every configured digest without stopping early (digests of secrets:
            // no timing tells which one, or how much of one, matched).
            var match = false
            for t in services.metricsTokens { match = t.utf8.elementsEqual(digest.utf8) || match }
            guard match else { throw Self.unauthorized("auth.bad_token", "this bearer token is not one node.json lists in metricsTokens") }
        } else {
            var request = request
            let raw: [UInt8]
            do { raw = Array(try await request.collectBody(upTo: maxBodyBytes).readableBytesView) }
            catch { throw APIError(.contentTooLarge, "request.too_large", "body over \(maxBodyBytes) bytes") }
            try admit(try authenticate(request.head, body: raw), to: .operators)
        }
        if let c = consensusStatus?() { metrics.refresh(from: c) }
        metrics.refresh(mempool: mempool)
        if let readiness = services.readiness { metrics.refresh(from: readiness) }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                        body: .init(byteBuffer: ByteBuffer(string: metrics.registry.emitToString())))
    }

    /// A checkpoint of the database under `<data-dir>/backups/` for `meridian-node backup` on this
    /// host, which moves it out with the rest of the backup (taken on NIO's thread pool: flushing the
    /// memtables and linking the files is disk work, never an event loop's).
    func checkpointForBackup(_ caller: Caller) async throws -> Response {
        guard let backups = services.backups else {
            throw APIError(.serviceUnavailable, "backup.unavailable", "this node takes no checkpoints")
        }
        do {
            let taken = try await NIOThreadPool.singleton.runIfActive { try backups.take() }
            Logger(label: "meridian-node").notice("database checkpoint taken for a backup", metadata: ["checkpoint": "\(taken.name)", "height": "\(taken.height)",
                                                                                                     "operator": "\(Address(caller.key))"])
            return try json(taken, status: .created)
        } catch let e as NodeBackup.BackupError where e.code == "backup.busy" {
            throw APIError(.conflict, e.code, e.message)
        } catch let e as NodeBackup.BackupError {
            throw APIError(.serviceUnavailable, e.code, e.message)
        }
    }

    func logLevelAnswer(previous: Logger.Level?) throws -> Response {
        guard let control = services.logLevel else {
            throw APIError(.serviceUnavailable, "log_level.not_controlled", "this node's log level is fixed at start")
        }
        struct Answer: Encodable { let level: String; let previous: String? }
        return try json(Answer(level: control.current.rawValue, previous: previous?.rawValue))
    }

    /// `{"level": "debug"}`: takes effect at once for every logger of the node; logged at notice
    /// with the operator's address (after the change, so the line shows only at notice or finer).
    func setLogLevel(_ request: Request, _ caller: Caller) async throws -> Response {
        guard let control = services.logLevel else {
            throw APIError(.serviceUnavailable, "log_level.not_controlled", "this node's log level is fixed at start")
        }
        struct Body: Decodable { let level: String }
        let raw = try await body(request)
        let levels = Logger.Level.allCases.map(\.rawValue)
        let b: Body
        do { b = try JSONDecoder().decode(Body.self, from: Data(raw)) }
        catch { throw APIError.badRequest("json.invalid", "expected {\"level\": one of \(levels.joined(separator: ", "))}") }
        guard let level = Logger.Level(rawValue: b.level) else {
            throw APIError.badRequest("log_level.invalid", "'\(b.level.prefix(40))' is not a level: one of \(levels.joined(separator: ", "))")
        }
        let previous = control.current
        control.set(level)
        Logger(label: "meridian-node").notice("log level changed", metadata: ["level": "\(level.rawValue)", "previous": "\(previous.rawValue)",
                                                                             "operator": "\(Address(caller.key))"])
        return try logLevelAnswer(previous: previous)
    }
}
