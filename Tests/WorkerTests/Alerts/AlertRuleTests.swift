import Testing
import MeridianRisk
import MeridianWorkers

/// The alert rule against what was last alerted: getting worse alerts, hovering or staying does not,
/// recovering and deteriorating again alerts again.
@Suite(.timeLimit(.minutes(5))) struct AlertRuleTests {
    let rule = AlertRule(highModelRisk: 0.2)

    /// Sub-scores in `NEWS2.Parameter` order: respiration, SpO2, air/oxygen, systolic, pulse, consciousness, temperature.
    func state(_ subscores: [Int], model: Double? = nil) -> AlertRule.State {
        rule.state(of: NEWS2.Score(subscores: subscores), modelRisk: model)
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
        #expect(reasons == [.parameterAtThree, [], [], [], [.parameterAtThree, .bandRose]])   // total 6: medium too
    }

    @Test func recoveringResetsSoTheNextDeteriorationAlerts() {
        let high = [3, 3, 0, 1, 1, 0, 0], calm = [0, 0, 0, 0, 0, 0, 0]
        let reasons = run([state(high), state(calm), state(high)])
        #expect(!reasons[0].isEmpty && reasons[1].isEmpty && reasons[2] == reasons[0])
    }

    @Test func aModelRiskAlertsWhenItFirstReachesTheThresholdAndAgainAfterFallingBelow() {
        let calm = [0, 0, 0, 0, 0, 0, 0]
        let reasons = run([state(calm, model: 0.1), state(calm, model: 0.25), state(calm, model: 0.3), state(calm, model: 0.15), state(calm, model: 0.22)])
        #expect(reasons == [[], .highModelRisk, [], [], .highModelRisk])
    }
}
