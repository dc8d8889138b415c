public import MeridianCore

/// The deterministic upload check of a policy contract: every validator runs it on the uploaded
/// bytes and reaches the same verdict, independent of the WebAssembly engine's version. Written
/// here (not left to WasmKit) because WasmKit accepts SIMD and atomic instructions whatever
/// features are asked, takes float NaN bits from the host CPU, and lets memory grow to the
/// module's own maximum (../shared/TESTBED.md): each of those must be refused before a module is
/// stored, with the reason.
///
/// Refused: malformed bytes (bad magic, version, section order or size, LEB128, truncation),
/// custom sections (names, producers: the engine reads some of them),
/// a size over the genesis limit, imports other than the host API with its exact signatures,
/// a start function, floating-point, SIMD or atomic instructions and value types, shared or 64-bit
/// memory, memory without a declared maximum or over the limit, and a module without the
/// `evaluate(i32, i32) -> i32` export.
public enum ContractCheck {
    /// The host API a contract may import (module "env"), with its signatures.
    public static let hostFunctions: [String: FunctionType] = [
        "storage_get": FunctionType(params: [.i32, .i32, .i32, .i32], results: [.i32]),
        "storage_set": FunctionType(params: [.i32, .i32, .i32, .i32], results: [.i32]),
        "param_get": FunctionType(params: [.i32, .i32, .i32, .i32], results: [.i32]),
        "emit": FunctionType(params: [.i32, .i32], results: [.i32]),
        "sha256": FunctionType(params: [.i32, .i32, .i32], results: [.i32]),
    ]
    /// The exports the host calls: `evaluate` (required) and `update` (optional), both `(i32, i32) -> i32`.
    public static let entryType = FunctionType(params: [.i32, .i32], results: [.i32])

    public enum ValueType: UInt8, Sendable { case i32 = 0x7F, i64 = 0x7E }
    public struct FunctionType: Hashable, Sendable {
        public let params: [ValueType]
        public let results: [ValueType]
        public init(params: [ValueType], results: [ValueType]) { self.params = params; self.results = results }
    }

    /// The most entries a contract's table may start with (indirect calls need a few).
    public static let maxTableEntries: UInt32 = 1024

    public struct Limits: Sendable {
        public let maxBytes: Int
        public let maxMemoryPages: UInt32
        public init(maxBytes: Int, maxMemoryPages: UInt32) { self.maxBytes = maxBytes; self.maxMemoryPages = maxMemoryPages }
    }

    /// What the check learned of an accepted module.
    public struct Summary: Sendable, Equatable {
        public let memoryPages: UInt32
        public let maxMemoryPages: UInt32
        public let hasUpdate: Bool
        public let imports: [String]
    }

