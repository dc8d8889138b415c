import Foundation
public import Hummingbird
import NIOCore
public import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianLightClient
public import MeridianMempool
public import MeridianConsensusDriver
public import MeridianWorkers
public import MeridianRequestAuth

/// The node's HTTP API (see `openapi.yaml`, served at `/openapi.yaml`). Every handler parses its
/// input into runtime types first and answers bad input with a 4xx JSON error; reads go to the
/// thread-safe `QueryService`, never through the block producer.
public struct NodeAPI: Sendable {
    public let chain: ChainService
    public let query: QueryService
    public let mempool: Mempool
    public let metrics: NodeMetrics
    public let chainID: String
    public let maxBodyBytes: Int
    public let openAPIDocument: [UInt8]
    /// The services besides the chain, wired once at start (see `NodeServices`).
    public let services: NodeServices
    var consensusStatus: (@Sendable () -> ConsensusDriver.Status)? { services.consensusStatus }
    var vitals: VitalsIngestor? { services.workers?.vitals }
    var risk: RiskWorker? { services.workers?.risk }
    var anchors: AnchorStore? { services.workers?.anchors }
    var assessmentStore: AssessmentStore? { services.workers?.assessments }
    var feedTokens: [String: String] { services.workers?.feedTokens ?? [:] }
    var records: RecordService? { services.records }
    var disclosures: DisclosureLog? { services.disclosures }
    /// This node's key: the audience signed requests must name (nil: signed routes answer 503).
    public let nodeKey: PublicKey?
    /// Checks signed requests for this chain and this node, with the replay cache.
    public let requestVerifier: RequestVerifier?
    /// The scheme clients reach the API by (part of the signed target URI).
    public let scheme: String
    /// Seals the cursors of paged audit answers (opaque, bound to caller and query).
    let auditCursors = AuditCursors()
    /// Per-client bounds: requests per second (here) and open connections (the listener's handler).
    public let clientLimiter: ClientLimiter

    /// - Parameter services: everything served besides the chain, wired by the caller once.
    /// - Parameter identity: this node's key towards signed requests (nil: signed routes answer 503).
    public init(chain: ChainService, metrics: NodeMetrics, maxBodyBytes: Int, services: NodeServices, identity: PublicKey?,
                scheme: String = "http", clientLimiter: ClientLimiter = ClientLimiter()) {
        self.chain = chain; self.query = chain.query; self.mempool = chain.mempool; self.metrics = metrics; self.chainID = chain.chainID
        self.maxBodyBytes = maxBodyBytes; self.services = services; self.scheme = scheme; self.clientLimiter = clientLimiter
        nodeKey = identity
        requestVerifier = identity.map { RequestVerifier(chainID: chain.chainID, audience: Address($0).description) }
        let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml")
        openAPIDocument = url.flatMap { try? Data(contentsOf: $0) }.map { [UInt8]($0) } ?? []
    }

    /// One route of the API: method, path (Hummingbird syntax, `:name` for a parameter), who may
    /// call it (`APIAccess`, exactly one per route) and its handler, which receives the caller of a
    /// signed route (nil for the others).
    public struct Route: Sendable {
        public let method: HTTPRequest.Method
        public let path: String
        public let access: APIAccess
        let handler: @Sendable (Request, NodeRequestContext, Caller?) async throws -> Response

        typealias Plain = @Sendable (Request, NodeRequestContext) async throws -> Response
        typealias Authenticated = @Sendable (Request, NodeRequestContext, Caller) async throws -> Response

        /// Anyone may call it; `why` says why it shows nothing about a patient.
        static func open(_ method: HTTPRequest.Method, _ path: String, _ why: String, _ h: @escaping Plain) -> Route {
            Route(method: method, path: path, access: .open(why)) { r, c, _ in try await h(r, c) }
        }
        /// The request carries its own proof, which the handler checks first; `how` names it.
        static func selfAuthenticating(_ method: HTTPRequest.Method, _ path: String, _ how: String, _ h: @escaping Plain) -> Route {
            Route(method: method, path: path, access: .selfAuthenticating(how)) { r, c, _ in try await h(r, c) }
        }
        /// A signed request of a key the chain knows, admitted by `rule`.
        static func signed(_ method: HTTPRequest.Method, _ path: String, _ rule: APIRule, _ h: @escaping Authenticated) -> Route {
            Route(method: method, path: path, access: .signed(rule)) { r, c, caller in
                guard let caller else { throw APIError(.unauthorized, "auth.unsigned", "sign the request") }
                return try await h(r, c, caller)
            }
        }

