import Foundation
import Testing
import MeridianCore
import MeridianTestSupport

/// The cryptography the project calls, checked against answers published by others, never against
/// the project's own output: scrypt (RFC 7914 §12), AES-256-GCM (the GCM specification's 256-bit
/// test cases 13–16, McGrew & Viega, the vectors NIST's GCM validation starts from), HKDF-SHA-256
/// (RFC 5869 appendix A), and the RFC 9162 Merkle tree against PyPI's `pymerkle` (installed by
/// `make setup`), an implementation no one here wrote.
@Suite(.timeLimit(.minutes(5))) struct CryptoKnownAnswerTests {
    static func hex(_ s: String) -> [UInt8] { Hex.decode(s)! }

    @Test func scryptMatchesRFC7914() throws {
        let cases: [(String, String, UInt64, UInt64, UInt64, String)] = [
            ("", "", 16, 1, 1,
             "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"),
            ("password", "NaCl", 1024, 8, 16,
             "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"),
            ("pleaseletmein", "SodiumChloride", 16384, 8, 1,
             "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"),
        ]
        for (password, salt, n, r, p, expected) in cases {
            let key = try Scrypt.deriveKey(passphrase: password, salt: Array(salt.utf8), n: n, r: r, p: p, outputLength: 64)
            #expect(Hex.encode(key) == expected, "scrypt(\(password), \(salt), N=\(n), r=\(r), p=\(p))")
        }
    }

    @Test func aes256GCMMatchesTheSpecificationsTestCases() throws {
        let k15 = Bytes32(hex: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")!
        let iv15 = Self.hex("cafebabefacedbaddecaf888")
        let p15 = Self.hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
        let cases: [(key: Bytes32, iv: [UInt8], plaintext: [UInt8], aad: [UInt8], ciphertext: String, tag: String)] = [
            (.zero, [UInt8](repeating: 0, count: 12), [], [], "", "530f8afbc74536b9a963b4f1c4cb738b"),                     // 13
            (.zero, [UInt8](repeating: 0, count: 12), [UInt8](repeating: 0, count: 16), [],
             "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"),                                    // 14
            (k15, iv15, p15, [],
             "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
             "b094dac5d93471bdec1a502270e3cc6c"),                                                                          // 15
            (k15, iv15, Array(p15.prefix(60)), Self.hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
             "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
             "76fc6ece0f4e1768cddf8853bb2d551b"),                                                                          // 16
        ]
        for (i, c) in cases.enumerated() {
            let sealed = try AES256GCM.seal(c.plaintext, key: c.key, nonce: c.iv, aad: c.aad)
            #expect(Hex.encode(Array(sealed.dropLast(AES256GCM.tagSize))) == c.ciphertext, "test case \(13 + i): ciphertext")
            #expect(Hex.encode(Array(sealed.suffix(AES256GCM.tagSize))) == c.tag, "test case \(13 + i): tag")
            #expect(try AES256GCM.open(sealed, key: c.key, nonce: c.iv, aad: c.aad) == c.plaintext)
            var forged = sealed; forged[forged.count - 1] ^= 0x80
            #expect(throws: CryptoError(.authenticationFailed)) { try AES256GCM.open(forged, key: c.key, nonce: c.iv, aad: c.aad) }
        }
    }

    @Test func hkdfMatchesRFC5869() throws {
        // A.2: long inputs; A.3: no salt and no info.
        let okm2 = try HKDF.deriveKey(inputKey: (0x00...0x4f).map { UInt8($0) }, salt: (0x60...0xaf).map { UInt8($0) },
                                      info: (0xb0...0xff).map { UInt8($0) }, outputLength: 82)
        #expect(Hex.encode(okm2) == "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87")
        let okm3 = try HKDF.deriveKey(inputKey: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], outputLength: 42)
        #expect(Hex.encode(okm3) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    /// Roots of trees of 1...70 leaves and every inclusion proof of some of them, against pymerkle
    /// (RFC 9162 mode: 0x00 leaf and 0x01 node prefixes, SHA-256). Its inclusion path is the leaf's
    /// hash followed by the RFC's audit path, bottom up; its indices start at 1.
    @Test func merkleTreeMatchesPymerkle() async throws {
        let script = """
            import json, sys
            from pymerkle import InmemoryTree
            n, proofs = json.load(sys.stdin)
            t = InmemoryTree(algorithm='sha256')
            for i in range(n):
                t.append_entry(b'meridian-leaf-%d' % i)
            out = {'roots': [t.get_root(s).hex() for s in range(1, n + 1)], 'paths': {}}
            for s in proofs:
                out['paths'][str(s)] = [t.prove_inclusion(i + 1, s).serialize()['path'][1:] for i in range(s)]
            print(json.dumps(out))
            """
        let n = 70, proofSizes = [1, 2, 3, 5, 8, 13, 31, 32, 33, 64, 70]
        let request = try JSONSerialization.data(withJSONObject: [n, proofSizes])
        let r = try await ChildProcess.run("python3", ["-W", "ignore", "-c", script], input: [UInt8](request))
        try #require(r.status == 0, "python3 with PyPI 'pymerkle' is needed (make setup installs it): \(r.stderr)")
        struct Reference: Decodable { let roots: [String]; let paths: [String: [[String]]] }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(r.stdout.utf8))
        let hashes = (0..<n).map { MerkleTree.leafHash(Array("meridian-leaf-\($0)".utf8)) }
        #expect(reference.roots.count == n)
        for size in 1...n {
            #expect(MerkleTree.root(leafHashes: Array(hashes[0..<size])).hex == reference.roots[size - 1], "root of \(size) leaves")
        }
        for size in proofSizes {
            let expected = try #require(reference.paths[String(size)])
            for i in 0..<size {
                let proof = MerkleTree.inclusionProof(index: i, leafHashes: Array(hashes[0..<size]))
                #expect(proof.map(\.hex) == expected[i], "inclusion proof of leaf \(i) in \(size)")
            }
        }
    }
}
