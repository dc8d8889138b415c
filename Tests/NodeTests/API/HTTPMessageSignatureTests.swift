import Testing
import Foundation
import MeridianCore
import MeridianDemo
import MeridianRequestAuth
import MeridianTestSupport

/// RFC 9421 signature bases checked against the RFC's own examples, and Meridian's bip340 profile
/// against every way a signed request can be wrong.
@Suite(.timeLimit(.minutes(5))) struct HTTPMessageSignatureTests {
    /// The RFC's test request (RFC 9421 §B.2).
    static let rfcRequest = HTTPMessageSignature.Request(method: "POST", targetURI: "https://example.com/foo?param=Value&Pet=dog", headers: [
        ("Host", "example.com"), ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"), ("Content-Type", "application/json"),
        ("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"),
        ("Content-Length", "18"),
    ])

    /// §B.2.6: the signature base, byte for byte, and the parameters parsed back from its Signature-Input.
    @Test func theRFCsEd25519ExampleBaseIsReproduced() throws {
        let input = #"("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#
        let p = try HTTPMessageSignature.parseParameters(input)
        #expect(p.components == ["date", "@method", "@path", "@authority", "content-type", "content-length"])
        #expect(p.created == 1618884473 && p.keyid == "test-key-ed25519" && p.serialized == input)
        let expected = [
            #""date": Tue, 20 Apr 2021 02:07:55 GMT"#, #""@method": POST"#, #""@path": /foo"#, #""@authority": example.com"#,
            #""content-type": application/json"#, #""content-length": 18"#, #""@signature-params": "# + input,
        ].joined(separator: "\n")
        #expect(try HTTPMessageSignature.signatureBase(p, of: Self.rfcRequest) == expected)
        let members = try HTTPMessageSignature.dictionary("sig-b26=" + input)
        #expect(members.count == 1 && members[0].label == "sig-b26" && members[0].value == input)
    }

    /// The RFC's own Ed25519 signature (§B.2.6, key test-key-ed25519 of §B.1.4) verifies over the
    /// base this code builds, checked by PyPI's `cryptography` (an implementation no one here wrote).
    @Test func theRFCsSignatureVerifiesOverOurBaseWithPythonCryptography() async throws {
        let p = try HTTPMessageSignature.parseParameters(#"("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#)
        let base = try HTTPMessageSignature.signatureBase(p, of: Self.rfcRequest)
        let script = """
            import base64, sys
            from cryptography.hazmat.primitives.serialization import load_der_public_key
            key = load_der_public_key(base64.b64decode("MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="))
            sig = base64.b64decode("wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==")
            key.verify(sig, sys.stdin.buffer.read())
            print("verified")
            """
        let r = try await ChildProcess.run("python3", ["-c", script], input: Array(base.utf8))
        #expect(r.status == 0 && r.stdout.contains("verified"), "python cryptography (make setup installs it): \(r.stderr)")
    }

    /// §B.2.5 (the HMAC example's base) and the derived components of §2.2.
    @Test func derivedComponentsFollowSection2_2() throws {
        let p = try HTTPMessageSignature.parseParameters(#"("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#)
        #expect(try HTTPMessageSignature.signatureBase(p, of: Self.rfcRequest) == [
            #""date": Tue, 20 Apr 2021 02:07:55 GMT"#, #""@authority": example.com"#, #""content-type": application/json"#,
            #""@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#,
        ].joined(separator: "\n"))
        #expect(HTTPMessageSignature.componentValue("@query", of: Self.rfcRequest) == "?param=Value&Pet=dog")
        #expect(HTTPMessageSignature.componentValue("@request-target", of: Self.rfcRequest) == "/foo?param=Value&Pet=dog")
        #expect(HTTPMessageSignature.componentValue("@target-uri", of: Self.rfcRequest) == "https://example.com/foo?param=Value&Pet=dog")
        let ported = HTTPMessageSignature.Request(method: "get", targetURI: "HTTPS://Example.COM:443/x", headers: [])
        #expect(HTTPMessageSignature.componentValue("@authority", of: ported) == "example.com")
        #expect(HTTPMessageSignature.componentValue("@method", of: ported) == "GET")
        #expect(throws: HTTPMessageSignature.Failure.self) { try HTTPMessageSignature.signatureBase(.init(components: ["x-absent"]), of: ported) }
    }

    /// RFC 9530: the digest of `{"hello": "world"}` with SHA-256 (the RFC's example value).
    @Test func contentDigestIsRFC9530() {
        let body = Array(#"{"hello": "world"}"#.utf8)
        #expect(HTTPMessageSignature.contentDigest(body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
        #expect(HTTPMessageSignature.digestMatches("sha-512=:x:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", body: body))
        #expect(!HTTPMessageSignature.digestMatches("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", body: body + [0x20]))
        #expect(!HTTPMessageSignature.digestMatches("sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:", body: body))
    }

    static let node = DemoCast.staff("hospital-ribeira", "worker")
    static let audience = Address(node.publicKey).description
    static let uri = "https://ribeira.example:8443/v1/vitals/abc?limit=5"

    func signed(_ key: PrivateKey = DemoCast.patient("maria"), method: String = "GET", uri: String = uri, body: [UInt8] = [],
                chain: String = DemoCast.chainID, audience: String = audience, created: Int64 = 1_800_000_000,
                nonce: String = SignedRequests.nonce()) throws -> HTTPMessageSignature.Request {
        let headers = try SignedRequests.headers(method: method, targetURI: uri, body: body, chainID: chain, audience: audience, key: key,
                                                 created: created, nonce: nonce)
        return .init(method: method, targetURI: uri, headers: headers)
    }

    func code(_ r: Result<PublicKey, HTTPMessageSignature.Failure>) -> String? {
        if case .failure(let f) = r { return f.code }
        return nil
    }

    /// The signer is the key that signed; every alteration, re-targeting, replay, other chain or node,
    /// stale or future time, missing component and foreign algorithm is refused with its code.
    @Test func aSignedRequestVerifiesOnceAndOnlyAsSigned() throws {
        let verifier = RequestVerifier(chainID: DemoCast.chainID, audience: Self.audience)
        let now: Int64 = 1_800_000_100
        let maria = DemoCast.patient("maria")
        let good = try signed(body: [1, 2, 3])
        #expect(try verifier.verify(good, body: [1, 2, 3], now: now).get() == maria.publicKey)
        #expect(code(verifier.verify(good, body: [1, 2, 3], now: now)) == "auth.replayed")
        #expect(code(verifier.verify(try signed(body: [1, 2, 3]), body: [1, 2, 4], now: now)) == "auth.digest")
        var retargeted = try signed()
        retargeted.targetURI = "https://ribeira.example:8443/v1/vitals/other?limit=5"
        #expect(code(verifier.verify(retargeted, body: [], now: now)) == "auth.bad_signature")
        var otherMethod = try signed()
        otherMethod.method = "DELETE"
        #expect(code(verifier.verify(otherMethod, body: [], now: now)) == "auth.bad_signature")
        #expect(code(verifier.verify(try signed(chain: "another-chain"), body: [], now: now)) == "auth.wrong_chain")
        #expect(code(verifier.verify(try signed(audience: Address(DemoCast.staff("klinikum-spree", "worker").publicKey).description), body: [], now: now)) == "auth.wrong_audience")
        #expect(code(verifier.verify(try signed(created: now - 301), body: [], now: now)) == "auth.stale")
        #expect(code(verifier.verify(try signed(created: now + 301), body: [], now: now)) == "auth.stale")
        #expect(code(verifier.verify(.init(method: "GET", targetURI: Self.uri, headers: []), body: [], now: now)) == "auth.unsigned")
        #expect(code(verifier.verify(try signed(nonce: "short"), body: [], now: now)) == "auth.malformed")
        // A header swapped after signing: the audience header names this node but the signature was for another.
        var swapped = try signed(audience: "someone-else")
        swapped.headers = swapped.headers.map { $0.name == SignedRequests.audienceHeader ? ($0.name, Self.audience) : $0 }
        #expect(code(verifier.verify(swapped, body: [], now: now)) == "auth.bad_signature")
        // Another algorithm, or a signature that leaves out a required component.
        var foreign = try signed()
        foreign.headers = foreign.headers.map { $0.name == "Signature-Input" ? ($0.name, $0.value.replacingOccurrences(of: "bip340", with: "ed25519")) : $0 }
        #expect(code(verifier.verify(foreign, body: [], now: now)) == "auth.algorithm")
        var partial = try signed()
        partial.headers = partial.headers.map { $0.name == "Signature-Input" ? ($0.name, $0.value.replacingOccurrences(of: #" "meridian-audience""#, with: "")) : $0 }
        #expect(code(verifier.verify(partial, body: [], now: now)) == "auth.components")
        // Another key claiming to be Maria.
        var impostor = try signed(DemoCast.patient("hans"))
        let mariaID = Address(maria.publicKey).description, hansID = Address(DemoCast.patient("hans").publicKey).description
        impostor.headers = impostor.headers.map { $0.name == "Signature-Input" ? ($0.name, $0.value.replacingOccurrences(of: hansID, with: mariaID)) : $0 }
        #expect(code(verifier.verify(impostor, body: [], now: now)) == "auth.bad_signature")
    }

    /// The replay cache is bounded: full of fresh entries it refuses (never forgets one early), and
    /// an entry leaves once its signature could no longer be fresh.
    @Test func theReplayCacheIsBoundedAndForgetsOnlyWhatExpired() throws {
        let verifier = RequestVerifier(chainID: DemoCast.chainID, audience: Self.audience, replayCapacity: 3)
        let t: Int64 = 1_800_000_000
        for _ in 0..<3 { #expect(code(verifier.verify(try signed(created: t), body: [], now: t)) == nil) }
        #expect(code(verifier.verify(try signed(created: t), body: [], now: t)) == "auth.busy")
        let late = t + SignedRequests.maxSkewSeconds + 1
        #expect(code(verifier.verify(try signed(created: late), body: [], now: late)) == nil)
    }

    /// Hostile field values are refused with a code, never a crash.
    @Test func hostileFieldsAreRefused() {
        let verifier = RequestVerifier(chainID: DemoCast.chainID, audience: Self.audience)
        let inputs = ["", "meridian=", "meridian=(", #"meridian=("@method""#, #"meridian=("@method");created=abc"#, "meridian=();created=99999999999999999999",
                      #"meridian=("@method");bogus="x""#, #"meridian=("@method");created=1;created=2"#, String(repeating: "(", count: 5000),
                      "meridian=(" + String(repeating: #""a" "#, count: 100) + ")", "MERIDIAN=()"]
        for input in inputs {
            let request = HTTPMessageSignature.Request(method: "GET", targetURI: Self.uri, headers: [("Signature-Input", input), ("Signature", "meridian=:AAAA:")])
            #expect(code(verifier.verify(request, body: [], now: 1)) != nil, "accepted: \(input.prefix(60))")
        }
    }
}
