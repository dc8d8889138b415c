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
}
