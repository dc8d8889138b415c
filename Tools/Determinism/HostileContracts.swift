import MeridianCore

/// Policy contracts built to fail, one of each way a contract can fail in the engine or at the
/// host, and the kinds the upload check must refuse. Each is a minimal WebAssembly module written
/// byte by byte (no toolchain could emit most of them: that is the point); what each does is in
/// its `what`. Used by the determinism check, whose blocks must come out byte for byte the same
/// in every process that executes them.
struct HostileContract {
    let name: String
    let what: String
    let bytes: [UInt8]
    /// Refused by the upload check (the deploy's receipt is the failure), or accepted and run.
    let refusedAtUpload: Bool
}

/// A module with one defined function `evaluate(i32, i32) -> i32` (index = number of imports),
/// one memory and whatever else the case needs.
struct WasmModule {
    var types: [[UInt8]] = [[0x60, 2, 0x7F, 0x7F, 1, 0x7F], [0x60, 0, 0]]   // 0: the entry's type; 1: () -> ()
    var imports: [[UInt8]] = []
    var table: [UInt8]? = nil
    var memory: [UInt8] = [0x01, 1, 2]
    var elements: [[UInt8]] = []
    var data: [[UInt8]] = []
    var locals: [UInt8] = [0x00]
    var body: [UInt8] = [0x41, 0x01]

    static func leb(_ n: Int) -> [UInt8] {
        var out: [UInt8] = [], v = n
        repeat { var b = UInt8(v & 0x7F); v >>= 7; if v != 0 { b |= 0x80 }; out.append(b) } while v != 0
        return out
    }
    static func name(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }
    static func section(_ id: UInt8, _ content: [UInt8]) -> [UInt8] { [id] + leb(content.count) + content }
    static func vector(_ items: [[UInt8]]) -> [UInt8] { leb(items.count) + items.flatMap { $0 } }

    var bytes: [UInt8] {
        var out: [UInt8] = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]
        out += Self.section(1, Self.vector(types))
        if !imports.isEmpty { out += Self.section(2, Self.vector(imports)) }
        out += Self.section(3, Self.vector([[0x00]]))
        if let table { out += Self.section(4, [1, 0x70] + table) }
        out += Self.section(5, [1] + memory)
        let entry = UInt8(imports.count)
        out += Self.section(7, Self.vector([Self.name("evaluate") + [0x00, entry], Self.name("memory") + [0x02, 0x00]]))
        if !elements.isEmpty { out += Self.section(9, Self.vector(elements)) }
        let code = locals + body + [0x0B]
        out += Self.section(10, Self.vector([Self.leb(code.count) + code]))
        if !data.isEmpty { out += Self.section(11, Self.vector(data)) }
        return out
    }
}

extension HostileContract {
    static func all() -> [HostileContract] {
        func run(_ name: String, _ what: String, _ m: WasmModule) -> HostileContract { HostileContract(name: name, what: what, bytes: m.bytes, refusedAtUpload: false) }
        func refused(_ name: String, _ what: String, _ m: WasmModule) -> HostileContract { HostileContract(name: name, what: what, bytes: m.bytes, refusedAtUpload: true) }
        var out: [HostileContract] = []
        var m = WasmModule()
        m.body = [0x03, 0x40, 0x0C, 0x00, 0x0B, 0x41, 0x01]
        out.append(run("infinite-loop", "loop { br 0 }: stopped by fuel", m))
        m = WasmModule(); m.body = [0x20, 0x00, 0x20, 0x01, 0x10, 0x00]
        out.append(run("recursion", "evaluate calls itself forever: stopped by the engine's stack", m))
        m = WasmModule(); m.body = [0x00]
        out.append(run("unreachable", "the unreachable instruction", m))
        m = WasmModule(); m.body = [0x41, 0xF0, 0xFF, 0xFF, 0xFF, 0x07, 0x28, 0x02, 0x00]   // i32.load at 2^31 - 16
        out.append(run("memory-out-of-bounds", "a load far past the memory's end", m))
        m = WasmModule(); m.body = [0x03, 0x40, 0x41, 0x01, 0x40, 0x00, 0x1A, 0x0C, 0x00, 0x0B, 0x41, 0x01]
        out.append(run("memory-growth", "memory.grow in a loop against the declared maximum: stopped by fuel", m))
        m = WasmModule(); m.body = [0x41, 0x01, 0x41, 0x00, 0x6D]
        out.append(run("divide-by-zero", "i32.div_s by zero", m))
        m = WasmModule(); m.body = [0x41, 0x80, 0x80, 0x80, 0x80, 0x78, 0x41, 0x7F, 0x6D]
        out.append(run("integer-overflow", "i32.div_s of INT32_MIN by -1", m))
        m = WasmModule(); m.table = [0x01, 1, 1]; m.elements = [[0x00, 0x41, 0x00, 0x0B, 1, 0x00]]
        m.body = [0x41, 0x00, 0x11, 0x01, 0x00, 0x41, 0x01]                                  // call_indirect (type 1) of a type-0 function
        out.append(run("indirect-call-type-mismatch", "call_indirect expecting () -> () reaches evaluate's type", m))
        m = WasmModule(); m.table = [0x01, 2, 2]; m.elements = [[0x00, 0x41, 0x00, 0x0B, 1, 0x00]]
        m.body = [0x41, 0x01, 0x11, 0x01, 0x00, 0x41, 0x01]                                  // element 1 never set
        out.append(run("indirect-call-to-null", "call_indirect to an uninitialised table element", m))
        m = WasmModule(); m.table = [0x01, 1, 1]; m.elements = [[0x00, 0x41, 0x00, 0x0B, 1, 0x00]]
        m.body = [0x41, 0x05, 0x11, 0x01, 0x00, 0x41, 0x01]
        out.append(run("table-out-of-bounds", "call_indirect past the table's end", m))
        m = WasmModule(); m.types.append([0x60, 2, 0x7F, 0x7F, 1, 0x7F]); m.imports = [WasmModule.name("env") + WasmModule.name("emit") + [0x00, 0x02]]
        m.body = [0x41, 0xF0, 0xFF, 0x03, 0x41, 0x80, 0x80, 0x04, 0x10, 0x00]               // emit(65520, 65536)
        out.append(run("host-pointer-out-of-range", "a host call given a range past the memory", m))
        m = WasmModule(); m.types.append([0x60, 2, 0x7F, 0x7F, 1, 0x7F]); m.imports = [WasmModule.name("env") + WasmModule.name("emit") + [0x00, 0x02]]
        m.body = Array(repeating: [0x41, 0x00, 0x41, 0x04, 0x10, 0x00, 0x1A], count: 9).flatMap { $0 } + [0x41, 0x01]
        out.append(run("too-many-events", "nine events in one call", m))
        m = WasmModule(); m.body = [0x41, 0x07]
        out.append(run("malformed-answer", "answers 7, neither allow nor a deny reason", m))
        m = WasmModule(); m.body = [0x41, 0x7D]
        out.append(run("deny", "a well-behaved denial (reason -3)", m))
        m = WasmModule(); m.table = [0x00, 0x80, 0x89, 0x7A]                                    // two million entries
        out.append(refused("huge-table", "a table of two million entries", m))
        m = WasmModule(); m.data = [[0x00, 0x41, 0x80, 0x80, 0x04, 0x0B, 1, 0x2A]]                // one byte at 65536 in a one-page memory
        out.append(refused("data-past-memory", "an active data segment past the initial memory", m))
        m = WasmModule(); m.memory = [0x00, 1]
        out.append(refused("unbounded-memory", "a memory without a maximum", m))
        return out
    }
}
