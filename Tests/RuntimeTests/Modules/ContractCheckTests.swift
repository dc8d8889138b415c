import Foundation
import Testing
import MeridianCore
@testable import MeridianModules

/// The upload check of policy contracts: the three policies `make contracts` built pass; every
/// hostile or malformed module is refused with its reason; no input crashes it.
@Suite(.timeLimit(.minutes(5))) struct ContractCheckTests {
    static let limits = ContractCheck.Limits(maxBytes: 64 * 1024, maxMemoryPages: 4)

    static func built(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Contracts/build/\(name).wasm")
        return [UInt8](try Data(contentsOf: url))
    }

    /// A module assembled from sections; `body` is evaluate's code (without locals and end).
    struct Module {
        var types: [[UInt8]] = [[0x60, 2, 0x7F, 0x7F, 1, 0x7F]]
        var imports: [[UInt8]] = []
        var memory: [UInt8]? = [0x01, 1, 1]
        /// Global entries (type, mutability, constant expression with its end).
        var globals: [[UInt8]] = []
        var exports: [[UInt8]] = [Module.export("evaluate", kind: 0, index: 0), Module.export("memory", kind: 2, index: 0)]
        var start: Bool = false
        var body: [UInt8] = [0x41, 0x01]
        var locals: [UInt8] = [0x00]
        var functionType: UInt8 = 0
        /// A funcref table's limits (flag, min[, max]), if any.
        var table: [UInt8]? = nil
        /// Element segments (flags, offset expression, function indices) and data segments (flags, offset expression, bytes).
        var elements: [[UInt8]] = []
        var data: [[UInt8]] = []

        static func name(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }
        static func export(_ s: String, kind: UInt8, index: UInt8) -> [UInt8] { name(s) + [kind, index] }
        static func section(_ id: UInt8, _ content: [UInt8]) -> [UInt8] { [id] + leb(content.count) + content }
        static func leb(_ n: Int) -> [UInt8] {
            var out: [UInt8] = [], v = n
            repeat { var b = UInt8(v & 0x7F); v >>= 7; if v != 0 { b |= 0x80 }; out.append(b) } while v != 0
            return out
        }
        static func vector(_ items: [[UInt8]]) -> [UInt8] { leb(items.count) + items.flatMap { $0 } }

        var bytes: [UInt8] {
            var out: [UInt8] = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]
            out += Self.section(1, Self.vector(types))
            if !imports.isEmpty { out += Self.section(2, Self.vector(imports)) }
            out += Self.section(3, Self.vector([[functionType]]))
            if let table { out += Self.section(4, [1, 0x70] + table) }
            if let memory { out += Self.section(5, [1] + memory) }
            if !globals.isEmpty { out += Self.section(6, Self.vector(globals)) }
            let importCount = UInt8(imports.count)
            out += Self.section(7, Self.vector(exports.map { e in e[e.count - 2] == 0 ? Array(e.dropLast()) + [e.last! + importCount] : e }))
            if start { out += Self.section(8, [importCount]) }
            if !elements.isEmpty { out += Self.section(9, Self.vector(elements)) }
            let code = locals + body + [0x0B]
            out += Self.section(10, Self.vector([Self.leb(code.count) + code]))
            if !data.isEmpty { out += Self.section(11, Self.vector(data)) }
            return out
        }
    }

    typealias M = Module

    /// An active segment is copied at instantiation into the initial memory or table; one that
    /// does not fit would make every instantiation trap, so the upload refuses it. Every module the
    /// check accepts instantiates (the runner instantiates it once at upload).
    @Test func segmentsThatDoNotFitAreRefusedAndWhatIsAcceptedInstantiates() throws {
        func dataSegment(at offset: [UInt8], _ bytes: [UInt8]) -> [UInt8] { [0x00, 0x41] + offset + [0x0B] + M.leb(bytes.count) + bytes }
        var m = M(); m.data = [dataSegment(at: [0x80, 0x80, 0x04], [1])]               // at 65536 in a one-page memory
        refused(m.bytes, "contract.segment")
        m = M(); m.data = [dataSegment(at: [0xFF, 0xFF, 0x03], [1, 2])]                 // 65535 + 2 bytes: one past the end
        refused(m.bytes, "contract.segment")
        m = M(); m.data = [dataSegment(at: [0x7F], [1])]                                // i32.const -1: 4 GiB - 1
        refused(m.bytes, "contract.segment")
        m = M(); m.globals = [[0x7F, 0x00, 0x41, 0x00, 0x0B]]; m.data = [[0x00, 0x23, 0x00, 0x0B, 1, 9]]   // global.get offset
        refused(m.bytes, "contract.segment")
        m = M(); m.table = [0x01, 1, 1]; m.elements = [[0x00, 0x41, 0x01, 0x0B, 1, 0x00]]   // element 1 of a 1-entry table
        refused(m.bytes, "contract.segment")
        m = M(); m.elements = [[0x00, 0x41, 0x00, 0x0B, 1, 0x00]]                     // an element segment without a table
        refused(m.bytes, "contract.segment")
        // What fits is accepted, and instantiates: the runner answers from the segment's byte.
        m = M(); m.data = [dataSegment(at: [0xFF, 0xFF, 0x03], [0x2A])]                 // the last byte of the page
        m.body = [0x41, 0x00, 0x41, 0xFF, 0xFF, 0x03, 0x2D, 0x00, 0x00, 0x6B]          // answer 0 - mem8[65535]
        let runner = try ContractRunner(code: m.bytes, limits: Self.limits)
        #expect(runner.evaluate(PolicyContractTests.request(), parameters: [:], storage: { _ in nil }, fuel: 10_000).result == .denied(reason: -42))
        m = M(); m.table = [0x01, 1, 1]; m.elements = [[0x00, 0x41, 0x00, 0x0B, 1, 0x00]]
        _ = try ContractRunner(code: m.bytes, limits: Self.limits)
    }

    func refused(_ bytes: [UInt8], _ code: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ContractCheck.check(bytes, limits: Self.limits)
            Issue.record("accepted, expected \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error.code): \(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func theBuiltPoliciesPass() throws {
        let travel = try ContractCheck.check(try Self.built("TravelWindow"), limits: Self.limits)
        #expect(travel.hasUpdate && travel.memoryPages == 1 && travel.maxMemoryPages == 1)
        #expect(Set(travel.imports) == ["storage_get", "storage_set", "param_get", "sha256"])
        #expect(try ContractCheck.check(try Self.built("SecondOpinion"), limits: Self.limits).hasUpdate == false)
        #expect(try ContractCheck.check(try Self.built("TwoPersonBreakGlass"), limits: Self.limits).imports == ["param_get"])
        #expect(try ContractCheck.check(Module().bytes, limits: Self.limits).hasUpdate == false)
    }

    @Test func eachHostileModuleIsRefusedWithItsReason() throws {
        var m = Module(); m.start = true
        refused(m.bytes, "contract.start")
        m = Module(); m.body = [0x43, 0, 0, 0x80, 0x3F, 0x1A, 0x41, 1]          // f32.const 1.0; drop
        refused(m.bytes, "contract.float")
        m = Module(); m.body = [0x41, 0, 0xB7, 0x1A, 0x41, 1]                   // f64.convert_i32_s
        refused(m.bytes, "contract.float")
        m = Module(); m.body = [0xFC, 0x00, 0x1A, 0x41, 1]                       // i32.trunc_sat_f32_s
        refused(m.bytes, "contract.float")
        m = Module(); m.locals = [0x01, 0x01, 0x7C]                               // an f64 local
        refused(m.bytes, "contract.float")
        m = Module(); m.body = [0xFD, 0x0C] + [UInt8](repeating: 0, count: 16) + [0x1A, 0x41, 1]   // v128.const
        refused(m.bytes, "contract.simd")
        m = Module(); m.body = [0x41, 0, 0xFE, 0x10, 0x02, 0x00, 0x1A, 0x41, 1]  // i32.atomic.load
        refused(m.bytes, "contract.atomic")
        m = Module(); m.types.append([0x60, 0, 0]); m.imports = [Module.name("env") + Module.name("clock") + [0x00, 0x01]]
        refused(m.bytes, "contract.import")
        m = Module(); m.types.append([0x60, 1, 0x7F, 1, 0x7F]); m.imports = [Module.name("env") + Module.name("emit") + [0x00, 0x01]]
        refused(m.bytes, "contract.import")                                       // emit with the wrong signature
        m = Module(); m.imports = [Module.name("env") + Module.name("memory") + [0x02, 0x01, 1, 1]]
        refused(m.bytes, "contract.import")                                       // an imported memory
        m = Module(); m.memory = [0x03, 1, 1]
        refused(m.bytes, "contract.memory")                                       // shared
        m = Module(); m.memory = [0x05, 1, 1]
        refused(m.bytes, "contract.memory")                                       // 64-bit
        m = Module(); m.memory = [0x00, 1]
        refused(m.bytes, "contract.memory")                                       // no maximum
        m = Module(); m.memory = [0x01, 1, 200]
        refused(m.bytes, "contract.memory")                                       // over the limit
        m = Module(); m.memory = nil; m.exports = [Module.export("evaluate", kind: 0, index: 0)]
        refused(m.bytes, "contract.memory")
        m = Module(); m.exports = [Module.export("memory", kind: 2, index: 0)]
        refused(m.bytes, "contract.export")
        m = Module(); m.types = [[0x60, 1, 0x7F, 1, 0x7F]]
        refused(m.bytes, "contract.export")                                       // evaluate(i32) -> i32
        m = Module(); m.body = [0x12, 0x00]                                       // return_call: not accepted
        refused(m.bytes, "contract.malformed")
        refused(Array(repeating: 0, count: 64 * 1024 + 1), "contract.too_large")
        refused([0x00, 0x61, 0x73, 0x6D, 0x02, 0x00, 0x00, 0x00], "contract.malformed")
        refused(Array("not wasm".utf8), "contract.malformed")
        // A custom section (here a "name" section whose function index is out of range: WasmKit 0.4.2
        // overflowed its heap reading one when the contract trapped; make fuzz-contracts found it).
        m = Module(); m.body = [0x00]
        refused(m.bytes + M.section(0, M.name("name") + [0x01, 0x04, 0x01, 0x7F, 0x01, 0x61]), "contract.custom_section")
    }

    /// Every prefix of a real contract, and thousands of random corruptions, are answered without a
    /// crash; a prefix is accepted only where it drops whole trailing sections that leave a valid
    /// module (the data section: a contract without its constants is still well-formed).
    @Test func truncatedAndCorruptedModulesNeverCrashTheCheck() throws {
        let travel = try Self.built("TravelWindow")
        let whole = try ContractCheck.check(travel, limits: Self.limits)
        var accepted: [Int] = []
        for n in 0..<travel.count {
            if let s = try? ContractCheck.check(Array(travel.prefix(n)), limits: Self.limits) { accepted.append(n); #expect(s == whole) }
        }
        #expect(accepted.count <= 1 && accepted.allSatisfy { $0 > travel.count * 9 / 10 }, "prefixes accepted at \(accepted)")
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var g = SplitMix(seed)
        var refusedCount = 0
        for _ in 0..<5_000 {
            var b = travel
            for _ in 0..<(1 + Int(g.next() % 4)) { b[Int(g.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: g.next()) }
            if (try? ContractCheck.check(b, limits: Self.limits)) == nil { refusedCount += 1 }
        }
        #expect(refusedCount > 0, "seed \(seed)")
    }

    struct SplitMix { var s: UInt64; init(_ s: UInt64) { self.s = s }
        mutating func next() -> UInt64 { s &+= 0x9E3779B97F4A7C15; var z = s; z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) &* 0x94D049BB133111EB; return z ^ (z >> 31) } }
}
