public import MeridianCore
import WasmKit
import Synchronization

/// The access request as a contract sees it (ABI version 1, `Contracts/SDK/Meridian.swift`).
public struct ContractRequest: Sendable, Equatable {
    public var purpose: PurposeOfUse
    public var category: DataCategory
    public var breakGlass: Bool
    public var requesterCountry: CountryCode?
    public var custodianCountry: CountryCode?
    public var time: Timestamp
    public var height: UInt64
    public var organization: OrganizationID
    /// When a second clinician of the requester's organisation co-signed (checked by the runtime).
    public var coSignedAt: Timestamp?
    public var requester: PublicKey
    public var patient: PublicKey
    /// The consent whose policy this is (its id: the hash of the grant transaction).
    public var consent: Bytes32?
    /// What the request shows the policy (e.g. the opening of a committed travel stay), at most
    /// `maxEvidenceBytes`; the runtime does not interpret it.
    public var evidence: [UInt8]

    public init(purpose: PurposeOfUse, category: DataCategory, breakGlass: Bool, requesterCountry: CountryCode?, custodianCountry: CountryCode?,
                time: Timestamp, height: UInt64, organization: OrganizationID, coSignedAt: Timestamp?, requester: PublicKey, patient: PublicKey,
                consent: Bytes32? = nil, evidence: [UInt8] = []) {
        self.purpose = purpose; self.category = category; self.breakGlass = breakGlass; self.requesterCountry = requesterCountry
        self.custodianCountry = custodianCountry; self.time = time; self.height = height; self.organization = organization
        self.coSignedAt = coSignedAt; self.requester = requester; self.patient = patient; self.consent = consent
        self.evidence = Array(evidence.prefix(Self.maxEvidenceBytes))
    }

    /// Version 1's 152 bytes, then the consent's id (32 bytes, added after the first contracts were
    /// built: a contract reads it only when the length it is given says it is there), then the
    /// evidence's length (2 bytes) and the evidence.
    public static let size = 184
    public static let maxEvidenceBytes = 64

    /// The bytes the host writes into the contract's memory (little-endian).
    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.size + 2 + evidence.count)
        b[Self.size] = UInt8(evidence.count & 0xFF); b[Self.size + 1] = UInt8(evidence.count >> 8)
        b.replaceSubrange((Self.size + 2)..<b.count, with: evidence)
        func put(_ v: UInt64, at o: Int) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        func country(_ c: CountryCode?, at o: Int) { if let c { let u = Array(c.code.utf8); b[o] = u[0]; b[o + 1] = u[1] } }
        b[0] = 1
        b[1] = purpose.rawValue
        b[2] = category.rawValue
        b[3] = breakGlass ? 1 : 0
        country(requesterCountry, at: 4)
        country(custodianCountry, at: 6)
        put(time.unixMilliseconds, at: 8)
        put(height, at: 16)
        let org = Array(organization.value.utf8.prefix(48))
        b[24] = UInt8(org.count)
        b.replaceSubrange(25..<(25 + org.count), with: org)
        if let coSignedAt { b[73] = 1; put(coSignedAt.unixMilliseconds, at: 80) }
        b.replaceSubrange(88..<120, with: requester.bytes32.bytes)
        b.replaceSubrange(120..<152, with: patient.bytes32.bytes)
        if let consent { b.replaceSubrange(152..<184, with: consent.bytes) }
        return b
    }
}

