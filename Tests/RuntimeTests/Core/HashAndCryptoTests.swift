import Testing
@testable import MeridianCore

@Suite(.timeLimit(.minutes(5))) struct HashAndCryptoTests {
    @Test func sha256KnownAnswers() {
        #expect(SHA256.hash([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let a = SHA256.hash(Array("a".utf8)), b = SHA256.hash(Array("b".utf8))
        #expect(SHA256.hash(prefix: 1, a, b) == SHA256.hash([1] + a.bytes + b.bytes))
    }

    @Test func hkdfMatchesRFC5869TestCase1() throws {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        let salt = Hex.decode("000102030405060708090a0b0c")!
        let info = Hex.decode("f0f1f2f3f4f5f6f7f8f9")!
        let okm = try HKDF.deriveKey(inputKey: ikm, salt: salt, info: info, outputLength: 42)
        #expect(Hex.encode(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    /// OpenSSL's exit-time cleanup is off in every process that links MeridianCore (this one
    /// included): with it, a process exiting while a thread sealed a P2P frame crashed (SIGSEGV in
    /// OpenSSL's freed locks) after every test had passed.
    @Test func openSSLKeepsItsStateUntilTheProcessIsGone() {
        #expect(CryptoLibrary.exitCleanupDisabled)
    }

    @Test func aesGcmRoundTripsAndRefusesTampering() throws {
        let key = Bytes32(hex: String(repeating: "42", count: 32))!
        let nonce = [UInt8](repeating: 7, count: 12)
        let sealed = try AES256GCM.seal(Array("summary".utf8), key: key, nonce: nonce, aad: [1, 2])
        #expect(try AES256GCM.open(sealed, key: key, nonce: nonce, aad: [1, 2]) == Array("summary".utf8))
        var tampered = sealed; tampered[0] ^= 1
        #expect(throws: CryptoError(.authenticationFailed)) { try AES256GCM.open(tampered, key: key, nonce: nonce, aad: [1, 2]) }
        #expect(throws: CryptoError(.authenticationFailed)) { try AES256GCM.open(sealed, key: key, nonce: nonce, aad: [1, 3]) }
        #expect(try AES256GCM.open(try AES256GCM.seal([], key: key, nonce: nonce), key: key, nonce: nonce) == [])
    }

    @Test func keyEnvelopeOpensOnlyForItsRecipientAndContext() throws {
        let recipient = testKey(3), stranger = testKey(4)
        let recordKey = Bytes32(hex: String(repeating: "ab", count: 32))!
        let envelope = try KeyEnvelope.seal(recordKey: recordKey, for: recipient.publicKey, context: [9, 9])
        #expect(try envelope.open(with: recipient, context: [9, 9]) == recordKey)
        #expect(throws: (any Error).self) { try envelope.open(with: stranger, context: [9, 9]) }
        #expect(throws: (any Error).self) { try envelope.open(with: recipient, context: [9, 8]) }
        let decoded = try KeyEnvelope(canonicalBytes: envelope.canonicalBytes)
        #expect(decoded == envelope)
    }

    @Test func merkleTreeMatchesRFC9162AndProvesEveryLeaf() {
        #expect(MerkleTree.root(leaves: []) == SHA256.hash([UInt8]()))
        let leaves = (0..<13).map { [UInt8]("leaf\($0)".utf8) }
        let hashes = leaves.map(MerkleTree.leafHash)
        // Three leaves by hand: MTH = H(1 || H(1 || h0 || h1) || h2).
        let three = MerkleTree.root(leafHashes: Array(hashes[0..<3]))
        #expect(three == MerkleTree.nodeHash(MerkleTree.nodeHash(hashes[0], hashes[1]), hashes[2]))
        for n in 1...13 {
            let subset = Array(hashes[0..<n])
            let root = MerkleTree.root(leafHashes: subset)
            for i in 0..<n {
                let proof = MerkleTree.inclusionProof(index: i, leafHashes: subset)
                #expect(MerkleTree.verifyInclusion(leafHash: subset[i], index: i, treeSize: n, proof: proof, root: root))
                #expect(!MerkleTree.verifyInclusion(leafHash: MerkleTree.leafHash([0xff]), index: i, treeSize: n, proof: proof, root: root))
            }
        }
    }

    @Test func timestampsFormatAndParseISO8601() {
        let t = Timestamp(iso8601: "2027-03-31T23:59:59Z")!
        #expect(t.iso8601 == "2027-03-31T23:59:59.000Z")
        #expect(Timestamp(iso8601: "2027-06-30")!.iso8601 == "2027-06-30T00:00:00.000Z")
        #expect(Timestamp(iso8601: "2024-02-29")!.unixMilliseconds == 1_709_164_800_000)
        #expect(Timestamp(iso8601: "2023-02-29") == nil)
        #expect(Timestamp(iso8601: "2027-13-01") == nil)
        #expect(Timestamp(iso8601: "yesterday") == nil)
    }
}
