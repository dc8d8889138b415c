internal import COpenSSL

/// SHA-256 through OpenSSL's libcrypto. The one hash of Meridian: block, transaction and state
/// hashes, Merkle nodes, commitments.
public enum SHA256 {
    /// The digest of `bytes`.
    @inlinable public static func hash<C: ContiguousBytes>(_ bytes: C) -> Bytes32 {
        bytes.withUnsafeBytes { raw in digest(raw) }
    }

    public static func hash(_ bytes: [UInt8]) -> Bytes32 {
        bytes.withUnsafeBytes { digest($0) }
    }

    @usableFromInline static func digest(_ raw: UnsafeRawBufferPointer) -> Bytes32 {
        Bytes32.filling { out in
            meridian_sha256(raw.baseAddress, raw.count, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// SHA-256 of `prefix || a || b`: the Merkle node hash, with no intermediate allocation.
    public static func hash(prefix: UInt8, _ a: Bytes32, _ b: Bytes32) -> Bytes32 {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buffer in
            buffer[0] = prefix
            a.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0) }
            b.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[33..<65]).copyMemory(from: $0) }
            return digest(UnsafeRawBufferPointer(buffer))
        }
    }

    /// BIP-340 style tagged hash: SHA256(SHA256(tag) || SHA256(tag) || message). Used to separate
    /// the domains of everything Meridian signs, so a signature can never be replayed as another kind.
    public static func tagged(_ tag: String, _ message: [UInt8]) -> Bytes32 {
        var hasher = Hasher256(tag: tag)
        message.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }
}

/// Incremental SHA-256 (OpenSSL's context held by value; it owns no heap memory).
public struct Hasher256 {
    private var context = SHA256_CTX()

    public init() { meridian_sha256_init(&context) }

    /// Starts a BIP-340 tagged hash.
    public init(tag: String) {
        self.init()
        let tagHash = SHA256.hash(Array(tag.utf8))
        update(tagHash)
        update(tagHash)
    }

    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        meridian_sha256_update(&context, raw.baseAddress, raw.count)
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public mutating func update(_ value: Bytes32) { value.withUnsafeBytes { update($0) } }

    public mutating func finalize() -> Bytes32 {
        Bytes32.filling { out in
            meridian_sha256_final(&context, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}

/// Byte containers the hash accepts without copying.
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}
extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
extension Bytes32: ContiguousBytes {}
extension Bytes64: ContiguousBytes {}