/// Runs a checked contract under WasmKit. Nothing leaks between calls: an instance is reused only
/// after its memory is put back byte for byte and to its size at instantiation, and every mutable
/// global back to its initial value (the check refuses the instructions that could change anything
/// else: bulk-memory and table operations, reference types); an instance whose call failed or whose
/// memory grew is dropped. Fuel per call, memory bounded by the check, the engine stack per call
/// (`ChainParameters.contractStackBytes`) bounding recursion. Host functions check every guest pointer and length before touching
/// memory, and charge fuel per byte of storage they read or write. Out of fuel, a trap or a
/// malformed answer is a denial with its reason and bills the whole budget.
///
/// Why reuse: WasmKit 0.4.2 validates the module at every instantiation and compiles each function
/// per instance on its first call: a fresh instance per call made TravelWindow's call ~60 µs, a
/// reused one ~3 µs (BENCHMARKS.md). Instances live in WasmKit stores, which are not thread-safe;
/// the pool's lock hands each to one caller at a time. Why a hand-written pool: WasmKit has none.
public final class ContractRunner: @unchecked Sendable {
    // @unchecked: the parsed module is immutable after init; instances are handed out one caller
    // at a time through the pool's lock.
    public let codeHash: Bytes32
    public let summary: ContractCheck.Summary
    let module: Module
    let engine: Engine
    /// Names under which the host sees the contract's mutable globals.
    let globalExports: [String]
    let pool = InstancePool()
    /// Instances kept for reuse (one per concurrent caller is enough: block execution is one thread).
    static let poolSize = 4

