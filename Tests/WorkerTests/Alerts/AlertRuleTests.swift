import Testing
import MeridianCore
import MeridianRisk
import MeridianVitals
import MeridianWorkers

/// The alert rule against what was last alerted: getting worse alerts, hovering or staying does not,
/// recovering and deteriorating again alerts again.
@Suite(.timeLimit(.minutes(5))) struct AlertRuleTests {
    let rule = AlertRule()

    /// Sub-scores in `NEWS2.Parameter` order: respiration, SpO2, air/oxygen, systolic, pulse, consciousness, temperature.
    /// `minute`: the assessment's time, minutes after an origin.
    func state(_ subscores: [Int], minute: UInt64 = 0) -> AlertRule.State {
        rule.state(of: NEWS2.Score(subscores: subscores), at: Timestamp(unixMilliseconds: 1_795_500_000_000 + minute * 60_000))
    }

    /// Feeds a sequence of assessments; returns the reasons each raised.
    func run(_ states: [AlertRule.State]) -> [AlertRecord.Reasons] {
        var alerted = AlertRule.State()
        return states.map { s in let (r, next) = rule.evaluate(alerted: alerted, current: s); alerted = next; return r }
    }

    @Test func hoveringAroundABandAlertsOnceAndGettingWorseAlertsAgain() {
        let four = [2, 1, 0, 0, 1, 0, 0], medium = [2, 1, 0, 1, 1, 0, 0], high = [3, 2, 0, 1, 1, 0, 0]
        let reasons = run([state(four), state(medium), state(four), state(medium), state(medium), state(high), state(medium)])
        #expect(reasons.map(\.isEmpty) == [true, false, true, true, true, false, true])
        #expect(reasons[1] == .bandRose && reasons[5].contains(.bandRose) && reasons[5].contains(.parameterAtThree))
    }

    @Test func aNewParameterAtThreeAlertsButTheSameOneAgainDoesNot() {
        let spo2At3 = [0, 3, 0, 0, 0, 0, 0], pulseToo = [0, 3, 0, 0, 3, 0, 0]
        let reasons = run([state(spo2At3), state(spo2At3), state([0, 2, 0, 0, 1, 0, 0]), state(spo2At3), state(pulseToo)])
        #expect(reasons == [.parameterAtThree, [], [], [], [.parameterAtThree, .bandRose, .rising]])   // total 6: medium too, and 3 points up
    }

    @Test func recoveringResetsSoTheNextDeteriorationAlerts() {
        let high = [3, 3, 0, 1, 1, 0, 0], calm = [0, 0, 0, 0, 0, 0, 0]
        let reasons = run([state(high, minute: 0), state(calm, minute: 70), state(high, minute: 140)])   // hours apart: no trend
        #expect(!reasons[0].isEmpty && reasons[1].isEmpty && reasons[2] == reasons[0])
    }

    /// NEWS2 rising by 2 or more within an hour, to 3 or more, alerts before any band is crossed;
    /// the same rise spread over more than an hour does not; a further rise of 2 alerts again.
    @Test func aRiseOfTwoWithinAnHourAlerts() {
        let one = [1, 0, 0, 0, 0, 0, 0], three = [1, 0, 0, 1, 1, 0, 0], five = [1, 1, 0, 1, 1, 0, 1]
        let fast = run([state(one, minute: 0), state(three, minute: 40)])
        #expect(fast == [[], .rising], "1 → 3 in 40 minutes (low band still)")
        let slow = run([state(one, minute: 0), state([1, 0, 0, 0, 1, 0, 0], minute: 50), state(three, minute: 100)])
        #expect(slow == [[], [], []], "1 → 2 → 3 over 100 minutes: each rise within an hour is 1")
        let further = run([state(one, minute: 0), state(three, minute: 20), state(three, minute: 30), state(five, minute: 50)])
        #expect(further[1] == .rising && further[2].isEmpty && further[3].contains(.rising) && further[3].contains(.bandRose))
        #expect(run([state([0, 0, 0, 0, 0, 0, 0], minute: 0), state([0, 0, 0, 0, 1, 0, 1], minute: 10)]) == [[], []],
                "0 → 2 stays below the trend's floor of 3")
    }

    /// Once alerted at high (the emergency response), another parameter at 3 or a further rise does
    /// not page again; recovering and deteriorating again does.
    @Test func afterAHighAlertOnlyRecoveryReArms() {
        let high = [3, 2, 0, 1, 1, 0, 0], worse = [3, 3, 0, 1, 3, 0, 1], calm = [0, 0, 0, 0, 0, 0, 0]
        let reasons = run([state(high, minute: 0), state(worse, minute: 5), state(calm, minute: 80), state(high, minute: 150)])
        #expect(reasons[0].contains(.bandRose) && reasons[1].isEmpty && reasons[2].isEmpty && reasons[3].contains(.bandRose), "\(reasons)")
    }

    /// The long-term cardiovascular model does not page: no state of the rule depends on it, and
    /// the reason it once raised is never produced.
    @Test func theLongTermModelNeverAlerts() {
        let calm = [0, 0, 0, 0, 0, 0, 0]
        let reasons = run((0..<10).map { state(calm, minute: UInt64($0 * 10)) })
        #expect(reasons.allSatisfy { !$0.contains(.highModelRisk) && $0.isEmpty })
        #expect(AlertRecord.Reasons.highModelRisk.names == ["high-model-risk"], "stored alerts of earlier versions still name it")
    }
}

