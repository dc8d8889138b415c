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

    /// The certificate chain and key, loaded and checked to belong together; errors name the file.
    func load(in dataDirectory: String) throws(NodeError) -> (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, trust: [NIOSSLCertificate]?) {
        let files = resolved(in: dataDirectory)
        let chain: [NIOSSLCertificate], key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificate) } catch { throw NodeError("config.tls.certificate", "\(files.certificate): not a PEM certificate chain (\(error))") }
        guard !chain.isEmpty else { throw NodeError("config.tls.certificate", "\(files.certificate): no certificate") }
        do { key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem) } catch { throw NodeError("config.tls.privateKey", "\(files.privateKey): not a PEM private key (\(error))") }
        var trust: [NIOSSLCertificate]?
        if let ca = files.trustedCAs {
            do { trust = try NIOSSLCertificate.fromPEMFile(ca) } catch { throw NodeError("config.tls.trustedCAs", "\(ca): not PEM certificates (\(error))") }
        }
        // A key that does not match the certificate fails every handshake; say so at start.
        do {
            var server = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            server.minimumTLSVersion = .tlsv12
            _ = try NIOSSLContext(configuration: server)
        } catch { throw NodeError("config.tls", "\(files.certificate) and \(files.privateKey) do not make a usable TLS identity: \(error)") }
        return (chain, key, trust)
    }

    /// Checks that the files load and make a usable identity (for `meridian-node init`).
    public func check(in dataDirectory: String) throws(NodeError) { _ = try load(in: dataDirectory) }

    /// The API's server configuration: TLS 1.2 or later, no client certificate.
    func serverConfiguration(in dataDirectory: String) throws(NodeError) -> TLSConfiguration {
        let files = try load(in: dataDirectory)
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: files.chain.map { .certificate($0) }, privateKey: .privateKey(files.key))
        c.minimumTLSVersion = .tlsv12
        return c
    }

    /// The MLLP listener's configuration: TLS 1.2 or later and a client certificate required. The
    /// certificate is then checked by the listener's verification callback against the feeds'
    /// registered fingerprints (IHE ATNA node authentication: each sender's certificate is known).
    func mllpServerConfiguration(in dataDirectory: String) throws(NodeError) -> TLSConfiguration {
        let files = try load(in: dataDirectory)
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: files.chain.map { .certificate($0) }, privateKey: .privateKey(files.key))
        c.minimumTLSVersion = .tlsv12
        c.certificateVerification = .noHostnameVerification
        return c
    }

    /// The client configuration for this node's HTTPS calls to other nodes: `trustedCAs`, else
    /// the system's roots; the host name is checked.
    func clientConfiguration(in dataDirectory: String) throws(NodeError) -> TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = .tlsv12
        if let trust = try load(in: dataDirectory).trust { c.trustRoots = .certificates(trust) }
        return c
    }
}

/// SHA-256 of a certificate's DER encoding, lower-case hex: how a feed's client certificate is
/// registered (`openssl x509 -in cert.pem -outform der | sha256sum` prints the same).
public func certificateFingerprint(_ certificate: NIOSSLCertificate) throws -> String {
    SHA256.hash(try certificate.toDERBytes()).hex
}
