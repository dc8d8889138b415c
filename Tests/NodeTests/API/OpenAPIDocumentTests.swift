import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import NIOCore
import Yams
import MeridianCore
import MeridianModules
import MeridianRuntime
@testable import MeridianNode
import MeridianRecords
import MeridianRecordMessages
import MeridianSummary
import MeridianDemo
import MeridianVitals
import MeridianIngest

/// The node's routes against its OpenAPI document (`Node/Service/openapi.yaml`): the same set of
/// operations, and every operation's answers (good and bad input) have a documented status,
/// content type and, for JSON, the documented shape.
@Suite(.timeLimit(.minutes(5))) struct OpenAPIDocumentTests {
    static func document() throws -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Node/Service/openapi.yaml")
        guard let doc = try Yams.load(yaml: String(contentsOf: url, encoding: .utf8)) as? [String: Any] else { throw TestFailure("openapi.yaml is not a mapping") }
        return doc
    }

    static func operations(_ doc: [String: Any]) -> Set<String> {
        let paths = doc["paths"] as? [String: Any] ?? [:]
        var out: Set<String> = []
        for (path, item) in paths { for method in (item as? [String: Any] ?? [:]).keys { out.insert("\(method.uppercased()) \(path)") } }
        return out
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationExists() throws {
        let node = try TestNode()
        let served = Set(node.api.routes().map { "\($0.method.rawValue) \($0.openAPIPath)" })
        let documented = Self.operations(try Self.document())
        #expect(served.subtracting(documented).isEmpty, "routes missing from openapi.yaml: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented operations the node does not serve: \(documented.subtracting(served).sorted())")
    }

    /// The access table: each route's rule is the one its operation documents (`x-meridian-access`),
    /// signed operations name the signature scheme and document 401 and 403, and the open set is the
    /// small one THREATS.md allows anyone.
    @Test func everyRouteHasTheAccessRuleItsOperationDocuments() throws {
        let node = try TestNode()
        let doc = try Self.document()
        let paths = doc["paths"] as? [String: Any] ?? [:]
        for r in node.api.routes() {
            let op = (paths[r.openAPIPath] as? [String: Any])?[r.method.rawValue.lowercased()] as? [String: Any] ?? [:]
            let label = "\(r.method.rawValue) \(r.openAPIPath)"
            #expect(op["x-meridian-access"] as? String == r.access.name, "\(label): the document says \(op["x-meridian-access"] ?? "nothing"), the route \(r.access.name)")
            let responses = op["responses"] as? [String: Any] ?? [:]
            if case .signed = r.access {
                #expect(responses["401"] != nil && responses["403"] != nil, "\(label): 401 and 403 undocumented")
                #expect(String(describing: op["security"] ?? "").contains("meridianSignature"), "\(label): no security scheme")
            }
        }
        let open = Set(node.api.routes().filter { if case .open = $0.access { true } else { false } }.map { "\($0.method.rawValue) \($0.openAPIPath)" })
        // The audit log's tree is open too: its leaves are entry hashes, commitments that name no one
        // (THREATS.md: what a light client and a witness need); so is the registry of the authorities'
        // witnesses (institutions' keys, which anyone writing a witness policy needs).
        #expect(open == ["GET /health", "GET /readyz", "GET /openapi.yaml", "GET /v1/status", "GET /v1/validators", "GET /v1/light/headers", "GET /v1/witnesses",
                         "GET /v1/audit-log", "GET /v1/audit-log/checkpoint", "GET /v1/audit-log/proof/inclusion", "GET /v1/audit-log/proof/consistency", "GET /v1/audit-log/tile/{path}"])
    }

    @Test func theNodeServesTheDocumentItChecksAgainst() async throws {
        let node = try TestNode()
        let app = Application(router: node.api.router())
        try await app.test(.router) { client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                let loaded = try Yams.load(yaml: String(buffer: response.body))
                #expect(loaded as? [String: Any] != nil)
            }
        }
    }

    /// One request per documented operation with real values of the demo story, and one with bad
    /// input for every operation that takes any; each answer must match the document.
    @Test func everyAnswerMatchesTheDocument() async throws {
        let doc = try Self.document()
        let checker = SchemaChecker(document: doc)
        var config = NodeConfig()
        config.workers.feeds = ["ward-monitor": SHA256.hash(Array("feed-secret".utf8)).hex]
        config.workers.model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/Model/cvd/cvd-logistic.onnx").path
        let node = try TestNode(config: config)
        let (maria, record, consent) = try await node.seedMaria()
        let snapshotHeight = try node.chain.store.headHeight()
        // A pulse oximeter Maria pairs, one signed frame from it, and a FHIR Observation from the ward's feed.
        let oximeter = try PrivateKey(secret: SHA256.hash(Array("openapi-oximeter".utf8)))
        try await node.submit(maria, .pairDevice(.init(device: oximeter.publicKey, kind: .pulseOximeter)))
        let frameTime = Timestamp(unixMilliseconds: 1_795_515_290_000)
        func frame(_ sequence: UInt64) throws -> [UInt8] {
            try DeviceFrame.encode(kind: .readings, device: oximeter, sequence: sequence, time: frameTime.adding(milliseconds: sequence * 1000),
                                   entries: [.reading(offsetMilliseconds: 0, mdc: 150456, unit: "%", value: MeridianVitals.Measurement(whole: 95))])
        }
        let upload = try [frame(3), frame(2)].flatMap { [UInt8($0.count >> 8), UInt8($0.count & 0xff)] + $0 }
        let observation = """
            {"resourceType":"Observation","id":"rr-1","status":"final",            "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],            "code":{"coding":[{"system":"http://loinc.org","code":"9279-1"}]},"subject":{"reference":"Patient/\(maria.publicKey.hex)"},            "effectiveDateTime":"2026-11-24T10:15:00Z","valueQuantity":{"value":18,"system":"http://unitsofmeasure.org","code":"/min"}}
            """
        let ecg = ReadingBatch(patient: maria.publicKey, source: .feed("ignored", messageID: "rec100#0"),
                               readings: (0..<4).map { VitalReading(sign: .ecgSample, value: MeridianVitals.Measurement(micro: Int64($0) * 5_000), time: frameTime.adding(milliseconds: UInt64($0) * 3)) })
        let bulk = [UInt8]([0, 0, 0, UInt8(ecg.canonicalBytes.count)]) + ecg.canonicalBytes
        _ = try await node.workers.ingestor.ingest(frames: [try frame(1)])
        node.workers.risk.assess(try #require(await node.workers.ingestor.inbox.next()))
        let firstTx = try #require(try node.chain.store.block(at: 1)?.transactions.first?.hash)
        let mariaAddress = Address(maria.publicKey).description
        let stateKey = Hex.encode(Array("chain/id".utf8))
        // Record bodies: Maria's summary held here (Hospital Ribeira), her consent to Ribeira for it, an
        // allowed access by Ribeira's clinician; a record of Klinikum Spree's that Maria erased.
        let ribeiraClinician = DemoCast.staff("hospital-ribeira", "clinician")
        let summary = PatientSummary(patientKeyHex: maria.publicKey.hex, custodian: "Hospital Ribeira, Lisbon", language: "pt", date: "2026-11-24T10:00:00Z",
                                     problems: [.init(icd10: "I10")], medications: [.init(text: "Ramipril 5 mg")], allergies: [], vitals: [])
        let ips = try IPSWriter.json(IPSWriter.bundle(summary, terminology: TerminologyIndex(Terminology(system: "http://hl7.org/fhir/sid/icd-10", languages: [], entries: [])),
                                                      catalogue: .shipped))
        let held = try node.records.upload(ips, by: ribeiraClinician.publicKey)
        try await node.submit(ribeiraClinician, .registerRecord(.init(commitment: held.commitment, patient: maria.publicKey, category: .summary)))
        try await node.submit(maria, .grantConsent(ConsentTerms(grantees: [OrganizationID("hospital-ribeira")!], categories: [.summary], purposes: [.treat],
                                                                countries: [CountryCode("PT")!], explicitTransferCountries: [], validFrom: Timestamp(iso8601: "2026-01-01")!,
                                                                validUntil: Timestamp(iso8601: "2027-06-30")!, emergencyAccess: false)))
        let access = try await node.submitNow(ribeiraClinician, .requestAccess(.init(record: held.commitment, purpose: .treat, breakGlass: false)))
        #expect(access.decision?.allowed == true)
        let wall = Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
        let summaryRequest = try SummaryRequest(chainID: DemoCast.chainID, record: held.commitment, access: access.transaction, requester: ribeiraClinician,
                                                purpose: .treat, breakGlass: false, language: "ja", time: wall)
        let unbacked = try SummaryRequest(chainID: DemoCast.chainID, record: held.commitment, access: firstTx, requester: ribeiraClinician,
                                          purpose: .treat, breakGlass: false, language: "ja", time: wall)
        let contractCode = [UInt8](try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Contracts/build/TravelWindow.wasm")))
        let contractHash = try #require(try await node.submit(maria, .deployContract(contractCode)).createdID)
        let spreeRecord = SHA256.hash(Array("spree record".utf8))
        try await node.submit(DemoCast.staff("klinikum-spree", "clinician"), .registerRecord(.init(commitment: spreeRecord, patient: maria.publicKey, category: .medications)))
        try await node.submit(maria, .eraseRecord(spreeRecord))
        let notice = try ErasureNotice(chainID: DemoCast.chainID, record: spreeRecord, custodianNode: DemoCast.staff("klinikum-spree", "worker"), time: wall)
        let forged = try ErasureNotice(chainID: DemoCast.chainID, record: spreeRecord, custodianNode: DemoCast.staff("chao-phraya", "worker"), time: wall)
        let newBody = Array("{\"resourceType\":\"Bundle\"}".utf8)
        func signed(_ key: PrivateKey, _ body: [UInt8]) throws -> [String: String] {
            try TestNode.signed(key, "POST", "/v1/records", body: body)
        }
        let ribeiraOperator = DemoCast.staff("hospital-ribeira", "admin"), sakuraOperator = DemoCast.staff("sakura-general", "admin")
        let sakuraClinician = DemoCast.staff("sakura-general", "clinician")
        let newRecord = try node.tx(DemoCast.staff("hospital-ribeira", "clinician"),
                                    .registerRecord(.init(commitment: SHA256.hash([9]), patient: maria.publicKey, category: .allergies)))
        let batchRecord = try node.tx(DemoCast.staff("hospital-ribeira", "clinician"),
                                      .registerRecord(.init(commitment: SHA256.hash([10]), patient: maria.publicKey, category: .allergies)))
        let batchJSON = Array("{\"transactions\":[\"\(Hex.encode(batchRecord.canonicalBytes))\",\"zz\"]}".utf8)
        let authorizeBody = """
            {"requester":"\(Address(DemoCast.staff("sakura-general", "clinician").publicKey))","patient":"\(mariaAddress)",\
            "category":"problems","purpose":"TREAT","custodian":"hospital-ribeira"}
            """

        struct Case { let method: HTTPRequest.Method; let template: String; let uri: String; let body: [UInt8]?; let contentType: String?; let token: String?; let expectSuccess: Bool
            var headers: [String: String] = [:] }
        func good(_ m: HTTPRequest.Method, _ t: String, _ uri: String, body: [UInt8]? = nil, type: String? = nil, token: String? = nil, headers: [String: String] = [:]) -> Case {
            Case(method: m, template: t, uri: uri, body: body, contentType: type, token: token, expectSuccess: true, headers: headers)
        }
        func bad(_ m: HTTPRequest.Method, _ t: String, _ uri: String, body: [UInt8]? = nil, type: String? = nil, token: String? = nil, headers: [String: String] = [:]) -> Case {
            Case(method: m, template: t, uri: uri, body: body, contentType: type, token: token, expectSuccess: false, headers: headers)
        }
        let recordType = RecordMessages.contentType
        let cases: [Case] = [
            good(.get, "/health", "/health"), good(.get, "/readyz", "/readyz"), good(.get, "/openapi.yaml", "/openapi.yaml"),
            good(.get, "/metrics", "/metrics", headers: try TestNode.signed(ribeiraOperator, "GET", "/metrics")),
            bad(.get, "/metrics", "/metrics", token: "not-a-scrape-token"),
            good(.get, "/v1/node/log-level", "/v1/node/log-level"),
            good(.post, "/v1/node/backups", "/v1/node/backups"),
            bad(.post, "/v1/node/backups", "/v1/node/backups", headers: try TestNode.signed(maria, "POST", "/v1/node/backups")),
            good(.put, "/v1/node/log-level", "/v1/node/log-level", body: Array("{\"level\":\"notice\"}".utf8), type: "application/json"),
            bad(.put, "/v1/node/log-level", "/v1/node/log-level", body: Array("{\"level\":\"loud\"}".utf8), type: "application/json"),
            good(.get, "/v1/status", "/v1/status"), good(.get, "/v1/validators", "/v1/validators"), good(.get, "/v1/witnesses", "/v1/witnesses"),
            good(.get, "/v1/organizations", "/v1/organizations"),
            good(.post, "/v1/transactions", "/v1/transactions", body: newRecord.canonicalBytes, type: "application/octet-stream"),
            bad(.post, "/v1/transactions", "/v1/transactions", body: [0xde, 0xad, 0xbe, 0xef], type: "application/octet-stream"),
            bad(.post, "/v1/transactions", "/v1/transactions", body: Array("{not json".utf8), type: "application/json"),
            bad(.post, "/v1/transactions", "/v1/transactions", body: [UInt8](repeating: 1, count: (1 << 20) + 1), type: "application/octet-stream"),
            good(.post, "/v1/transactions/batch", "/v1/transactions/batch", body: batchJSON, type: "application/json"),
            bad(.post, "/v1/transactions/batch", "/v1/transactions/batch", body: Array("{\"transactions\":[]}".utf8), type: "application/json"),
            bad(.post, "/v1/transactions/batch", "/v1/transactions/batch", body: [0, 0, 0, 9, 1], type: NodeAPI.batchContentType),
            bad(.post, "/v1/transactions/batch", "/v1/transactions/batch", body: [1], type: "text/plain"),
            good(.get, "/v1/transactions/{hash}", "/v1/transactions/\(firstTx.hex)"),
            bad(.get, "/v1/transactions/{hash}", "/v1/transactions/xyz"),
            bad(.get, "/v1/transactions/{hash}", "/v1/transactions/\(String(repeating: "0", count: 64))"),
            good(.get, "/v1/blocks/latest", "/v1/blocks/latest"),
            good(.get, "/v1/blocks/{id}", "/v1/blocks/1"), good(.get, "/v1/blocks/{id}", "/v1/blocks/0"),
            bad(.get, "/v1/blocks/{id}", "/v1/blocks/-1"), bad(.get, "/v1/blocks/{id}", "/v1/blocks/999999"),
            good(.get, "/v1/accounts/{address}", "/v1/accounts/\(mariaAddress)"),
            bad(.get, "/v1/accounts/{address}", "/v1/accounts/mer1notanaddress"),
            good(.get, "/v1/patients/{address}/consents", "/v1/patients/\(mariaAddress)/consents"),
            bad(.get, "/v1/patients/{address}/consents", "/v1/patients/zz/consents"),
            good(.get, "/v1/patients/{address}/consents/{id}/fhir", "/v1/patients/\(mariaAddress)/consents/\(consent.hex)/fhir"),
            bad(.get, "/v1/patients/{address}/consents/{id}/fhir", "/v1/patients/\(mariaAddress)/consents/\(record.hex)/fhir"),
            good(.get, "/v1/patients/{address}/records", "/v1/patients/\(mariaAddress)/records"),
            bad(.get, "/v1/patients/{address}/records", "/v1/patients/%00/records"),
            good(.post, "/v1/authorize", "/v1/authorize", body: Array(authorizeBody.utf8), type: "application/json"),
            bad(.post, "/v1/authorize", "/v1/authorize", body: Array("{\"requester\": 1}".utf8), type: "application/json"),
            good(.get, "/v1/audit", "/v1/audit?patient=\(mariaAddress)&limit=2"),
            good(.get, "/v1/audit", "/v1/audit?organization=sakura-general&from=2026-01-01"),
            bad(.get, "/v1/audit", "/v1/audit"), bad(.get, "/v1/audit", "/v1/audit?patient=\(mariaAddress)&limit=100000"),
            good(.get, "/v1/audit/{patient}/{sequence}/fhir", "/v1/audit/\(mariaAddress)/0/fhir"),
            bad(.get, "/v1/audit/{patient}/{sequence}/fhir", "/v1/audit/\(mariaAddress)/x/fhir"),
            bad(.get, "/v1/audit/{patient}/{sequence}/fhir", "/v1/audit/\(mariaAddress)/99/fhir"),
            good(.get, "/v1/reports/organizations", "/v1/reports/organizations"),
            good(.get, "/v1/index/blocks", "/v1/index/blocks?from=1&limit=50"), bad(.get, "/v1/index/blocks", "/v1/index/blocks?from=0"),
            bad(.get, "/v1/index/blocks", "/v1/index/blocks?limit=3"), bad(.get, "/v1/index/blocks", "/v1/index/blocks?from=1&limit=501"),
            good(.get, "/v1/records/{commitment}", "/v1/records/\(record.hex)"),
            good(.get, "/v1/contracts/{hash}", "/v1/contracts/\(contractHash.hex)"),
            bad(.get, "/v1/contracts/{hash}", "/v1/contracts/\(record.hex)"), bad(.get, "/v1/contracts/{hash}", "/v1/contracts/zz"),
            bad(.get, "/v1/records/{commitment}", "/v1/records/\(consent.hex)"),
            bad(.get, "/v1/events", "/v1/events"), bad(.get, "/v1/events", "/v1/events?kind=nonsense"),
            good(.get, "/v1/evidence", "/v1/evidence"),
            good(.get, "/v1/snapshots", "/v1/snapshots"),
            good(.get, "/v1/snapshots/{height}/chunks/{index}", "/v1/snapshots/\(snapshotHeight)/chunks/0"),
            bad(.get, "/v1/snapshots/{height}/chunks/{index}", "/v1/snapshots/\(snapshotHeight)/chunks/70000"),
            bad(.get, "/v1/snapshots/{height}/chunks/{index}", "/v1/snapshots/999999/chunks/0"),
            good(.get, "/v1/snapshots/{height}/auditlog/{part}", "/v1/snapshots/\(snapshotHeight)/auditlog/0"),
            bad(.get, "/v1/snapshots/{height}/auditlog/{part}", "/v1/snapshots/\(snapshotHeight)/auditlog/x"),
            good(.get, "/v1/light/headers", "/v1/light/headers?from=0&limit=3"), bad(.get, "/v1/light/headers", "/v1/light/headers?limit=0"),
            good(.get, "/v1/audit-log", "/v1/audit-log"), good(.get, "/v1/audit-log/checkpoint", "/v1/audit-log/checkpoint"),
            good(.get, "/v1/audit-log/proof/inclusion", "/v1/audit-log/proof/inclusion?index=0"),
            bad(.get, "/v1/audit-log/proof/inclusion", "/v1/audit-log/proof/inclusion?index=99999"),
            good(.get, "/v1/audit-log/proof/consistency", "/v1/audit-log/proof/consistency?old=1"),
            bad(.get, "/v1/audit-log/proof/consistency", "/v1/audit-log/proof/consistency?old=99999"),
            good(.get, "/v1/audit-log/tile/{path}", "/v1/audit-log/tile/0/000.p/1", type: nil),
            good(.get, "/v1/audit-log/tile/{path}", "/v1/audit-log/tile/entries/000.p/1", type: nil),
            bad(.get, "/v1/audit-log/tile/{path}", "/v1/audit-log/tile/0/00"), bad(.get, "/v1/audit-log/tile/{path}", "/v1/audit-log/tile/9/000"),
            good(.get, "/v1/state/{key}", "/v1/state/\(stateKey)"), good(.get, "/v1/state/{key}", "/v1/state/\(stateKey)?height=1"),
            bad(.get, "/v1/state/{key}", "/v1/state/not-hex"), bad(.get, "/v1/state/{key}", "/v1/state/\(stateKey)?height=99999"),
            good(.post, "/v1/vitals/frames", "/v1/vitals/frames", body: try frame(4), type: "application/octet-stream"),
            good(.post, "/v1/vitals/frames", "/v1/vitals/frames", body: upload, type: "application/x-meridian-frames"),
            bad(.post, "/v1/vitals/frames", "/v1/vitals/frames", body: [1, 2, 3], type: "application/octet-stream"),
            bad(.post, "/v1/vitals/frames", "/v1/vitals/frames", body: [0, 9, 1], type: "application/x-meridian-frames"),
            good(.post, "/v1/vitals/fhir", "/v1/vitals/fhir", body: Array(observation.utf8), type: "application/fhir+json", token: "feed-secret"),
            bad(.post, "/v1/vitals/fhir", "/v1/vitals/fhir", body: Array(observation.utf8), type: "application/fhir+json", token: "wrong"),
            bad(.post, "/v1/vitals/fhir", "/v1/vitals/fhir", body: Array("{\"resourceType\":\"Patient\"}".utf8), type: "application/fhir+json", token: "feed-secret"),
            good(.post, "/v1/vitals/batches", "/v1/vitals/batches", body: bulk, type: "application/x-meridian-batches", token: "feed-secret"),
            bad(.post, "/v1/vitals/batches", "/v1/vitals/batches", body: bulk, type: "application/x-meridian-batches", token: "wrong"),
            bad(.post, "/v1/vitals/batches", "/v1/vitals/batches", body: [0, 0, 0, 9, 1, 2], type: "application/x-meridian-batches", token: "feed-secret"),
            good(.get, "/v1/vitals/{patient}", "/v1/vitals/\(mariaAddress)?from=2026-01-01&limit=10"),
            bad(.get, "/v1/vitals/{patient}", "/v1/vitals/\(mariaAddress)?limit=0"),
            good(.get, "/v1/vitals/{patient}/assessment", "/v1/vitals/\(mariaAddress)/assessment"),
            bad(.get, "/v1/vitals/{patient}/assessment", "/v1/vitals/\(Address(oximeter.publicKey))/assessment"),
            good(.get, "/v1/vitals/{patient}/proofs", "/v1/vitals/\(mariaAddress)/proofs"),
            bad(.get, "/v1/vitals/{patient}/proofs", "/v1/vitals/\(mariaAddress)/proofs?limit=5000"),
            good(.get, "/v1/vitals/{patient}/proofs", "/v1/vitals/\(mariaAddress)/proofs?kind=assessments"),
            good(.get, "/v1/vitals/{patient}/proofs", "/v1/vitals/\(mariaAddress)/proofs?kind=alerts"),
            bad(.get, "/v1/vitals/{patient}/proofs", "/v1/vitals/\(mariaAddress)/proofs?kind=translations"),
            good(.get, "/v1/vitals/{patient}/alerts", "/v1/vitals/\(mariaAddress)/alerts"),
            bad(.get, "/v1/vitals/{patient}/alerts", "/v1/vitals/not-an-address/alerts"),
            good(.put, "/v1/vitals/{patient}/risk-profile", "/v1/vitals/\(mariaAddress)/risk-profile", body: Array(#"{"age": 78, "male": 0}"#.utf8), type: "application/json", token: "feed-secret"),
            bad(.put, "/v1/vitals/{patient}/risk-profile", "/v1/vitals/\(mariaAddress)/risk-profile", body: Array(#"{"shoeSize": 38}"#.utf8), type: "application/json", token: "feed-secret"),
            bad(.put, "/v1/vitals/{patient}/risk-profile", "/v1/vitals/\(mariaAddress)/risk-profile", body: Array(#"{"age": 78}"#.utf8), type: "application/json", token: "wrong"),
            bad(.get, "/v1/alerts", "/v1/alerts?organization=sakura-general"),
            good(.get, "/v1/devices/{device}/progress", "/v1/devices/\(Address(oximeter.publicKey))/progress"),
            bad(.get, "/v1/devices/{device}/progress", "/v1/devices/\(mariaAddress)/progress"),
            good(.post, "/v1/records", "/v1/records", body: newBody, type: "application/fhir+json", headers: try signed(ribeiraClinician, newBody)),
            bad(.post, "/v1/records", "/v1/records", body: newBody, type: "application/fhir+json", headers: ["Host": TestNode.host]),
            bad(.post, "/v1/records", "/v1/records", body: newBody, type: "application/fhir+json", headers: try signed(ribeiraClinician, Array("other".utf8))),
            bad(.post, "/v1/records", "/v1/records", body: newBody, type: "application/fhir+json", headers: try signed(DemoCast.staff("sakura-general", "clinician"), newBody)),
            good(.post, "/v1/summaries", "/v1/summaries", body: summaryRequest.canonicalBytes, type: recordType),
            bad(.post, "/v1/summaries", "/v1/summaries", body: unbacked.canonicalBytes, type: recordType),
            bad(.post, "/v1/summaries", "/v1/summaries", body: [7, 7, 7], type: recordType),
            good(.get, "/v1/records/{commitment}/custody", "/v1/records/\(held.commitment.hex)/custody"),
            bad(.get, "/v1/records/{commitment}/custody", "/v1/records/xyz/custody"),
            good(.get, "/v1/records/{commitment}/served", "/v1/records/\(held.commitment.hex)/served"),
            bad(.get, "/v1/records/{commitment}/served", "/v1/records/12/served"),
            bad(.post, "/v1/records/{commitment}/transfer", "/v1/records/\(held.commitment.hex)/transfer", body: [1, 2, 3], type: recordType),
            good(.post, "/v1/records/{commitment}/erasure-notice", "/v1/records/\(spreeRecord.hex)/erasure-notice", body: notice.canonicalBytes, type: recordType),
            bad(.post, "/v1/records/{commitment}/erasure-notice", "/v1/records/\(spreeRecord.hex)/erasure-notice", body: forged.canonicalBytes, type: recordType),
            bad(.post, "/v1/records/{commitment}/erasure-notice", "/v1/records/\(held.commitment.hex)/erasure-notice", body: notice.canonicalBytes, type: recordType),
        ]
        // Every documented operation has at least one good case.
        let covered = Set(cases.filter(\.expectSuccess).map { "\($0.method.rawValue) \($0.template)" })
        // (A good transfer needs a chain that commits the custodian's share while the request waits:
        // RecordTransferTests drives it between real node processes.)
        #expect(Self.operations(doc).subtracting(covered).subtracting(["GET /v1/events", "GET /v1/alerts", "POST /v1/records/{commitment}/transfer"]).isEmpty)

        // Who signs each case of a signed route (a case with headers of its own signs itself): the
        // caller the rule admits for these demo values.
        let routes = node.api.routes()
        @Sendable func signer(_ c: Case) -> PrivateKey? {
            guard c.headers.isEmpty, let r = routes.first(where: { $0.method == c.method && $0.openAPIPath == c.template }), case .signed = r.access else { return nil }
            switch c.template {
            case "/v1/node/log-level", "/v1/node/backups", "/v1/blocks/latest", "/v1/blocks/{id}", "/v1/evidence", "/v1/reports/organizations", "/v1/index/blocks", "/v1/records/{commitment}/custody": return ribeiraOperator
            case "/v1/audit" where c.uri.contains("organization="): return sakuraOperator
            case "/v1/authorize": return sakuraClinician
            case "/v1/summaries": return ribeiraClinician
            case "/v1/records/{commitment}/erasure-notice": return DemoCast.staff("klinikum-spree", "worker")
            case "/v1/records/{commitment}/transfer": return DemoCast.staff("sakura-general", "worker")
            case "/v1/snapshots", "/v1/snapshots/{height}/chunks/{index}", "/v1/snapshots/{height}/auditlog/{part}": return DemoCast.staff("sakura-general", "worker")
            default: return maria
            }
        }
        let app = Application(router: node.api.router())
        try await app.test(.router) { client in
            for c in cases {
                var headers: HTTPFields = [:]
                if let t = c.contentType { headers[.contentType] = t }
                if let t = c.token { headers[.authorization] = "Bearer \(t)" }
                var extra = c.headers
                if let key = signer(c) { extra = try TestNode.signed(key, c.method.rawValue, c.uri, body: c.body ?? []) }
                for (name, value) in extra { headers.append(HTTPFields.Element(name: HTTPFields.Element.Name(name)!, value: value)) }
                try await client.execute(uri: c.uri, method: c.method, headers: headers, body: c.body.map { ByteBuffer(bytes: $0) }) { response in
                    let label = "\(c.method.rawValue) \(c.uri.prefix(120))"
                    let status = Int(response.status.code)
                    #expect(c.expectSuccess ? (200..<300).contains(status) : (400..<500).contains(status), "\(label): HTTP \(status) \(String(buffer: response.body).prefix(200))")
                    let problems = checker.check(method: c.method.rawValue.lowercased(), path: c.template, status: status,
                                                 contentType: response.headers[.contentType] ?? "", body: Array(buffer: response.body))
                    #expect(problems.isEmpty, "\(label): \(problems)")
                }
            }
        }
    }
}

/// Checks an answer against the document: a documented status, one of its content types, and for
/// JSON the schema's types, required properties, enums and array items (following `$ref`).
struct SchemaChecker: @unchecked Sendable {
    // @unchecked: the parsed document is read-only after init.
    let document: [String: Any]

    func resolve(_ node: Any?) -> [String: Any]? {
        guard var n = node as? [String: Any] else { return nil }
        var hops = 0
        while let ref = n["$ref"] as? String, hops < 16 {
            var target: Any? = document
            for part in ref.dropFirst(2).split(separator: "/") { target = (target as? [String: Any])?[String(part)] }
            guard let t = target as? [String: Any] else { return nil }
            n = t; hops += 1
        }
        return n
    }

    func check(method: String, path: String, status: Int, contentType: String, body: [UInt8]) -> [String] {
        guard let op = ((document["paths"] as? [String: Any])?[path] as? [String: Any])?[method] as? [String: Any] else { return ["undocumented operation"] }
        guard let response = resolve((op["responses"] as? [String: Any])?[String(status)]) else { return ["undocumented status \(status)"] }
        let content = response["content"] as? [String: Any] ?? [:]
        if content.isEmpty { return [] }
        let mediaType = contentType.split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        guard let media = content[mediaType] as? [String: Any] else { return ["content type '\(contentType)' not in \(content.keys.sorted())"] }
        guard mediaType.hasSuffix("json") else { return [] }
        guard let value = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else { return ["body is not JSON"] }
        var problems: [String] = []
        validate(value, media["schema"], at: "$", &problems)
        return problems
    }

    func validate(_ value: Any, _ schemaNode: Any?, at where_: String, _ problems: inout [String]) {
        guard let schema = resolve(schemaNode) else { return }
        if value is NSNull { if schema["nullable"] as? Bool != true { problems.append("\(where_): null") }; return }
        if let allowed = schema["enum"] as? [Any], let s = value as? String, !allowed.contains(where: { "\($0)" == s }) {
            problems.append("\(where_): '\(s)' not in \(allowed)")
        }
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { problems.append("\(where_): not an object"); return }
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { problems.append("\(where_).\(key): missing") }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (key, v) in object {
                if let p = properties[key] { validate(v, p, at: "\(where_).\(key)", &problems) }
                else if let extra = schema["additionalProperties"] { validate(v, extra, at: "\(where_).\(key)", &problems) }
                else if !properties.isEmpty { problems.append("\(where_).\(key): undocumented property") }
            }
        case "array":
            guard let array = value as? [Any] else { problems.append("\(where_): not an array"); return }
            for (i, v) in array.enumerated() { validate(v, schema["items"], at: "\(where_)[\(i)]", &problems) }
        case "string": if !(value is String) { problems.append("\(where_): not a string") }
        case "integer": if value is String || (value as? NSNumber).map({ $0.doubleValue != $0.doubleValue.rounded() }) ?? true { problems.append("\(where_): not an integer") }
        case "boolean": if !(value is Bool) { problems.append("\(where_): not a boolean") }
        default: break
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct SubmitAnswerTests {
    /// The hand-written answer of `POST /v1/transactions` is exactly what JSONEncoder would write.
    @Test func handWrittenAnswerEqualsEncoderOutput() throws {
        let hash = SHA256.hash(Array("any".utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let expected = String(decoding: try encoder.encode(NodeAPI.Submitted(hash: hash.hex, status: "pending")), as: UTF8.self)
        #expect(NodeAPI.submittedJSON(hash: hash) == expected)
    }
}
