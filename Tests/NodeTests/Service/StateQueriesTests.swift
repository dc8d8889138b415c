import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianDemo
@testable import MeridianNode

/// The typed reads the API and the console make of committed state: each returns what the chain
/// committed, and a committed value that does not decode is a fault that names its key, never a
/// row that silently drops out of a page.
@Suite(.timeLimit(.minutes(5))) struct StateQueriesTests {
    @Test func typedQueriesReturnWhatTheChainCommitted() async throws {
        let node = try TestNode()
        let (maria, record, consent) = try await node.seedMaria()
        let q = node.chain.query
        #expect(try q.consents(of: maria.publicKey).map(\.id) == [consent])
        #expect(try q.records(of: maria.publicKey).map(\.commitment) == [record])
        #expect(try q.records(of: DemoCast.patient("hans").publicKey).isEmpty, "another patient's records are not Maria's")
        let orgs = try q.organizationsByID()
        let all = try q.organizations()
        #expect(orgs[OrganizationID("sakura-general")!]?.country.code == "JP" && orgs.count == all.count && all.count >= 7)
        #expect(try q.evidence().isEmpty && q.proposals().isEmpty)
        // The full audit scan: Maria's entries in sequence order, each with the key it resumes after.
        let scanned = try q.auditEntries(from: nil, limit: 1000)
        let marias = scanned.compactMap(\.entry).filter { $0.patient == maria.publicKey }
        #expect(!marias.isEmpty && marias.map(\.sequence) == Array(0..<UInt64(marias.count)))
        #expect(zip(scanned, scanned.dropFirst()).allSatisfy { $0.key.lexicographicallyPrecedes($1.key) })
    }

    @Test func aCommittedValueThatDoesNotDecodeIsAFaultNamingItsKey() async throws {
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        let key = Consent.recordsPrefix(of: maria.publicKey) + [UInt8](repeating: 0xff, count: 32)
        let batch = RocksDB.WriteBatch(for: node.chain.store.db)
        batch.put("state.values", key, [0xde, 0xad])
        try node.chain.store.db.write(batch, sync: true)
        #expect {
            try node.chain.query.consents(of: maria.publicKey)
        } throws: { error in
            let e = error as? NodeError
            return e?.field == "state.corrupt" && e?.message.contains(Hex.encode(key)) == true
        }
        // The other patients' reads are not affected.
        #expect(try node.chain.query.consents(of: DemoCast.patient("hans").publicKey).isEmpty)
    }
}
