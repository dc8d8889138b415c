import Testing
import Foundation
import Logging
import Synchronization
import Hummingbird
import HummingbirdTesting
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianLightClient
import MeridianTransparency
import MeridianDemo
import MeridianNode
import MeridianStorage

/// A validator pushes each checkpoint of the audit log to the witnesses (`WitnessPusher`) and serves
/// their cosignatures beside the checkpoint. The witnesses here are real `TlogWitness`es that verify
/// the chain's commits with a light client, reached through an in-process transport (one down, one
/// answering a forged cosignature).
@Suite(.timeLimit(.minutes(5))) struct WitnessPusherTests {
    /// Routes `add-checkpoint` to in-process witnesses; a URL in `down` throws, one in `forging`
    /// answers 200 with a cosignature by another key.
    /// Each witness's light client is brought up to the checkpoint's parent from the node's store
    /// first, as `meridian-witness` does from a node's `/v1/light/headers`.
    final class InProcess: WitnessTransport {
        let witnesses: [String: (witness: TlogWitness, authority: ChainCheckpointAuthority)]
        let store: BlockStore
        let down: Mutex<Set<String>>
        let forging: String?
        let requests = Mutex<[(url: String, oldSize: UInt64)]>([])
        init(_ witnesses: [String: (TlogWitness, ChainCheckpointAuthority)], store: BlockStore, down: Set<String> = [], forging: String? = nil) {
            self.witnesses = witnesses.mapValues { (witness: $0.0, authority: $0.1) }; self.store = store; self.down = Mutex(down); self.forging = forging
        }

        func catchUp(_ authority: ChainCheckpointAuthority, to height: UInt64) throws {
            guard height > authority.verifiedHeight + 1 else { return }
            let items = try ((authority.verifiedHeight + 1)..<height).map { h -> LightHeadersPage.Item in
                let block = try #require(try store.block(at: h)), commit = try #require(try store.commit(at: h))
                return .init(height: h, header: Hex.encode(block.header.canonicalBytes), commit: Hex.encode(commit.canonicalBytes), validatorSet: nil)
            }
            _ = try authority.advance(with: LightHeadersPage(head: height, headers: items), upTo: height - 1)
        }
        func addCheckpoint(_ body: [UInt8], to url: String) async throws -> (status: Int, body: [UInt8]) {
            if down.withLock({ $0.contains(url) }) { throw TestFailure("\(url) is down") }
            requests.withLock { $0.append((url, (try? AddCheckpointRequest(parsing: body))?.oldSize ?? .max)) }
            if url == forging {
                let request = try AddCheckpointRequest(parsing: body)
                let text = try SignedNote(parsing: request.checkpoint).text
                let stranger = try Cosigner.generate(name: "forger.example/witness").0
                return (200, Array(try stranger.cosign(checkpointText: text, timestamp: 1).line.utf8))
            }
            guard let (w, authority) = witnesses[url] else { return (404, []) }
            let request = try AddCheckpointRequest(parsing: body)
            if let height = authority.height(of: try SignedNote(parsing: request.checkpoint)) { try catchUp(authority, to: height) }
            let answer = w.addCheckpoint(body)
            return (answer.status, answer.body)
        }
    }

    static func witness(_ name: String) throws -> (TlogWitness, ChainCheckpointAuthority) {
        let authority = ChainCheckpointAuthority(client: try LightClient(genesis: DemoCast.genesisSpec()))
        return (TlogWitness(cosigner: try Cosigner.generate(name: name).0, logs: [authority], storage: InMemoryWitnessStorage()), authority)
    }

    static func checkpoint(_ node: TestNode, witnesses: WitnessPusher) async throws -> SignedNote {
        let app = Application(router: node.makeAPI(services: NodeServices(witnesses: witnesses)).router())
        return try await app.test(.router) { client in
            try await client.execute(uri: "/v1/audit-log/checkpoint", method: .get) { response in
                #expect(response.status == .ok)
                return try SignedNote(parsing: Array(response.body.readableBytesView))
            }
        }
    }

    @Test func eachCheckpointIsPushedWithItsProofAndTheCosignaturesAreServedBesideIt() async throws {
        let node = try TestNode()
        let (_, record, _) = try await node.seedMaria()
        let (pt, ptLight) = try Self.witness("dpa.pt.example/witness"), (de, deLight) = try Self.witness("dpa.de.example/witness")
        let transport = InProcess(["https://pt": (pt, ptLight), "https://de": (de, deLight)], store: node.chain.store)
        var logger = Logger(label: "witness-pusher-test"); logger.logLevel = .critical
        let endpoints = [WitnessEndpoint(url: "https://pt", vkey: pt.cosigner.key.encoded), WitnessEndpoint(url: "https://de", vkey: de.cosigner.key.encoded)]
        let pusher = try WitnessPusher(witnesses: endpoints, store: node.chain.store, transport: transport, logger: logger)
        await pusher.pushHead()
        var served = try await Self.checkpoint(node, witnesses: pusher)
        #expect(try served.cosigners(among: [pt.cosigner.key, de.cosigner.key]).count == 2)
        // The chain's commit line is still there: the checkpoint opens as the chain's.
        let genesis = try #require(try node.chain.store.genesisHeader()).hash
        #expect((try ChainCheckpoint(opening: served, chainID: DemoCast.chainID, genesis: genesis)).header.height == (try node.chain.store.headHeight()))

        // The log grows; a second pusher that does not know what the witnesses hold learns it from
        // their 409 and sends the consistency proof from there.
        for _ in 0..<2 {
            try await node.submit(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        }
        let fresh = try WitnessPusher(witnesses: endpoints, store: node.chain.store, transport: transport, logger: logger)
        await fresh.pushHead()
        let sizes = transport.requests.withLock { $0.filter { $0.url == "https://pt" }.map(\.oldSize) }
        let first = try Checkpoint(parsing: served.text).size
        #expect(sizes.suffix(2) == [0, first], "the fresh pusher's requests to PT: \(sizes)")
        served = try await Self.checkpoint(node, witnesses: fresh)
        #expect(try served.cosigners(among: [pt.cosigner.key, de.cosigner.key]).count == 2)
        #expect(try Checkpoint(parsing: served.text).size > first)
    }

    @Test func aWitnessThatIsDownOrForgesDoesNotHoldTheOthers() async throws {
        let node = try TestNode()
        _ = try await node.seedMaria()
        let (pt, ptLight) = try Self.witness("dpa.pt.example/witness"), (fr, frLight) = try Self.witness("dpa.fr.example/witness")
        let (ch, chLight) = try Self.witness("dpa.ch.example/witness")
        let transport = InProcess(["https://pt": (pt, ptLight), "https://fr": (fr, frLight), "https://ch": (ch, chLight)], store: node.chain.store,
                                  down: ["https://fr"], forging: "https://ch")
        var logger = Logger(label: "witness-pusher-test"); logger.logLevel = .critical
        let pusher = try WitnessPusher(witnesses: [WitnessEndpoint(url: "https://pt", vkey: pt.cosigner.key.encoded),
                                                   WitnessEndpoint(url: "https://fr", vkey: fr.cosigner.key.encoded),
                                                   WitnessEndpoint(url: "https://ch", vkey: ch.cosigner.key.encoded)],
                                       store: node.chain.store, transport: transport, logger: logger)
        await pusher.pushHead()
        let served = try await Self.checkpoint(node, witnesses: pusher)
        #expect(try served.cosigners(among: [pt.cosigner.key]).count == 1)
        #expect(try served.cosigners(among: [fr.cosigner.key, ch.cosigner.key]).isEmpty, "a cosignature of a witness that is down or forged")
        // Back up, FR cosigns at the next push.
        transport.down.withLock { $0 = [] }
        await pusher.pushHead()
        #expect(try await Self.checkpoint(node, witnesses: pusher).cosigners(among: [pt.cosigner.key, fr.cosigner.key]).count == 2)
        // A witness key that does not parse is refused when the node starts, naming the witness.
        #expect(throws: NodeError.self) {
            try WitnessPusher(witnesses: [WitnessEndpoint(url: "https://x", vkey: "not a key")], store: node.chain.store, transport: transport, logger: logger)
        }
    }

    /// The demo's witnesses as in-process witnesses with the demo keys (registered in the genesis).
    static func demoWitness(_ country: String) throws -> (TlogWitness, ChainCheckpointAuthority) {
        let authority = ChainCheckpointAuthority(client: try LightClient(genesis: DemoCast.genesisSpec()))
        return (TlogWitness(cosigner: DemoCast.witness(country), logs: [authority], storage: InMemoryWitnessStorage()), authority)
    }

    static func get(_ node: TestNode, _ pusher: WitnessPusher?, _ uri: String) async throws -> (status: Int, body: [UInt8]) {
        let app = Application(router: node.makeAPI(services: NodeServices(witnesses: pusher)).router())
        return try await app.test(.router) { client in
            try await client.execute(uri: uri, method: .get) { (Int($0.status.code), Array($0.body.readableBytesView)) }
        }
    }

    /// node.json says where witnesses are; the chain says who they are: a configured witness whose
    /// key governance has not registered is neither pushed to nor served. `?witnessed=K` answers the
    /// newest checkpoint K registered witnesses cosigned, `/v1/witnesses` lists the registered ones,
    /// and an entry's inclusion proof is found by its hash.
    @Test func onlyWitnessesRegisteredOnChainArePushedToAndServed() async throws {
        let node = try TestNode()
        let (_, record, _) = try await node.seedMaria()
        let (pt, ptLight) = try Self.demoWitness("PT"), (de, deLight) = try Self.demoWitness("DE")
        let (rogue, rogueLight) = try Self.witness("rogue.example/witness")
        let transport = InProcess(["https://pt": (pt, ptLight), "https://de": (de, deLight), "https://rogue": (rogue, rogueLight)], store: node.chain.store)
        var logger = Logger(label: "witness-pusher-test"); logger.logLevel = .critical
        let store = node.chain.store, query = node.chain.query
        let pusher = try WitnessPusher(witnesses: [WitnessEndpoint(url: "https://pt", vkey: pt.cosigner.key.encoded),
                                                   WitnessEndpoint(url: "https://de", vkey: de.cosigner.key.encoded),
                                                   WitnessEndpoint(url: "https://rogue", vkey: rogue.cosigner.key.encoded)],
                                       store: store, transport: transport, logger: logger,
                                       registered: { try Witnesses.all(in: query.reader) })
        #expect(try await Self.get(node, pusher, "/v1/audit-log/checkpoint?witnessed=1").status == 404)
        await pusher.pushHead()
        #expect(transport.requests.withLock { $0.map(\.url) }.sorted() == ["https://de", "https://pt"], "only the registered witnesses are pushed to")
        let served = try SignedNote(parsing: try await Self.get(node, pusher, "/v1/audit-log/checkpoint").body)
        #expect(try served.cosigners(among: [pt.cosigner.key, de.cosigner.key]).count == 2)
        #expect(try served.cosigners(among: [rogue.cosigner.key]).isEmpty)
        let policy = try WitnessPolicy(parsing: DemoCast.witnessPolicy())
        #expect(try policy.verify(served) == ["PT", "DE"])

        // The log grows while DE is down: the head is cosigned by PT alone; asked for 2, the node
        // answers the newest checkpoint both cosigned, which the policy accepts.
        transport.down.withLock { $0 = ["https://de"] }
        try await node.submit(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        await pusher.pushHead()
        let head = try SignedNote(parsing: try await Self.get(node, pusher, "/v1/audit-log/checkpoint").body)
        #expect(throws: NoteError.self) { try policy.verify(head) }
        let witnessed = try SignedNote(parsing: try await Self.get(node, pusher, "/v1/audit-log/checkpoint?witnessed=2").body)
        #expect(witnessed.text == served.text)
        #expect(try policy.verify(witnessed) == ["PT", "DE"])
        #expect(try await Self.get(node, pusher, "/v1/audit-log/checkpoint?witnessed=3").status == 404)
        #expect(try await Self.get(node, pusher, "/v1/audit-log/checkpoint?witnessed=0").status == 400)
        #expect(try await Self.get(node, pusher, "/v1/audit-log/checkpoint?witnessed=x").status == 400)

        // The registry as served: the four authorities with the vkeys of the demo policy.
        struct W: Decodable { let organization: String; let vkey: String }
        let listed = try JSONDecoder().decode([W].self, from: Data(try await Self.get(node, nil, "/v1/witnesses").body))
        #expect(Set(listed.map(\.vkey)) == Set(policy.witnesses.map(\.key.encoded)))

        // An entry's inclusion proof by its hash; a hash not in the log is 404, a malformed one 400.
        let entry = try #require(try Audit.entry(DemoCast.patient("maria").publicKey, 0, in: query.reader))
        struct Proof: Decodable { let index: UInt64; let size: UInt64; let root: String; let proof: [String] }
        let proof = try JSONDecoder().decode(Proof.self, from: Data(try await Self.get(node, nil, "/v1/audit-log/proof/inclusion?hash=\(entry.hash.hex)").body))
        #expect(MerkleTree.verifyInclusion(leafHash: MerkleTree.leafHash(entry.hash.bytes), index: Int(proof.index), treeSize: Int(proof.size),
                                           proof: proof.proof.compactMap(Bytes32.init(hex:)), root: try #require(Bytes32(hex: proof.root))))
        #expect(try await Self.get(node, nil, "/v1/audit-log/proof/inclusion?hash=\(Bytes32.zero.hex)").status == 404)
        #expect(try await Self.get(node, nil, "/v1/audit-log/proof/inclusion?hash=xyz").status == 400)
        #expect(try await Self.get(node, nil, "/v1/audit-log/proof/inclusion?hash=\(entry.hash.hex)&index=0").status == 400)
    }
}
