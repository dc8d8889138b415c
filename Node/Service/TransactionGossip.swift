import Synchronization

/// Where every transaction this node admits from its own side goes to reach the other validators:
/// the API's submissions, the workers' anchors and alert deliveries, the record service's and the
/// disclosure log's records, evidence. `ChainService` sends through it after each such admission
/// (never for a transaction a peer gossiped in); the node wires it to the consensus driver once
/// (`NodeRunner`), and in single-node mode nothing is attached.
public final class TransactionGossip: Sendable {
    private let sink = Mutex<(@Sendable ([UInt8]) -> Void)?>(nil)

    public init() {}

    /// The one wiring point: where admitted transactions go from now on.
    public func attach(_ send: @escaping @Sendable ([UInt8]) -> Void) { sink.withLock { $0 = send } }

    func send(_ bytes: [UInt8]) { sink.withLock { $0 }?(bytes) }
}
