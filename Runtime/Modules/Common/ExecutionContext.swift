public import MeridianCore
public import MeridianState

/// Chain-wide bounds and periods, fixed at genesis and changed only by governance.
public struct ChainParameters: Hashable, Sendable, Codable, Canonical {
    /// Transactions a block may carry.
    public var maxTransactionsPerBlock: UInt32 = 5000
    /// Transactions one account may have in one block (spam bound; there are no fees).
    public var maxTransactionsPerAccountPerBlock: UInt32 = 64
    /// Active consents a patient may hold at once.
    public var maxActiveConsentsPerPatient: UInt32 = 64
    /// Blocks a governance proposal stays open for votes.
    public var governanceVotingPeriodBlocks: UInt64 = 100
    /// Blocks between a proposal passing and its action taking effect (every node switches at the same height).
    public var governanceActivationDelayBlocks: UInt64 = 2
    /// Bytes a policy contract may have at upload.
    public var maxContractBytes: UInt32 = 65_536
    /// 64 KiB pages a contract's memory may declare as its maximum.
    public var maxContractMemoryPages: UInt32 = 4
    /// Fuel (WasmKit 0.4.2's schedule) one contract call may use; more is a denial billed in full.
    public var contractFuelPerCall: UInt64 = 200_000
    /// Bytes of the engine's value stack per contract call (bounds recursion depth; deeper is a trap, a denial).
    public var contractStackBytes: UInt32 = 65_536
    /// Days the audit data of a block (its body and receipts: who asked for what, and the decision)
    /// is kept by every node before it may be pruned; at least `minimumAuditRetentionDays`. Audit
    /// entries themselves stay in the state and the audit log for good.
    public var auditRetentionDays: UInt32 = 3650
    /// Three years: the least a hospital's regulator accepts for access logs.
    public static let minimumAuditRetentionDays: UInt32 = 1095

    public init() {}

    /// The upload check's limits.
    public var contractLimits: ContractCheck.Limits { ContractCheck.Limits(maxBytes: Int(maxContractBytes), maxMemoryPages: maxContractMemoryPages) }

    enum CodingKeys: String, CodingKey {
        case maxTransactionsPerBlock, maxTransactionsPerAccountPerBlock, maxActiveConsentsPerPatient
        case governanceVotingPeriodBlocks, governanceActivationDelayBlocks
        case maxContractBytes, maxContractMemoryPages, contractFuelPerCall, contractStackBytes, auditRetentionDays
    }