/// NEWS2 from current readings only: a parameter never measured or whose reading expired makes the
/// score incomplete (which, and how old); an oxygen flow read long ago is not supplemental oxygen now.
@Suite(.timeLimit(.minutes(5))) struct ReadingExpiryTests {
    static let t0 = Timestamp(unixMilliseconds: 1_795_500_000_000)
    static func reading(_ sign: VitalSign, _ value: Int64, minutesAgo: UInt64, now: Timestamp = t0) -> VitalReading {
        VitalReading(sign: sign, value: Measurement(whole: value), time: Timestamp(unixMilliseconds: now.unixMilliseconds - minutesAgo * 60_000))
    }
    static let all: [VitalSign: VitalReading] = [
        .respiratoryRate: reading(.respiratoryRate, 16, minutesAgo: 0), .oxygenSaturation: reading(.oxygenSaturation, 97, minutesAgo: 0),
        .systolicPressure: reading(.systolicPressure, 125, minutesAgo: 0), .heartRate: reading(.heartRate, 72, minutesAgo: 0),
        .consciousness: reading(.consciousness, 0, minutesAgo: 0), .bodyTemperature: reading(.bodyTemperature, 37, minutesAgo: 0),
    ]

    @Test func aCompleteSetScoresAndAStaleOrMissingParameterMakesItIncomplete() {
        let complete = RiskWorker.score(patient: Fixtures.patient.publicKey, Self.all)
        #expect(complete.complete && complete.score.total == 0 && complete.expired.isEmpty)
        var stale = Self.all
        stale[.bodyTemperature] = Self.reading(.bodyTemperature, 39, minutesAgo: 13 * 60)
        stale.removeValue(forKey: .systolicPressure)
        let a = RiskWorker.score(patient: Fixtures.patient.publicKey, stale)
        #expect(!a.complete && Set(a.missing) == [.temperature, .systolicPressure], "\(a.missing)")
        #expect(a.expired == [.temperature: 13 * 3_600_000], "the temperature's age is said, the blood pressure was never measured")
        #expect(a.score.subscore(.temperature) == 0, "an expired 39 °C no longer scores")
        // A configured expiry: temperature counts for a day.
        let day = RiskWorker.score(patient: Fixtures.patient.publicKey, stale, expiry: ReadingExpiry(minutes: [.bodyTemperature: 24 * 60]))
        #expect(day.missing == [.systolicPressure] && day.score.subscore(.temperature) == 1)
    }

    /// Scale 2 (set on chain by a clinician): 89 % on air scores 0, as the RCP chart's scale 2 does;
    /// on scale 1 it scores 3.
    @Test func scaleTwoScoresAHypercapnicPatientsTargetAsNormal() {
        var v = Self.all
        v[.oxygenSaturation] = Self.reading(.oxygenSaturation, 89, minutesAgo: 0)
        #expect(RiskWorker.score(patient: Fixtures.patient.publicKey, v).score.subscore(.oxygenSaturation) == 3)
        #expect(RiskWorker.score(patient: Fixtures.patient.publicKey, v, scale: .scale2).score.subscore(.oxygenSaturation) == 0)
    }

    @Test func supplementalOxygenComesFromACurrentFlowReading() {
        var onOxygen = Self.all
        onOxygen[.inhaledOxygenFlow] = Self.reading(.inhaledOxygenFlow, 2, minutesAgo: 10)
        #expect(RiskWorker.score(patient: Fixtures.patient.publicKey, onOxygen).score.subscore(.airOrOxygen) == 2)
        onOxygen[.inhaledOxygenFlow] = Self.reading(.inhaledOxygenFlow, 2, minutesAgo: 3 * 60)
        let stale = RiskWorker.score(patient: Fixtures.patient.publicKey, onOxygen)
        #expect(stale.score.subscore(.airOrOxygen) == 0 && stale.complete, "a flow read 3 hours ago is not oxygen now (and air is not a missing parameter)")
    }
}