    /// Checks `bytes`; the reason names the first thing refused.
    public static func check(_ bytes: [UInt8], limits: Limits) throws(RuntimeError) -> Summary {
        guard bytes.count <= limits.maxBytes else {
            throw RuntimeError("contract.too_large", "\(bytes.count) bytes exceed the limit of \(limits.maxBytes)")
        }
        var r = WasmReader(bytes: bytes)
        try r.expect([0x00, 0x61, 0x73, 0x6D], "not a WebAssembly module (magic)")
        try r.expect([0x01, 0x00, 0x00, 0x00], "WebAssembly version 1 expected")
        var types: [FunctionType] = []
        var functionTypes: [UInt32] = []   // imported functions first, then defined ones
        var importedFunctions = 0
        var imports: [String] = []
        var definedFunctions = 0
        var memory: (min: UInt32, max: UInt32)?
        var tableMinimums: [UInt32] = []
        var exports: [String: (kind: UInt8, index: UInt32)] = [:]
        var lastID: UInt8 = 0
        var sawCode = false
        while !r.atEnd {
            let id = try r.byte()
            let size = Int(try r.u32())
            guard size <= r.remaining else { throw malformed("section \(id) is longer than the module") }
            let end = r.offset + size
            if id != 0 {
                // Known sections in their order (data count, 12, sits between import-free sections and code).
                let order: [UInt8: Int] = [1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12]
                guard let rank = order[id] else { throw malformed("unknown section id \(id)") }
                guard rank > (order[lastID] ?? 0) else { throw malformed("section \(id) is out of order or repeated") }
                lastID = id
            }
            switch id {
            case 0:
                // Custom sections are refused: a contract needs none (build with `wasm-ld --strip-all`),
                // and the engine interprets some. WasmKit 0.4.2 reads the "name" section when a
                // contract traps, and a malformed one overflowed its heap (found by make fuzz-contracts).
                let name = try r.name()
                throw RuntimeError("contract.custom_section", "custom section \"\(name.prefix(32))\" is refused: build with wasm-ld --strip-all")
            case 1:
                for _ in 0..<(try r.count(max: 10_000)) {
                    guard try r.byte() == 0x60 else { throw malformed("a type is not a function type") }
                    var params: [ValueType] = [], results: [ValueType] = []
                    for _ in 0..<(try r.count(max: 1000)) { params.append(try valueType(try r.byte())) }
                    for _ in 0..<(try r.count(max: 1000)) { results.append(try valueType(try r.byte())) }
                    types.append(FunctionType(params: params, results: results))
                }
            case 2:
                for _ in 0..<(try r.count(max: 1000)) {
                    let module = try r.name(), name = try r.name()
                    let kind = try r.byte()
                    guard kind == 0 else {
                        throw RuntimeError("contract.import", "import \(module).\(name) is not a function: a contract imports only the host API's functions")
                    }
                    let typeIndex = try r.u32()
                    guard module == "env", let expected = hostFunctions[name] else {
                        throw RuntimeError("contract.import", "import \(module).\(name) is not in the host API (env: \(hostFunctions.keys.sorted().joined(separator: ", ")))")
                    }
                    guard Int(typeIndex) < types.count, types[Int(typeIndex)] == expected else {
                        throw RuntimeError("contract.import", "import env.\(name) has the wrong signature")
                    }
                    functionTypes.append(typeIndex)
                    imports.append(name)
                    importedFunctions += 1
                }
            case 3:
                for _ in 0..<(try r.count(max: 10_000)) {
                    let t = try r.u32()
                    guard Int(t) < types.count else { throw malformed("function type \(t) out of range") }
                    functionTypes.append(t)
                    definedFunctions += 1
                }
            case 4:
                for _ in 0..<(try r.count(max: 10)) {
                    guard try r.byte() == 0x70 else { throw malformed("a table is not of funcref") }
                    let entries = try limitsOf(&r, what: "table").0
                    // A table is allocated whole at instantiation (and table instructions that
                    // could grow it are refused): its initial size is the only bound it needs.
                    guard entries <= Self.maxTableEntries else {
                        throw RuntimeError("contract.table", "a table of \(entries) entries exceeds the limit of \(Self.maxTableEntries)")
                    }
                    tableMinimums.append(entries)
                }
            case 5:
                let n = try r.count(max: 1)
                guard n == 1 else { throw RuntimeError("contract.memory", "a contract defines exactly one memory (found \(n))") }
                let flags = try r.byte()
                guard flags & 0x02 == 0 else { throw RuntimeError("contract.memory", "shared memory is refused") }
                guard flags & 0x04 == 0 else { throw RuntimeError("contract.memory", "64-bit memory is refused") }
                guard flags == 0x01 else { throw RuntimeError("contract.memory", "memory must declare its maximum") }
                let min = try r.u32(), max = try r.u32()
                guard min <= max else { throw malformed("memory minimum over its maximum") }
                guard max <= limits.maxMemoryPages else {
                    throw RuntimeError("contract.memory", "memory maximum of \(max) pages exceeds the limit of \(limits.maxMemoryPages)")
                }
                memory = (min, max)
            case 6:
                for _ in 0..<(try r.count(max: 1000)) {
                    _ = try valueType(try r.byte())
                    _ = try r.byte()   // mutability
                    try constantExpression(&r)
                }
            case 7:
                for _ in 0..<(try r.count(max: 1000)) {
                    let name = try r.name(), kind = try r.byte(), index = try r.u32()
                    guard exports[name] == nil else { throw malformed("export \(name) is duplicated") }
                    guard !name.hasPrefix(reservedExportPrefix) else {
                        throw RuntimeError("contract.export", "export names starting with \(reservedExportPrefix) are the host's")
                    }
                    exports[name] = (kind, index)
                }
            case 8:
                throw RuntimeError("contract.start", "a start function is refused: a contract runs only when the host calls it")
            case 9:
                for _ in 0..<(try r.count(max: 1000)) {
                    let flags = try r.u32()
                    guard flags == 0 else { throw malformed("only active funcref element segments of table 0 are accepted") }
                    let offset = try segmentOffset(&r, what: "element segment")
                    let n = try r.count(max: 100_000)
                    for _ in 0..<n { _ = try r.u32() }
                    // Applied at instantiation to the table's initial size: a segment past it would
                    // make every instantiation trap, so the upload is refused instead.
                    guard let table = tableMinimums.first, UInt64(offset) + UInt64(n) <= UInt64(table) else {
                        throw RuntimeError("contract.segment", "an element segment at \(offset) with \(n) entries does not fit the table's \(tableMinimums.first ?? 0) initial entries")
                    }
                }
            case 12:
                _ = try r.u32()
            case 10:
                sawCode = true
                let n = try r.count(max: 10_000)
                guard n == definedFunctions else { throw malformed("\(n) function bodies for \(definedFunctions) functions") }
                for f in 0..<n {
                    let bodySize = Int(try r.u32())
                    guard bodySize <= r.remaining else { throw malformed("function \(f)'s body overruns the section") }
                    let bodyEnd = r.offset + bodySize
                    for _ in 0..<(try r.count(max: 1000)) {
                        _ = try r.u32()
                        _ = try valueType(try r.byte())
                    }
                    try instructions(&r, end: bodyEnd, function: f)
                    guard r.offset == bodyEnd else { throw malformed("function \(f)'s body does not end where its size says") }
                }
            case 11:
                for _ in 0..<(try r.count(max: 10_000)) {
                    let flags = try r.u32()
                    guard flags == 0 else { throw malformed("data segment mode \(flags) is not accepted: only active segments of memory 0") }
                    let offset = try segmentOffset(&r, what: "data segment")
                    let n = Int(try r.u32())
                    guard n <= r.remaining else { throw malformed("data segment overruns the module") }
                    r.offset += n
                    // Applied at instantiation to the memory's initial pages: a segment past them
                    // would make every instantiation trap, so the upload is refused instead.
                    let initialBytes = UInt64(memory?.min ?? 0) * 65536
                    guard UInt64(offset) + UInt64(n) <= initialBytes else {
                        throw RuntimeError("contract.segment", "a data segment at \(offset) of \(n) bytes does not fit the memory's \(initialBytes) initial bytes")
                    }
                }
            default:
                throw malformed("unknown section id \(id)")
            }
            guard r.offset == end else { throw malformed("section \(id) does not end where its size says") }
        }
        guard definedFunctions == 0 || sawCode else { throw malformed("functions without a code section") }
        guard let memory else { throw RuntimeError("contract.memory", "a contract defines one memory, with a maximum") }
        func entry(_ name: String) throws(RuntimeError) -> Bool {
            guard let e = exports[name] else { return false }
            guard e.kind == 0, Int(e.index) < functionTypes.count, types[Int(functionTypes[Int(e.index)])] == entryType else {
                throw RuntimeError("contract.export", "export \(name) must be a function (i32, i32) -> i32")
            }
            return true
        }
        guard try entry("evaluate") else { throw RuntimeError("contract.export", "a contract exports evaluate(i32, i32) -> i32") }
        guard let m = exports["memory"], m.kind == 2 else { throw RuntimeError("contract.export", "a contract exports its memory as \"memory\"") }
        return Summary(memoryPages: memory.min, maxMemoryPages: memory.max, hasUpdate: try entry("update"), imports: imports)
    }

