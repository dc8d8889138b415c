import Foundation
import MeridianTestSupport
import Testing

/// The determinism check (`meridian-determinism`): blocks in which every hostile contract kind
/// runs inside `authorize` are executed by one process and re-executed by two others, with other
/// address-space layouts (each process is its own), other heap contents (glibc's MALLOC_PERTURB_),
/// other signature-checking thread counts and an empty contract cache. Receipts, events, decisions,
/// state roots and block hashes must come out byte for byte the same.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DeterminismTests {
    @Test func threeProcessesAgreeByteForByteOnBlocksWithEveryHostileContract() async throws {
        let dir = try TemporaryDirectory("determinism")
        let built = try await run("meridian-determinism", ["build", "--out", dir.path("built"), "--threads", "1"], in: dir)
        try #require(built.status == 0, "\(built)")
        let record = try String(contentsOfFile: dir.path("built/record.txt"), encoding: .utf8)
        var replays: [String] = []
        for (i, (threads, perturb)) in [("4", "153"), ("2", "85")].enumerated() {
            let out = dir.path("replay-\(i).txt")
            let r = try await run("meridian-determinism", ["replay", "--blocks", dir.path("built/blocks.bin"), "--out", out, "--threads", threads],
                                  environment: ["MALLOC_PERTURB_": perturb], in: dir)
            try #require(r.status == 0, "\(r)")
            replays.append(try String(contentsOfFile: out, encoding: .utf8))
        }
        let lines = record.split(separator: "\n")
        #expect(lines.count > 40, "the check ran too few blocks: \(lines.count)")
        for (i, replay) in replays.enumerated() {
            let theirs = replay.split(separator: "\n")
            #expect(theirs.count == lines.count)
            for (a, b) in zip(lines, theirs) where a != b {
                Issue.record("replay \(i) differs at height \(a.prefix(while: { $0 != " " })):\n\(a.prefix(400))\n\(b.prefix(400))")
                break
            }
        }
        // Every failure is a stable code: no engine text, no address, no backtrace in any receipt.
        let text = String(decoding: lines.flatMap { $0.split(separator: " ").dropFirst(3) }.compactMap { hex -> [UInt8]? in
            var out: [UInt8] = []; var it = hex.utf8.makeIterator()
            while let h = it.next(), let l = it.next() { guard let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else { return nil }; out.append(v) }
            return out
        }.joined(), as: UTF8.self)
        for code in ["contract.out_of_fuel", "contract.trap.stack_exhausted", "contract.trap.unreachable", "contract.trap.memory_out_of_bounds",
                     "contract.trap.integer_divide_by_zero", "contract.trap.integer_overflow", "contract.trap.indirect_call_type_mismatch",
                     "contract.trap.indirect_call_to_null", "contract.trap.table_out_of_bounds", "contract.host.pointer_out_of_range",
                     "contract.host.too_many_events", "contract.malformed_answer", "contract.table", "contract.segment", "contract.memory"] {
            #expect(text.contains(code), "no receipt carries \(code)")
        }
        // Engine text is words: look for it in runs of printable characters (hashes and keys are
        // random bytes, in which two such as "0x" turn up by chance).
        let words = text.split(whereSeparator: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0.isPunctuation || $0 == " ")) }).filter { $0.count >= 8 }
        for leak in ["0x", "Trap:", "backtrace", "WasmKit"] {
            let found = words.first { $0.contains(leak) }
            #expect(found == nil, "a receipt carries engine text (\(leak)): \(found.map { String($0) } ?? "")")
        }
    }

    @Test func badArgumentsAndADamagedBlocksFileAreRefusedWithAReason() async throws {
        let dir = try TemporaryDirectory("determinism-bad")
        let none = try await run("meridian-determinism", [], in: dir)
        // swift-argument-parser: a usage error exits 64 (EX_USAGE) and says what is wrong.
        #expect(none.status == 64 && none.stderr.contains("USAGE: meridian-determinism"), "\(none)")
        let threads = try await run("meridian-determinism", ["build", "--out", dir.path("x"), "--threads", "0"], in: dir)
        #expect(threads.status == 64 && threads.stderr.contains("--threads must be 1...64"), "\(threads)")
        try Data([0, 0, 0, 9, 1, 2]).write(to: URL(fileURLWithPath: dir.path("bad.bin")))
        let damaged = try await run("meridian-determinism", ["replay", "--blocks", dir.path("bad.bin"), "--out", dir.path("r.txt")], in: dir)
        #expect(damaged.status == 1 && damaged.stderr.contains("overruns"), "\(damaged)")
    }
}
