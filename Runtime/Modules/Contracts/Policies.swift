public import MeridianCore
import Synchronization

/// What a contract call asks the transaction to do if it commits: storage writes (scoped to the
/// consent) and events.
public struct ContractEffects: Sendable {
    public let consent: Bytes32
    public let contract: Bytes32
    public let writes: [([UInt8], [UInt8])]
    public let events: [[UInt8]]
}

/// Runners for deployed contracts, parsed and checked once per code hash. A runner depends only
/// on the code (never on the chain's current limits: the limits that count are the ones the code
/// passed at upload), so whether a runner comes from the cache or from state cannot change a
/// decision.
public final class ContractCache: Sendable {
    public static let shared = ContractCache(capacity: 256)
    let capacity: Int
    /// Keyed by code hash and engine stack size (a genesis parameter governance may change).
    let runners = Mutex<[RunnerKey: ContractRunner]>([:])
    struct RunnerKey: Hashable { let code: Bytes32; let stackBytes: UInt32 }

    public init(capacity: Int) { self.capacity = capacity }

    /// Forgets every parsed runner (tests use this to show that the cache changes no decision).
    public func removeAll() { runners.withLock { $0.removeAll() } }

    /// The limits a stored contract is rebuilt under: anything the upload check can have accepted.
    static let storedCodeLimits = ContractCheck.Limits(maxBytes: 1 << 20, maxMemoryPages: 65_536)

    /// The runner of a deployed contract with an engine stack of `stackBytes`, or nil when none is
    /// deployed under `hash` in `s`.
    ///
    /// A cached runner is returned without reading the code from state: a consent names only code
    /// that was deployed when it was granted or amended, code is never removed, and the hash names
    /// the bytes, so a hit and a miss give the same runner. Only a miss reads the code (up to the
    /// genesis limit, 64 KiB) and checks it.
    public func runner(_ hash: Bytes32, stackBytes: UInt32, in s: some StateReader) throws(RuntimeError) -> ContractRunner? {
        let key = RunnerKey(code: hash, stackBytes: stackBytes)
        if let r = runners.withLock({ $0[key] }) { return r }
        guard let record = try Contracts.contract(hash, in: s) else { return nil }
        let runner = try ContractRunner(code: record.code, limits: Self.storedCodeLimits, stackBytes: Int(stackBytes))
        runners.withLock { cache in
            if cache.count >= capacity, let victim = cache.keys.first { cache[victim] = nil }
            cache[key] = runner
        }
        return runner
    }
}

/// Policy contracts at work: the call inside `authorize`, the patient's `update`, and the
/// contract storage both write (scoped to the consent that names the contract).
public enum Policies {
    /// Contract storage: `contracts/storage/<consent>/<key>`.
    public static func storageKey(_ consent: Bytes32, _ key: [UInt8]) -> StateKey {
        StateKey("contracts/storage").appending(consent).appending(lengthPrefixed: key)
    }

    /// The chain's parameters in `s` (fuel and stack per call).
    static func parameters(in s: some StateReader) throws(RuntimeError) -> ChainParameters {
        guard let p = try s.read(ChainParameters.self, ChainState.parametersKey) else { throw RuntimeError.corrupt("parameters") }
        return p
    }

    /// Runs the policy of `consent` on a request its terms and the transfer rules allowed, under
    /// the chain's fuel and stack per call (`parameters`, or read from `s`).
    static func evaluate(_ policy: ConsentPolicy, consent: Bytes32, request: ContractRequest, parameters: ChainParameters?,
                         in s: some StateReader) throws(RuntimeError) -> (ContractVerdict, ContractEffects?) {
        let params: ChainParameters
        if let parameters { params = parameters } else { params = try Self.parameters(in: s) }
        let budget = params.contractFuelPerCall
        guard let runner = try ContractCache.shared.runner(policy.contract, stackBytes: params.contractStackBytes, in: s) else {
            // Cannot happen on a chain built by this runtime (a grant names only deployed code,
            // and code is never removed); a denial, so a damaged consent can only narrow.
            return (ContractVerdict(contract: policy.contract, consent: consent, fuelUsed: 0, answer: nil, failure: ContractFailure.notDeployed.rawValue), nil)
        }
        let reader = ScopedStorage(consent: consent, state: s)
        let outcome = runner.evaluate(request, parameters: policy.parameterBytes, storage: reader.get, fuel: budget)
        if let e = reader.error { throw e }
        return verdict(outcome, contract: policy.contract, consent: consent)
    }