    static func malformed(_ m: String) -> RuntimeError { RuntimeError("contract.malformed", m) }

    /// Export names the host keeps for itself (never a contract's).
    public static let reservedExportPrefix = "__meridian_"

    /// The module as the runner hands it to the engine: the same code with every mutable global
    /// also exported (as `__meridian_global_<index>`), so the runner can put them back to their
    /// initial values between calls on a reused instance. The contract's hash stays that of the
    /// uploaded bytes; this is the host's view of them. `bytes` must have passed `check`.
    public static func exportingMutableGlobals(_ bytes: [UInt8]) throws(RuntimeError) -> (module: [UInt8], globals: [String]) {
        var r = WasmReader(bytes: bytes)
        r.offset = 8
        var mutable: [UInt32] = []
        var out = Array(bytes[0..<8])
        while !r.atEnd {
            let start = r.offset
            let id = try r.byte()
            let size = Int(try r.u32())
            let end = r.offset + size
            switch id {
            case 6:
                for i in 0..<(try r.count(max: 1000)) {
                    _ = try r.byte()
                    if try r.byte() == 1 { mutable.append(UInt32(i)) }
                    try constantExpression(&r)
                }
                out += bytes[start..<end]
            case 7 where !mutable.isEmpty:
                let n = try r.count(max: 1000)
                var content = leb(UInt32(n + mutable.count)) + Array(bytes[r.offset..<end])
                for g in mutable {
                    let name = Array("\(reservedExportPrefix)global_\(g)".utf8)
                    content += leb(UInt32(name.count)) + name + [0x03] + leb(g)
                }
                out += [7] + leb(UInt32(content.count)) + content
            default:
                out += bytes[start..<end]
            }
            r.offset = end
        }
        return (out, mutable.map { "\(reservedExportPrefix)global_\($0)" })
    }

