import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Every decoder meets truncated, oversized and mutated input: it refuses with a typed error or,
/// when it accepts, the value re-encodes to exactly the bytes it was given (one encoding per value).
@Suite(.timeLimit(.minutes(5))) struct DecoderRobustnessTests {
    static func samples() throws -> [(String, [UInt8], ([UInt8]) throws -> [UInt8])] {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira")
        let grant = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"], explicit: ["JP"], emergency: true)))
        let tx = try chain.tx(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        let executed = try chain.executor.propose(time: chain.time.adding(milliseconds: 5000), proposer: chain.proposer, transactions: [tx], lastCommit: nil)
        try chain.executor.commit(executed)
        let entry = try #require(try Audit.entry(maria.publicKey, 1, in: chain.reader))
        let consent = try #require(try Consent.consent(grant.createdID!, patient: maria.publicKey, in: chain.reader))
        let (_, proof, _) = try chain.state.proof(Audit.entryKey(maria.publicKey, 0).bytes)
        let commit = CommitCertificate(height: 3, round: 1, blockHash: executed.block.hash, signatures: try (1...3).map { i in
            let k = DemoCast.key("v\(i)"); return CommitSignature(validator: k.publicKey, signature: try k.sign(SHA256.hash([UInt8(i)])))
        })
        let envelope = try KeyEnvelope.seal(recordKey: SHA256.hash([1]), for: maria.publicKey, context: [1])
        let proposal = Proposal(id: SHA256.hash([9]), proposer: maria.publicKey, action: .setTransferRule(DemoCast.transferRules()[1]), createdHeight: 1, deadlineHeight: 9)
        func rt<T: Canonical>(_ t: T.Type) -> ([UInt8]) throws -> [UInt8] { { try T(canonicalBytes: $0).canonicalBytes } }
        return [
            ("SignedTransaction", tx.canonicalBytes, rt(SignedTransaction.self)),
            ("Block", executed.block.canonicalBytes, rt(Block.self)),
            ("BlockHeader", executed.block.header.canonicalBytes, rt(BlockHeader.self)),
            ("Receipt", executed.receipts[0].canonicalBytes, rt(Receipt.self)),
            ("AuditEntry", entry.canonicalBytes, rt(AuditEntry.self)),
            ("ConsentRecord", consent.canonicalBytes, rt(ConsentRecord.self)),
            ("StateProof", proof.canonicalBytes, rt(StateProof.self)),
            ("CommitCertificate", commit.canonicalBytes, rt(CommitCertificate.self)),
            ("KeyEnvelope", envelope.canonicalBytes, rt(KeyEnvelope.self)),
            ("Proposal", proposal.canonicalBytes, rt(Proposal.self)),
        ]
    }

    @Test func truncatedInputIsRefusedEverywhere() throws {
        for (name, bytes, decode) in try Self.samples() {
            #expect(try decode(bytes) == bytes, "\(name) round trip")
            for cut in 0..<bytes.count {
                #expect(throws: CodecError.self, "\(name) cut at \(cut)") { try decode(Array(bytes[0..<cut])) }
            }
            #expect(throws: CodecError.self, "\(name) with a trailing byte") { try decode(bytes + [0]) }
        }
    }

    @Test func mutatedInputIsRefusedOrCanonical() throws {
        var rng = SeededGenerator(seed: testSeed(0xf00d))
        for (name, bytes, decode) in try Self.samples() {
            for _ in 0..<2000 {
                var m = bytes
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: m[Int.random(in: 0..<m.count, using: &rng)] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                case 1: m[Int.random(in: 0..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 2: m.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...m.count, using: &rng))
                default: m.remove(at: Int.random(in: 0..<m.count, using: &rng))
                }
                do {
                    let again = try decode(m)
                    #expect(again == m, "\(name) accepted a non-canonical mutation \(Hex.encode(m))")
                } catch is CodecError {
                    // refused with a typed error: fine
                } catch {
                    Issue.record("\(name): untyped error \(error)")
                }
            }
        }
    }

    @Test func oversizedLengthsAreRefusedBeforeAllocating() throws {
        // A block claiming 2^62 transactions, a string claiming 1 TiB: refused by the bound, not by memory.
        var w = CanonicalWriter()
        let header = try Self.samples()[2].1
        w.writeRaw(header); w.write(varint: 1 << 62)
        #expect(throws: CodecError(.lengthTooLarge, field: "", offset: 0)) { try Block(canonicalBytes: w.bytes) }
        var s = CanonicalWriter(); s.write(varint: 1 << 40)
        #expect(throws: CodecError(.lengthTooLarge, field: "", offset: 0)) { try String(canonicalBytes: s.bytes) }
    }
}
