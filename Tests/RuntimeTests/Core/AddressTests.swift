import Testing
@testable import MeridianCore

@Suite(.timeLimit(.minutes(5))) struct AddressTests {
    @Test func bech32mReferenceVectorsChecksum() {
        // Valid Bech32m strings from BIP-350.
        for s in ["A1LQFN3A", "a1lqfn3a", "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
                  "split1checkupstagehandshakeupstreamerranterredcaperredlc445v"] {
            guard case .success = Bech32m.decode(s) else { Issue.record("\(s) should decode"); continue }
        }
        // Invalid: a Bech32 (not m) checksum, mixed case.
        for s in ["a12uel5l", "A1lqfn3a"] {
            if case .success = Bech32m.decode(s) { Issue.record("\(s) should not decode") }
        }
    }

    @Test func addressRoundTrips() {
        let key = testKey(1).publicKey
        let text = Address(key).description
        #expect(text.hasPrefix("mer1"))
        #expect(text.count == 62)
        #expect(Address(text)?.publicKey == key)
        #expect(Address(text.uppercased())?.publicKey == key)
    }

    @Test func everySingleCharacterTypoIsCaught() {
        let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
        for n: UInt8 in [1, 2, 3] {
            let text = Array(Address(testKey(n).publicKey).description)
            var tried = 0
            for i in 4..<text.count {
                for c in charset where c != text[i] {
                    var typo = text; typo[i] = c
                    #expect(Address(String(typo)) == nil, "typo at \(i) accepted")
                    tried += 1
                }
            }
            #expect(tried == 58 * 31)
        }
    }
}