    static func leb(_ v: UInt32) -> [UInt8] {
        var out: [UInt8] = [], v = v
        repeat { var b = UInt8(v & 0x7F); v >>= 7; if v != 0 { b |= 0x80 }; out.append(b) } while v != 0
        return out
    }


    static func valueType(_ b: UInt8) throws(RuntimeError) -> ValueType {
        switch b {
        case 0x7F: return .i32
        case 0x7E: return .i64
        case 0x7D, 0x7C: throw RuntimeError("contract.float", "floating-point values are refused (their NaN bits differ between machines)")
        case 0x7B: throw RuntimeError("contract.simd", "SIMD values are refused")
        default: throw malformed("value type 0x\(String(b, radix: 16)) is not accepted")
        }
    }

    static func limitsOf(_ r: inout WasmReader, what: String) throws(RuntimeError) -> (UInt32, UInt32?) {
        switch try r.byte() {
        case 0: return (try r.u32(), nil)
        case 1: return (try r.u32(), try r.u32())
        default: throw malformed("\(what) limits flag")
        }
    }

    /// A segment's offset: an `i32.const`, then end (a `global.get` offset would hide the bound the
    /// check must see, so it is refused).
    static func segmentOffset(_ r: inout WasmReader, what: String) throws(RuntimeError) -> UInt32 {
        guard try r.byte() == 0x41 else { throw RuntimeError("contract.segment", "a \(what)'s offset must be an i32.const") }
        let v = try r.s64()
        guard try r.byte() == 0x0B else { throw malformed("constant expression without its end") }
        guard v >= Int64(Int32.min), v <= Int64(Int32.max) else { throw malformed("\(what) offset out of i32 range") }
        return UInt32(bitPattern: Int32(v))
    }

    /// A constant expression: one i32/i64 constant or global.get, then end.
    static func constantExpression(_ r: inout WasmReader) throws(RuntimeError) {
        switch try r.byte() {
        case 0x41: _ = try r.s64()
        case 0x42: _ = try r.s64()
        case 0x23: _ = try r.u32()
        case 0x43, 0x44: throw RuntimeError("contract.float", "floating-point constants are refused")
        default: throw malformed("only i32/i64 constants and global.get are accepted in constant expressions")
        }
        guard try r.byte() == 0x0B else { throw malformed("constant expression without its end") }
    }

