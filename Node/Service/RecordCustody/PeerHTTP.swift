import Foundation
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
public import NIOSSL

/// This node's HTTP(S) client for calls to other hospitals' nodes (record transfers, erasure
/// notices): AsyncHTTPClient, trusting the CAs of `tls.trustedCAs` (else the system's roots),
/// never following redirects. Not URLSession: on Linux it cannot be given a CA to trust.
public final class PeerHTTP: Sendable {
    private let client: HTTPClient

    public init(tls: TLSConfiguration = .makeClientConfiguration()) {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Sends one request and reads at most `maxBytes` of the answer; returns status and body.
    func send(_ method: String, _ url: URL, headers: [(String, String)] = [], body: [UInt8]? = nil,
              timeoutSeconds: Int, maxBytes: Int) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(Int64(max(1, timeoutSeconds))))
        let bytes = try await response.body.collect(upTo: maxBytes)
        return (Int(response.status.code), Data(bytes.readableBytesView))
    }

    deinit {
        // Shut down without blocking (a deinit may run on an event loop); the callback keeps the
        // client alive until it has.
        let client = self.client
        client.shutdown { _ in _ = client }
    }
}
