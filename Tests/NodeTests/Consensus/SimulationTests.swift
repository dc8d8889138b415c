import Foundation
import Testing
import Synchronization
import MeridianConsensus
import MeridianSimulation

/// Seeded simulations of 4, 7 and 10 validators over a hostile network (`make sim` runs 10,000).
@Suite(.timeLimit(.minutes(5))) struct SimulationTests {
    static func run(seeds: some Collection<UInt64>, config: (@Sendable (UInt64) -> SimulationConfig)? = nil) -> [SimulationOutcome] {
        let outcomes = Mutex<[SimulationOutcome]>([])
        let all = Array(seeds)
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            for k in stride(from: part, to: all.count, by: 2) {
                let o = Simulation(seed: all[k], config: config?(all[k])).run()
                outcomes.withLock { $0.append(o) }
            }
        }
        return outcomes.withLock { $0 }.sorted { $0.seed < $1.seed }
    }

    /// Agreement, validity, liveness after healing, the signing guard and the invariants, for 600
    /// seeds of validators running the real consensus driver.
    @Test func sixHundredHostileSeedsKeepSafetyAndLiveness() {
        let outcomes = Self.run(seeds: 1...600)
        let failed = outcomes.filter { !$0.violations.isEmpty }
        for o in failed.prefix(5) { Issue.record("seed \(o.seed) (replay: meridian-sim --seed \(o.seed)): \(o.config): \(o.violations)") }
        #expect(failed.isEmpty)
        for n in [4, 7, 10] { #expect(outcomes.contains { $0.validators == n }, "sizes covered") }
        #expect(outcomes.contains { !$0.config.contains("partitions=[]") })
        #expect(outcomes.contains { !$0.config.contains("byzantine=[]") })
        #expect(outcomes.contains { $0.config.contains("proposing") }, "a proposer crashes right after proposing")
        #expect(outcomes.contains { $0.config.contains("losing-wal") }, "a validator loses its WAL")
        #expect(outcomes.reduce(0) { $0 + $1.crashes } > 300)
        // With the guard intact the seeds that lose a WAL pass because it refuses: it is exercised.
        #expect(outcomes.reduce(0) { $0 + $1.guardRefusals } > 0, "the guard refused nothing: no seed exercises it")
        // Both ways a compact proposal becomes a block run: rebuilt from the mempool alone, and
        // completed with transactions asked of the sender.
        #expect(outcomes.reduce(0) { $0 + $1.compactRebuilt } > 1000 && outcomes.reduce(0) { $0 + $1.compactCompleted } > 1000)
    }

    /// The simulation has teeth for the signing guard: with the guard broken (a test-only flag), the
    /// seeds among CI's 600 where a validator loses its WAL make it sign twice, and the run says so.
    @Test func aBrokenSigningGuardIsCaught() {
        let withLostWAL = (UInt64(1)...600).filter { SimulationConfig.random(seed: $0).crashes.contains { $0.losesLog } }
        #expect(withLostWAL.count >= 20)
        let outcomes = Self.run(seeds: withLostWAL) { seed in
            var c = SimulationConfig.random(seed: seed)
            c.brokenGuard = true
            return c
        }
        let caught = outcomes.filter { o in o.violations.contains { $0.hasPrefix("double signing") } }
        #expect(!caught.isEmpty, "no double signing caught in \(withLostWAL.count) seeds with a broken guard")
    }

    @Test func aSeedReplaysExactly() {
        for seed: UInt64 in [7, 187, 4242] {
            let a = Simulation(seed: seed).run(), b = Simulation(seed: seed).run()
            #expect(a.heights == b.heights && a.virtualMilliseconds == b.virtualMilliseconds && a.messagesDelivered == b.messagesDelivered
                    && a.evidence == b.evidence && a.violations == b.violations)
        }
    }

    /// The liveness check has teeth: with more faulty validators than f = (n-1)/3 (two silent of
    /// four), no quorum can form and every seed says so. (The safety checks' teeth are the broken
    /// guard above.)
    @Test func moreThanFFaultyValidatorsAreCaught() {
        let outcomes = Self.run(seeds: 1...20) { seed in
            var c = SimulationConfig.random(seed: seed, validators: 4)
            c.byzantine = [.silent, .silent]   // 2 > f = 1
            c.partitions = []; c.crashes = []
            return c
        }
        #expect(outcomes.allSatisfy { o in o.violations.contains { $0.hasPrefix("liveness") } })
    }
}
