import Foundation
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The tools' HTTP(S) transport, AsyncHTTPClient over swift-nio-ssl. Not Foundation's URLSession:
/// on Linux it cannot be told to trust a CA (a localnet's own, `--ca`), only the system's roots.
/// One client per trusted CA file lives for the process (a command makes a handful of requests).
enum HTTPTransport {
    private static let clients = Mutex<[String: HTTPClient]>([:])

    /// Most bytes read from one answer (block exports are the largest).
    static let maxResponseBytes = 256 << 20

    static func client(trusting ca: String?) throws -> HTTPClient {
        let key = ca ?? ""
        if let existing = clients.withLock({ $0[key] }) { return existing }
        let tls = try tlsConfiguration(trusting: ca)
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        let created = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        return clients.withLock { c in
            if let raced = c[key] { try? created.syncShutdown(); return raced }
            c[key] = created
            return created
        }
    }

    /// TLS 1.2 or later, checking the host name, trusting `ca` (PEM) or else the system's roots.
    static func tlsConfiguration(trusting ca: String?) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let ca {
            let roots: [NIOSSLCertificate]
            do { roots = try NIOSSLCertificate.fromPEMFile(ca) }
            catch { throw ClientError(status: 0, code: "client.bad_ca", message: "\(ca): not a PEM CA certificate (\(error))") }
            guard !roots.isEmpty else { throw ClientError(status: 0, code: "client.bad_ca", message: "\(ca): no certificate") }
            tls.trustRoots = .certificates(roots)
        }
        return tls
    }

    /// Sends one request; returns the status and the body.
    static func send(_ method: String, _ url: URL, headers: [String: String], body: Data?, timeout: TimeInterval, ca: String?) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client(trusting: ca).execute(request, timeout: .milliseconds(Int64(max(1, timeout) * 1000)))
        let bytes = try await response.body.collect(upTo: maxResponseBytes)
        return (Int(response.status.code), Data(bytes.readableBytesView))
    }
}
