import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianRecords
import MeridianRecordMessages
import MeridianDemo
import MeridianNode

/// An erasure the chain committed is carried out even when storage fails on the way: a failed
/// read of the record's state or a failed delete leaves it pending (the sweeper retries it),
/// never silently done, until the body and its key are gone.
@Suite(.timeLimit(.minutes(5))) struct ErasureRetryTests {
    /// A node holding, as custodian, a record its patient has erased on chain (nothing carried out yet).
    static func erasedOnChain() async throws -> (TestNode, RecordStore.Stored) {
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let held = try node.records.upload(Array("{\"resourceType\":\"Bundle\"}".utf8), by: clinician.publicKey)
        try await node.submit(clinician, .registerRecord(.init(commitment: held.commitment, patient: maria.publicKey, category: .summary)))
        try await node.submit(maria, .eraseRecord(held.commitment))
        return (node, held)
    }

    @Test func anErasureThatFailsOnStorageIsRetriedUntilTheBodyIsGone() async throws {
        let (node, held) = try await Self.erasedOnChain()

        node.faults.fail("holding")
        #expect(await node.records.carryOutErasure(of: held.commitment), "a failed read must leave the erasure pending")
        #expect(try node.recordStore.erasedAt(held.commitment) == nil)
        node.faults.fail("erase")
        #expect(await node.records.carryOutErasure(of: held.commitment), "a failed delete must leave the erasure pending")
        #expect(try node.recordStore.erasedAt(held.commitment) == nil)
        // The retry succeeds: the body and its key are gone, the fact kept; nothing is pending (no recipients).
        #expect(await node.records.carryOutErasure(of: held.commitment) == false)
        #expect(try node.recordStore.erasedAt(held.commitment) != nil)
        #expect(throws: RecordStore.RecordError.self) { try node.recordStore.body(of: held.commitment) }
    }
}

extension ErasureRetryTests {
    /// The custodian's notices: when the acknowledgements already received cannot be read, the
    /// erasure stays pending (retried) instead of being taken for fully acknowledged, and the
    /// custody view answers an error instead of "nobody awaited".
    @Test func anUnreadableAcknowledgementListKeepsTheErasurePending() async throws {
        let (node, held) = try await Self.erasedOnChain()

        node.faults.fail("acknowledgements")
        #expect(await node.records.carryOutErasure(of: held.commitment), "an unreadable acknowledgement list must leave the erasure pending")
        #expect(try node.recordStore.erasedAt(held.commitment) != nil, "the body is deleted all the same")
        #expect(node.records.failureCounts["erasure.read_failed"] == 1)
        node.faults.fail("acknowledgements")
        #expect(throws: RecordService.Failure.self) { try node.records.custody(of: held.commitment) }
        // Readable again: no recipients, nothing awaited.
        #expect(await node.records.carryOutErasure(of: held.commitment) == false)
        #expect(try node.records.custody(of: held.commitment).awaiting.isEmpty)
    }
}
