// The web console's page times: a release node on the demo genesis with a little of the story
// committed, a regulator and a patient signed in through the real challenge flow, each page fetched
// over one keep-alive connection; beside it, the node's smallest answer (/health) on the same
// connection in the same run.
import Foundation
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianDemo

struct ConsoleBenchResult {
    /// (page, p50 ms, p99 ms, bytes)
    let pages: [(String, Double, Double, Int)]
    let healthP50: Double
    let healthP99: Double
    let samples: Int
}

func consoleBench(quick: Bool) throws -> ConsoleBenchResult {
    let nodes = try BenchNodes(label: "console")
    defer { nodes.remove() }
    let dataDir = nodes.dir.appendingPathComponent("node").path
    try nodes.node(["init", "--data-dir", dataDir, "--genesis", nodes.genesis] + nodes.allValidatorKeys(), wait: true)
    let node = try nodes.node(["start", "--data-dir", dataDir, "--api-port", "0", "--block-interval-ms", "100", "--log-level", "warning"], wait: false)
    defer { node.terminate(); node.waitUntilExit() }
    let port = try nodes.apiPort(dataDir: dataDir)
    let http = try HTTPConnection(port: port)

    // A little of the story, in three committed steps: Maria registered at Hospital Ribeira; her
    // consent to Sakura General and a record; accesses from Tokyo (allowed) and Bangkok (denied).
    var nonces: [PublicKey: UInt64] = [:]
    func commit(_ calls: [(PrivateKey, Call)]) throws {
        let before = try http.committedTotal()
        for (key, call) in calls {
            let n = nonces[key.publicKey, default: 0]; nonces[key.publicKey] = n + 1
            let stx = try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: key.publicKey, nonce: n, call: call), with: key)
            let (status, body) = try http.request("POST", "/v1/transactions", body: stx.canonicalBytes)
            guard status == 202 else { throw BenchError("seeding: \(status) \(String(decoding: body, as: UTF8.self))") }
        }
        try http.waitCommitted(atLeast: before + calls.count, seconds: 30)
    }
    let maria = DemoCast.patient("maria")
    let clinician = DemoCast.staff("hospital-ribeira", "clinician")
    try commit([(maria, .registerPatient(.init(attestor: clinician.publicKey, attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey)))))])
    let commitment = RecordEntry.commitment(salt: SHA256.hash([9]), bodyHash: SHA256.hash(Array("bench".utf8)))
    try commit([
        (maria, .grantConsent(ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.problems], purposes: [.treat],
                                           countries: [CountryCode("JP")!], validFrom: Timestamp(iso8601: "2026-01-01")!,
                                           validUntil: Timestamp(iso8601: "2027-06-30")!, emergencyAccess: false))),
        (clinician, .registerRecord(.init(commitment: commitment, patient: maria.publicKey, category: .problems))),
    ])
    try commit((0..<10).flatMap { _ in
        [(DemoCast.staff("sakura-general", "clinician"), Call.requestAccess(.init(record: commitment, purpose: .treat, breakGlass: false))),
         (DemoCast.staff("chao-phraya", "clinician"), Call.requestAccess(.init(record: commitment, purpose: .treat, breakGlass: false)))]
    })

    /// The real sign-in: the page's code and challenge cookie, the signature, the browser's exchange.
    func signIn(_ key: PrivateKey) throws -> String {
        let (_, page) = try http.request("GET", "/console/sign-in")
        let html = String(decoding: page, as: UTF8.self)
        guard let code = html.firstMatch(of: /aria-label="Sign-in code">([0-9A-Z-]{14})</)?.1,
              let secret = http.lastHeader.firstMatch(of: /meridian_challenge=([0-9a-f]+)/)?.1 else { throw BenchError("no sign-in code") }
        let (_, infoBytes) = try http.request("GET", "/console/challenges/\(code)")
        guard let info = try JSONSerialization.jsonObject(with: Data(infoBytes)) as? [String: Any], let audience = (info["audience"] as? String).flatMap({ try? PublicKey(hex: $0) }),
              let expires = (info["expires"] as? NSNumber)?.uint64Value else { throw BenchError("bad challenge") }
        let signature = try key.sign(ConsoleSignIn.message(chainID: DemoCast.chainID, code: String(code), audience: audience, expires: Timestamp(unixMilliseconds: expires)))
        let answer = "{\"key\":\"\(Address(key.publicKey))\",\"signature\":\"\(signature.hex)\"}"
        let (s1, _) = try http.request("POST", "/console/challenges/\(code)", body: Array(answer.utf8), contentType: "application/json")
        guard s1 == 200 else { throw BenchError("answer refused: \(s1)") }
        let (s2, _) = try http.request("POST", "/console/sign-in", body: Array("code=\(code)".utf8), contentType: "application/x-www-form-urlencoded",
                                       headers: ["Cookie": "meridian_challenge=\(secret)"])
        guard s2 == 303, let token = http.lastHeader.firstMatch(of: /meridian_session=([0-9a-f]{64})/)?.1 else { throw BenchError("no session: \(s2)") }
        return String(token)
    }
    let regulator = try signIn(DemoCast.regulator("PT"))
    let patient = try signIn(maria)
    let samples = quick ? 50 : 300

    func time(_ path: String, session: String?) throws -> (Double, Double, Int) {
        var ms: [Double] = []
        var bytes = 0
        let headers = session.map { ["Cookie": "meridian_session=\($0)"] } ?? [:]
        for _ in 0..<samples {
            let t0 = now()
            let (status, body) = try http.request("GET", path, headers: headers)
            ms.append(Double(now() - t0) / 1e6)
            guard status == 200 else { throw BenchError("\(path): \(status)") }
            bytes = body.count
        }
        return (percentile(ms, 0.5), percentile(ms, 0.99), bytes)
    }
    let health = try time("/health", session: nil)
    let pages: [(String, String, String)] = [
        ("network", "/console/network", regulator), ("blocks", "/console/blocks", regulator), ("governance", "/console/governance", regulator),
        ("audit (jurisdiction PT, 50 rows, each proven by the light client; the view recorded)", "/console/audit", regulator),
        ("audit by patient", "/console/audit?patient=\(Address(maria.publicKey))", regulator),
        ("audit CSV export", "/console/audit/export.csv", regulator),
        ("reports (SVG charts)", "/console/audit/reports", regulator),
        ("patient: who accessed my data (the view recorded)", "/console/me", patient), ("patient: consents", "/console/me/consents", patient),
    ]
    var out: [(String, Double, Double, Int)] = []
    for (name, path, session) in pages {
        let (p50, p99, bytes) = try time(path, session: session)
        out.append((name, p50, p99, bytes))
    }
    return ConsoleBenchResult(pages: out, healthP50: health.0, healthP99: health.1, samples: samples)
}
