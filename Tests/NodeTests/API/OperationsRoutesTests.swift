import Foundation
import Testing
import Logging
import Synchronization
import Hummingbird
import HummingbirdTesting
import NIOCore
import MeridianCore
import MeridianDemo
import MeridianModules
import MeridianConsensusDriver
import MeridianWorkers
@testable import MeridianNode

/// The routes that run the node: `/readyz` names each failing component and why, `/metrics` takes
/// a Prometheus bearer token (or an operator's signature) and nothing else, and the log level is
/// changed at run time by an operator of this node's organisation only.
@Suite(.timeLimit(.minutes(5))) struct OperationsRoutesTests {
    static func call(_ api: NodeAPI, _ method: HTTPRequest.Method, _ uri: String, headers: [String: String] = ["Host": TestNode.host],
                     body: [UInt8] = []) async throws -> (Int, String) {
        let app = Application(router: api.router())
        var fields: HTTPFields = [:]
        for (n, v) in headers { fields.append(HTTPFields.Element(name: HTTPFields.Element.Name(n)!, value: v)) }
        let built = fields
        return try await app.test(.router) { client in
            try await client.execute(uri: uri, method: method, headers: built, body: ByteBuffer(bytes: body)) { (Int($0.status.code), String(buffer: $0.body)) }
        }
    }

    static func object(_ body: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not JSON: \(body)")
    }

    @Test func readinessNamesEachFailingComponentAndWhy() async throws {
        let node = try TestNode()
        // Healthy: the storage, a chain not expected to move, a disk with room, workers that never failed.
        let health = WorkerHealth()
        var services = node.services
        services.readiness = NodeReadiness(checks: [.storage(node.chain.store), .progress(node.chain.store, stallAfter: .seconds(60), expectsBlocks: { true }),
                                                    .workers(health), .disk(node.directory.path, minimumFreeBytes: 1)],
                                           dataDirectory: node.directory.path)
        let (ok, okBody) = try await Self.call(node.makeAPI(services: services), .get, "/readyz")
        #expect(ok == 200, "\(okBody)")
        let ready = try Self.object(okBody)
        #expect(ready["status"] as? String == "ready" && (ready["failedChecks"] as? [Any])?.isEmpty == true, "\(okBody)")
        #expect(((ready["checks"] as? [[String: Any]]) ?? []).compactMap { $0["component"] as? String } == ["storage", "chain", "workers", "disk"])

        // A worker failing three times within the window, a disk below its threshold, a validator
        // set of which this node reaches two of four, and a node catching up: each is named.
        for _ in 0..<3 { health.failed("risk") }
        health.failed("anchor")   // once is not a loop
        var status = ConsensusStatus(); status.reachablePower = 2; status.totalPower = 4; status.peers = 1; status.syncing = true; status.height = 42
        let frozen = status
        services.readiness = NodeReadiness(checks: [.storage(node.chain.store), .peers { frozen }, .sync { frozen }, .workers(health),
                                                    .disk(node.directory.path, minimumFreeBytes: .max)], dataDirectory: node.directory.path)
        let (code, body) = try await Self.call(node.makeAPI(services: services), .get, "/readyz")
        #expect(code == 503, "\(body)")
        let answer = try Self.object(body)
        #expect(answer["status"] as? String == "unavailable")
        let failed = Dictionary(uniqueKeysWithValues: ((answer["failedChecks"] as? [[String: Any]]) ?? []).map { ($0["component"] as? String ?? "?", $0["reason"] as? String ?? "") })
        #expect(Set(failed.keys) == ["peers", "sync", "workers", "disk"], "\(body)")
        #expect(failed["peers"]?.contains("2 of 4 voting power") == true, "\(body)")
        #expect(failed["sync"]?.contains("height 42") == true)
        #expect(failed["workers"]?.contains("risk failed 3 times") == true && failed["workers"]?.contains("anchor") == false, "\(body)")
        // The open route names no path (the log has the workers' errors).
        #expect(!body.contains(node.directory.path), "\(body)")
        #expect(failed["disk"]?.contains("MiB free on the data directory's file system") == true)
        // Three of four is more than two thirds: a quorum.
        status.reachablePower = 3; status.syncing = false
        let quorum = status
        #expect(NodeReadiness.Check.peers { quorum }.run() == nil)
        #expect(NodeReadiness.Check.sync { quorum }.run() == nil)
    }

    /// A chain that should move and does not: the first reading starts the clock, the next one past
    /// the limit names the height; a block moves it on; while no block is expected nothing fails.
    @Test func aStalledChainIsNamedOnlyWhileBlocksAreExpected() async throws {
        let node = try TestNode()
        let expecting = Atomic(true)
        let check = NodeReadiness.Check.progress(node.chain.store, stallAfter: .zero) { expecting.load(ordering: .relaxed) }
        #expect(check.run() == nil, "the first reading starts the clock")
        // With a zero limit any later reading is past it.
        let head = try node.chain.store.headHeight()
        #expect(check.run()?.contains("height \(head) has not advanced") == true)
        expecting.store(false, ordering: .relaxed)
        #expect(check.run() == nil)
        expecting.store(true, ordering: .relaxed)
        _ = try await node.submit(DemoCast.patient("hans"), .registerPatient(.init(attestor: DemoCast.staff("hospital-ribeira", "clinician").publicKey,
            attestation: try DemoCast.staff("hospital-ribeira", "clinician").sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: DemoCast.patient("hans").publicKey)))))
        #expect(try node.chain.store.headHeight() > head)
        #expect(check.run() == nil, "a new block restarts the clock")
    }

    @Test func metricsTakeTheScrapeTokenOrAnOperatorsSignatureAndNothingElse() async throws {
        let node = try TestNode()
        let token = "prometheus-scrape-token-\(UUID().uuidString)"
        var services = node.services
        services.metricsTokens = [SHA256.hash(Array(token.utf8)).hex]
        services.readiness = NodeReadiness(checks: [.storage(node.chain.store), .disk(node.directory.path, minimumFreeBytes: 1)], dataDirectory: node.directory.path)
        let api = node.makeAPI(services: services)
        let (code, text) = try await Self.call(api, .get, "/metrics", headers: ["Host": TestNode.host, "Authorization": "Bearer \(token)"])
        #expect(code == 200, "\(text.prefix(200))")
        for series in ["meridian_ready 1", "meridian_component_ready{component=\"disk\"} 1", "meridian_data_dir_free_bytes", "meridian_data_dir_size_bytes",
                       "meridian_mempool_capacity_transactions 50000", "meridian_mempool_capacity_bytes", "meridian_height"] {
            #expect(text.contains(series), "metrics lack \(series)")
        }
        let operatorHeaders = try TestNode.signed(DemoCast.staff("hospital-ribeira", "admin"), "GET", "/metrics")
        #expect(try await Self.call(api, .get, "/metrics", headers: operatorHeaders).0 == 200)
        let refusals: [(String, [String: String], Int, String)] = [
            ("another token", ["Authorization": "Bearer \(token)x"], 401, "auth.bad_token"),
            ("no scheme", ["Authorization": token], 401, "auth.malformed"),
            ("basic", ["Authorization": "Basic \(token)"], 401, "auth.malformed"),
            ("nothing", [:], 401, "auth.unsigned"),
            ("a patient's signature", try TestNode.signed(DemoCast.patient("maria"), "GET", "/metrics"), 403, "access.forbidden"),
        ]
        for (who, headers, status, code) in refusals {
            let (got, body) = try await Self.call(api, .get, "/metrics", headers: ["Host": TestNode.host].merging(headers) { $1 })
            #expect(got == status && body.contains(code) && !body.contains("meridian_height"), "\(who): \(got) \(body.prefix(200))")
        }
        // A node without tokens takes no bearer token at all.
        let (none, _) = try await Self.call(node.makeAPI(), .get, "/metrics", headers: ["Host": TestNode.host, "Authorization": "Bearer \(token)"])
        #expect(none == 401)
    }

    @Test func theLogLevelChangesAtRunTimeForThisNodesOperatorsOnly() async throws {
        let node = try TestNode()
        let control = LogLevelControl(.warning)
        var services = node.services
        services.logLevel = control
        let api = node.makeAPI(services: services)
        // A handler made before the change follows it (the level is read at each call).
        let handler = control.standardError(label: "test")
        #expect(handler.logLevel == .warning)
        let ribeiraOperator = DemoCast.staff("hospital-ribeira", "admin")
        let body = Array("{\"level\":\"debug\"}".utf8)
        let (code, answer) = try await Self.call(api, .put, "/v1/node/log-level", headers: try TestNode.signed(ribeiraOperator, "PUT", "/v1/node/log-level", body: body), body: body)
        #expect(code == 200 && answer.contains("\"level\":\"debug\"") && answer.contains("\"previous\":\"warning\""), "\(code) \(answer)")
        #expect(control.current == .debug && handler.logLevel == .debug)
        let (read, shown) = try await Self.call(api, .get, "/v1/node/log-level", headers: try TestNode.signed(ribeiraOperator, "GET", "/v1/node/log-level"))
        #expect(read == 200 && shown.contains("\"level\":\"debug\""), "\(shown)")
        // Another hospital's operator, a clinician of this one, a patient: refused, the level unchanged.
        let trace = Array("{\"level\":\"trace\"}".utf8)
        for key in [DemoCast.staff("klinikum-spree", "admin"), DemoCast.staff("hospital-ribeira", "clinician"), DemoCast.patient("maria")] {
            let (status, refusal) = try await Self.call(api, .put, "/v1/node/log-level", headers: try TestNode.signed(key, "PUT", "/v1/node/log-level", body: trace), body: trace)
            #expect(status == 403, "\(status) \(refusal)")
        }
        #expect(control.current == .debug)
        // Bad levels and bodies: 400 naming the levels; unsigned: 401.
        for bad in ["{\"level\":\"verbose\"}", "{\"level\":7}", "not json", "{}"] {
            let b = Array(bad.utf8)
            let (status, refusal) = try await Self.call(api, .put, "/v1/node/log-level", headers: try TestNode.signed(ribeiraOperator, "PUT", "/v1/node/log-level", body: b), body: b)
            #expect(status == 400 && refusal.contains("trace, debug, info, notice, warning, error, critical"), "\(bad): \(status) \(refusal)")
        }
        #expect(try await Self.call(api, .put, "/v1/node/log-level", body: body).0 == 401)
        #expect(control.current == .debug)
        // A logger that set its own level keeps it (swift-log's value semantics).
        var own = handler
        own.logLevel = .error
        control.set(.info)
        #expect(own.logLevel == .error && handler.logLevel == .info)
        // A node whose level is fixed says so.
        var fixedLevel = node.services
        fixedLevel.logLevel = nil
        let (fixed, why) = try await Self.call(node.makeAPI(services: fixedLevel), .get, "/v1/node/log-level", headers: try TestNode.signed(ribeiraOperator, "GET", "/v1/node/log-level"))
        #expect(fixed == 503 && why.contains("log_level.not_controlled"))
    }
}
