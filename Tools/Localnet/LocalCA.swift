import Foundation
import Crypto
import SwiftASN1
import X509

/// The localnet's own certificate authority: a P-256 CA (`<dir>/ca.pem`, key `<dir>/ca-key.pem`,
/// 0600) that issues each node's TLS certificate for 127.0.0.1 and localhost, and client
/// certificates for MLLP senders. Clients trust it with `--ca <dir>/ca.pem` (or `$MERIDIAN_CA`).
/// Issued with swift-certificates; nothing here is hand-rolled ASN.1.
struct LocalCA {
    let key: P256.Signing.PrivateKey
    let certificate: Certificate
    let name: DistinguishedName

    /// A new CA, valid from an hour ago for `days`.
    init(commonName: String, days: Int = 825) throws {
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName("Meridian localnet")
            CommonName(commonName)
        }
        let now = Date()
        certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + Double(days) * 86400,
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(caKey.publicKey))
            },
            issuerPrivateKey: .init(caKey))
        key = caKey
        name = caName
    }

    /// A leaf certificate and its new key: for a node (server and client authentication, names
    /// 127.0.0.1, ::1 and localhost) or for an MLLP sender (client authentication only).
    func issue(commonName: String, server: Bool, days: Int = 825) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let leafKey = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Meridian localnet")
            CommonName(commonName)
        }
        let now = Date()
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(leafKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + Double(days) * 86400,
            issuer: name, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage(server ? [.serverAuth, .clientAuth] : [.clientAuth])
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
                if server {
                    SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                                             .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))])
                }
            },
            issuerPrivateKey: .init(key))
        return (leaf, leafKey)
    }

    static func pem(_ certificate: Certificate) throws -> String { try certificate.serializeAsPEM().pemString + "\n" }

    /// SHA-256 of the certificate's DER, lower-case hex (how an MLLP sender is registered).
    static func fingerprint(_ certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Writes `text` to `path`, readable by the owner only when `secret`.
    static func write(_ text: String, to path: String, secret: Bool) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: secret ? 0o600 : 0o644])
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        if secret { try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path) }
    }
}
