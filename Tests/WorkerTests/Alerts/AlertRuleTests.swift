import Testing
import MeridianCore
import MeridianRisk
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

    /// The long-term cardiovascular model does not page: no state of the rule depends on it, and
    /// the reason it once raised is never produced.
    @Test func theLongTermModelNeverAlerts() {
        let calm = [0, 0, 0, 0, 0, 0, 0]
        let reasons = run((0..<10).map { state(calm, minute: UInt64($0 * 10)) })
        #expect(reasons.allSatisfy { !$0.contains(.highModelRisk) && $0.isEmpty })
        #expect(AlertRecord.Reasons.highModelRisk.names == ["high-model-risk"], "stored alerts of earlier versions still name it")
    }
}
