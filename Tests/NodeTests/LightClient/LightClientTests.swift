import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianLightClient
import MeridianDemo
import MeridianNode

/// The light client against a real chain (the node's block store) and against tampered data.
@Suite(.timeLimit(.minutes(5))) struct LightClientTests {
    func chain() async throws -> (TestNode, PrivateKey, [(BlockHeader, CommitCertificate)]) {
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        var out: [(BlockHeader, CommitCertificate)] = []
        for h in 1...(try node.chain.store.headHeight()) {
            out.append((try #require(try node.chain.store.block(at: h)).header, try #require(try node.chain.store.commit(at: h))))
        }
        return (node, maria, out)
    }

    func code(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as LightClientError { return e.code } catch { return "\(error)" }
    }

    @Test func verifiesTheChainFromGenesisAndProvesAnAuditEntry() async throws {
        let (node, maria, headers) = try await chain()
        var client = try LightClient(genesis: DemoCast.genesisSpec())
        #expect(client.genesisHash == (try node.chain.store.genesisHeader())?.hash)
        for (header, certificate) in headers { try client.verifyNext(header, certificate: certificate) }
        #expect(client.head.height == UInt64(headers.count))
        let key = Audit.entryKey(maria.publicKey, 0).bytes
        let proof = try node.chain.query.proof(key, at: client.head.height)
        try client.verifyEntry(key: key, value: proof.value, proof: proof.proof, height: client.head.height)
        var tampered = try #require(proof.value)
        tampered[tampered.count / 2] ^= 1
        #expect(code { try client.verifyEntry(key: key, value: tampered, proof: proof.proof, height: client.head.height) } == "light.proof")
        #expect(code { try client.verifyEntry(key: key, value: nil, proof: proof.proof, height: client.head.height) } == "light.proof", "a hidden entry is caught")
    }

    /// A page of `/v1/light/headers` is hostile input: a header that is not hex, one cut short, or one
    /// without its certificate is refused with `light.decode` and the reason; a good page advances.
    @Test func aHostileHeadersPageIsRefusedWithItsReason() async throws {
        let (_, _, headers) = try await chain()
        let (h1, c1) = headers[0]
        func page(_ header: String, _ commit: String?) -> LightHeadersPage {
            LightHeadersPage(head: 1, headers: [.init(height: 1, header: header, commit: commit, validatorSet: nil)])
        }
        let good = Hex.encode(h1.canonicalBytes), cert = Hex.encode(c1.canonicalBytes)
        for (bad, reason) in [(page("zz", cert), "not hex"), (page(String(good.dropLast(8)), cert), "does not decode"), (page(good, nil), "without its certificate")] {
            var client = try LightClient(genesis: DemoCast.genesisSpec())
            do { try client.advance(with: bad, upTo: 1); Issue.record("a hostile page was taken") }
            catch { #expect(error.code == "light.decode" && error.message.contains(reason), "\(error)") }
            #expect(client.head.height == 0)
        }
        var client = try LightClient(genesis: DemoCast.genesisSpec())
        #expect(try client.advance(with: page(good, cert), upTo: 1) == 1 && client.head.height == 1)
    }

    @Test func tamperedHeadersAndForgedCertificatesAreNamed() async throws {
        let (_, _, headers) = try await chain()
        let (h1, c1) = headers[0]
        var client = try LightClient(genesis: DemoCast.genesisSpec())
        // A header whose state root was changed: its hash no longer matches what the validators signed.
        let forgedRoot = BlockHeader(chainID: h1.chainID, height: h1.height, time: h1.time, parentHash: h1.parentHash, lastCommitHash: h1.lastCommitHash,
                                     transactionsRoot: h1.transactionsRoot, receiptsRoot: h1.receiptsRoot, stateRoot: SHA256.hash([1]),
                                     validatorsHash: h1.validatorsHash, proposer: h1.proposer)
        #expect(code { try client.verifyNext(forgedRoot, certificate: c1) } == "light.commit")
        // Only two of four validators (not more than 2/3 of the power).
        let weak = CommitCertificate(height: c1.height, round: c1.round, blockHash: c1.blockHash, signatures: Array(c1.signatures.prefix(2)))
        #expect(code { try client.verifyNext(h1, certificate: weak) } == "light.commit")
        // Signatures by keys that are not validators.
        let outsiders = try (0..<4).map { i -> CommitSignature in
            let k = DemoCast.key("outsider/\(i)")
            return CommitSignature(validator: k.publicKey, signature: try k.sign(CommitCertificate.precommitMessage(chainID: h1.chainID, height: 1, round: 0, blockHash: h1.hash)))
        }
        #expect(code { try client.verifyNext(h1, certificate: CommitCertificate(height: 1, round: 0, blockHash: h1.hash, signatures: outsiders)) } == "light.commit")
        // Out of order, or from another chain's genesis.
        #expect(code { try client.verifyNext(headers[1].0, certificate: headers[1].1) } == "light.height")
        var other = DemoCast.genesisSpec()
        other.genesisTime = "2026-02-01T00:00:00Z"
        var otherClient = try LightClient(genesis: other)
        #expect(code { try otherClient.verifyNext(h1, certificate: c1) } == "light.parent")
        // A header naming a validator set the client does not know needs its proof.
        let newSet = BlockHeader(chainID: h1.chainID, height: h1.height, time: h1.time, parentHash: h1.parentHash, lastCommitHash: h1.lastCommitHash,
                                 transactionsRoot: h1.transactionsRoot, receiptsRoot: h1.receiptsRoot, stateRoot: h1.stateRoot,
                                 validatorsHash: SHA256.hash([2]), proposer: h1.proposer)
        #expect(code { try client.verifyNext(newSet, certificate: c1) } == "light.validators_needed")
        try client.verifyNext(h1, certificate: c1)
        #expect(client.head.height == 1)
    }
}