    /// Missing keys take the documented defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ChainParameters()
        maxTransactionsPerBlock = try c.decodeIfPresent(UInt32.self, forKey: .maxTransactionsPerBlock) ?? d.maxTransactionsPerBlock
        maxTransactionsPerAccountPerBlock = try c.decodeIfPresent(UInt32.self, forKey: .maxTransactionsPerAccountPerBlock) ?? d.maxTransactionsPerAccountPerBlock
        maxActiveConsentsPerPatient = try c.decodeIfPresent(UInt32.self, forKey: .maxActiveConsentsPerPatient) ?? d.maxActiveConsentsPerPatient
        governanceVotingPeriodBlocks = try c.decodeIfPresent(UInt64.self, forKey: .governanceVotingPeriodBlocks) ?? d.governanceVotingPeriodBlocks
        governanceActivationDelayBlocks = try c.decodeIfPresent(UInt64.self, forKey: .governanceActivationDelayBlocks) ?? d.governanceActivationDelayBlocks
        maxContractBytes = try c.decodeIfPresent(UInt32.self, forKey: .maxContractBytes) ?? d.maxContractBytes
        maxContractMemoryPages = try c.decodeIfPresent(UInt32.self, forKey: .maxContractMemoryPages) ?? d.maxContractMemoryPages
        contractFuelPerCall = try c.decodeIfPresent(UInt64.self, forKey: .contractFuelPerCall) ?? d.contractFuelPerCall
        contractStackBytes = try c.decodeIfPresent(UInt32.self, forKey: .contractStackBytes) ?? d.contractStackBytes
        auditRetentionDays = try c.decodeIfPresent(UInt32.self, forKey: .auditRetentionDays) ?? d.auditRetentionDays
    }

    public func encode(to w: inout CanonicalWriter) {
        w.write(maxTransactionsPerBlock); w.write(maxTransactionsPerAccountPerBlock); w.write(maxActiveConsentsPerPatient)
        w.write(varint: governanceVotingPeriodBlocks); w.write(varint: governanceActivationDelayBlocks)
        w.write(maxContractBytes); w.write(maxContractMemoryPages); w.write(varint: contractFuelPerCall); w.write(contractStackBytes)
        w.write(auditRetentionDays)
    }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        maxTransactionsPerBlock = try r.readUInt32("params.max_txs_per_block")
        maxTransactionsPerAccountPerBlock = try r.readUInt32("params.max_txs_per_account")
        maxActiveConsentsPerPatient = try r.readUInt32("params.max_active_consents")
        governanceVotingPeriodBlocks = try r.readVarint("params.voting_period")
        governanceActivationDelayBlocks = try r.readVarint("params.activation_delay")
        maxContractBytes = try r.readUInt32("params.max_contract_bytes")
        maxContractMemoryPages = try r.readUInt32("params.max_contract_memory_pages")
        contractFuelPerCall = try r.readVarint("params.contract_fuel_per_call")
        contractStackBytes = try r.readUInt32("params.contract_stack_bytes")
        // Absent from a chain's parameters written before it existed: the default.
        auditRetentionDays = r.remaining == 0 ? ChainParameters().auditRetentionDays : try r.readUInt32("params.audit_retention_days")
    }
}

/// What a module handler sees while executing one transaction: the state view (writes are
/// buffered and dropped if the handler throws), block height and time, the verified signer,
/// and an event buffer.
public final class ExecutionContext {
    public let view: StateView
    public let chainID: String
    public let height: UInt64
    public let time: Timestamp
    public let parameters: ChainParameters
    public internal(set) var signer: PublicKey
    public internal(set) var transactionHash: Bytes32
    public private(set) var events: [RuntimeEvent] = []

    public init(view: StateView, chainID: String, height: UInt64, time: Timestamp, parameters: ChainParameters,
                signer: PublicKey, transactionHash: Bytes32) {
        self.view = view; self.chainID = chainID; self.height = height; self.time = time
        self.parameters = parameters; self.signer = signer; self.transactionHash = transactionHash
    }

    /// Starts a new transaction within the same block.
    public func begin(signer: PublicKey, transactionHash: Bytes32) {
        self.signer = signer; self.transactionHash = transactionHash; events.removeAll(keepingCapacity: true)
    }

    public func read<T: CanonicalDecodable>(_ type: T.Type, _ key: StateKey) throws(RuntimeError) -> T? {
        try view.read(type, key)
    }

    public func write<T: CanonicalEncodable>(_ key: StateKey, _ value: T) { view.set(key.bytes, value.canonicalBytes) }
    /// Writes bytes already encoded (one value stored under several keys is encoded once).
    public func write(_ key: StateKey, encoded: [UInt8]) { view.set(key.bytes, encoded) }
    public func delete(_ key: StateKey) { view.delete(key.bytes) }
    public func emit(_ event: RuntimeEvent) { events.append(event) }
}

/// A canonical-encodable list (arrays of canonical values stored under one key).
public struct CanonicalList<Element: Canonical>: Canonical {
    public var items: [Element]
    public init(_ items: [Element] = []) { self.items = items }
    public func encode(to w: inout CanonicalWriter) { w.write(items) }
    public init(from r: inout CanonicalReader) throws(CodecError) { items = try r.readArray(Element.self, "list", max: 1 << 16) }
}

/// A stored counter.
public struct Counter: Canonical, Sendable {
    public var value: UInt64
    public init(_ value: UInt64 = 0) { self.value = value }
    public func encode(to w: inout CanonicalWriter) { w.write(varint: value) }
    public init(from r: inout CanonicalReader) throws(CodecError) { value = try r.readVarint("counter") }
}
