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
    try nodes.node(["init", "--data-dir", dataDir, "--genesis", nodes.genesis, "--demo-validators"], wait: true)
    let node = try nodes.node(["start", "--data-dir", dataDir, "--api-port", "0", "--block-interval-ms", "100", "--log-level", "warning"], wait: false)
    defer { node.terminate(); node.waitUntilExit() }
    let port = try nodes.apiPort(dataDir: dataDir)
    let http = try HTTPConnection(port: port)

    // A little of the story: Maria registered at Hospital Ribeira, a consent to Sakura General, a
    // record, and accesses from Tokyo (allowed) and Bangkok (denied), committed.
    var nonces: [PublicKey: UInt64] = [:]
    func submit(_ key: PrivateKey, _ call: Call) throws {
        let n = nonces[key.publicKey, default: 0]; nonces[key.publicKey] = n + 1
        let stx = try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: key.publicKey, nonce: n, call: call), with: key)
        let (status, body) = try http.request("POST", "/v1/transactions", body: stx.canonicalBytes)
        guard status == 202 else { throw BenchError("seeding: \(status) \(String(decoding: body, as: UTF8.self))") }
        let path = "/v1/transactions/\(stx.hash.hex)"
        let until = Date().addingTimeInterval(30)
        while Date() < until {
            let (_, b) = try http.request("GET", path)
            if String(decoding: b, as: UTF8.self).contains("\"committed\"") { return }
            usleep(5_000)
        }
        throw BenchError("seeding: \(path) not committed")
    }
    let maria = DemoCast.patient("maria")
    let clinician = DemoCast.staff("hospital-ribeira", "clinician")
    try submit(maria, .registerPatient(.init(attestor: clinician.publicKey, attestation: try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey)))))
    try submit(maria, .grantConsent(ConsentTerms(grantees: [OrganizationID("sakura-general")!], categories: [.problems], purposes: [.treat],
                                                 countries: [CountryCode("JP")!], validFrom: Timestamp(iso8601: "2026-01-01")!,
                                                 validUntil: Timestamp(iso8601: "2027-06-30")!, emergencyAccess: false)))
    let commitment = RecordEntry.commitment(salt: SHA256.hash([9]), bodyHash: SHA256.hash(Array("bench".utf8)))
    try submit(clinician, .registerRecord(.init(commitment: commitment, patient: maria.publicKey, category: .problems)))
    for _ in 0..<10 {
        try submit(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: commitment, purpose: .treat, breakGlass: false)))
        try submit(DemoCast.staff("chao-phraya", "clinician"), .requestAccess(.init(record: commitment, purpose: .treat, breakGlass: false)))
    }

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
