import Testing
import Foundation
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianLightClient
import MeridianTransparency
import MeridianDemo
import MeridianNode

/// A witness of Meridian's audit log (`ChainCheckpointAuthority` behind `TlogWitness`): a checkpoint
/// is cosigned only when the light client verifies its block's commit from genesis and it extends
/// the last one cosigned; a checkpoint of another history at a verified height, a forged commit, or a
/// height the light client has not reached are refused (403), whatever the consistency proof says.
@Suite(.timeLimit(.minutes(5))) struct ChainCheckpointAuthorityTests {
    struct Chain {
        let node: TestNode
        let genesis: Bytes32
        let blocks: [(header: BlockHeader, commit: CommitCertificate)]
        func note(_ h: Int) -> SignedNote { ChainCheckpoint(header: blocks[h - 1].header, commit: blocks[h - 1].commit).note(genesis: genesis) }
        func request(_ h: Int, oldSize: UInt64) throws -> [UInt8] {
            let header = blocks[h - 1].header
            let proof = oldSize == 0 || oldSize == header.auditLogSize ? [] : try node.chain.store.auditLog.tree(size: header.auditLogSize).consistencyProof(oldSize: oldSize)
            return AddCheckpointRequest(oldSize: oldSize, proof: proof, checkpoint: note(h).bytes).body
        }
    }

    func chain() async throws -> Chain {
        let node = try TestNode()
        _ = try await node.seedMaria()   // four blocks, each with audit entries
        var blocks: [(BlockHeader, CommitCertificate)] = []
        for h in 1...(try node.chain.store.headHeight()) {
            blocks.append((try #require(try node.chain.store.block(at: h)).header, try #require(try node.chain.store.commit(at: h))))
        }
        return Chain(node: node, genesis: try #require(try node.chain.store.genesisHeader()).hash, blocks: blocks)
    }

    func witness(_ authority: ChainCheckpointAuthority) throws -> TlogWitness {
        TlogWitness(cosigner: try Cosigner.generate(name: "dpa.pt.example/witness").0, logs: [authority], storage: InMemoryWitnessStorage(), clock: { 1_800_000_000 })
    }

    @Test func checkpointsOfTheVerifiedChainAreCosignedInOrder() async throws {
        let c = try await chain()
        #expect(c.blocks.count >= 4)
        let authority = ChainCheckpointAuthority(client: try LightClient(genesis: DemoCast.genesisSpec()))
        #expect(authority.origin == "meridian/\(DemoCast.chainID)/audit-log")
        let w = try witness(authority)
        var cosigned: UInt64 = 0
        for h in 1...c.blocks.count {
            let answer = w.addCheckpoint(try c.request(h, oldSize: cosigned))
            #expect(answer.status == 200, "height \(h): \(answer.reason)")
            let signed = try SignedNote(parsing: c.note(h).bytes + answer.body)
            #expect(try signed.cosigners(among: [w.cosigner.key]).count == 1)
            cosigned = c.blocks[h - 1].header.auditLogSize
        }
        #expect(authority.verifiedHeight == UInt64(c.blocks.count))
        // A past height, as verified, is accepted again (same size: empty proof).
        #expect(w.addCheckpoint(try c.request(c.blocks.count, oldSize: cosigned)).status == 200)
    }

    @Test func anotherHistoryAForgedCommitOrAnUnreachedHeightIsRefused() async throws {
        let c = try await chain()
        let authority = ChainCheckpointAuthority(client: try LightClient(genesis: DemoCast.genesisSpec()))
        let w = try witness(authority)
        // Two heights ahead of the light client: refused until the caller catches it up.
        let ahead = w.addCheckpoint(try c.request(2, oldSize: 0))
        #expect(ahead.status == 403 && ahead.reason.contains("checkpoint.unverified"), "\(ahead.reason)")
        #expect(w.addCheckpoint(try c.request(1, oldSize: 0)).status == 200)
        #expect(w.addCheckpoint(try c.request(2, oldSize: c.blocks[0].header.auditLogSize)).status == 200)

        // Block 2 rewritten (its log root changed: an entry hidden) and "signed" by four outsiders.
        let real = c.blocks[1].header
        let forged = BlockHeader(chainID: real.chainID, height: real.height, time: real.time, parentHash: real.parentHash, lastCommitHash: real.lastCommitHash,
                                 transactionsRoot: real.transactionsRoot, receiptsRoot: real.receiptsRoot, stateRoot: real.stateRoot,
                                 validatorsHash: real.validatorsHash, proposer: real.proposer, auditLogSize: real.auditLogSize, auditLogRoot: SHA256.hash([7]))
        let outsiders = try (0..<4).map { i -> CommitSignature in
            let k = DemoCast.key("outsider/\(i)")
            return CommitSignature(validator: k.publicKey, signature: try k.sign(CommitCertificate.precommitMessage(chainID: real.chainID, height: real.height, round: 0, blockHash: forged.hash)))
        }
        let forgedCommit = CommitCertificate(height: real.height, round: 0, blockHash: forged.hash, signatures: outsiders)
        let forgedNote = ChainCheckpoint(header: forged, commit: forgedCommit).note(genesis: c.genesis)
        let fork = w.addCheckpoint(AddCheckpointRequest(oldSize: real.auditLogSize, proof: [], checkpoint: forgedNote.bytes).body)
        #expect(fork.status == 403 && fork.reason.contains("checkpoint.fork"), "\(fork.reason)")

        // The next height with outsiders' certificate: the light client refuses the commit.
        let next = c.blocks[2].header
        let badCommit = CommitCertificate(height: next.height, round: 0, blockHash: next.hash, signatures: try (0..<4).map { i in
            let k = DemoCast.key("outsider/\(i)")
            return CommitSignature(validator: k.publicKey, signature: try k.sign(CommitCertificate.precommitMessage(chainID: next.chainID, height: next.height, round: 0, blockHash: next.hash)))
        })
        let badNote = ChainCheckpoint(header: next, commit: badCommit).note(genesis: c.genesis)
        let proof = next.auditLogSize == real.auditLogSize ? [] : try c.node.chain.store.auditLog.tree(size: next.auditLogSize).consistencyProof(oldSize: real.auditLogSize)
        let refused = w.addCheckpoint(AddCheckpointRequest(oldSize: real.auditLogSize, proof: proof, checkpoint: badNote.bytes).body)
        #expect(refused.status == 403 && refused.reason.contains("light.commit"), "\(refused.reason)")
        #expect(authority.verifiedHeight == 2)
        // A checkpoint of another chain's genesis has no commit line this witness knows.
        let otherGenesis = ChainCheckpoint(header: next, commit: c.blocks[2].commit).note(genesis: SHA256.hash([9]))
        #expect(w.addCheckpoint(AddCheckpointRequest(oldSize: real.auditLogSize, proof: proof, checkpoint: otherGenesis.bytes).body).status == 403)
    }
}
