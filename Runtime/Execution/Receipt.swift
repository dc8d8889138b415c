public import MeridianCore
public import MeridianModules

/// The outcome of one transaction in a block.
public struct Receipt: Hashable, Sendable, Canonical {
    public enum Outcome: Hashable, Sendable {
        case success
        /// The call failed: no state change except the spent nonce.
        case failed(RuntimeError)
        /// The envelope was refused (signature, chain, nonce, signer, quota): no state change at all.
        case rejected(RuntimeError)
    }

    /// The most events one transaction may emit (execution fails a transaction past it, so every
    /// stored receipt decodes). An API read over `APIRead.maxPatients` patients emits one per patient.
    public static let maxEvents = 1024

    public let transaction: Bytes32
    public let index: UInt32
    public let outcome: Outcome
    public let events: [RuntimeEvent]
    /// For access requests and shares: the decision (a denial is a successful transaction).
    public let decision: AccessDecision?
    /// For grants and proposals: the id created.
    public let createdID: Bytes32?

    public init(transaction: Bytes32, index: UInt32, outcome: Outcome, events: [RuntimeEvent], decision: AccessDecision?, createdID: Bytes32?) {
        self.transaction = transaction; self.index = index; self.outcome = outcome; self.events = events
        self.decision = decision; self.createdID = createdID
    }

    public var succeeded: Bool { if case .success = outcome { true } else { false } }
    public var error: RuntimeError? {
        switch outcome { case .success: nil; case .failed(let e), .rejected(let e): e }
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(transaction); w.write(index)
        switch outcome {
        case .success: w.write(varint: 0)
        case .failed(let e): w.write(varint: 1); w.write(e)
        case .rejected(let e): w.write(varint: 2); w.write(e)
        }
        w.write(events); w.write(decision); w.write(createdID)
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        transaction = try r.readBytes32("receipt.transaction"); index = try r.readUInt32("receipt.index")
        let at = r.offset
        switch try r.readVarint("receipt.outcome") {
        case 0: outcome = .success
        case 1: outcome = .failed(try r.read(RuntimeError.self))
        case 2: outcome = .rejected(try r.read(RuntimeError.self))
        default: throw CodecError(.unknownVariant, field: "receipt.outcome", offset: at)
        }
        events = try r.readArray(RuntimeEvent.self, "receipt.events", max: Self.maxEvents)
        decision = try r.readOptional(AccessDecision.self, "receipt.decision")
        createdID = try r.readOptional(Bytes32.self, "receipt.created_id")
    }
}
