internal import COpenSSL
internal import COpenSSLInit

/// The process's OpenSSL: initialised before main without the exit-time cleanup that crashed a
/// process whose threads were still inside OpenSSL as it exited (COpenSSLInit).
public enum CryptoLibrary {
    public static var exitCleanupDisabled: Bool { meridian_openssl_initialised_without_atexit() == 1 }
}

/// Why a symmetric operation failed.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case authenticationFailed = "crypto.authentication_failed"
        case invalidLength = "crypto.invalid_length"
        case backendFailed = "crypto.backend_failed"
    }
    public let code: Code
    public init(_ code: Code) { self.code = code }
    public var description: String { code.rawValue }
}

/// AES-256-GCM through OpenSSL: 32-byte key, 12-byte nonce, 16-byte tag appended to the ciphertext.
public enum AES256GCM {
    public static let nonceSize = 12
    public static let tagSize = 16

    public static func seal(_ plaintext: [UInt8], key: Bytes32, nonce: [UInt8], aad: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        guard nonce.count == nonceSize else { throw CryptoError(.invalidLength) }
        var out = [UInt8](repeating: 0, count: plaintext.count + tagSize)
        let n = plaintext.count
        let ok = key.withUnsafeBytes { k in
            out.withUnsafeMutableBufferPointer { o in
                meridian_aes256gcm_seal(k.baseAddress!.assumingMemoryBound(to: UInt8.self), nonce, aad, aad.count,
                                        plaintext, n, o.baseAddress!, o.baseAddress! + n)
            }
        }
        guard ok == 1 else { throw CryptoError(.backendFailed) }
        return out
    }

    /// Decrypts and authenticates; any change to ciphertext, tag, nonce or aad is refused.
    public static func open(_ sealed: [UInt8], key: Bytes32, nonce: [UInt8], aad: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        guard nonce.count == nonceSize, sealed.count >= tagSize else { throw CryptoError(.invalidLength) }
        let n = sealed.count - tagSize
        var out = [UInt8](repeating: 0, count: Swift.max(n, 1))
        let ok = key.withUnsafeBytes { k in
            sealed.withUnsafeBufferPointer { s in
                meridian_aes256gcm_open(k.baseAddress!.assumingMemoryBound(to: UInt8.self), nonce, aad, aad.count,
                                        s.baseAddress!, n, s.baseAddress! + n, &out)
            }
        }
        guard ok == 1 else { throw CryptoError(.authenticationFailed) }
        return Array(out.prefix(n))
    }
}

/// RFC 5869 HKDF-SHA-256 through OpenSSL.
public enum HKDF {
    public static func deriveKey(inputKey: [UInt8], salt: [UInt8], info: [UInt8], outputLength: Int = 32) throws(CryptoError) -> [UInt8] {
        guard outputLength > 0, outputLength <= 255 * 32 else { throw CryptoError(.invalidLength) }
        var out = [UInt8](repeating: 0, count: outputLength)
        guard meridian_hkdf_sha256(salt, salt.count, inputKey, inputKey.count, info, info.count, &out, outputLength) == 1 else {
            throw CryptoError(.backendFailed)
        }
        return out
    }
}

/// RFC 7914 scrypt through OpenSSL, for passphrase-encrypted keystores.
public enum Scrypt {
    public static func deriveKey(passphrase: String, salt: [UInt8], n: UInt64, r: UInt64, p: UInt64, outputLength: Int = 32) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        let pass = Array(passphrase.utf8)
        // An empty passphrase (RFC 7914's first vector) still passes a valid pointer, with length 0.
        let buffer = pass.isEmpty ? [0] : pass
        let ok = buffer.withUnsafeBufferPointer { pw in
            pw.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { cpw in
                meridian_scrypt(cpw, pass.count, salt, salt.count, n, r, p, &out, outputLength)
            }
        }
        guard ok == 1 else { throw CryptoError(.backendFailed) }
        return out
    }
}

/// PBKDF2-HMAC-SHA512 and HMAC-SHA512 through OpenSSL (BIP-39 seeds and key derivation).
public enum SHA512KDF {
    public static func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int32, outputLength: Int = 64) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        let ok = password.withUnsafeBufferPointer { pw in
            pw.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: max(password.count, 1)) {
                    meridian_pbkdf2_sha512($0, password.count, salt, salt.count, iterations, &out, outputLength)
                }
            } ?? meridian_pbkdf2_sha512("", 0, salt, salt.count, iterations, &out, outputLength)
        }
        guard ok == 1 else { throw CryptoError(.backendFailed) }
        return out
    }

    public static func hmac(key: [UInt8], data: [UInt8]) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        guard meridian_hmac_sha512(key, key.count, data, data.count, &out) == 1 else { throw CryptoError(.backendFailed) }
        return out
    }
}
