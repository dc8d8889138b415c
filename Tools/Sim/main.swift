// meridian-sim: seeded simulations of Tendermint validators (MeridianSimulation).
//
//   meridian-sim --seeds 10000 [--from 1] [--jobs 2]   run seeds from..<from+seeds, print figures
//   meridian-sim --seed 1234                           replay one seed and print its outcome
//
// Exit status 1 if any seed violates agreement, validity, liveness or the signing guard; each
// failing seed is printed with its configuration so that `--seed N` replays it exactly.
import Foundation
import Dispatch
import Synchronization
import MeridianSimulation

var seeds = 1000
var from: UInt64 = 1
var jobs = ProcessInfo.processInfo.activeProcessorCount
var single: UInt64?
var args = CommandLine.arguments.dropFirst()
func usage() -> Never {
    FileHandle.standardError.write(Data("usage: meridian-sim [--seeds N] [--from S] [--jobs J] | --seed N\n".utf8)); exit(64)
}
while let a = args.popFirst() {
    switch a {
    case "--seeds": guard let v = args.popFirst().flatMap(Int.init), v > 0 else { usage() }; seeds = v
    case "--from": guard let v = args.popFirst().flatMap(UInt64.init) else { usage() }; from = v
    case "--jobs": guard let v = args.popFirst().flatMap(Int.init), v > 0 else { usage() }; jobs = v
    case "--seed": guard let v = args.popFirst().flatMap(UInt64.init) else { usage() }; single = v
    default: usage()
    }
}

if let seed = single {
    let sim = Simulation(seed: seed)
    let o = sim.run()
    for line in sim.summaries() { print("  " + line) }
    print("seed \(seed): \(o.config)")
    print("  heights \(o.heights), virtual \(o.virtualMilliseconds) ms, \(o.messagesDelivered) messages, evidence \(o.evidence), max round \(o.maxRound)")
    for v in o.violations { print("  VIOLATION \(v)") }
    exit(o.violations.isEmpty ? 0 : 1)
}

let started = Date()
let seedCount = seeds, firstSeed = from
let outcomes = Mutex<[SimulationOutcome]>([])
let next = Atomic<Int>(0)
DispatchQueue.concurrentPerform(iterations: jobs) { _ in
    while true {
        let k = next.add(1, ordering: .relaxed).oldValue
        guard k < seedCount else { return }
        let o = Simulation(seed: firstSeed + UInt64(k)).run()
        outcomes.withLock { $0.append(o) }
    }
}
let all = outcomes.withLock { $0 }.sorted { $0.seed < $1.seed }
let failed = all.filter { !$0.violations.isEmpty }
let wall = Date().timeIntervalSince(started)
func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
print("meridian-sim: \(all.count) seeds (\(from)...\(from + UInt64(seeds) - 1)) in \(String(format: "%.1f", wall)) s on \(jobs) threads")
for n in [4, 7, 10] {
    let group = all.filter { $0.config.hasPrefix("n=\(n) ") }
    guard !group.isEmpty else { continue }
    print("  n=\(n): \(group.count) seeds, \(group.filter { $0.config.contains("byzantine=[]") == false }.count) with Byzantine validators, "
          + "\(group.filter { $0.config.contains("partitions=[]") == false }.count) with partitions, \(group.filter { $0.config.contains("crashes=[]") == false }.count) with crashes; "
          + "mean final height \(String(format: "%.1f", mean(group.map { Double($0.heights.min() ?? 0) }))), "
          + "mean virtual time \(String(format: "%.1f", mean(group.map { Double($0.virtualMilliseconds) }) / 1000)) s, "
          + "max round \(group.map(\.maxRound).max() ?? 0), evidence found \(group.reduce(0) { $0 + $1.evidence })")
}
print("  messages delivered: \(all.reduce(0) { $0 + $1.messagesDelivered })")
for o in failed.prefix(20) {
    print("FAILED seed \(o.seed) (replay: meridian-sim --seed \(o.seed)): \(o.config)")
    for v in o.violations { print("  \(v)") }
}
print("\(all.count - failed.count) passed, \(failed.count) failed")
exit(failed.isEmpty ? 0 : 1)
