/// Why a contract call gave no answer, as a stable code. Everything a call leaves in a decision, a
/// receipt or an event must be the same on every node; an engine's error text is not (WasmKit's
/// trap description carries a backtrace with native addresses that differ per process, and its
/// wording changes between versions), so it is never kept: the trap's kind is mapped to one of
/// these codes and the text is dropped. A code names what happened, never where in memory.
public enum ContractFailure: String, Sendable, Hashable, CaseIterable {
    /// The call used up its fuel (`ChainParameters.contractFuelPerCall`).
    case outOfFuel = "contract.out_of_fuel"
    /// `unreachable` executed.
    case unreachable = "contract.trap.unreachable"
    /// The engine's stack per call (`ChainParameters.contractStackBytes`) ran out: recursion too deep.
    case stackExhausted = "contract.trap.stack_exhausted"
    case memoryOutOfBounds = "contract.trap.memory_out_of_bounds"
    case tableOutOfBounds = "contract.trap.table_out_of_bounds"
    case indirectCallToNull = "contract.trap.indirect_call_to_null"
    case indirectCallTypeMismatch = "contract.trap.indirect_call_type_mismatch"
    case integerDivideByZero = "contract.trap.integer_divide_by_zero"
    case integerOverflow = "contract.trap.integer_overflow"
    case invalidConversion = "contract.trap.invalid_conversion"
    /// A trap of a kind this runtime does not name (a newer engine's); still one code on every node.
    case otherTrap = "contract.trap.other"
    /// A host call passed a pointer or length outside the contract's memory, or over its bound.
    case hostPointerOutOfRange = "contract.host.pointer_out_of_range"
    case tooManyWrites = "contract.host.too_many_writes"
    case tooManyEvents = "contract.host.too_many_events"
    /// A host function was called outside a call (from the start function).
    case hostCallOutsideCall = "contract.host.outside_call"
    /// The answer was not one i32 of 1 (allow) or ≤ 0 (a deny reason).
    case malformedAnswer = "contract.malformed_answer"
    /// The entry point called is missing (or the memory export, at instantiation).
    case missingExport = "contract.missing_export"
    /// The memory has no room for the request area.
    case noRoomForRequest = "contract.no_room_for_request"
    case inputTooLarge = "contract.input_too_large"
    /// The module did not instantiate (a trap in its start function or its segments).
    case instantiationFailed = "contract.instantiation_failed"
    /// `update` was called on a contract without one.
    case noUpdate = "contract.no_update"
    /// The consent names code that is not deployed (cannot happen on a chain this runtime built).
    case notDeployed = "contract.not_deployed"

    /// Whether the code names a trap (an instruction the engine stopped).
    public var isTrap: Bool { rawValue.hasPrefix("contract.trap.") }

    /// The code for an error the engine threw while running a call. Only the trap's reason (the
    /// first line of WasmKit's `Trap` description, before its backtrace) is looked at, and only to
    /// choose among fixed codes; nothing of the text is kept.
    static func trap(_ error: any Error) -> ContractFailure {
        var reason = Substring(String(describing: error).prefix(while: { $0 != "\n" }))
        if reason.hasPrefix("Trap: ") { reason = reason.dropFirst(6) }
        switch reason {
        case "out of fuel": return .outOfFuel
        case "unreachable": return .unreachable
        case "call stack exhausted": return .stackExhausted
        case "out of bounds memory access": return .memoryOutOfBounds
        case "integer divide by zero": return .integerDivideByZero
        case "integer overflow": return .integerOverflow
        case "invalid conversion to integer": return .invalidConversion
        default:
            if reason.hasPrefix("out of bounds table access") { return .tableOutOfBounds }
            if reason.hasPrefix("indirect call to null") { return .indirectCallToNull }
            if reason.hasPrefix("indirect call type mismatch") { return .indirectCallTypeMismatch }
            return .otherTrap
        }
    }
}