    /// Fuel charged per byte a host function reads from or writes to contract storage or memory.
    public static let fuelPerHostByte: UInt64 = 4
    /// Fuel charged per host call, on top of its bytes.
    public static let fuelPerHostCall: UInt64 = 100
    /// Bounds on what one call may store, read and emit.
    public static let maxValueBytes = 1024, maxKeyBytes = 64, maxEventBytes = 256, maxEvents = 8, maxWrites = 16
    /// What `emit` accepts: a code of 1 to 32 bytes of `a-z 0-9 . _ -` (e.g. `travel.outside_window`),
    /// never free text or raw bytes, which could carry personal data onto the chain; anything else
    /// is not emitted and `emit` returns -1 (the same on every node).
    public static let maxEventCodeBytes = 32
    public static func isEventCode(_ data: [UInt8]) -> Bool {
        (1...maxEventCodeBytes).contains(data.count)
            && data.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    public init(code: [UInt8], limits: ContractCheck.Limits, stackBytes: Int = 64 * 1024) throws(RuntimeError) {
        summary = try ContractCheck.check(code, limits: limits)
        codeHash = SHA256.hash(code)
        let (hostView, globals) = try ContractCheck.exportingMutableGlobals(code)
        globalExports = globals
        engine = Engine(configuration: EngineConfiguration(compilationMode: .lazy, stackSize: stackBytes, features: [],
                                                           memoryBoundsChecking: .software, fuelMetering: true))
        do { module = try parseWasm(bytes: hostView, features: []) }
        // The engine's text is not kept: a deploy's receipt must be the same on every node.
        catch { throw RuntimeError("contract.malformed", "the engine refuses the module (its parser found it malformed)") }
        // Every module the check accepts must instantiate: one that cannot (a segment the check
        // missed, a limit of the engine's) is refused here, at upload, with a stable reason,
        // rather than failing every call. The instance is kept for the first call.
        do { pool.give(try instantiate(), keeping: Self.poolSize) }
        catch { throw RuntimeError("contract.instantiation", "the module does not instantiate") }
    }

    /// What a call did.
    public struct Outcome: Sendable, Equatable {
        public enum Result: Sendable, Equatable {
            /// `evaluate` allowed, or `update` was done.
            case allowed
            /// The contract answered a deny reason (≤ 0).
            case denied(reason: Int32)
            /// Out of fuel, a trap, a host-call violation or a malformed answer: a stable code.
            case failed(ContractFailure)
        }
        public let result: Result
        public let fuelUsed: UInt64
        /// Storage writes to apply if the call is part of a committed transaction (in call order, last wins).
        public let writes: [([UInt8], [UInt8])]
        public let events: [[UInt8]]
        public static func == (a: Outcome, b: Outcome) -> Bool {
            a.result == b.result && a.fuelUsed == b.fuelUsed && a.events == b.events
                && a.writes.map(\.0) == b.writes.map(\.0) && a.writes.map(\.1) == b.writes.map(\.1)
        }
    }

    /// Runs `evaluate` on the request.
    public func evaluate(_ request: ContractRequest, parameters: [String: [UInt8]], storage: @escaping (([UInt8]) -> [UInt8]?), fuel: UInt64) -> Outcome {
        call("evaluate", input: request.bytes, parameters: parameters, storage: storage, fuel: fuel)
    }

    /// Runs `update` with the patient's message (refused if the contract has none).
    public func update(_ message: [UInt8], parameters: [String: [UInt8]], storage: @escaping (([UInt8]) -> [UInt8]?), fuel: UInt64) -> Outcome {
        guard summary.hasUpdate else { return Outcome(result: .failed(.noUpdate), fuelUsed: 0, writes: [], events: []) }
        return call("update", input: message, parameters: parameters, storage: storage, fuel: fuel)
    }

    /// The request area: the top 4 KiB of the first page.
    static let inputOffset: UInt32 = 65536 - 4096
    static let maxInputBytes = 4096

    /// What the host functions of one call share.
    final class CallState {
        var writes: [([UInt8], [UInt8])] = []
        var pending: [[UInt8]: [UInt8]] = [:]
        var events: [[UInt8]] = []
        /// Calls of `emit`, codes or not (bounded by `maxEvents` either way).
        var emitCalls = 0
        var violation: ContractFailure?
        let storage: ([UInt8]) -> [UInt8]?
        let parameters: [String: [UInt8]]
        init(storage: @escaping ([UInt8]) -> [UInt8]?, parameters: [String: [UInt8]]) { self.storage = storage; self.parameters = parameters }
        func read(_ key: [UInt8]) -> [UInt8]? { pending[key] ?? storage(key) }
    }

    /// The host functions of an instance read the current call's state through this box.
    final class CallBox { var state: CallState? }

    /// One instance with what it takes to put it back as instantiation left it.
    final class PooledInstance: @unchecked Sendable {
        let store: Store
        let memory: Memory
        let entries: [String: Function]
        let globals: [(Global, Value)]
        let pristineMemory: [UInt8]
        let box: CallBox
        init(store: Store, memory: Memory, entries: [String: Function], globals: [(Global, Value)], pristineMemory: [UInt8], box: CallBox) {
            self.store = store; self.memory = memory; self.entries = entries; self.globals = globals
            self.pristineMemory = pristineMemory; self.box = box
        }

        /// Back to the state right after instantiation: memory bytes (its size is checked by the
        /// caller) and mutable globals.
        func reset() throws {
            memory.withUnsafeMutableBufferPointer(offset: 0, count: pristineMemory.count) { $0.copyBytes(from: pristineMemory) }
            for (g, v) in globals { try g.assign(v) }
        }
    }

    /// Idle instances.
    final class InstancePool: Sendable {
        let idle = Mutex<[PooledInstance]>([])
        func take() -> PooledInstance? { idle.withLock { $0.popLast() } }
        func give(_ p: PooledInstance, keeping limit: Int) { idle.withLock { if $0.count < limit { $0.append(p) } } }
    }

    /// A host function's refusal: the call ends with `failure`.
    struct HostViolation: Error { let failure: ContractFailure }

    /// A fresh instance, its pristine memory and global values recorded before any call.
    func instantiate() throws -> PooledInstance {
        let store = Store(engine: engine)
        let box = CallBox()
        var imports = Imports()
        for name in summary.imports { imports.define(module: "env", name: name, Self.hostFunction(name, store: store, box: box)) }
        let instance = try module.instantiate(store: store, imports: imports)
        guard case .memory(let memory)? = instance.export("memory") else { throw HostViolation(failure: .missingExport) }
        var entries: [String: Function] = [:]
        for name in ["evaluate", "update"] { if case .function(let f)? = instance.export(name) { entries[name] = f } }
        var globals: [(Global, Value)] = []
        for name in globalExports {
            guard case .global(let g)? = instance.export(name) else { throw HostViolation(failure: .missingExport) }
            globals.append((g, g.value))
        }
        let pristine = memory.withUnsafeMutableBufferPointer(offset: 0, count: memory.byteCount) { Array($0) }
        return PooledInstance(store: store, memory: memory, entries: entries, globals: globals, pristineMemory: pristine, box: box)
    }

    func call(_ export: String, input: [UInt8], parameters: [String: [UInt8]], storage: @escaping ([UInt8]) -> [UInt8]?, fuel: UInt64) -> Outcome {
        guard input.count <= Self.maxInputBytes else { return Outcome(result: .failed(.inputTooLarge), fuelUsed: 0, writes: [], events: []) }
        let state = CallState(storage: storage, parameters: parameters)
        func failed(_ why: ContractFailure) -> Outcome { Outcome(result: .failed(why), fuelUsed: fuel, writes: [], events: []) }   // bills the whole budget
        let pooled: PooledInstance
        do {
            if let p = pool.take() { pooled = p } else { pooled = try instantiate() }
        } catch let v as HostViolation {
            return failed(v.failure)
        } catch {
            return failed(.instantiationFailed)
        }
        let store = pooled.store
        store.fuel = Fuel(remaining: fuel)
        pooled.box.state = state
        var reusable = false
        defer {
            pooled.box.state = nil
            // Back into the pool only after a clean call that left the memory at its size.
            if reusable, pooled.memory.byteCount == pooled.pristineMemory.count, (try? pooled.reset()) != nil {
                pool.give(pooled, keeping: Self.poolSize)
            }
        }
        func spent() -> UInt64 { fuel - min(fuel, store.fuel?.remaining ?? 0) }
        do {
            guard let entry = pooled.entries[export] else { return failed(.missingExport) }
            let memory = pooled.memory
            guard memory.byteCount >= Int(Self.inputOffset) + input.count else { return failed(.noRoomForRequest) }
            memory.withUnsafeMutableBufferPointer(offset: UInt(Self.inputOffset), count: input.count) { buffer in
                buffer.copyBytes(from: input)
            }
            let results = try entry.invoke([.i32(Self.inputOffset), .i32(UInt32(input.count))])
            if let v = state.violation { return failed(v) }
            guard results.count == 1, case .i32(let raw) = results[0] else { return failed(.malformedAnswer) }
            let answer = Int32(bitPattern: raw)
            let used = spent()
            reusable = true
            if answer == 1 { return Outcome(result: .allowed, fuelUsed: used, writes: state.writes, events: state.events) }
            if answer <= 0 { return Outcome(result: .denied(reason: answer), fuelUsed: used, writes: state.writes, events: state.events) }
            return failed(.malformedAnswer)
        } catch let v as HostViolation {
            return failed(v.failure)
        } catch {
            if let v = state.violation { return failed(v) }
            return failed(ContractFailure.trap(error))
        }
    }

    /// Charges fuel for a host call and `bytes` bytes; throws (a trap) when the budget is gone.
    static func charge(_ store: Store, bytes: Int) throws {
        let cost = fuelPerHostCall + UInt64(bytes) * fuelPerHostByte
        guard let f = store.fuel, f.remaining >= cost else { store.fuel = Fuel(remaining: 0); throw HostViolation(failure: .outOfFuel) }
        store.fuel = Fuel(remaining: f.remaining - cost)
    }

    /// Guest bytes `[ptr, ptr+len)`, or a violation when they are not inside memory.
    static func read(_ caller: borrowing Caller, _ ptr: UInt32, _ len: UInt32, max: Int) throws -> [UInt8] {
        guard Int(len) <= max, case .memory(let memory)? = caller.instance?.export("memory"),
              UInt64(ptr) + UInt64(len) <= UInt64(memory.byteCount) else {
            throw HostViolation(failure: .hostPointerOutOfRange)
        }
        return memory.withUnsafeMutableBufferPointer(offset: UInt(ptr), count: Int(len)) { Array($0) }
    }

    static func write(_ caller: borrowing Caller, _ ptr: UInt32, capacity: UInt32, _ bytes: [UInt8]) throws -> Int32 {
        guard case .memory(let memory)? = caller.instance?.export("memory"), UInt64(ptr) + UInt64(capacity) <= UInt64(memory.byteCount) else {
            throw HostViolation(failure: .hostPointerOutOfRange)
        }
        guard bytes.count <= Int(capacity) else { return -2 }   // the value does not fit: the contract learns its size
        memory.withUnsafeMutableBufferPointer(offset: UInt(ptr), count: bytes.count) { $0.copyBytes(from: bytes) }
        return Int32(bytes.count)
    }

    static func hostFunction(_ name: String, store: Store, box: CallBox) -> Function {
        func i32(_ v: Value) -> UInt32 { if case .i32(let x) = v { x } else { 0 } }
        /// The call in progress (a host function runs only inside one).
        func current() throws -> CallState {
            guard let s = box.state else { throw HostViolation(failure: .hostCallOutsideCall) }
            return s
        }
        switch name {
        case "storage_get":
            return Function(store: store, parameters: [.i32, .i32, .i32, .i32], results: [.i32]) { caller, args in
                let state = try current()
                let key = try read(caller, i32(args[0]), i32(args[1]), max: maxKeyBytes)
                let value = state.read(key)
                try charge(caller.store, bytes: key.count + (value?.count ?? 0))
                guard let value else { return [.i32(UInt32(bitPattern: -1))] }
                return [.i32(UInt32(bitPattern: try write(caller, i32(args[2]), capacity: i32(args[3]), value)))]
            }
        case "storage_set":
            return Function(store: store, parameters: [.i32, .i32, .i32, .i32], results: [.i32]) { caller, args in
                let state = try current()
                let key = try read(caller, i32(args[0]), i32(args[1]), max: maxKeyBytes)
                let value = try read(caller, i32(args[2]), i32(args[3]), max: maxValueBytes)
                try charge(caller.store, bytes: 4 * (key.count + value.count))   // writes cost four times a read
                guard state.writes.count < maxWrites else { throw HostViolation(failure: .tooManyWrites) }
                state.writes.append((key, value)); state.pending[key] = value
                return [.i32(0)]
            }
        case "param_get":
            return Function(store: store, parameters: [.i32, .i32, .i32, .i32], results: [.i32]) { caller, args in
                let state = try current()
                let key = try read(caller, i32(args[0]), i32(args[1]), max: maxKeyBytes)
                let value = state.parameters[String(decoding: key, as: UTF8.self)]
                try charge(caller.store, bytes: key.count + (value?.count ?? 0))
                guard let value else { return [.i32(UInt32(bitPattern: -1))] }
                return [.i32(UInt32(bitPattern: try write(caller, i32(args[2]), capacity: i32(args[3]), value)))]
            }
        case "sha256":
            // SHA-256 of guest bytes into a 32-byte guest buffer: commitments a contract checks
            // (a travel stay's opening against the stored hash) without hashing in wasm.
            return Function(store: store, parameters: [.i32, .i32, .i32], results: [.i32]) { caller, args in
                _ = try current()
                let data = try read(caller, i32(args[0]), i32(args[1]), max: maxValueBytes)
                try charge(caller.store, bytes: 4 * data.count + 32)
                return [.i32(UInt32(bitPattern: try write(caller, i32(args[2]), capacity: 32, SHA256.hash(data).bytes)))]
            }
        default:   // "emit" (the check admits no other import)
            return Function(store: store, parameters: [.i32, .i32], results: [.i32]) { caller, args in
                let state = try current()
                let data = try read(caller, i32(args[0]), i32(args[1]), max: maxEventBytes)
                try charge(caller.store, bytes: data.count)
                guard state.emitCalls < maxEvents else { throw HostViolation(failure: .tooManyEvents) }
                state.emitCalls += 1
                guard Self.isEventCode(data) else { return [.i32(UInt32(bitPattern: -1))] }   // not a code: nothing emitted
                state.events.append(data)
                return [.i32(0)]
            }
        }
    }
}
