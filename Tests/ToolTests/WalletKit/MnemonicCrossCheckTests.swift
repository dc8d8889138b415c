import Foundation
import Testing
import MeridianCore
import MeridianWalletKit
import MeridianTestSupport

/// BIP-39 against an implementation no one here wrote: PyPI's `mnemonic` (the Trezor reference
/// implementation), installed by `make setup`. Phrases and seeds must agree byte for byte.
@Suite(.timeLimit(.minutes(5))) struct MnemonicCrossCheckTests {
    /// Runs the reference implementation on each entropy; returns (phrase, seed with passphrase) per entropy.
    static func reference(_ entropies: [[UInt8]], passphrase: String) async throws -> [(String, String)] {
        let script = """
            import json, sys
            from mnemonic import Mnemonic
            m = Mnemonic("english")
            args = json.load(sys.stdin)
            for e in args["entropies"]:
                p = m.to_mnemonic(bytes.fromhex(e))
                print(json.dumps([p, m.to_seed(p, args["passphrase"]).hex()]))
            """
        let request = try JSONSerialization.data(withJSONObject: ["entropies": entropies.map(Hex.encode), "passphrase": passphrase])
        let r = try await ChildProcess.run("python3", ["-c", script], input: [UInt8](request))
        guard r.status == 0 else {
            throw CrossCheckUnavailable("python3 with PyPI 'mnemonic' is needed (make setup installs it): \(r.stderr)")
        }
        return try r.stdout.split(separator: "\n").map { line in
            guard let pair = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String], pair.count == 2 else { throw CrossCheckUnavailable("bad line \(line)") }
            return (pair[0], pair[1])
        }
    }

    struct CrossCheckUnavailable: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    @Test func phrasesAndSeedsMatchTheReferenceImplementation() async throws {
        var rng = SystemRandomNumberGenerator()
        var entropies: [[UInt8]] = [[UInt8](repeating: 0, count: 16), [UInt8](repeating: 0x7f, count: 16), [UInt8](repeating: 0xff, count: 32)]
        for size in [16, 20, 24, 28, 32] { for _ in 0..<8 { entropies.append((0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }) } }
        for passphrase in ["TREZOR", "", "pässwörd ﬁ"] {   // the last needs NFKD normalisation
            let expected = try await Self.reference(entropies, passphrase: passphrase)
            #expect(expected.count == entropies.count)
            for (entropy, (phrase, seed)) in zip(entropies, expected) {
                let words = Mnemonic.phrase(entropy: entropy)
                #expect(words.joined(separator: " ") == phrase, "entropy \(Hex.encode(entropy))")
                #expect(Hex.encode(try Mnemonic.seed(phrase: words, passphrase: passphrase)) == seed, "entropy \(Hex.encode(entropy)) passphrase '\(passphrase)'")
                #expect(try Mnemonic.entropy(of: phrase.split(separator: " ").map(String.init)) == entropy)
            }
        }
    }

    /// The first official BIP-39 vector (bitcoin/bips, Trezor's vectors.json), kept as data.
    @Test func firstOfficialVector() throws {
        let words = Mnemonic.phrase(entropy: [UInt8](repeating: 0, count: 16))
        #expect(words == Array(repeating: "abandon", count: 11) + ["about"])
        #expect(Hex.encode(try Mnemonic.seed(phrase: words, passphrase: "TREZOR")) ==
                "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04")
    }

    @Test func typosAreCaughtWithTheReason() {
        var words = Mnemonic.phrase(entropy: [UInt8](repeating: 0, count: 16))
        #expect(throws: Mnemonic.MnemonicError.wordCount(11)) { try Mnemonic.entropy(of: Array(words.dropLast())) }
        words[3] = "abandonn"
        #expect(throws: Mnemonic.MnemonicError.unknownWord("abandonn")) { try Mnemonic.entropy(of: words) }
        words[3] = "ability"
        #expect(throws: Mnemonic.MnemonicError.badChecksum) { try Mnemonic.entropy(of: words) }
    }
}
