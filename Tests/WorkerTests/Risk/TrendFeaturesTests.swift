import Foundation
import Testing
import MeridianCore
import MeridianVitals
import MeridianRisk

@Suite(.timeLimit(.minutes(5))) struct TrendFeaturesTests {
    /// The incremental window against a direct computation over the same points, on random streams
    /// (with equal times and equal values, which the min/max bookkeeping must survive).
    @Test func slidingWindowsEqualADirectComputation() {
        for seed in UInt64(1)...6 {
            var rng = SeededRandom(seed: seed)
            var w = SlidingWindow(lengthMilliseconds: 3_600_000, capacity: 500)
            var all: [(UInt64, Double)] = []
            var t: UInt64 = 1_795_515_290_000
            for _ in 0..<1200 {
                t += UInt64.random(in: 0...20_000, using: &rng)
                let v = Double(Int.random(in: 50...60, using: &rng))
                w.add(t: t, value: v); all.append((t, v))
                let inWindow = Array(all.filter { $0.0 >= t - 3_600_000 }.suffix(500))
                let values = inWindow.map(\.1)
                #expect(w.count == inWindow.count && w.last == values.last && w.minimum == values.min() && w.maximum == values.max(), "seed \(seed)")
                let mean = values.reduce(0, +) / Double(values.count)
                #expect(abs(w.mean! - mean) < 1e-9, "seed \(seed)")
                let xs = inWindow.map { Double($0.0 - inWindow[0].0) / 3_600_000 }
                let mx = xs.reduce(0, +) / Double(xs.count)
                let sxx = xs.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
                if inWindow.count >= 2, sxx > 1e-9 {
                    let slope = zip(xs, values).map { ($0 - mx) * ($1 - mean) }.reduce(0, +) / sxx
                    #expect(abs((w.slopePerHour ?? .nan) - slope) < 1e-6 * max(1, abs(slope)), "seed \(seed): \(String(describing: w.slopePerHour)) vs \(slope)")
                }
            }
        }
    }

    @Test func anAssessmentHasAtLeast47NamedVariables() {
        var f = TrendFeatures()
        let t0: UInt64 = 1_795_515_290_000
        for k in 0..<120 {   // two hours of a rising pulse, one reading a minute
            f.add(VitalReading(sign: .heartRate, value: Measurement(whole: 70 + Int64(k / 4)), time: Timestamp(unixMilliseconds: t0 + UInt64(k) * 60_000)))
        }
        let score = NEWS2.score(NEWS2.Observation(respirationRate: 16, oxygenSaturation: 97, onOxygen: false, systolicPressure: 120, pulse: 99,
                                                   consciousness: .alert, temperatureTenths: 370))
        let v = f.vector(score: score, time: t0 + 119 * 60_000)
        #expect(TrendFeatures.names.count >= 47 && v.count == TrendFeatures.names.count && Set(TrendFeatures.names).count == v.count)
        func at(_ name: String) -> Double { v[TrendFeatures.names.firstIndex(of: name)!] }
        #expect(at("heart-rate.1h.last") == 99 && at("heart-rate.1h.count") == 61 && at("heart-rate.6h.count") == 120)
        #expect(abs(at("heart-rate.6h.slope_per_h") - 15) < 0.2, "a quarter beat a minute is 15 per hour")
        #expect(at("spo2.1h.last").isNaN && at("spo2.1h.count") == 0, "not measured is NaN, never invented")
        #expect(at("news2.total") == 1 && at("news2.pulse") == 1)
    }
}

@Suite(.timeLimit(.minutes(5))) struct AssessmentRecordTests {
    @Test func recordsRoundTripWithFixedPointFeaturesAndNotMeasuredKept() throws {
        let score = NEWS2.score(NEWS2.Observation(respirationRate: 26, oxygenSaturation: 90, onOxygen: true, systolicPressure: 95, pulse: 135,
                                                   consciousness: .voice, temperatureTenths: 392))
        let r = AssessmentRecord(patient: Fixtures.patient.publicKey, time: Timestamp(unixMilliseconds: 1_795_515_290_000), scoringVersion: "news2-rcp-2017/1",
                                 modelHash: .zero, score: score, missing: [.temperature], features: [72.5, .nan, -0.0000004, 1e3, -15.25])
        #expect(r.features == [72_500_000, AssessmentRecord.notMeasured, 0, 1_000_000_000, -15_250_000])
        #expect(r.total == score.total && r.score.band == .high && r.missing == 1 << NEWS2.Parameter.temperature.rawValue)
        #expect(try AssessmentRecord(canonicalBytes: r.canonicalBytes) == r)
        var bad = r.canonicalBytes; bad.append(0)
        #expect(throws: CodecError.self) { try AssessmentRecord(canonicalBytes: bad) }
    }
}
