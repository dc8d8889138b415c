import Testing
import Foundation
@testable import MeridianCore

/// The official BIP-340 test vectors (bitcoin/bips, bip-0340/test-vectors.csv), every row.
@Suite(.timeLimit(.minutes(5))) struct BIP340VectorTests {
    struct Row { let index: Int; let secret: String; let publicKey: String; let aux: String; let message: String; let signature: String; let valid: Bool }

    static func rows() throws -> [Row] {
        let text = try String(contentsOf: dataFile("bip340-test-vectors.csv"), encoding: .utf8)
        return text.split(whereSeparator: \.isNewline).dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return Row(index: Int(f[0])!, secret: f[1], publicKey: f[2], aux: f[3], message: f[4], signature: f[5], valid: f[6] == "TRUE")
        }
    }

    @Test func everyRowOfTheOfficialVectorsPasses() throws {
        let rows = try Self.rows()
        #expect(rows.count == 15)
        for row in rows {
            let message = Bytes32(hex: row.message)!
            let signature = Bytes64(hex: row.signature)!
            if !row.secret.isEmpty {
                let key = try PrivateKey(secret: Bytes32(hex: row.secret)!)
                #expect(key.publicKey.hex == row.publicKey.lowercased(), "row \(row.index) public key")
                let produced = try key.sign(message, auxRand: Bytes32(hex: row.aux)!)
                #expect(produced == signature, "row \(row.index) signature")
            }
            let verified: Bool
            if let key = try? PublicKey(hex: row.publicKey) { verified = key.verify(signature, message: message) } else { verified = false }
            #expect(verified == row.valid, "row \(row.index) verification")
        }
    }

    @Test func aFlippedBitInSignatureOrMessageFailsVerification() throws {
        let key = testKey(7)
        let message = SHA256.hash(Array("consent".utf8))
        let sig = try key.sign(message)
        #expect(key.publicKey.verify(sig, message: message))
        var bytes = sig.bytes; bytes[10] ^= 1
        #expect(!key.publicKey.verify(Bytes64(bytes)!, message: message))
        var m = message.bytes; m[0] ^= 0x80
        #expect(!key.publicKey.verify(sig, message: Bytes32(m)!))
    }

    @Test func sharedSecretIsSymmetricDespiteXOnlyKeys() throws {
        for i in 1...20 {
            let a = testKey(UInt8(i)), b = testKey(UInt8(100 + i))
            #expect(try a.sharedSecret(with: b.publicKey) == b.sharedSecret(with: a.publicKey))
        }
    }
}