    static func verdict(_ o: ContractRunner.Outcome, contract: Bytes32, consent: Bytes32) -> (ContractVerdict, ContractEffects?) {
        switch o.result {
        case .allowed:
            return (ContractVerdict(contract: contract, consent: consent, fuelUsed: o.fuelUsed, answer: 1, failure: nil),
                    ContractEffects(consent: consent, contract: contract, writes: o.writes, events: o.events))
        case .denied(let reason):
            return (ContractVerdict(contract: contract, consent: consent, fuelUsed: o.fuelUsed, answer: reason, failure: nil),
                    ContractEffects(consent: consent, contract: contract, writes: o.writes, events: o.events))
        case .failed(let why):
            return (ContractVerdict(contract: contract, consent: consent, fuelUsed: o.fuelUsed, answer: nil, failure: why.rawValue), nil)
        }
    }

    /// Applies a committed call's storage writes and emits its events.
    public static func apply(_ effects: ContractEffects, _ ctx: ExecutionContext) {
        for (key, value) in effects.writes { ctx.view.set(storageKey(effects.consent, key).bytes, value) }
        for data in effects.events { ctx.emit(.contractEmitted(contract: effects.contract, consent: effects.consent, data: data)) }
    }

    /// The patient configures their policy (e.g. a travel itinerary): the contract's `update`
    /// decides whether the message is acceptable and what to store.
    public struct Update: Hashable, Sendable, Canonical {
        public static let maxMessageBytes = 1024
        public let consent: Bytes32
        public let message: [UInt8]
        public init(consent: Bytes32, message: [UInt8]) { self.consent = consent; self.message = message }
        public func encode(to w: inout CanonicalWriter) { w.write(consent); w.write(bytes: message) }
        public init(from r: inout CanonicalReader) throws(CodecError) {
            consent = try r.readBytes32("consent"); message = try r.readByteString("policy.message", max: Self.maxMessageBytes)
        }
    }

    public static func update(_ call: Update, _ ctx: ExecutionContext) throws(RuntimeError) -> Bytes32 {
        _ = try Identity.requirePatient(ctx)
        guard let consent = try Consent.consent(call.consent, patient: ctx.signer, in: ctx.view) else {
            throw RuntimeError("consent.not_found", "you have no consent \(call.consent)")
        }
        guard consent.status == .active else { throw RuntimeError("consent.revoked", "consent \(call.consent) was revoked") }
        guard let policy = consent.terms.policy else { throw RuntimeError("contract.no_policy", "consent \(call.consent) names no policy contract") }
        guard let runner = try ContractCache.shared.runner(policy.contract, stackBytes: ctx.parameters.contractStackBytes, in: ctx.view) else {
            throw RuntimeError("contract.not_found", "no contract \(policy.contract.hex) is deployed")
        }
        guard runner.summary.hasUpdate else { throw RuntimeError("contract.no_update", "contract \(policy.contract.hex) takes no update") }
        let reader = ScopedStorage(consent: consent.id, state: ctx.view)
        let outcome = runner.update(call.message, parameters: policy.parameterBytes, storage: reader.get, fuel: ctx.parameters.contractFuelPerCall)
        if let e = reader.error { throw e }
        switch outcome.result {
        case .allowed:
            apply(ContractEffects(consent: consent.id, contract: policy.contract, writes: outcome.writes, events: outcome.events), ctx)
            ctx.emit(.policyUpdated(patient: ctx.signer, consent: consent.id, contract: policy.contract, fuelUsed: outcome.fuelUsed))
            return policy.contract
        case .denied(let reason):
            throw RuntimeError("contract.update_refused", "the contract refused the update (reason \(reason), \(outcome.fuelUsed) fuel)")
        case .failed(let why):
            throw RuntimeError("contract.update_failed", "the contract's update failed: \(why.rawValue) (\(outcome.fuelUsed) fuel)")
        }
    }
}

/// A consent's contract storage as the runner reads it. The runner's callback cannot throw, so a
/// state error is kept and rethrown after the call (a node fault, never a decision).
final class ScopedStorage {
    let consent: Bytes32
    let load: ([UInt8]) throws(RuntimeError) -> [UInt8]?
    var error: RuntimeError?
    init(consent: Bytes32, state: some StateReader) { self.consent = consent; self.load = { k throws(RuntimeError) in try state.load(k) } }
    func get(_ key: [UInt8]) -> [UInt8]? {
        do { return try load(Policies.storageKey(consent, key).bytes) } catch { self.error = error; return nil }
    }
}
