// What a read costs now that every read of a patient's data is signed and, for anyone but the
// patient, recorded before it is answered (issue 19): a real release node, three requests
// interleaved over one keep-alive connection, each signed before its clock starts.
import Foundation
import Dispatch
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianDemo
import MeridianRequestAuth

struct ReadAuthResult {
    let samples: Int
    /// GET /health: the transport and router alone (open, nothing to check or record).
    let healthP50: Double, healthP99: Double
    /// The patient's own signed vital-signs read: signature, replay cache, standing (nothing recorded).
    let ownP50: Double, ownP99: Double
    /// A clinician's signed read: the same, plus `authorize` at the tip and the disclosure record
    /// synced to the node's log before the answer.
    let clinicianP50: Double, clinicianP99: Double
    /// Signing one request on the client (BIP-340 over the RFC 9421 signature base), µs.
    let signP50Microseconds: Double
    let readings: Int
}

func readAuthBench(quick: Bool) throws -> ReadAuthResult {
    let nodes = try BenchNodes(label: "reads")
    defer { nodes.remove() }
    let token = "bench-feed-token"
    let (node, _, port) = try nodes.startFeedNode(token: token, blockIntervalMilliseconds: "200")
    defer { node.terminate(); node.waitUntilExit() }
    let http = try HTTPConnection(port: port)

    // Setup (not measured): Maria registered, her consent covering her vital signs for Hospital
    // Ribeira (treatment, PT), and ten heart-rate readings from the ward's feed.
    let clinician = DemoCast.staff("hospital-ribeira", "clinician")
    let maria = DemoCast.patient("maria")
    func signed(_ key: PrivateKey, _ nonce: UInt64, _ call: Call) throws -> [UInt8] {
        try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: key.publicKey, nonce: nonce, call: call), with: key).canonicalBytes
    }
    let before = try http.committedTotal()
    let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))
    _ = try http.request("POST", "/v1/transactions", body: try signed(maria, 0, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation))))
    try http.waitCommitted(atLeast: before + 1)
    let terms = ConsentTerms(grantees: [OrganizationID("hospital-ribeira")!], categories: [.vitalSigns], purposes: [.treat],
                             countries: [CountryCode("PT")!], validFrom: Timestamp(iso8601: "2026-01-01")!,
                             validUntil: Timestamp(iso8601: "2030-01-01")!, emergencyAccess: false)
    _ = try http.request("POST", "/v1/transactions", body: try signed(maria, 1, .grantConsent(terms)))
    try http.waitCommitted(atLeast: before + 2)
    let patient = maria.publicKey.hex
    let readings = 10
    for i in 0..<readings {
        let observation = """
            {"resourceType":"Observation","id":"hr-\(i)","status":"final",\
            "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],\
            "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/\(patient)"},\
            "effectiveDateTime":"2026-11-24T10:\(String(format: "%02d", i)):00Z","valueQuantity":{"value":\(70 + i),"system":"http://unitsofmeasure.org","code":"/min"}}
            """
        let (status, body) = try http.request("POST", "/v1/vitals/fhir", body: Array(observation.utf8), contentType: "application/fhir+json",
                                              headers: ["Authorization": "Bearer \(token)"])
        guard status == 200 else { throw BenchError("posting a reading: \(status) \(String(decoding: body, as: UTF8.self))") }
    }

    let status = try JSONSerialization.jsonObject(with: Data(try http.request("GET", "/v1/status").1)) as? [String: Any] ?? [:]
    guard let chain = status["chainID"] as? String, let audience = status["nodeKey"] as? String else { throw BenchError("the node's status names no key") }
    let path = "/v1/vitals/\(Address(maria.publicKey))?limit=\(readings)"
    var signNanos: [Double] = []
    func headers(_ key: PrivateKey) throws -> [String: String] {
        let t0 = now()
        let h = try SignedRequests.headers(method: "GET", targetURI: "http://127.0.0.1\(path)", body: [], chainID: chain, audience: audience,
                                           key: key, created: Int64(Date().timeIntervalSince1970))
        signNanos.append(Double(now() - t0))
        return Dictionary(h.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
    }
    // Both reads answer the readings (the clinician's only because the chain allows it).
    for key in [maria, clinician] {
        let (code, body) = try http.request("GET", path, headers: try headers(key))
        let answered = (try? JSONSerialization.jsonObject(with: Data(body)) as? [Any])?.count ?? 0
        guard code == 200, answered > 0 else { throw BenchError("the read as \(Address(key.publicKey)) answered \(code): \(String(decoding: body.prefix(300), as: UTF8.self))") }
    }

    let samples = quick ? 300 : 2000
    var health: [Double] = [], own: [Double] = [], theirs: [Double] = []
    for _ in 0..<samples {
        var t0 = now()
        _ = try http.request("GET", "/health")
        health.append(Double(now() - t0) / 1e6)
        let mine = try headers(maria)
        t0 = now()
        let (a, _) = try http.request("GET", path, headers: mine)
        own.append(Double(now() - t0) / 1e6)
        let clinicians = try headers(clinician)
        t0 = now()
        let (b, _) = try http.request("GET", path, headers: clinicians)
        theirs.append(Double(now() - t0) / 1e6)
        guard a == 200, b == 200 else { throw BenchError("a measured read was refused: \(a) / \(b)") }
    }
    return ReadAuthResult(samples: samples, healthP50: median(health), healthP99: percentile(health, 0.99),
                          ownP50: median(own), ownP99: percentile(own, 0.99),
                          clinicianP50: median(theirs), clinicianP99: percentile(theirs, 0.99),
                          signP50Microseconds: median(signNanos) / 1000, readings: readings)
}
