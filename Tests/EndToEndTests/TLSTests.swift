import Foundation
import MeridianTestSupport
import Testing
import MeridianClient
#if canImport(Glibc)
import Glibc
#endif

/// Transport security on a real localnet (`meridian-localnet init --tls`): the API and console are
/// served over HTTPS under the localnet's CA, which clients must be given (`--ca`, `$MERIDIAN_CA`);
/// console cookies are `Secure`; HL7 v2 over MLLP completes a TLS handshake only for the client
/// certificate registered for the ward's feed. OpenSSL's own command-line tools are the
/// independent client: they verify the chain and compute the fingerprint the node registered.
@Suite(.serialized, .timeLimit(.minutes(10))) struct TLSTests {
    @Test func aTLSLocalnetServesHTTPSAndMLLPOnlyToRegisteredSenders() async throws {
        let slots = try await NodeSlots.shared.reserve(1)
        defer { slots.release() }
        let dir = try TemporaryDirectory("localnet-tls")
        let net = dir.path("net")
        let environment = ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase]
        let initialised = try await run("meridian-localnet", ["init", "--dir", net, "--validators", "1", "--tls", "--block-interval-ms", "200"], environment: environment, in: dir)
        try #require(initialised.status == 0, "\(initialised)")
        let started = try await run("meridian-localnet", ["start", "--dir", net], environment: environment, in: dir)
        defer { if let pid = LocalnetCommandTests.nodePID(net + "/node-0") { kill(pid, SIGKILL) } }
        try #require(started.status == 0, "\(started)")
        let address = try String(contentsOfFile: net + "/node-0/api.address", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(address.hasPrefix("https://127.0.0.1:"), "the node announces HTTPS: \(address)")
        let ca = net + "/ca.pem"

        // OpenSSL verifies the node's chain against the localnet's CA, and the name 127.0.0.1.
        let verified = try await ChildProcess.run("openssl", ["verify", "-CAfile", ca, "-verify_ip", "127.0.0.1", net + "/node-0/tls/node.pem"])
        #expect(verified.status == 0 && verified.stdout.contains(": OK"), "\(verified)")

        // With the CA, the API answers; without it, the handshake is refused and nothing is sent.
        let trusted = try NodeClient(address, ca: ca)
        let status = try JSONSerialization.jsonObject(with: try await trusted.request("GET", "/v1/status")) as? [String: Any]
        #expect(status?["chainID"] as? String == "meridian-demo-1")
        do {
            _ = try await NodeClient(address).request("GET", "/health")
            Issue.record("a client without the localnet's CA reached the node")
        } catch let e as ClientError {
            #expect(e.code == "client.unreachable" && e.message.contains("CERTIFICATE_VERIFY_FAILED"), "\(e)")
        }
        // Plain HTTP on the HTTPS port gets no answer.
        do {
            _ = try await NodeClient(address.replacingOccurrences(of: "https://", with: "http://")).request("GET", "/health", timeout: 10)
            Issue.record("plain HTTP was answered on the HTTPS port")
        } catch let e as ClientError { #expect(e.status == 0, "\(e)") }
        // The CLIs take the CA from --ca or $MERIDIAN_CA.
        let cli = try await run("meridian-node", ["status", "--node", address], environment: ["MERIDIAN_CA": ca], in: dir)
        #expect(cli.status == 0 && cli.stdout.contains("meridian-demo-1"), "\(cli)")
        let refused = try await run("meridian-node", ["status", "--node", address], environment: ["MERIDIAN_CA": ""], in: dir)
        #expect(refused.status != 0 && refused.stderr.contains("CERTIFICATE_VERIFY_FAILED"), "\(refused)")

        // The console's cookies are Secure over HTTPS.
        let hostPort = String(address.dropFirst("https://".count))
        let headers = try await ChildProcess.run("openssl", ["s_client", "-connect", hostPort, "-CAfile", ca, "-verify_return_error", "-quiet"],
                                                 input: Array("GET /console/sign-in HTTP/1.1\r\nHost: \(hostPort)\r\nConnection: close\r\n\r\n".utf8))
        let cookies = headers.stdout.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("set-cookie:") }
        #expect(!cookies.isEmpty && cookies.allSatisfy { $0.contains("; Secure") && $0.contains("HttpOnly") }, "\(headers)")

        // MLLP: the registered gateway certificate's fingerprint is OpenSSL's SHA-256 of its DER.
        let der = try await ChildProcess.run("openssl", ["x509", "-in", net + "/ward-gateway.pem", "-outform", "der", "-out", dir.path("gateway.der")])
        #expect(der.status == 0, "\(der)")
        let digest = try await ChildProcess.run("sha256sum", [dir.path("gateway.der")])
        let fingerprint = String(digest.stdout.prefix(64))
        let config = try String(contentsOfFile: net + "/node-0/node.json", encoding: .utf8)
        #expect(config.contains("\"ward-gateway\" : \"\(fingerprint)\""), "node.json registers the gateway by \(fingerprint): \(config)")

        let mllp = try String(contentsOfFile: net + "/node-0/mllp.address", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        // Python's ssl module is the sender: it sends one ORU and prints the acknowledgement, or why
        // the node refused it (the server ends a refused handshake, so every case ends by itself).
        let sender = """
        import socket, ssl, sys
        host, port = sys.argv[1].rsplit(":", 1)
        context = ssl.create_default_context(cafile=sys.argv[2])
        if len(sys.argv) > 3: context.load_cert_chain(sys.argv[3], sys.argv[4])
        message = b"\\x0bMSH|^~\\\\&|GW|WARD|MERIDIAN|RIB|20261205120000||ORU^R01|1|P|2.6\\r\\x1c\\r"
        try:
            with socket.create_connection((host, int(port))) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(message)
                answer = b""
                while not answer.endswith(b"\\x1c\\r"):
                    chunk = tls.recv(4096)
                    if not chunk: break
                    answer += chunk
                print(answer.decode(errors="replace").replace("\\r", "\\n"))
        except (ssl.SSLError, ConnectionError) as e:
            print("refused:", e)
        """
        func send(_ identity: [String]) async throws -> CommandResult {
            try await ChildProcess.run("python3", ["-c", sender, mllp, ca] + identity)
        }
        // The registered sender gets an acknowledgement (AE: the message has no patient, but it was read).
        let registered = try await send([net + "/ward-gateway.pem", net + "/ward-gateway-key.pem"])
        #expect(registered.stdout.contains("MSA|AE|1"), "\(registered)")
        // No client certificate, or one the node has not registered (the node's own, from the same CA): nothing is read.
        let anonymous = try await send([])
        #expect(anonymous.stdout.contains("refused") && !anonymous.stdout.contains("MSA|"), "\(anonymous)")
        let unregistered = try await send([net + "/node-0/tls/node.pem", net + "/node-0/tls/node-key.pem"])
        #expect(unregistered.stdout.contains("refused") && !unregistered.stdout.contains("MSA|"), "\(unregistered)")

        let stopped = try await run("meridian-localnet", ["stop", "--dir", net], environment: environment, in: dir)
        #expect(stopped.status == 0, "\(stopped)")
    }
}
