import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import NIOCore
import MeridianCore
import MeridianModules
import MeridianDemo
@testable import MeridianNode

/// Hostile callers against every signed route of the API, in process: each is refused with 401 or
/// 403 and an answer that names nothing of the patient. The callers: anonymous, a replayed or
/// re-targeted signature, another chain, another node, a stale signature, a key the chain does not
/// know, another patient, a hospital without consent, a regulator of another jurisdiction.
@Suite(.timeLimit(.minutes(5))) struct AccessControlTests {
    struct Fixture {
        let node: TestNode
        let maria: PrivateKey
        let record: Bytes32
        let consent: Bytes32
        /// One concrete request per signed route, about Maria's data.
        let requests: [(method: HTTPRequest.Method, template: String, uri: String, body: [UInt8])]
    }

    static func fixture() async throws -> Fixture {
        let node = try TestNode()
        let (maria, record, consent) = try await node.seedMaria()
        let m = Address(maria.publicKey).description
        let tx = try #require(try node.chain.store.block(at: 1)?.transactions.first?.hash)
        let authorize = Array("""
            {"requester":"\(Address(DemoCast.staff("sakura-general", "clinician").publicKey))","patient":"\(m)",\
            "category":"problems","purpose":"TREAT","custodian":"hospital-ribeira"}
            """.utf8)
        let auditKey = Hex.encode(Audit.entryKey(maria.publicKey, 0).bytes)
        let samples: [String: (String, [UInt8])] = [
            "/metrics": ("/metrics", []), "/v1/organizations": ("/v1/organizations", []),
            "/v1/transactions/{hash}": ("/v1/transactions/\(tx.hex)", []),
            "/v1/blocks/latest": ("/v1/blocks/latest", []), "/v1/blocks/{id}": ("/v1/blocks/1", []),
            "/v1/accounts/{address}": ("/v1/accounts/\(m)", []),
            "/v1/patients/{address}/consents": ("/v1/patients/\(m)/consents", []),
            "/v1/patients/{address}/consents/{id}/fhir": ("/v1/patients/\(m)/consents/\(consent.hex)/fhir", []),
            "/v1/patients/{address}/records": ("/v1/patients/\(m)/records", []),
            "/v1/authorize": ("/v1/authorize", authorize),
            "/v1/audit": ("/v1/audit?patient=\(m)", []),
            "/v1/audit/{patient}/{sequence}/fhir": ("/v1/audit/\(m)/0/fhir", []),
            "/v1/reports/organizations": ("/v1/reports/organizations", []),
            "/v1/index/blocks": ("/v1/index/blocks?from=1&limit=500", []),
            "/v1/records/{commitment}": ("/v1/records/\(record.hex)", []),
            "/v1/contracts/{hash}": ("/v1/contracts/\(SHA256.hash(Array("no such contract".utf8)).hex)", []),
            "/v1/events": ("/v1/events?patient=\(m)", []),
            "/v1/alerts": ("/v1/alerts", []),
            "/v1/evidence": ("/v1/evidence", []),
            "/v1/state/{key}": ("/v1/state/\(auditKey)", []),
            "/v1/vitals/{patient}": ("/v1/vitals/\(m)", []),
            "/v1/vitals/{patient}/assessment": ("/v1/vitals/\(m)/assessment", []),
            "/v1/vitals/{patient}/alerts": ("/v1/vitals/\(m)/alerts", []),
            "/v1/vitals/{patient}/proofs": ("/v1/vitals/\(m)/proofs", []),
            "/v1/devices/{device}/progress": ("/v1/devices/\(m)/progress", []),
            "/v1/records": ("/v1/records", Array("{\"resourceType\":\"Bundle\"}".utf8)),
            "/v1/records/{commitment}/custody": ("/v1/records/\(record.hex)/custody", []),
            "/v1/records/{commitment}/served": ("/v1/records/\(record.hex)/served", []),
            "/v1/records/{commitment}/transfer": ("/v1/records/\(record.hex)/transfer", [1, 2, 3]),
            "/v1/records/{commitment}/erasure-notice": ("/v1/records/\(record.hex)/erasure-notice", [1, 2, 3]),
            "/v1/summaries": ("/v1/summaries", [1, 2, 3]),
            "/v1/node/log-level": ("/v1/node/log-level", Array("{\"level\":\"info\"}".utf8)),
            "/v1/node/backups": ("/v1/node/backups", []),
            "/v1/snapshots": ("/v1/snapshots", []),
            "/v1/snapshots/{height}/chunks/{index}": ("/v1/snapshots/1/chunks/0", []),
            "/v1/snapshots/{height}/auditlog/{part}": ("/v1/snapshots/1/auditlog/0", []),
        ]
        var requests: [(HTTPRequest.Method, String, String, [UInt8])] = []
        for r in node.api.routes() {
            guard case .signed = r.access else { continue }
            let sample = try #require(samples[r.openAPIPath], "no sample request for the signed route \(r.method.rawValue) \(r.openAPIPath)")
            requests.append((r.method, r.openAPIPath, sample.0, sample.1))
        }
        return Fixture(node: node, maria: maria, record: record, consent: consent, requests: requests)
    }

    /// Sends each request with `headers(request)`; returns (label, status, body) per request.
    static func send(_ f: Fixture, _ headers: @escaping @Sendable (HTTPRequest.Method, String, [UInt8]) throws -> [[String: String]]) async throws
        -> [(String, Int, String)] {
        let app = Application(router: f.node.api.router())
        let requests = f.requests
        return try await app.test(.router) { client in
            var out: [(String, Int, String)] = []
            for r in requests {
                for h in try headers(r.method, r.uri, r.body) {
                    var fields: HTTPFields = [.contentType: "application/json"]
                    for (n, v) in h { fields.append(HTTPFields.Element(name: HTTPFields.Element.Name(n)!, value: v)) }
                    try await client.execute(uri: r.uri, method: r.method, headers: fields, body: ByteBuffer(bytes: r.body)) { response in
                        out.append(("\(r.method.rawValue) \(r.template)", Int(response.status.code), String(buffer: response.body)))
                    }
                }
            }
            return out
        }
    }

    /// Nothing of Maria in an answer to someone else: not her address, key, record or consent.
    /// (A refusal of a request Maria signed may name her address, the signer's own.)
    static func leaks(_ body: String, _ f: Fixture, signedByMaria: Bool = false) -> Bool {
        var marks = [f.record.hex, f.consent.hex]
        if !signedByMaria { marks += [Address(f.maria.publicKey).description, f.maria.publicKey.hex] }
        return marks.contains { body.contains($0) }
    }

    @Test func anonymousAndForgedCallersGet401() async throws {
        let f = try await Self.fixture()
        let maria = f.maria
        let now = Int64(Date().timeIntervalSince1970)
        let cases: [(String, @Sendable (HTTPRequest.Method, String, [UInt8]) throws -> [[String: String]], String)] = [
            ("anonymous", { _, _, _ in [["Host": TestNode.host]] }, "auth.unsigned"),
            ("another chain", { m, u, b in [try TestNode.signed(maria, m.rawValue, u, body: b, chain: "another-chain")] }, "auth.wrong_chain"),
            ("another node", { m, u, b in [try TestNode.signed(maria, m.rawValue, u, body: b, audience: Address(DemoCast.staff("sakura-general", "worker").publicKey).description)] }, "auth.wrong_audience"),
            ("stale", { m, u, b in [try TestNode.signed(maria, m.rawValue, u, body: b, created: now - 3600)] }, "auth.stale"),
            ("re-targeted", { m, u, b in [try TestNode.signed(maria, m.rawValue, u == "/metrics" ? "/v1/evidence" : "/metrics", body: b)] }, "auth.bad_signature"),
            ("another body", { m, u, b in [try TestNode.signed(maria, m.rawValue, u, body: b + [1])] }, "auth.digest"),
            ("another host", { m, u, b in [try TestNode.signed(maria, m.rawValue, u, body: b, host: "evil.test")] }, "auth.bad_signature"),
        ]
        for (who, headers, code) in cases {
            for (label, status, body) in try await Self.send(f, headers) {
                #expect(status == 401, "\(who): \(label) answered \(status) \(body.prefix(200))")
                #expect(body.contains(code), "\(who): \(label): \(body.prefix(200))")
                #expect(!Self.leaks(body, f, signedByMaria: true), "\(who): \(label) names Maria's data: \(body.prefix(200))")
            }
        }
        // A replay: the same signed request twice; the second is refused whatever the first answered.
        let replays = try await Self.send(f) { m, u, b in let h = try TestNode.signed(maria, m.rawValue, u, body: b); return [h, h] }
        for pair in stride(from: 0, to: replays.count, by: 2) {
            let (label, status, body) = replays[pair + 1]
            #expect(status == 401 && body.contains("auth.replayed"), "replay: \(label) answered \(status) \(body.prefix(200))")
        }
    }

    /// Callers the chain knows, without standing for Maria's data: every patient-data route refuses
    /// them (403) or answers without Maria's data; nothing of hers is named in a refusal.
    @Test func callersWithoutStandingSeeNothingOfMaria() async throws {
        let f = try await Self.fixture()
        // Hans, another patient (registered here); Klinikum Spree's clinician (no consent from Maria);
        // the Swiss regulator (her entries do not concern Switzerland); a key the chain does not know.
        let hans = DemoCast.patient("hans")
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: hans.publicKey))
        try await f.node.submit(hans, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)))
        let stranger = try PrivateKey(secret: SHA256.hash(Array("access-control/stranger".utf8)))
        let callers: [(String, PrivateKey)] = [("another patient", hans), ("a hospital without consent", DemoCast.staff("klinikum-spree", "clinician")),
                                               ("a regulator of another jurisdiction", DemoCast.regulator("CH")), ("an unknown key", stranger)]
        // Routes that are not Maria's data (registries, network data a regulator may read).
        // (The alert stream: a clinician's own organisation's alerts, none of Maria's without her consent.)
        let notMariasData: Set<String> = ["GET /v1/organizations", "GET /v1/contracts/{hash}", "GET /v1/evidence", "GET /v1/reports/organizations",
                                          "GET /v1/alerts", "GET /v1/index/blocks"]
        for (who, key) in callers {
            for (label, status, body) in try await Self.send(f, { m, u, b in [try TestNode.signed(key, m.rawValue, u, body: b)] }) {
                #expect(status < 500, "\(who): \(label) answered \(status)")
                #expect(!Self.leaks(body, f), "\(who): \(label) answered \(status) with Maria's data: \(body.prefix(300))")
                if label == "GET /v1/audit" {
                    // A regulator elsewhere gets a page without Maria's entries; the others are refused.
                    #expect(status == 403 || status == 200 && body.contains("\"entries\":[]"), "\(who): \(label) answered \(status) \(body.prefix(200))")
                } else if !notMariasData.contains(label) {
                    #expect(status == 403, "\(who): \(label) answered \(status) \(body.prefix(200))")
                }
            }
        }
    }

    /// The same routes signed by Maria herself answer (the rule is not "refuse everyone").
    @Test func thePatientReadsHerOwnData() async throws {
        let f = try await Self.fixture()
        let mine: Set<String> = ["GET /v1/accounts/{address}", "GET /v1/patients/{address}/consents", "GET /v1/patients/{address}/consents/{id}/fhir",
                                 "GET /v1/patients/{address}/records", "GET /v1/audit", "GET /v1/audit/{patient}/{sequence}/fhir",
                                 "GET /v1/records/{commitment}", "GET /v1/state/{key}", "GET /v1/vitals/{patient}", "GET /v1/transactions/{hash}"]
        var answered: Set<String> = []
        for (label, status, body) in try await Self.send(f, { m, u, b in [try TestNode.signed(f.maria, m.rawValue, u, body: b)] }) where mine.contains(label) {
            #expect(status == 200, "\(label): \(status) \(body.prefix(200))")
            answered.insert(label)
        }
        #expect(answered == mine)
    }

    /// Reads of Maria's data by Maria are not disclosures; a regulator's read of her trail is, and
    /// its record is in the disclosure log before the answer is sent; a node that cannot write the
    /// log answers 503 and shows nothing.
    @Test func readsByOthersAreLoggedBeforeTheyAreAnswered() async throws {
        let f = try await Self.fixture()
        let m = Address(f.maria.publicKey).description
        let app = Application(router: f.node.api.router())
        func get(_ key: PrivateKey, _ uri: String, on app: Application<RouterResponder<NodeRequestContext>>) async throws -> (Int, String) {
            var built: HTTPFields = [:]
            for (n, v) in try TestNode.signed(key, "GET", uri) { built.append(HTTPFields.Element(name: HTTPFields.Element.Name(n)!, value: v)) }
            let fields = built
            return try await app.test(.router) { client in
                try await client.execute(uri: uri, method: .get, headers: fields) { (Int($0.status.code), String(buffer: $0.body)) }
            }
        }
        for uri in ["/v1/audit?patient=\(m)", "/v1/patients/\(m)/records", "/v1/vitals/\(m)", "/v1/audit/\(m)/0/fhir"] {
            #expect(try await get(f.maria, uri, on: app).0 == 200, "\(uri)")
        }
        #expect(try f.node.disclosures.pendingCount() == 0, "the patient's own reads disclose nothing")
        let officer = DemoCast.regulator("PT")
        let page = try await get(officer, "/v1/audit?patient=\(m)", on: app)
        #expect(page.0 == 200 && page.1.contains("sakura-general"), "\(page)")
        #expect(try f.node.disclosures.pendingCount() == 1)
        let before = try Audit.head(of: f.maria.publicKey, in: f.node.chain.query.reader).count
        try await f.node.commitDisclosures()
        let e = try #require(try Audit.entry(f.maria.publicKey, before, in: f.node.chain.query.reader))
        #expect(e.kind == .apiRead && e.actor == officer.publicKey && e.purpose == .compliance && e.decision.reason == .allowedAsRegulator)
        // Without a disclosure log (no worker key), the regulator is not answered; Maria still is.
        var without = f.node.services
        without.disclosures = nil
        let bare = f.node.makeAPI(services: without)
        let bareApp = Application(router: bare.router())
        let refused = try await get(officer, "/v1/audit?patient=\(m)", on: bareApp)
        #expect(refused.0 == 503 && !refused.1.contains("sakura-general"), "\(refused)")
        #expect(try await get(f.maria, "/v1/audit?patient=\(m)", on: bareApp).0 == 200)
    }

    /// Paging the audit trail: the cursor is opaque (no position in it), works for the caller and
    /// query it was given for, and is refused (400) to another caller, another query, or altered;
    /// raw positions are not accepted.
    @Test func auditCursorsAreOpaqueAndBoundToCallerAndQuery() async throws {
        let f = try await Self.fixture()
        let m = Address(f.maria.publicKey).description
        let app = Application(router: f.node.api.router())
        func get(_ key: PrivateKey, _ uri: String) async throws -> (Int, [String: Any]) {
            var built: HTTPFields = [:]
            for (n, v) in try TestNode.signed(key, "GET", uri) { built.append(HTTPFields.Element(name: HTTPFields.Element.Name(n)!, value: v)) }
            let fields = built
            return try await app.test(.router) { client in
                try await client.execute(uri: uri, method: .get, headers: fields) {
                    (Int($0.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: $0.body))) as? [String: Any] ?? [:])
                }
            }
        }
        var sequences: [Int] = []
        var cursor: String?
        repeat {
            let (status, page) = try await get(f.maria, "/v1/audit?patient=\(m)&limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(status == 200)
            sequences += (page["entries"] as? [[String: Any]] ?? []).compactMap { $0["sequence"] as? Int }
            cursor = page["next"] as? String
            if let c = cursor { #expect(Int(c) == nil && c.count >= 40, "an opaque cursor: \(c)") }
        } while cursor != nil && sequences.count < 50
        #expect(sequences == Array(0..<sequences.count) && sequences.count >= 2, "\(sequences)")
        let first = try await get(f.maria, "/v1/audit?patient=\(m)&limit=1")
        let token = try #require(first.1["next"] as? String)
        #expect(try await get(f.maria, "/v1/audit?patient=\(m)&limit=1&cursor=\(token)").0 == 200)
        #expect(try await get(DemoCast.staff("hospital-ribeira", "admin"), "/v1/audit?patient=\(m)&limit=1&cursor=\(token)").0 == 400, "another caller")
        #expect(try await get(f.maria, "/v1/audit?patient=\(m)&from=2026-01-01&limit=1&cursor=\(token)").0 == 400, "another query")
        // One character changed in the middle (the last one may carry only padding bits).
        var chars = Array(token)
        chars[chars.count / 2] = chars[chars.count / 2] == "A" ? "B" : "A"
        let altered = String(chars)
        #expect(try await get(f.maria, "/v1/audit?patient=\(m)&limit=1&cursor=\(altered)").0 == 400, "an altered cursor")
        #expect(try await get(f.maria, "/v1/audit?patient=\(m)&limit=1&start=1").0 == 400, "a raw position")
    }

    /// A clinician reads Maria's data only as the chain allows now: Sakura General (consented for
    /// problems, TREAT) sees her problems record and not her vital signs; after she revokes, nothing.
    @Test func aClinicianReadsOnlyWhatTheChainAllowsNow() async throws {
        let f = try await Self.fixture()
        let sakura = DemoCast.staff("sakura-general", "clinician")
        let m = Address(f.maria.publicKey).description
        // Sakura General's node serves its clinicians: a node of Sakura General.
        let log = try DisclosureLog(chain: f.node.chain, key: DemoCast.staff("sakura-general", "worker"))
        var sakuraServices = f.node.services
        sakuraServices.disclosures = log
        let api = f.node.makeAPI(services: sakuraServices, identity: DemoCast.staff("sakura-general", "worker").publicKey)
        let audience = Address(DemoCast.staff("sakura-general", "worker").publicKey).description
        let app = Application(router: api.router())
        func get(_ uri: String) async throws -> (Int, String) {
            var built: HTTPFields = [:]
            for (n, v) in try TestNode.signed(sakura, "GET", uri, audience: audience) { built.append(HTTPFields.Element(name: HTTPFields.Element.Name(n)!, value: v)) }
            let fields = built
            return try await app.test(.router) { client in
                try await client.execute(uri: uri, method: .get, headers: fields) { (Int($0.status.code), String(buffer: $0.body)) }
            }
        }
        let records = try await get("/v1/patients/\(m)/records")
        #expect(records.0 == 200 && records.1.contains(f.record.hex), "\(records)")
        #expect(try await get("/v1/records/\(f.record.hex)").0 == 200)
        #expect(try await get("/v1/vitals/\(m)").0 == 403, "no consent covers vital signs")
        let research = try await get("/v1/records/\(f.record.hex)?purpose=HRESCH")
        #expect(research.0 == 403, "not for research: \(research)")
        // The two answered reads were logged before they were sent (the refused ones were not),
        // and are on Maria's trail once committed: accesses by the clinician, allowed by consent.
        #expect(try log.pendingCount() == 2)
        let before = try Audit.head(of: f.maria.publicKey, in: f.node.chain.query.reader).count
        let receipts = try await f.node.commitDisclosures(log)
        #expect(receipts.allSatisfy { if case .success = $0.outcome { true } else { false } }, "\(receipts)")
        #expect(try log.pendingCount() == 0)
        let reads = try Audit.byPatient(f.maria.publicKey, start: before, in: f.node.chain.query.reader).entries
        #expect(reads.count == 2 && reads.allSatisfy { $0.kind == .apiRead && $0.actor == sakura.publicKey && $0.allowed && $0.category == .problems })
        try await f.node.submit(f.maria, .revokeConsent(f.consent))
        let after = try await get("/v1/patients/\(m)/records")
        #expect(after.0 == 403 && !after.1.contains(f.record.hex), "\(after)")
        #expect(try await get("/v1/records/\(f.record.hex)").0 == 403)
        #expect(try log.pendingCount() == 0, "a refused read discloses nothing and records nothing")
    }
}
