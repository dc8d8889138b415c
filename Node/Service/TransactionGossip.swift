import Synchronization

/// Where every transaction this node admits from its own side goes to reach the other validators:
/// the API's submissions, the workers' anchors and alert deliveries, the record service's and the
/// disclosure log's records, evidence. `ChainService` sends through it after each such admission
/// (never for a transaction a peer gossiped in); the node wires it to the consensus driver once
/// (`NodeRunner`), and in single-node mode nothing is attached.
public final class TransactionGossip: Sendable {
    /// The closure is held in a class, not in the `Mutex` itself: a function value read and written
    /// back through `withLock`'s generic `inout` is re-abstracted each time, and every send wrapped
    /// the stored closure in two more thunks, so a send walked a chain as long as all the sends
    /// before it (quadratic; a stack overflow after enough submissions). A class reference is
    /// read as it is.
    private final class Sink: Sendable {
        let send: @Sendable ([UInt8]) -> Void
        init(_ send: @escaping @Sendable ([UInt8]) -> Void) { self.send = send }
    }
    private let sink = Mutex<Sink?>(nil)

    public init() {}

    /// The one wiring point: where admitted transactions go from now on.
    public func attach(_ send: @escaping @Sendable ([UInt8]) -> Void) { sink.withLock { $0 = Sink(send) } }

    /// Sends `bytes` to the attached sink, if any.
    public func send(_ bytes: [UInt8]) { sink.withLock { $0 }?.send(bytes) }
}
