// meridian-sim: seeded simulations of Meridian validators running the real consensus driver
// (`DriverCore`) over a hostile simulated network and in-memory journals (MeridianSimulation).
//
//   meridian-sim --seeds 10000 [--from 1] [--validators 4] [--jobs 2]   run seeds, print figures
//   meridian-sim --seed 1234 [--validators 4]                          replay one seed, print its state
//   meridian-sim --seeds 600 --broken-guard                            the guard disabled: must fail
//
// Exit status 1 if any seed violates agreement, validity, liveness, the signing guard or an
// invariant; each failing seed is printed with its configuration so that `--seed N` replays it.
import Foundation
import Dispatch
import Synchronization
import ArgumentParser
import MeridianSimulation

@main
struct MeridianSim: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meridian-sim",
        abstract: "Seeded simulations of validators running the real consensus driver.")

    @Option(help: "How many seeds to run.") var seeds = 1000
    @Option(help: "The first seed.") var from: UInt64 = 1
    @Option(help: "Validators in every run (4, 7 or 10; default: drawn from the seed).") var validators: Int?
    @Option(help: "Threads.") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Replay one seed and print every validator's state.") var seed: UInt64?
    @Flag(help: "Test only: disable the signing guard (the simulation must report double signing).") var brokenGuard = false
    @Option(help: "Print a progress line to standard error every this many seeds (0: none).") var progress = 0

    func validate() throws {
        guard seeds > 0, jobs > 0 else { throw ValidationError("--seeds and --jobs must be positive") }
        if let n = validators, ![4, 7, 10].contains(n) { throw ValidationError("--validators must be 4, 7 or 10") }
    }

    func config(_ seed: UInt64) -> SimulationConfig {
        var c = SimulationConfig.random(seed: seed, validators: validators)
        c.brokenGuard = brokenGuard
        return c
    }

    func run() throws {
        if let seed {
            let sim = Simulation(seed: seed, config: config(seed))
            let o = sim.run()
            for line in sim.summaries() { print("  " + line) }
            print("seed \(seed): \(o.config)")
            print("  heights \(o.heights), virtual \(o.virtualMilliseconds) ms, \(o.messagesDelivered) messages, evidence \(o.evidence), max round \(o.maxRound)")
            for v in o.violations { print("  VIOLATION \(v)") }
            if !o.violations.isEmpty { throw ExitCode(1) }
            return
        }
        let started = Date()
        let outcomes = Mutex<[SimulationOutcome]>([])
        // The slowest seeds (wall seconds), for the progress lines and the summary.
        let slowest = Mutex<[(seed: UInt64, seconds: Double)]>([])
        let next = Atomic<Int>(0)
        let count = seeds, first = from, every = progress
        DispatchQueue.concurrentPerform(iterations: jobs) { _ in
            while true {
                let k = next.add(1, ordering: .relaxed).oldValue
                guard k < count else { return }
                let seedStarted = Date()
                let o = Simulation(seed: first + UInt64(k), config: config(first + UInt64(k))).run()
                let seconds = Date().timeIntervalSince(seedStarted)
                // A failing seed is told at once (the figures come at the end), so a long run shows it early.
                if !o.violations.isEmpty { FileHandle.standardError.write(Data("FAILED seed \(o.seed): \(o.violations.first ?? "")\n".utf8)) }
                slowest.withLock { list in
                    list.append((o.seed, seconds)); list.sort { $0.seconds > $1.seconds }; if list.count > 5 { list.removeLast() }
                }
                let done = outcomes.withLock { $0.append(o); return $0.count }
                if every > 0, done % every == 0 {
                    let top = slowest.withLock { $0 }.map { "\($0.seed) (\(String(format: "%.1f", $0.seconds)) s)" }.joined(separator: ", ")
                    FileHandle.standardError.write(Data("meridian-sim: \(done) of \(count) seeds in \(String(format: "%.0f", Date().timeIntervalSince(started))) s; slowest \(top)\n".utf8))
                }
            }
        }
        let all = outcomes.withLock { $0 }.sorted { $0.seed < $1.seed }
        let failed = all.filter { !$0.violations.isEmpty }
        let wall = Date().timeIntervalSince(started)
        func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
        print("meridian-sim: \(all.count) seeds (\(from)...\(from + UInt64(seeds) - 1)) in \(String(format: "%.1f", wall)) s on \(jobs) threads"
              + (brokenGuard ? " with the signing guard BROKEN" : ""))
        for n in [4, 7, 10] {
            let group = all.filter { $0.validators == n }
            guard !group.isEmpty else { continue }
            print("  n=\(n): \(group.count) seeds, \(group.filter { !$0.config.contains("byzantine=[]") }.count) with Byzantine validators, "
                  + "\(group.filter { !$0.config.contains("partitions=[]") }.count) with partitions, \(group.filter { $0.crashes > 0 }.count) with crashes "
                  + "(\(group.reduce(0) { $0 + $1.crashes }) in all, \(group.filter { $0.config.contains("proposing") }.count) seeds crash a proposer, "
                  + "\(group.filter { $0.config.contains("losing-wal") }.count) lose a WAL); "
                  + "mean final height \(String(format: "%.1f", mean(group.map { Double($0.heights.min() ?? 0) }))), "
                  + "mean virtual time \(String(format: "%.1f", mean(group.map { Double($0.virtualMilliseconds) }) / 1000)) s, "
                  + "max round \(group.map(\.maxRound).max() ?? 0), evidence found \(group.reduce(0) { $0 + $1.evidence }), "
                  + "guard refusals \(group.reduce(0) { $0 + $1.guardRefusals })")
        }
        print("  messages delivered: \(all.reduce(0) { $0 + $1.messagesDelivered })")
        print("  slowest seeds: " + slowest.withLock { $0 }.map { "\($0.seed) (\(String(format: "%.1f", $0.seconds)) s)" }.joined(separator: ", "))
        for o in failed.prefix(20) {
            print("FAILED seed \(o.seed) (replay: meridian-sim --seed \(o.seed)\(validators.map { " --validators \($0)" } ?? "")\(brokenGuard ? " --broken-guard" : "")): \(o.config)")
            for v in o.violations { print("  \(v)") }
        }
        print("\(all.count - failed.count) passed, \(failed.count) failed")
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
