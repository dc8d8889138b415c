import Testing
@testable import MeridianCore

/// Parsed keys are kept for reuse (`ParsedKeys`): a key's validity and every verification must be
/// the same whether it was parsed now or long ago, across evictions, and a key off the curve is
/// never taken for one that parsed.
@Suite(.timeLimit(.minutes(5))) struct ParsedKeyCacheTests {
    @Test func validityAndVerificationDoNotDependOnWhatWasParsedBefore() throws {
        // More distinct keys than the cache holds: every shard is emptied at least once.
        let keys = try (0..<(16 * ParsedKeys.perShard + 4096)).map { _ in try PrivateKey.generate() }
        let message = SHA256.hash(Array("meridian".utf8))
        let first = keys[0], signature = try first.sign(message)
        for k in keys { _ = try PublicKey(k.publicKey.bytes32) }   // parsed, kept, evicted
        #expect(first.publicKey.verify(signature, message: message))
        #expect(!keys[1].publicKey.verify(signature, message: message))
        #expect(try PublicKey(first.publicKey.bytes32).verify(signature, message: message))
        // x = 5 has no point on secp256k1 (5³ + 7 = 132 is not a square mod p): refused every time.
        var bad = [UInt8](repeating: 0, count: 32); bad[31] = 5
        for _ in 0..<3 { #expect(throws: KeyError.self) { try PublicKey(Bytes32(bad)!) } }
        #expect(!PublicKey(unchecked: Bytes32(bad)!).verify(signature, message: message))
    }
}
