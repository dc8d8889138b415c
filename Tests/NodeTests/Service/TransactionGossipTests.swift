import Testing
import Synchronization
@testable import MeridianNode

/// The node's own admissions go out through `TransactionGossip`. A long-running validator sends
/// millions: each send must cost the same as the first (the sink used to be re-wrapped in thunks
/// at every send, so the n-th send walked n of them: quadratic, then a stack overflow).
@Suite(.timeLimit(.minutes(5))) struct TransactionGossipTests {
    @Test func aMillionSendsEachReachTheSinkOnce() {
        let gossip = TransactionGossip()
        gossip.send([0])   // nothing attached: dropped
        let count = Atomic<Int>(0), bytes = Atomic<Int>(0)
        gossip.attach { b in count.add(1, ordering: .relaxed); bytes.add(b.count, ordering: .relaxed) }
        let payload: [UInt8] = [1, 2, 3]
        for _ in 0..<1_000_000 { gossip.send(payload) }
        #expect(count.load(ordering: .relaxed) == 1_000_000)
        #expect(bytes.load(ordering: .relaxed) == 3_000_000)
    }
}