        /// The path as OpenAPI writes it (`{name}` for a parameter).
        public var openAPIPath: String {
            "/" + path.split(separator: "/").map { $0 == "**" ? "{path}" : $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
        }
    }

    /// Every HTTP route, in one table: the router is built from it, and the OpenAPI test compares it
    /// (paths, methods and each route's access rule) with `openapi.yaml`, so a route cannot exist
    /// undocumented or without its rule. (`/v1/events`, the WebSocket upgrade, is decided by
    /// `EventStream` before routing under the same rule as its route here.)
    public func routes() -> [Route] {
        let openAPIDocument = self.openAPIDocument
        return [
            .open(.get, "health", "liveness only") { _, _ in try json(["status": "ok"]) },
            .open(.get, "openapi.yaml", "the API's description") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: openAPIDocument)))
            },
            .open(.get, "v1/status", "chain status: chain id, height, this node's key (the audience of signed requests)") { _, _ in try await status() },
            .open(.get, "v1/validators", "the validator set a light client verifies against") { _, _ in try await validators() },
            .signed(.get, "v1/organizations", .knownKey) { _, _, _ in try organizations() },
            .selfAuthenticating(.post, "v1/transactions", "a transaction signed by its signer; admission checks it before anything else") { request, _ in
                try await submit(request)
            },
            .selfAuthenticating(.post, "v1/transactions/batch", "transactions each signed by its signer; admission checks each on its own before anything else") { request, _ in
                try await submitBatch(request)
            },
            .signed(.get, "v1/transactions/:hash", .ownItems) { _, context, caller in try transaction(context.parameters.require("hash"), caller) },
            .signed(.get, "v1/blocks/latest", .operators) { _, _, _ in try block(String(try query.store.headHeight())) },
            .signed(.get, "v1/blocks/:id", .operators) { _, context, _ in try block(context.parameters.require("id")) },
            .signed(.get, "v1/accounts/:address", .ownItems) { _, context, caller in try account(context.parameters.require("address"), caller) },
            .signed(.get, "v1/patients/:address/consents", .patientOnly) { _, context, caller in
                try consents(context.parameters.require("address"), caller)
            },
            .signed(.get, "v1/patients/:address/consents/:id/fhir", .patientOnly) { _, context, caller in
                try consentFHIR(context.parameters.require("address"), context.parameters.require("id"), caller)
            },
            .signed(.get, "v1/patients/:address/records", .patientOrAuthorizedClinician) { request, context, caller in
                let q = try queryDictionary(request)
                return try await records(context.parameters.require("address"), purpose: purpose(q), evidence: evidence(q), caller)
            },
            .signed(.post, "v1/authorize", .knownKey) { request, _, caller in try await authorize(request, caller) },
            .signed(.get, "v1/audit", .auditReader) { request, _, caller in try audit(queryDictionary(request), caller) },
            .signed(.get, "v1/audit/:patient/:sequence/fhir", .auditReader) { _, context, caller in
                try auditFHIR(context.parameters.require("patient"), context.parameters.require("sequence"), caller)
            },
            .signed(.get, "v1/index/blocks", .networkReader) { request, _, caller in try blockFeed(queryDictionary(request), caller) },
            .signed(.get, "v1/reports/organizations", .networkReader) { _, _, caller in try organizationReport(caller) },
            .signed(.get, "v1/records/:commitment", .patientOrAuthorizedClinician) { request, context, caller in
                let q = try queryDictionary(request)
                return try await record(context.parameters.require("commitment"), purpose: purpose(q), evidence: evidence(q), caller)
            },
            .signed(.get, "v1/contracts/:hash", .knownKey) { _, context, _ in try contract(context.parameters.require("hash")) },
            .signed(.get, "v1/events", .auditReader) { request, _, caller in
                // Reached only without a WebSocket upgrade (EventStream upgrades valid requests first).
                _ = try eventFilter(queryDictionary(request), for: caller)
                throw APIError(.upgradeRequired, "events.upgrade_required", "connect with a WebSocket client (Upgrade: websocket)")
            },
            .signed(.get, "v1/evidence", .networkReader) { _, _, _ in try evidence() },
            .open(.get, "v1/light/headers", "headers and commit certificates, for light clients") { request, _ in try lightHeaders(queryDictionary(request)) },
            .signed(.get, "v1/state/:key", .knownKey) { request, context, caller in
                try stateEntry(context.parameters.require("key"), height: queryDictionary(request)["height"], caller)
            },
        ] + operationsRoutes() + vitalsRoutes() + recordRoutes() + auditLogRoutes() + snapshotRoutes()
    }

    public func router() -> Router<NodeRequestContext> {
        let router = Router(context: NodeRequestContext.self)
        router.add(middleware: LatencyMiddleware(metrics: metrics))
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: ClientRateMiddleware(limiter: clientLimiter))
        for r in routes() {
            router.on(RouterPath(r.path), method: r.method) { request, context in try await serve(r, request, context) }
        }
        return router
    }

    /// Runs a route under its access rule: a signed route's body is read (bounded) and the
    /// signature, the caller's standing and the rule are checked before the handler sees anything.
    func serve(_ route: Route, _ request: Request, _ context: NodeRequestContext) async throws -> Response {
        guard case .signed(let rule) = route.access else { return try await route.handler(request, context, nil) }
        var request = request
        let raw: [UInt8]
        do { raw = Array(try await request.collectBody(upTo: maxBodyBytes).readableBytesView) }
        catch { throw APIError(.contentTooLarge, "request.too_large", "body over \(maxBodyBytes) bytes") }
        let caller = try authenticate(request.head, body: raw)
        try admit(caller, to: rule)
        return try await route.handler(request, context, caller)
    }

    // MARK: Parsing

    func address(_ text: String, _ field: String) throws -> PublicKey {
        switch Address.parse(text) {
        case .success(let a): return a.publicKey
        case .failure(let e):
            if let k = try? PublicKey(hex: text) { return k }
            throw APIError.badRequest("address.invalid", "\(field): \(e)")
        }
    }

    func hash(_ text: String, _ field: String) throws -> Bytes32 {
        guard let h = Bytes32(hex: text) else { throw APIError.badRequest("hash.invalid", "\(field): expected 64 hex digits") }
        return h
    }

    func timestamp(_ text: String?, _ field: String) throws -> Timestamp? {
        guard let text else { return nil }
        guard let t = Timestamp(iso8601: text) else { throw APIError.badRequest("time.invalid", "\(field): expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ") }
        return t
    }

    func integer(_ text: String?, _ field: String, default d: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return d }
        guard let v = Int(text), range.contains(v) else { throw APIError.badRequest("parameter.invalid", "\(field): expected an integer in \(range)") }
        return v
    }

    func body(_ request: Request) async throws -> [UInt8] {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch {
            throw APIError(.contentTooLarge, "request.too_large", "body over \(maxBodyBytes) bytes")
        }
    }

    // MARK: Handlers

    struct Status: Encodable {
        let chainID: String, height: UInt64, latestBlockHash: String, latestBlockTime: String
        let mempoolTransactions: Int, mempoolBytes: Int, mode: String, syncing: Bool, validatorKeys: Int
        let consensus: ConsensusDriver.Status?
        /// This node's address: the audience (`Meridian-Audience`) a signed request names.
        let nodeKey: String?
        /// The upgrade plan in force (pending, else the last done) and whether this executable is its release.
        let upgrade: Upgrade?
        struct Upgrade: Encodable { let name: String; let height: UInt64; let releaseSHA256: String; let pending: Bool; let thisExecutableIsTheRelease: Bool }
    }

    func status() async throws -> Response {
        let tip = await chain.tip
        let c = consensusStatus?()
        return try json(Status(chainID: chainID, height: tip.height, latestBlockHash: tip.hash.hex, latestBlockTime: tip.time.iso8601,
                               mempoolTransactions: mempool.count, mempoolBytes: mempool.bytes, mode: c == nil ? "single-proposer" : (chain.signers.isEmpty ? "full-node" : "consensus"),
                               syncing: c?.syncing ?? false, validatorKeys: chain.signers.count, consensus: c,
                               nodeKey: nodeKey.map { Address($0).description }, upgrade: try upgradeStatus()))
    }

    func upgradeStatus() throws -> Status.Upgrade? {
        let reader = query.reader
        guard let plan = try Upgrades.governing(in: reader) else { return nil }
        return Status.Upgrade(name: plan.name, height: plan.height, releaseSHA256: plan.binarySHA256.hex, pending: try Upgrades.pending(in: reader) == plan,
                              thisExecutableIsTheRelease: ReleaseIdentity.executableSHA256 == plan.binarySHA256)
    }

    func validators() async throws -> Response {
        struct V: Encodable { let address: String; let publicKey: String; let organization: String; let power: UInt64 }
        return try json(try await chain.validators().map { V(address: Address($0.key).description, publicKey: $0.key.hex, organization: $0.organization.value, power: $0.power) })
    }

    func organizations() throws -> Response {
        struct O: Encodable { let id: String; let name: String; let country: String; let kind: String }
        let orgs = try query.organizations()
        return try json(orgs.map { O(id: $0.id.value, name: $0.name, country: $0.country.code, kind: $0.kind == .hospital ? "hospital" : "regulator") })
    }

    struct Submitted: Encodable { let hash: String; let status: String }

    /// `{"hash":"<hex>","status":"pending"}`: hex digits need no escaping.
    public static func submittedJSON(hash: Bytes32) -> String { "{\"hash\":\"\(hash.hex)\",\"status\":\"pending\"}" }

    func submit(_ request: Request) async throws -> Response {
        let raw = try await body(request)
        let bytes: [UInt8]
        if request.headers[.contentType]?.hasPrefix("application/json") == true {
            struct Body: Decodable { let transaction: String }
            let decoded: Body
            do { decoded = try JSONDecoder().decode(Body.self, from: Data(raw)) }
            catch { throw APIError.badRequest("json.invalid", "expected {\"transaction\": \"<hex of the signed transaction>\"}") }
            guard let b = Hex.decode(decoded.transaction) else { throw APIError.badRequest("json.invalid", "transaction is not hex") }
            bytes = b
        } else {
            bytes = raw
        }
        let stx = try SignedTransaction.decodeSubmitted(bytes)
        do {
            let h = try chain.admitSubmitted(stx, bytes: bytes)   // admitted and gossiped
            metrics.admitted.increment()
            metrics.mempoolSize.set(Double(mempool.count))
            // The hot path of the API: the two-field answer is written directly (the same bytes
            // JSONEncoder with sorted keys gives; a test compares them) rather than through
            // JSONEncoder, which cost more than the mempool's own work per request.
            return Response(status: .accepted, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: Self.submittedJSON(hash: h))))
        } catch {
            metrics.refused.increment()
            throw error
        }
    }

    /// A transaction's status and receipt, to its signer (and to hospital operators, who hold every block).
    func transaction(_ text: String, _ caller: Caller) throws -> Response {
        let h = try hash(text, "hash")
        struct T: Encodable { let hash: String; let status: String; let height: UInt64?; let receipt: JSONView.Receipt? }
        let networkReader = caller.operatorOrganization != nil
        if let loc = try query.store.location(ofTransaction: h), let block = try query.store.block(at: loc.height),
           let receipts = try query.store.receipts(at: loc.height), Int(loc.index) < receipts.count, Int(loc.index) < block.transactions.count {
            guard networkReader || block.transactions[Int(loc.index)].transaction.signer == caller.key else { throw Self.forbidden("not a transaction of yours") }
            return try json(T(hash: h.hex, status: "committed", height: loc.height, receipt: JSONView.Receipt(receipts[Int(loc.index)])))
        }
        if let loc = try query.store.location(ofTransaction: h), loc.height < (try query.store.bodiesKeptFrom()) {
            // Its block's body was pruned: who signed it is not known any more, so only operators
            // (who hold every block) learn that it was committed, and where.
            guard networkReader else { throw Self.forbidden("the block of this transaction was pruned; an operator reads where it was committed") }
            return try json(T(hash: h.hex, status: "committed", height: loc.height, receipt: nil))
        }
        if let signer = mempool.signer(of: h) {
            guard networkReader || signer == caller.key else { throw Self.forbidden("not a transaction of yours") }
            return try json(T(hash: h.hex, status: "pending", height: nil, receipt: nil))
        }
        throw APIError.notFound("transaction \(h.hex)")
    }

    func block(_ id: String) throws -> Response {
        let height: UInt64
        if let n = UInt64(id), id.count < 20 { height = n }
        else if id.count == 64, let h = Bytes32(hex: id) {
            guard let found = try query.store.height(ofBlock: h) else { throw APIError.notFound("block \(id)") }
            height = found
        } else { throw APIError.badRequest("block.invalid_id", "expected a height or a 64-hex-digit block hash") }
        if height == 0, let g = try query.store.genesisHeader() {
            return try json(JSONView.Block(Block(header: g, transactions: [], lastCommit: nil), commit: nil, receipts: []))
        }
        guard let b = try query.store.block(at: height) else {
            let keptFrom = try query.store.bodiesKeptFrom()
            if height < keptFrom, height <= (try query.store.headHeight()) {
                throw APIError(.gone, "block.pruned", "block bodies below height \(keptFrom) are pruned (their headers and commits are served to light clients: /v1/light/headers)")
            }
            throw APIError.notFound("block \(id)")
        }
        return try json(JSONView.Block(b, commit: try query.store.commit(at: height), receipts: try query.store.receipts(at: height)))
    }

    /// An account: to its owner and to hospital operators; a member's account (staff of an
    /// organisation, a registry entry) to any signed caller.
    func account(_ text: String, _ caller: Caller) throws -> Response {
        let key = try address(text, "address")
        let isMember = try Identity.member(key, in: query.reader) != nil
        guard key == caller.key || isMember || caller.operatorOrganization != nil else {
            throw Self.forbidden("another key's account")
        }
        struct A: Encodable {
            let address: String, publicKey: String, nonce: UInt64, kind: String
            let organization: String?, roles: [String]?, registeredAt: String?, enrolledBy: String?, pairedTo: String?
        }
        let r = query.reader
        let nonce = try Accounts.nonce(of: key, in: r)
        if let m = try Identity.member(key, in: r) {
            return try json(A(address: Address(key).description, publicKey: key.hex, nonce: nonce, kind: "member", organization: m.organization.value,
                              roles: m.roles.map(\.name), registeredAt: nil, enrolledBy: nil, pairedTo: nil))
        }
        if let p = try Identity.patient(key, in: r) {
            return try json(A(address: Address(key).description, publicKey: key.hex, nonce: nonce, kind: "patient", organization: nil, roles: nil,
                              registeredAt: p.registeredAt.iso8601, enrolledBy: p.enrolledBy.value, pairedTo: nil))
        }
        if let d = try Identity.device(key, in: r) {
            return try json(A(address: Address(key).description, publicKey: key.hex, nonce: nonce, kind: "device", organization: nil, roles: nil,
                              registeredAt: d.pairedAt.iso8601, enrolledBy: nil, pairedTo: Address(d.patient).description))
        }
        throw APIError.notFound("account \(Address(key))")
    }

    func consents(_ text: String, _ caller: Caller) throws -> Response {
        let key = try address(text, "address")
        guard key == caller.key else { throw Self.forbidden("only the patient reads their consents") }
        return try json(try query.consents(of: key).map(JSONView.Consent.init))
    }

    func consentFHIR(_ patientText: String, _ idText: String, _ caller: Caller) throws -> Response {
        let key = try address(patientText, "address")
        guard key == caller.key else { throw Self.forbidden("only the patient reads their consents") }
        guard let c = try Consent.consent(try hash(idText, "id"), patient: key, in: query.reader) else { throw APIError.notFound("consent \(idText)") }
        return Response(status: .ok, headers: [.contentType: "application/fhir+json"], body: .init(byteBuffer: ByteBuffer(bytes: try FHIRExport.consent(c))))
    }

    /// A patient's records: all of them to the patient; to a clinician, those whose category the
    /// chain allows the clinician's organisation for the purpose now (the others are left out,
    /// without a count).
    func records(_ text: String, purpose: PurposeOfUse, evidence: [UInt8] = [], _ caller: Caller) async throws -> Response {
        let key = try address(text, "address")
        struct R: Encodable { let commitment: String; let category: String; let custodian: String; let registeredAt: String; let erased: Bool }
        let entries = try query.records(of: key)
        struct Scope: Hashable { let category: DataCategory; let custodian: OrganizationID }
        var allowed: [Scope: Bool] = [:]
        var out: [R] = []
        for r in entries {
            let scope = Scope(category: r.category, custodian: r.custodian)
            if allowed[scope] == nil {
                do { try await permitPatientData(caller, patient: key, category: r.category, purpose: purpose, custodian: r.custodian, evidence: evidence); allowed[scope] = true }
                catch let e as APIError where e.status == .forbidden { allowed[scope] = false }
            }
            guard allowed[scope] == true else { continue }
            out.append(R(commitment: r.commitment.hex, category: r.category.name, custodian: r.custodian.value, registeredAt: r.registeredAt.iso8601, erased: r.erased))
        }
        if out.isEmpty && key != caller.key && !allowed.isEmpty { throw Self.forbidden("the chain allows \(Address(caller.key)) none of this patient's records for \(purpose.code) now") }
        return try json(out)
    }

    struct AuthorizeBody: Decodable {
        let requester: String, patient: String, category: String, purpose: String, custodian: String
        let breakGlass: Bool?, destination: String?, time: String?, evidence: String?
    }

    /// A dry run of `authorize`: a requester asks about themself, a patient about their own data.
    func authorize(_ request: Request, _ caller: Caller) async throws -> Response {
        let raw = try await body(request)
        let b: AuthorizeBody
        do { b = try JSONDecoder().decode(AuthorizeBody.self, from: Data(raw)) }
        catch { throw APIError.badRequest("json.invalid", "expected {requester, patient, category, purpose, custodian, breakGlass?, destination?, time?, evidence?}: \(error)") }
        guard let category = DataCategory(name: b.category) else { throw APIError.badRequest("category.invalid", "unknown data category '\(b.category)'") }
        guard let purpose = PurposeOfUse(code: b.purpose) else { throw APIError.badRequest("purpose.invalid", "unknown purpose '\(b.purpose)'") }
        guard let custodian = OrganizationID(b.custodian) else { throw APIError.badRequest("organization.invalid", "'\(b.custodian)' is not an organisation id") }
        var destination: CountryCode?
        if let d = b.destination {
            guard let c = CountryCode(d) else { throw APIError.badRequest("country.invalid", "'\(d)' is not an ISO 3166-1 alpha-2 code") }
            destination = c
        }
        var evidence: [UInt8] = []
        if let hex = b.evidence { evidence = try self.evidence(hex) }
        let requester = try address(b.requester, "requester")
        let patientKey = try address(b.patient, "patient")
        guard requester == caller.key || patientKey == caller.key else {
            throw Self.forbidden("ask about your own requests, or about your own data")
        }
        if let destination {
            // The data goes where the requester's organisation is, as execution decides it: a dry
            // run may not be asked about another country (it would answer for a transfer that no
            // transaction can make).
            let member = try Identity.member(requester, in: query.reader)
            let home = try member.flatMap { m throws(RuntimeError) in try Identity.organization(m.organization, in: query.reader) }?.country
            guard home == destination else {
                throw APIError.badRequest("destination.not_requester_country",
                                          "the destination is the requester's organisation's country (\(home.map { "\($0)" } ?? "unknown")), not \(destination)")
            }
        }
        let tip = await chain.tip
        let time = try timestamp(b.time, "time") ?? tip.time
        // A policy contract sees the next block's height, as it would if the request were submitted now.
        let decision = try Authorization.authorize(
            AccessRequest(requester: requester, patient: patientKey, category: category,
                          purpose: purpose, custodian: custodian, breakGlass: b.breakGlass ?? false, evidence: evidence),
            at: time, height: tip.height + 1, destination: destination, in: query.reader)
        return try json(JSONView.Decision(decision))
    }

    /// Query parameters (the first of repeated names), bounded in number.
    func queryDictionary(_ request: Request) throws -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in request.uri.queryParameters {
            guard out.count < 32 else { throw APIError.badRequest("parameter.too_many", "at most 32 query parameters") }
            if out[String(k)] == nil { out[String(k)] = String(v) }
        }
        return out
    }

    /// The audit trail by patient or by organisation, narrowed to what the caller may read: a
    /// patient their own entries, an operator its organisation's, a regulator its jurisdiction's.
    /// Entries the caller may not read are left out of the page without a count.
    func audit(_ params: [String: String], _ caller: Caller) throws -> Response {
        let patient = try params["patient"].map { try address($0, "patient") }
        let org = try params["organization"].map { s throws -> OrganizationID in
            guard let o = OrganizationID(s) else { throw APIError.badRequest("organization.invalid", "'\(s)' is not an organisation id") }
            return o
        }
        let from = try timestamp(params["from"], "from")
        let until = try timestamp(params["until"], "until")
        let limit = try integer(params["limit"], "limit", default: 100, range: 1...1000)
        // Paging by an opaque cursor bound to this caller and this query (no raw positions).
        let binding = AuditCursors.binding(caller: caller.key, query: params)
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        if params["start"] != nil { throw APIError.badRequest("parameter.invalid", "start: page with cursor (the next of the previous page)") }
        var start: UInt64 = 0
        if let token = params["cursor"] {
            guard let position = auditCursors.open(token, binding: binding, now: now) else {
                throw APIError.badRequest("audit.bad_cursor", "the cursor is not one this node gave for this query and caller, or it expired: search again")
            }
            start = position
        }
        let page: Audit.Page
        if let patient {
            if caller.isPatient && patient != caller.key { throw Self.forbidden("a patient reads their own trail") }
            page = try Audit.byPatient(patient, from: from, until: until, start: start, limit: limit, in: query.reader)
        } else if let org {
            if let own = caller.operatorOrganization, caller.regulator == nil, own != org { throw Self.forbidden("an operator reads its own organisation's entries") }
            if caller.isPatient && caller.operatorOrganization == nil && caller.regulator == nil { throw Self.forbidden("a patient reads their own trail (patient=)") }
            page = try Audit.byOrganization(org, from: from, until: until, start: start, limit: limit, in: query.reader)
        } else {
            throw APIError.badRequest("audit.missing_filter", "give patient or organization")
        }
        let visible = page.entries.filter { e in (org == nil || e.organization == org) && mayRead(e, as: caller) }
        try recordAuditDisclosure(to: caller, of: visible)
        return try json(AuditPage(entries: visible.map(JSONView.AuditEntry.init), next: page.next.flatMap { auditCursors.seal(position: $0, binding: binding, now: now) }))
    }

    struct AuditPage: Encodable { let entries: [JSONView.AuditEntry]; let next: String? }

    func auditFHIR(_ patientText: String, _ sequenceText: String, _ caller: Caller) throws -> Response {
        let key = try address(patientText, "patient")
        guard let n = UInt64(sequenceText) else { throw APIError.badRequest("parameter.invalid", "sequence: expected an integer") }
        guard let e = try Audit.entry(key, n, in: query.reader) else {
            if key == caller.key { throw APIError.notFound("audit entry \(n)") }
            throw Self.forbidden("not an entry you may read")   // whether it exists is not said
        }
        guard mayRead(e, as: caller) else { throw Self.forbidden("not an entry you may read") }
        try recordAuditDisclosure(to: caller, of: [e])
        return Response(status: .ok, headers: [.contentType: "application/fhir+json"], body: .init(byteBuffer: ByteBuffer(bytes: try FHIRExport.auditEvent(e))))
    }

    /// Per-organisation figures: an operator its own organisation's, a regulator those of its country's organisations.
    func organizationReport(_ caller: Caller) throws -> Response {
        struct Row: Encodable { let organization: String; let entries: UInt64; let breakGlass: UInt64; let denied: UInt64 }
        let r = query.reader
        return try json(try query.organizations().compactMap { o throws -> Row? in
            guard mayReadFigures(of: o, as: caller) else { return nil }
            return Row(organization: o.id.value, entries: try Audit.entryCount(o.id, in: r), breakGlass: try Audit.breakGlassCount(o.id, in: r), denied: try Audit.deniedCount(o.id, in: r))
        })
    }

    /// A record's entry and whom it was shared with: to its patient, or to a clinician whose
    /// organisation the chain allows the record's category for the purpose now.
    func record(_ text: String, purpose: PurposeOfUse, evidence: [UInt8] = [], _ caller: Caller) async throws -> Response {
        let c = try hash(text, "commitment")
        guard let rec = try Sharing.record(c, in: query.reader) else {
            if caller.isPatient { throw APIError.notFound("record \(text)") }
            throw Self.forbidden("not a record you may read")   // whether it exists is not said
        }
        try await permitPatientData(caller, patient: rec.patient, category: rec.category, purpose: purpose, custodian: rec.custodian, evidence: evidence)
        struct S: Encodable { let organization: String; let recipient: String; let purpose: String; let sharedAt: String; let decision: JSONView.Decision; let auditSequence: UInt64 }
        struct R: Encodable { let commitment: String; let patient: String; let category: String; let custodian: String; let registeredAt: String; let erased: Bool; let shares: [S] }
        let shares = try query.shares(of: c).map { s in
            S(organization: s.recipientOrganization.value, recipient: Address(s.recipient).description, purpose: s.purpose.code,
                     sharedAt: s.sharedAt.iso8601, decision: JSONView.Decision(s.decision), auditSequence: s.auditSequence)
        }
        return try json(R(commitment: c.hex, patient: Address(rec.patient).description, category: rec.category.name, custodian: rec.custodian.value,
                          registeredAt: rec.registeredAt.iso8601, erased: rec.erased, shares: shares))
    }

    /// A deployed policy contract: its size, uploader, block, host imports and whether it takes updates.
    func contract(_ text: String) throws -> Response {
        let h = try hash(text, "hash")
        guard let c = try Contracts.contract(h, in: query.reader) else { throw APIError.notFound("contract \(text)") }
        struct C: Encodable { let hash: String; let bytes: Int; let deployer: String; let height: UInt64; let imports: [String]; let update: Bool; let memoryPages: UInt32 }
        let summary = try ContractCheck.check(c.code, limits: ContractCheck.Limits(maxBytes: c.code.count, maxMemoryPages: .max))
        return try json(C(hash: h.hex, bytes: c.code.count, deployer: Address(c.deployer).description, height: c.height,
                          imports: summary.imports, update: summary.hasUpdate, memoryPages: summary.maxMemoryPages))
    }

    /// Equivocation evidence on chain: which validator double-signed which step, who reported it.
    func evidence() throws -> Response {
        struct V: Encodable { let kind: String; let value: String?; let signature: String }
        struct S: Encodable { let fromHeight: UInt64; let inEffect: Bool }
        struct E: Encodable { let validator: String; let height: UInt64; let round: UInt32; let votes: [V]; let reportedBy: String; let recordedAt: UInt64
                              let suspension: S? }
        return try json(try query.evidence().map { r in
            let votes = [r.evidence.first, r.evidence.second].map { V(kind: $0.kind == 1 ? "prevote" : "precommit", value: $0.value?.hex, signature: $0.signature.hex) }
            return E(validator: Address(r.evidence.first.validator).description, height: r.evidence.first.height, round: r.evidence.first.round,
                     votes: votes, reportedBy: Address(r.reportedBy).description, recordedAt: r.recordedAt,
                     suspension: try Suspensions.suspension(of: r.evidence.first.validator, in: query.reader).map { S(fromHeight: $0.effectiveHeight, inEffect: $0.inEffect) })
        })
    }

    /// Canonical headers with the certificates that finalised them, for light clients (which verify
    /// everything themselves: the node is not trusted).
    func lightHeaders(_ params: [String: String]) throws -> Response {
        let from = try integer(params["from"], "from", default: 1, range: 0...Int.max)
        let limit = try integer(params["limit"], "limit", default: 100, range: 1...1000)
        let head = try query.store.headHeight()
        var out: [LightHeadersPage.Item] = []
        var h = UInt64(from)
        var parent = h >= 1 && h <= head ? try query.store.header(at: h - 1) : nil
        while out.count < limit && h <= head {
            if h == 0 {
                if let g = try query.store.genesisHeader() { out.append(.init(height: 0, header: Hex.encode(g.canonicalBytes), commit: nil, validatorSet: nil)) }
                parent = try query.store.genesisHeader()
            } else if let header = try query.store.header(at: h), let parentHeader = parent {
                defer { parent = header }
                // A header signed by a set its parent did not name carries that set's entry with its
                // proof at the parent's height: the validator set is network data (hospitals' node
                // keys), and with it a light client follows the chain over open routes alone. (Kept
                // aside when that height's state is pruned.)
                var set: LightHeadersPage.SetEntry?
                if header.validatorsHash != parentHeader.validatorsHash {
                    if let kept = try query.store.lightSet(at: h) {
                        set = .init(height: h - 1, value: Hex.encode(kept.value), proof: Hex.encode(kept.proof))
                    } else {
                        let entry = try query.proof(Validators.setKey.bytes, at: h - 1)
                        if let value = entry.value {
                            set = .init(height: h - 1, value: Hex.encode(value), proof: Hex.encode(entry.proof.canonicalBytes))
                        }
                    }
                }
                out.append(.init(height: h, header: Hex.encode(header.canonicalBytes), commit: try query.store.commit(at: h).map { Hex.encode($0.canonicalBytes) },
                                 validatorSet: set))
            }
            h += 1
        }
        return try json(LightHeadersPage(head: head, headers: out))
    }

    func stateEntry(_ keyText: String, height: String?, _ caller: Caller) throws -> Response {
        guard let key = Hex.decode(keyText), !key.isEmpty, key.count <= 512 else { throw APIError.badRequest("key.invalid", "expected the raw state key in hex (1-512 bytes)") }
        try permitStateKey(key, caller)
        let h: UInt64? = try height.map { s in
            guard let v = UInt64(s) else { throw APIError.badRequest("parameter.invalid", "height: expected an integer") }
            return v
        }
        if let h, h < (try query.store.stateKeptFrom()) {
            throw APIError(.gone, "state.pruned", "state versions below \(try query.store.stateKeptFrom()) are pruned (node.json pruning.keepRecentHeights)")
        }
        let result: (value: [UInt8]?, proof: StateProof, root: Bytes32, height: UInt64)
        do { result = try query.proof(key, at: h) } catch let e as NodeError { throw APIError.notFound(e.message) }
        struct E: Encodable { let key: String; let value: String?; let proof: String; let stateRoot: String; let height: UInt64; let blockHash: String? }
        let header = try query.store.header(at: result.height)
        return try json(E(key: keyText.lowercased(), value: result.value.map(Hex.encode), proof: Hex.encode(result.proof.canonicalBytes),
                          stateRoot: result.root.hex, height: result.height, blockHash: header?.hash.hex))
    }
}

/// JSON with sorted keys, so responses are stable.
func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// Records each request's latency in the API histogram.
struct LatencyMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: NodeMetrics
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { metrics.apiSeconds.record(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        return try await next(request, context)
    }
}
