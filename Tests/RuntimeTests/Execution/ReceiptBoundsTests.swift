import Testing
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// A receipt the executor can write must read back: an operator's or regulator's API read over
/// `APIRead.maxPatients` patients emits an audit event per patient, more than the 64 the decoder
/// once allowed, which left such blocks' receipts unreadable (`/v1/blocks/{id}` and the indexer's
/// feed answered 500; found by the indexer benchmark).
@Suite(.timeLimit(.minutes(5))) struct ReceiptBoundsTests {
    func receipt(events n: Int) -> Receipt {
        let events = (0..<n).map { i in
            RuntimeEvent.accessRecorded(patient: DemoCast.key("receipt-bounds/\(i)").publicKey, sequence: UInt64(i),
                                        organization: OrganizationID("hospital-ribeira")!, allowed: true, breakGlass: false)
        }
        return Receipt(transaction: SHA256.hash([1]), index: 0, outcome: .success, events: events, decision: nil, createdID: nil)
    }

    @Test func anAPIReadOverTheMostPatientsReadsBack() throws {
        #expect(Receipt.maxEvents >= APIRead.maxPatients)
        let r = receipt(events: APIRead.maxPatients)
        #expect(try Receipt(canonicalBytes: r.canonicalBytes) == r)
        let list = CanonicalList([r, receipt(events: 3)])
        #expect(try CanonicalList<Receipt>(canonicalBytes: list.canonicalBytes).items == list.items)
    }

    @Test func moreEventsThanATransactionMayEmitAreRefused() throws {
        #expect(throws: CodecError.self) { try Receipt(canonicalBytes: receipt(events: Receipt.maxEvents + 1).canonicalBytes) }
    }
}
