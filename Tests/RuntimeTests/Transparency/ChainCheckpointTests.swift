import Testing
import MeridianCore
import MeridianTransparency
import Foundation

/// The audit log's checkpoint made the chain's by a block's commit: byte-exact checkpoint text, a
/// commit line that only this genesis's key ID names, and every mismatch refused with its reason.
@Suite(.timeLimit(.minutes(5))) struct ChainCheckpointTests {
    static let keys = (1...4).map { try! PrivateKey(secret: SHA256.hash([UInt8($0)])) }
    static let genesis = SHA256.hash(Array("genesis".utf8))

    static func signed(size: UInt64 = 1_234, root: Bytes32 = SHA256.hash([1])) throws -> (BlockHeader, CommitCertificate) {
        let header = BlockHeader(chainID: "meridian-test", height: 42, time: Timestamp(unixMilliseconds: 1_800_000_000_000), parentHash: SHA256.hash([2]),
                                 lastCommitHash: .zero, transactionsRoot: MerkleTree.emptyRoot, receiptsRoot: MerkleTree.emptyRoot, stateRoot: SHA256.hash([3]),
                                 validatorsHash: ValidatorPower.setHash(keys.map { ValidatorPower(key: $0.publicKey, power: 1) }), proposer: keys[0].publicKey,
                                 auditLogSize: size, auditLogRoot: root)
        let message = CommitCertificate.precommitMessage(chainID: header.chainID, height: 42, round: 0, blockHash: header.hash)
        let commit = CommitCertificate(height: 42, round: 0, blockHash: header.hash,
                                       signatures: try keys.map { CommitSignature(validator: $0.publicKey, signature: try $0.sign(message)) })
        return (header, commit)
    }

    @Test func theCheckpointIsByteExactAndOpensToTheCommittedHeader() throws {
        let (header, commit) = try Self.signed()
        let note = ChainCheckpoint(header: header, commit: commit).note(genesis: Self.genesis)
        let text = "meridian/meridian-test/audit-log\n1234\n\(SHA256.hash([1]).bytes.base64)\n"
        #expect(note.text == text)
        let opened = try ChainCheckpoint(opening: note.bytes, chainID: "meridian-test", genesis: Self.genesis)
        #expect(opened.header == header && opened.commit == commit && opened.checkpoint.size == 1234)
        #expect((try? opened.commit.verify(chainID: "meridian-test", validators: Self.keys.map { ValidatorPower(key: $0.publicKey, power: 1) }, blockHash: opened.header.hash).get()) != nil)
        // Cosignatures after the commit line do not disturb it.
        let cosigner = try Cosigner(name: "dpa.pt.example/witness", seed: [UInt8](repeating: 1, count: 32))
        let cosigned = note.adding([try cosigner.cosign(checkpointText: note.text, timestamp: 1)])
        #expect(try ChainCheckpoint(opening: cosigned.bytes, chainID: "meridian-test", genesis: Self.genesis) == opened)
    }

    @Test func mismatchesAreRefusedWithTheirReason() throws {
        let (header, commit) = try Self.signed()
        let good = ChainCheckpoint(header: header, commit: commit).note(genesis: Self.genesis)
        func code(_ bytes: [UInt8], chain: String = "meridian-test", genesis: Bytes32 = ChainCheckpointTests.genesis) -> String? {
            do { _ = try ChainCheckpoint(opening: bytes, chainID: chain, genesis: genesis); return nil } catch { return error.code }
        }
        // Another genesis: its key ID differs, so the line is not this chain's.
        #expect(code(good.bytes, genesis: SHA256.hash([9])) == "checkpoint.no_commit")
        #expect(code(good.bytes, chain: "other") == "checkpoint.wrong_origin")
        // A size or root that is not the header's.
        let lying = SignedNote(text: "meridian/meridian-test/audit-log\n1235\n\(SHA256.hash([1]).bytes.base64)\n", signatures: good.signatures)
        #expect(code(lying.bytes) == "checkpoint.mismatch")
        // A certificate of another block.
        let (other, otherCommit) = try Self.signed(size: 1_234, root: SHA256.hash([1]))
        _ = other
        let wrongHeader = BlockHeader(chainID: header.chainID, height: header.height, time: header.time, parentHash: SHA256.hash([7]), lastCommitHash: .zero,
                                      transactionsRoot: header.transactionsRoot, receiptsRoot: header.receiptsRoot, stateRoot: header.stateRoot,
                                      validatorsHash: header.validatorsHash, proposer: header.proposer, auditLogSize: 1_234, auditLogRoot: SHA256.hash([1]))
        #expect(code(ChainCheckpoint(header: wrongHeader, commit: otherCommit).note(genesis: Self.genesis).bytes) == "checkpoint.mismatch")
        // Trailing bytes in the commit line; an extension line.
        var line = good.signatures[0]
        line = NoteSignature(name: line.name, keyID: line.keyID, signature: line.signature + [0])
        #expect(code(SignedNote(text: good.text, signatures: [line]).bytes) == "checkpoint.bad_commit")
        #expect(code(SignedNote(text: good.text + "extension\n", signatures: good.signatures).bytes) == "checkpoint.extension")
    }
}

extension Array where Element == UInt8 {
    var base64: String { Data(self).base64EncodedString() }
}