    /// Walks one function body's instructions, decoding every immediate, refusing what is not accepted.
    static func instructions(_ r: inout WasmReader, end: Int, function f: Int) throws(RuntimeError) {
        func blockType(_ r: inout WasmReader) throws(RuntimeError) {
            let b = try r.peek()
            if b == 0x40 { r.offset += 1 }
            else if b >= 0x7B && b <= 0x7F { _ = try valueType(try r.byte()) }
            else { _ = try r.s64() }   // a type index (s33)
        }
        while r.offset < end {
            let op = try r.byte()
            switch op {
            case 0x00, 0x01, 0x05, 0x0B, 0x0F, 0x1A, 0x1B, 0xA7, 0xAC, 0xAD: break
            case 0x02, 0x03, 0x04: try blockType(&r)
            case 0x0C, 0x0D, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24: _ = try r.u32()
            case 0x25, 0x26, 0xD0, 0xD1, 0xD2:
                throw RuntimeError("contract.feature", "function \(f): reference-type instruction 0x\(String(op, radix: 16)) is refused")
            case 0x0E:
                for _ in 0..<(try r.count(max: 100_000)) { _ = try r.u32() }
                _ = try r.u32()
            case 0x11: _ = try r.u32(); _ = try r.u32()
            case 0x1C:
                for _ in 0..<(try r.count(max: 1)) { _ = try valueType(try r.byte()) }
            case 0x28, 0x29, 0x2C...0x35, 0x36, 0x37, 0x3A...0x3E: _ = try r.u32(); _ = try r.u32()
            case 0x2A, 0x2B, 0x38, 0x39, 0x43, 0x44, 0x5B...0x66, 0x8B...0xA6, 0xA8...0xAB, 0xAE...0xBF:
                throw RuntimeError("contract.float", "function \(f): floating-point instruction 0x\(String(op, radix: 16)) is refused")
            case 0x3F, 0x40: guard try r.byte() == 0 else { throw malformed("memory index other than 0") }
            case 0x41: _ = try r.s64()
            case 0x42: _ = try r.s64()
            case 0x45...0x5A, 0x67...0x8A, 0xC0...0xC4: break
            case 0xFC:
                let sub = try r.u32()
                switch sub {
                case 0...7: throw RuntimeError("contract.float", "function \(f): floating-point truncation (0xFC \(sub)) is refused")
                // Bulk memory and table instructions are not enabled in the engine; refusing them
                // here also means a call can change nothing of an instance but its memory and
                // globals (what a runner reusing instances would have to put back).
                case 8...17: throw RuntimeError("contract.feature", "function \(f): bulk-memory and table instruction 0xFC \(sub) is refused")
                default: throw malformed("function \(f): unknown instruction 0xFC \(sub)")
                }
            case 0xFD: throw RuntimeError("contract.simd", "function \(f): SIMD instructions are refused")
            case 0xFE: throw RuntimeError("contract.atomic", "function \(f): atomic instructions are refused")
            default: throw malformed("function \(f): unknown or unaccepted instruction 0x\(String(op, radix: 16))")
            }
        }
    }
}

/// Bounds-checked reading of a WebAssembly binary (LEB128, names, bytes).
struct WasmReader {
    let bytes: [UInt8]
    var offset = 0
    var atEnd: Bool { offset >= bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func byte() throws(RuntimeError) -> UInt8 {
        guard offset < bytes.count else { throw ContractCheck.malformed("truncated at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }
    func peek() throws(RuntimeError) -> UInt8 {
        guard offset < bytes.count else { throw ContractCheck.malformed("truncated at byte \(offset)") }
        return bytes[offset]
    }
    mutating func expect(_ b: [UInt8], _ message: String) throws(RuntimeError) {
        guard offset + b.count <= bytes.count, Array(bytes[offset..<(offset + b.count)]) == b else { throw ContractCheck.malformed(message) }
        offset += b.count
    }
    /// Unsigned LEB128, at most 5 bytes, no bits beyond 32.
    mutating func u32() throws(RuntimeError) -> UInt32 {
        var result: UInt32 = 0
        for i in 0..<5 {
            let b = try byte()
            if i == 4 && b & 0xF0 != 0 { throw ContractCheck.malformed("u32 LEB128 over 32 bits at byte \(offset - 1)") }
            result |= UInt32(b & 0x7F) << (7 * UInt32(i))
            if b & 0x80 == 0 { return result }
        }
        throw ContractCheck.malformed("u32 LEB128 longer than 5 bytes at byte \(offset)")
    }
    /// Signed LEB128 of up to 64 bits (also read for i32 constants and s33 block types).
    mutating func s64() throws(RuntimeError) -> Int64 {
        var result: Int64 = 0, shift: Int64 = 0
        for _ in 0..<10 {
            let b = try byte()
            result |= Int64(b & 0x7F) << shift
            shift += 7
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 { result |= -1 << shift }
                return result
            }
        }
        throw ContractCheck.malformed("LEB128 longer than 10 bytes at byte \(offset)")
    }
    /// A vector length, bounded so a hostile count cannot make the checker loop for long.
    mutating func count(max: Int) throws(RuntimeError) -> Int {
        let n = Int(try u32())
        guard n <= max, n <= remaining else { throw ContractCheck.malformed("a count of \(n) at byte \(offset) is over its bound") }
        return n
    }
    mutating func name() throws(RuntimeError) -> String {
        let n = try count(max: 1024)
        let s = String(decoding: bytes[offset..<(offset + n)], as: UTF8.self)
        offset += n
        return s
    }
}
