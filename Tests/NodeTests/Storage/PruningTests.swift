import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import NIOCore
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianLightClient
import MeridianDemo
@testable import MeridianNode

/// Pruning a node's store (issue 24): state versions below the retain height and block bodies below
/// the audit retention go; headers, commits, the validator set's proofs at its changes, every audit
/// entry and the latest state stay, so a light client still verifies from genesis and the chain goes
/// on. Block times here jump 150 days per block, so twelve years pass in a few blocks.
@Suite(.timeLimit(.minutes(5))) struct PruningTests {
    static func get(_ node: TestNode, _ key: PrivateKey, _ uri: String) async throws -> (Int, String) {
        let app = Application(router: node.api.router())
        var fields: HTTPFields = [:]
        for (n, v) in try TestNode.signed(key, "GET", uri) { fields.append(HTTPFields.Element(name: HTTPFields.Element.Name(n)!, value: v)) }
        let built = fields
        return try await app.test(.router) { client in
            try await client.execute(uri: uri, method: .get, headers: built) { (Int($0.status.code), String(buffer: $0.body)) }
        }
    }

    @Test func aPrunedNodeKeepsWhatLightClientsAndAuditorsNeedAndGoesOn() async throws {
        var config = NodeConfig()
        config.emptyBlocks = true
        let node = try TestNode(config: config)
        let (maria, _, _) = try await node.seedMaria()
        let firstTransaction = try #require(try node.chain.store.block(at: 1)?.transactions.first?.hash)
        // The validator set changes (Clínica Sol's validator joins by governance): light clients
        // then need the set's entry with its proof at the height before the change.
        let ribeira = DemoCast.staff("hospital-ribeira", "validator")
        let proposal = try #require(try await node.submit(ribeira, .propose(.addValidator(Validator(key: DemoCast.key("clinica-sol/validator").publicKey,
                                                                                                    organization: OrganizationID("clinica-sol")!, power: 10))))).createdID
        for v in ["hospital-ribeira", "klinikum-spree", "hopital-rhone"] {
            try await node.submit(DemoCast.staff(v, "validator"), .vote(.init(proposal: try #require(proposal), approve: true)))
        }
        let day: UInt64 = 86_400_000
        var time = await node.chain.tip.time
        for i in 0..<30 {
            let patient = try PrivateKey(secret: SHA256.hash(Array("pruning-patient-\(i)".utf8)))
            let clinician = DemoCast.staff("hospital-ribeira", "clinician")
            let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: patient.publicKey))
            let stx = try node.tx(patient, .registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)))
            try node.chain.mempool.admit(stx, size: stx.canonicalBytes.count, accounts: node.chain.query)
            time = time.adding(milliseconds: 150 * day)
            _ = try await node.chain.produceBlock(now: time)
            node.chain.mempool.removeIncluded([stx.hash])
        }
        let store = node.chain.store
        let head = try store.headHeight()
        let changedAt = try #require((1...head).first { h in (try? store.header(at: h)?.validatorsHash) != (try? store.header(at: h - 1)?.validatorsHash) })
        let (_, trailBefore) = try await Self.get(node, maria, "/v1/audit?patient=\(Address(maria.publicKey))")

        let outcome = try #require(try await Pruning.run(chain: node.chain, keepRecentHeights: 5))
        #expect(outcome.stateKeptFrom == head - 5 && outcome.recordsDeleted > 0 && outcome.rootsDeleted == Int(head - 5), "\(outcome)")
        #expect(changedAt < outcome.stateKeptFrom, "the set change must be in the pruned range to test its kept proof")
        // Bodies: those older than the audit retention (3650 days before the head's time).
        let headTime = try #require(try store.header(at: head)).time.unixMilliseconds
        let expectedKeptFrom = try #require((1...head).first { h in (try? store.header(at: h))!.time.unixMilliseconds >= headTime - 3650 * day })
        #expect(outcome.bodiesKeptFrom == expectedKeptFrom && outcome.bodiesPruned == Int(expectedKeptFrom - 1), "\(outcome), expected bodies from \(expectedKeptFrom)")
        #expect(expectedKeptFrom > changedAt + 1 && expectedKeptFrom < outcome.stateKeptFrom)

        let ops = DemoCast.staff("hospital-ribeira", "admin")
        let (old, oldBody) = try await Self.get(node, ops, "/v1/blocks/1")
        #expect(old == 410 && oldBody.contains("block.pruned"), "\(old) \(oldBody)")
        #expect(try await Self.get(node, ops, "/v1/blocks/\(expectedKeptFrom)").0 == 200)
        #expect(try await Self.get(node, ops, "/v1/blocks/\(head)").0 == 200)
        let stateKey = Hex.encode(Array("chain/id".utf8))
        let (pruned, prunedBody) = try await Self.get(node, ops, "/v1/state/\(stateKey)?height=2")
        #expect(pruned == 410 && prunedBody.contains("state.pruned"), "\(pruned) \(prunedBody)")
        #expect(try await Self.get(node, ops, "/v1/state/\(stateKey)?height=\(outcome.stateKeptFrom)").0 == 200)
        // A transaction of a pruned block: where it was committed, for an operator.
        let (txStatus, txBody) = try await Self.get(node, ops, "/v1/transactions/\(firstTransaction.hex)")
        #expect(txStatus == 200 && txBody.contains("\"committed\"") && txBody.contains("\"height\":1"), "\(txStatus) \(txBody)")
        // Every audit entry is still there, as before.
        let (_, trailAfter) = try await Self.get(node, maria, "/v1/audit?patient=\(Address(maria.publicKey))")
        #expect(trailAfter == trailBefore && trailAfter.contains("sakura-general"))

        // A light client verifies every header from genesis over the open route, through the set change.
        var light = try LightClient(genesis: DemoCast.genesisSpec())
        let app = Application(router: node.api.router())
        while light.head.height < head {
            let from = light.head.height + 1
            let page: LightHeadersPage = try await app.test(.router) { client in
                try await client.execute(uri: "/v1/light/headers?from=\(from)&limit=50", method: .get) { try JSONDecoder().decode(LightHeadersPage.self, from: Data(buffer: $0.body)) }
            }
            #expect(try light.advance(with: page, upTo: head) > 0)
        }
        #expect(light.head.height == head && light.validators.count == 5)
        #expect(try store.lightSet(at: changedAt) != nil)

        // The chain goes on, and a second pass prunes what became old, and nothing twice.
        for _ in 0..<3 { time = time.adding(milliseconds: day); _ = try await node.chain.produceBlock(now: time) }
        let again = try #require(try await Pruning.run(chain: node.chain, keepRecentHeights: 5))
        #expect(again.stateKeptFrom == head + 3 - 5 && again.rootsDeleted == 3, "\(again)")
        #expect(try await Pruning.run(chain: node.chain, keepRecentHeights: 5) == nil)
        #expect(try await Self.get(node, ops, "/v1/blocks/\(head + 3)").0 == 200)
    }

    @Test func anAuditRetentionUnderThreeYearsIsRefusedAtGenesis() throws {
        var spec = DemoCast.genesisSpec()
        var parameters = ChainParameters()
        parameters.auditRetentionDays = 1094
        spec.parameters = parameters
        let state = try AuthenticatedState(storage: InMemoryStateStorage())
        #expect { try Genesis.initialize(spec, into: state) } throws: { "\($0)".contains("parameters.auditRetentionDays") && "\($0)".contains("1095") }
        parameters.auditRetentionDays = 1095
        spec.parameters = parameters
        _ = try Genesis.initialize(spec, into: try AuthenticatedState(storage: InMemoryStateStorage()))
    }
}
