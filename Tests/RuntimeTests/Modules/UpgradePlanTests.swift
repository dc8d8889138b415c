import Testing
import MeridianCore
@testable import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Upgrade plans by governance: validated at proposal and again when they apply, one pending at a
/// time, cancellable, done at their height (and then governing the blocks after it), never reused.
@Suite(.timeLimit(.minutes(5))) struct UpgradePlanTests {
    static let validators = ["hospital-ribeira", "klinikum-spree", "hopital-rhone"].map { DemoCast.staff($0, "validator") }

    /// Proposes `action` and votes it through with three of the four validators; returns the proposal.
    static func pass(_ action: GovernanceAction, on chain: TestChain) throws -> Proposal {
        let proposed = try chain.submit(validators[0], .propose(action))
        let id = try #require(proposed.createdID, "\(String(describing: proposed.error))")
        for v in validators { try chain.submit(v, .vote(.init(proposal: id, approve: true))) }
        return try #require(try Governance.proposal(id, in: chain.reader))
    }

    @Test func aPlanIsCheckedScheduledDoneAndThenGoverns() throws {
        let chain = try TestChain()
        let digest = SHA256.hash(Array("release".utf8))
        // Refused at proposal: a bad name, a height too soon; only validators propose it.
        for (plan, code) in [(UpgradePlan(name: "Meridian 2", height: 100, binarySHA256: digest), "upgrade.bad_name"),
                             (UpgradePlan(name: String(repeating: "a", count: 65), height: 100, binarySHA256: digest), "upgrade.bad_name"),
                             (UpgradePlan(name: "meridian-2", height: chain.executor.tip.height + 2, binarySHA256: digest), "upgrade.height_passed")] {
            #expect(try chain.submit(Self.validators[0], .propose(.scheduleUpgrade(plan))).error?.code == code, "\(plan.name)")
        }
        #expect(try chain.submit(DemoCast.staff("hospital-ribeira", "clinician"), .propose(.scheduleUpgrade(UpgradePlan(name: "x", height: 100, binarySHA256: digest)))).error?.code == "governance.not_allowed")

        let height = chain.executor.tip.height + 20
        let plan = UpgradePlan(name: "meridian-2.0", height: height, binarySHA256: digest)
        let passed = try Self.pass(.scheduleUpgrade(plan), on: chain)
        #expect(passed.status == .passed)
        while chain.executor.tip.height < passed.effectiveHeight! { try chain.block([]) }
        #expect(try Upgrades.pending(in: chain.reader) == plan && Upgrades.governing(in: chain.reader) == plan)
        // A second plan waits for the first to be cancelled or done.
        let other = UpgradePlan(name: "meridian-3.0", height: height + 50, binarySHA256: digest)
        #expect(try chain.submit(Self.validators[0], .propose(.scheduleUpgrade(other))).error?.code == "upgrade.pending")
        while chain.executor.tip.height < height { try chain.block([]) }
        #expect(try Upgrades.pending(in: chain.reader) == nil)
        #expect(try Upgrades.done("meridian-2.0", in: chain.reader) == height)
        #expect(try Upgrades.governing(in: chain.reader) == plan, "the last plan done governs the blocks after it")
        let reused = UpgradePlan(name: "meridian-2.0", height: height + 50, binarySHA256: digest)
        #expect(try chain.submit(Self.validators[0], .propose(.scheduleUpgrade(reused))).error?.code == "upgrade.name_used")
    }

    @Test func aPendingPlanIsCancelledByGovernance() throws {
        let chain = try TestChain()
        let plan = UpgradePlan(name: "meridian-2.1", height: chain.executor.tip.height + 40, binarySHA256: SHA256.hash([1]))
        let scheduled = try Self.pass(.scheduleUpgrade(plan), on: chain)
        while chain.executor.tip.height < scheduled.effectiveHeight! { try chain.block([]) }
        #expect(try chain.submit(Self.validators[0], .propose(.cancelUpgrade("meridian-9"))).error?.code == "upgrade.unknown")
        let cancelled = try Self.pass(.cancelUpgrade("meridian-2.1"), on: chain)
        while chain.executor.tip.height < cancelled.effectiveHeight! { try chain.block([]) }
        #expect(try Upgrades.pending(in: chain.reader) == nil && Upgrades.governing(in: chain.reader) == nil)
        while chain.executor.tip.height < plan.height + 1 { try chain.block([]) }
        #expect(try Upgrades.done("meridian-2.1", in: chain.reader) == nil)
    }

    @Test func plansRoundTripThroughTheCodec() throws {
        let plan = UpgradePlan(name: "meridian-1.4.0", height: 123_456, binarySHA256: SHA256.hash([7]))
        for action in [GovernanceAction.scheduleUpgrade(plan), .cancelUpgrade("meridian-1.4.0")] {
            #expect(try GovernanceAction(canonicalBytes: action.canonicalBytes) == action)
        }
    }
}
