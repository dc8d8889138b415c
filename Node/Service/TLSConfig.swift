import Foundation
public import NIOSSL
import MeridianCore

/// HTTPS for the API and console, and TLS with client certificates for HL7 v2 over MLLP
/// (`node.json` key `tls`; absent: plain HTTP, fit only for loopback). Paths are relative to the
/// data directory unless absolute; `meridian-localnet init` writes a local CA and each node's
/// certificate and fills these in.
public struct TLSConfig: Codable, Sendable, Hashable {
    /// The node's certificate chain, PEM, leaf first.
    public var certificate: String
    /// The certificate's private key, PEM (keep it 0600).
    public var privateKey: String
    /// CA certificates (PEM) this node trusts when it calls other nodes over HTTPS (record
    /// transfers, erasure notices) and that MLLP client certificates must chain to; absent: the
    /// system's roots for calls, and MLLP clients are checked by fingerprint alone.
    public var trustedCAs: String?

    public init(certificate: String, privateKey: String, trustedCAs: String? = nil) {
        self.certificate = certificate; self.privateKey = privateKey; self.trustedCAs = trustedCAs
    }

    /// The files, resolved against the data directory.
    func resolved(in dataDirectory: String) -> TLSConfig {
        func r(_ p: String) -> String { p.hasPrefix("/") ? p : dataDirectory + "/" + p }
        return TLSConfig(certificate: r(certificate), privateKey: r(privateKey), trustedCAs: trustedCAs.map(r))
    }

    /// The files loaded: what the listeners and the node-to-node client are configured from. The
    /// node loads them once at start (`NodeRunner`), so all three use the same checked identity.
    public struct Loaded: Sendable {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let trust: [NIOSSLCertificate]?

        /// The API's server configuration: TLS 1.2 or later, no client certificate.
        func serverConfiguration() -> TLSConfiguration {
            var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            c.minimumTLSVersion = .tlsv12
            return c
        }

        /// The MLLP listener's configuration: TLS 1.2 or later and a client certificate required. The
        /// certificate is then checked by the listener's verification callback against the feeds'
        /// registered fingerprints (IHE ATNA node authentication: each sender's certificate is known).
        func mllpServerConfiguration() -> TLSConfiguration {
            var c = serverConfiguration()
            c.certificateVerification = .noHostnameVerification
            return c
        }

        /// The client configuration for this node's HTTPS calls to other nodes: `trustedCAs`, else
        /// the system's roots; the host name is checked.
        func clientConfiguration() -> TLSConfiguration {
            var c = TLSConfiguration.makeClientConfiguration()
            c.minimumTLSVersion = .tlsv12
            if let trust { c.trustRoots = .certificates(trust) }
            return c
        }
    }

    /// The certificate chain and key, loaded and checked to belong together; errors name the file.
    func load(in dataDirectory: String) throws(NodeError) -> Loaded {
        let files = resolved(in: dataDirectory)
        let chain: [NIOSSLCertificate], key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificate) } catch { throw NodeError("config.tls.certificate", "\(files.certificate): not a PEM certificate chain (\(error))") }
        guard !chain.isEmpty else { throw NodeError("config.tls.certificate", "\(files.certificate): no certificate") }
        do { key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem) } catch { throw NodeError("config.tls.privateKey", "\(files.privateKey): not a PEM private key (\(error))") }
        var trust: [NIOSSLCertificate]?
        if let ca = files.trustedCAs {
            do { trust = try NIOSSLCertificate.fromPEMFile(ca) } catch { throw NodeError("config.tls.trustedCAs", "\(ca): not PEM certificates (\(error))") }
        }
        let loaded = Loaded(chain: chain, key: key, trust: trust)
        // A key that does not match the certificate fails every handshake; say so at start.
        do { _ = try NIOSSLContext(configuration: loaded.serverConfiguration()) }
        catch { throw NodeError("config.tls", "\(files.certificate) and \(files.privateKey) do not make a usable TLS identity: \(error)") }
        return loaded
    }

    /// Checks that the files load and make a usable identity (for `meridian-node init`).
    public func check(in dataDirectory: String) throws(NodeError) { _ = try load(in: dataDirectory) }
}
