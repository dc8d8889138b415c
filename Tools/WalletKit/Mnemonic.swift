public import Foundation
public import MeridianCore

/// BIP-39 mnemonics: entropy → words (English list, checksum = first ENT/32 bits of SHA-256),
/// words → seed (PBKDF2-HMAC-SHA512, 2048 rounds, salt "mnemonic" + passphrase), and the
/// patient's key from the seed.
///
/// The key is the left half of HMAC-SHA512(key: "Meridian seed", seed) — BIP-32's master-key
/// step with Meridian's own label, so a Meridian wallet phrase never yields a Bitcoin key. If that
/// half is not a valid secp256k1 scalar (probability about 2^-128) the phrase is refused.
public enum Mnemonic {
    /// The BIP-39 English word list (bitcoin/bips, bip-0039/english.txt), checked by its SHA-256.
    public static let words: [String] = {
        guard let url = Bundle.module.url(forResource: "bip39-english", withExtension: "txt"),
              let data = try? Data(contentsOf: url),
              SHA256.hash([UInt8](data)).hex == "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda" else {
            preconditionFailure("the BIP-39 word list resource is missing or altered")
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }()

    public enum MnemonicError: Error, Hashable, Sendable, CustomStringConvertible {
        case wordCount(Int), unknownWord(String), badChecksum, invalidKey
        public var description: String {
            switch self {
            case .wordCount(let n): "mnemonic.word_count: \(n) words; a phrase has 12, 15, 18, 21 or 24"
            case .unknownWord(let w): "mnemonic.unknown_word: '\(w)' is not in the BIP-39 English list"
            case .badChecksum: "mnemonic.bad_checksum: the words are valid but do not form a phrase (a word is wrong or out of order)"
            case .invalidKey: "mnemonic.invalid_key: this phrase does not give a valid key; create a new one"
            }
        }
    }

    /// The phrase for 16-32 bytes of entropy (a multiple of 4).
    public static func phrase(entropy: [UInt8]) -> [String] {
        precondition([16, 20, 24, 28, 32].contains(entropy.count), "entropy must be 128-256 bits in steps of 32")
        let checksumBits = entropy.count / 4
        let hash = SHA256.hash(entropy).bytes
        var bits: [Bool] = []
        for b in entropy { for i in 0..<8 { bits.append((b >> (7 - i)) & 1 == 1) } }
        for i in 0..<checksumBits { bits.append((hash[i / 8] >> (7 - (i % 8))) & 1 == 1) }
        return stride(from: 0, to: bits.count, by: 11).map { start in
            words[bits[start..<start + 11].reduce(0) { $0 << 1 | ($1 ? 1 : 0) }]
        }
    }

    /// A new phrase of `wordCount` words from OpenSSL's generator.
    public static func generate(wordCount: Int = 24) throws -> [String] {
        guard [12, 15, 18, 21, 24].contains(wordCount) else { throw MnemonicError.wordCount(wordCount) }
        return phrase(entropy: try SecureRandom.bytes(wordCount * 4 / 3))
    }

    /// Checks the words and checksum; returns the entropy.
    public static func entropy(of phrase: [String]) throws(MnemonicError) -> [UInt8] {
        guard [12, 15, 18, 21, 24].contains(phrase.count) else { throw .wordCount(phrase.count) }
        var bits: [Bool] = []
        for w in phrase {
            guard let i = words.firstIndex(of: w.lowercased()) else { throw .unknownWord(w) }
            for b in 0..<11 { bits.append((i >> (10 - b)) & 1 == 1) }
        }
        let checksumBits = bits.count / 33
        let entropyBits = bits.count - checksumBits
        var entropy = [UInt8](repeating: 0, count: entropyBits / 8)
        for i in 0..<entropyBits where bits[i] { entropy[i / 8] |= 0x80 >> UInt8(i % 8) }
        let hash = SHA256.hash(entropy).bytes
        for i in 0..<checksumBits where bits[entropyBits + i] != ((hash[i / 8] >> (7 - (i % 8))) & 1 == 1) { throw .badChecksum }
        return entropy
    }

    /// The 64-byte BIP-39 seed (NFKD normalisation of the phrase and passphrase).
    public static func seed(phrase: [String], passphrase: String = "") throws -> [UInt8] {
        _ = try entropy(of: phrase)
        let sentence = phrase.map { $0.lowercased() }.joined(separator: " ").decomposedStringWithCompatibilityMapping
        let salt = ("mnemonic" + passphrase).decomposedStringWithCompatibilityMapping
        return try SHA512KDF.pbkdf2(password: Array(sentence.utf8), salt: Array(salt.utf8), iterations: 2048)
    }

    /// The patient's key for a phrase.
    public static func key(phrase: [String], passphrase: String = "") throws -> PrivateKey {
        let master = try SHA512KDF.hmac(key: Array("Meridian seed".utf8), data: try seed(phrase: phrase, passphrase: passphrase))
        guard let key = try? PrivateKey(secret: Bytes32(master[0..<32])!) else { throw MnemonicError.invalidKey }
        return key
    }
}
