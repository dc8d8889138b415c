import Testing
import MeridianCore
import MeridianConsensus

/// The consensus core rule by rule (arXiv 1807.04938, Algorithm 1), driven by hand.
@Suite(.timeLimit(.minutes(5))) struct TendermintCoreTests {
    static let keys = (0..<4).map { i in (try! PrivateKey(secret: SHA256.hash(Array("core-test/\(i)".utf8)))).publicKey }
    let set = ValidatorSet(keys.map { ValidatorSet.Member(key: $0, power: 10) })!
    let blockA = SHA256.hash(Array("A".utf8)), blockB = SHA256.hash(Array("B".utf8))

    /// A validator of `set` that is not the proposer of (1, round).
    func follower(round: UInt32 = 0) -> PublicKey { Self.keys.first { $0 != set.proposer(height: 1, round: round) }! }
    func others(than me: PublicKey) -> [PublicKey] { Self.keys.filter { $0 != me } }

    func started(_ me: PublicKey) -> (TendermintCore, [TendermintCore.Effect]) {
        var core = TendermintCore(me: me)
        let effects = core.handle(.start(height: 1, validators: set))
        return (core, effects)
    }

    func proposal(_ value: Bytes32, round: UInt32 = 0, validRound: Int32 = -1) -> Proposal {
        Proposal(height: 1, round: round, value: value, validRound: validRound, proposer: set.proposer(height: 1, round: round))
    }

    func vote(_ kind: VoteKind, _ value: Bytes32?, by key: PublicKey, round: UInt32 = 0) -> Vote {
        Vote(kind: kind, height: 1, round: round, value: value, validator: key)
    }

    func castVotes(_ effects: [TendermintCore.Effect]) -> [Vote] {
        effects.compactMap { if case .broadcastVote(let v) = $0 { return v } else { return nil } }
    }

    @Test func proposersRotateInProportionToPower() {
        let keys = Self.keys.prefix(3)
        let weighted = ValidatorSet(zip(keys, [1, 2, 3] as [UInt64]).map { ValidatorSet.Member(key: $0, power: $1) })!
        var counts: [PublicKey: Int] = [:]
        for slot in 0..<60 { counts[weighted.proposer(height: UInt64(slot), round: 0), default: 0] += 1 }
        #expect(Set(counts.values) == [10, 20, 30])
        #expect(counts[keys[keys.startIndex + 2]] == 30)
        // Height and round both move the slot; every node computes the same proposer.
        #expect(weighted.proposer(height: 5, round: 2) == weighted.proposer(height: 6, round: 1))
        #expect(ValidatorSet([]) == nil)
        #expect(ValidatorSet([.init(key: keys[keys.startIndex], power: 1), .init(key: keys[keys.startIndex], power: 2)]) == nil)
    }

    @Test func aProposerAsksForABlockAndOthersWaitForItsProposal() {
        let proposer = set.proposer(height: 1, round: 0)
        var (core, effects) = started(proposer)
        #expect(effects == [.buildProposal(height: 1, round: 0)])
        #expect(core.isAwaitingProposal)
        let built = core.handle(.proposalBuilt(height: 1, round: 0, value: blockA))
        #expect(built.contains(.broadcastProposal(proposal(blockA))))
        #expect(castVotes(built) == [vote(.prevote, blockA, by: proposer)], "line 22: the proposer prevotes its own block")
        let (_, followerEffects) = started(follower())
        #expect(followerEffects == [.scheduleTimeout(Timeout(step: .propose, height: 1, round: 0), milliseconds: 3000)])
    }

    @Test func theHappyPathDecidesWithACommitCertificate() {
        let me = follower()
        var (core, _) = started(me)
        #expect(castVotes(core.handle(.proposal(proposal(blockA), valid: true))) == [vote(.prevote, blockA, by: me)])
        let peers = others(than: me)
        _ = core.handle(.vote(vote(.prevote, blockA, by: peers[0])))
        let locked = core.handle(.vote(vote(.prevote, blockA, by: peers[1])))
        #expect(castVotes(locked) == [vote(.precommit, blockA, by: me)], "line 36: a prevote quorum locks and precommits")
        #expect(core.lockedValue == blockA && core.lockedRound == 0 && core.validValue == blockA)
        _ = core.handle(.vote(vote(.precommit, blockA, by: peers[0])))
        let decided = core.handle(.vote(vote(.precommit, blockA, by: peers[1])))
        guard case .decide(1, 0, blockA, let precommits)? = decided.first(where: { if case .decide = $0 { true } else { false } }) else {
            Issue.record("no decision: \(decided)"); return
        }
        #expect(Set(precommits.map(\.validator)) == Set([me, peers[0], peers[1]]))
        #expect(core.step == .decided)
        #expect(core.handle(.vote(vote(.precommit, blockA, by: peers[2]))).isEmpty, "nothing happens after the decision")
    }

    @Test func anInvalidBlockGetsANilPrevote() {
        let me = follower()
        var (core, _) = started(me)
        #expect(castVotes(core.handle(.proposal(proposal(blockA), valid: false))) == [vote(.prevote, nil, by: me)])
    }

    @Test func timeoutsMoveThroughTheStepsAndGrowWithTheRound() {
        let me = follower()
        var (core, _) = started(me)
        #expect(castVotes(core.handle(.timeout(Timeout(step: .propose, height: 1, round: 0)))) == [vote(.prevote, nil, by: me)], "line 57")
        let peers = others(than: me)
        _ = core.handle(.vote(vote(.prevote, blockA, by: peers[0])))
        let quorumOfAny = core.handle(.vote(vote(.prevote, nil, by: peers[1])))
        #expect(quorumOfAny.contains(.scheduleTimeout(Timeout(step: .prevote, height: 1, round: 0), milliseconds: 1000)), "line 34")
        #expect(castVotes(core.handle(.timeout(Timeout(step: .prevote, height: 1, round: 0)))) == [vote(.precommit, nil, by: me)], "line 61")
        _ = core.handle(.vote(vote(.precommit, blockA, by: peers[0])))
        let precommitQuorum = core.handle(.vote(vote(.precommit, nil, by: peers[1])))
        #expect(precommitQuorum.contains(.scheduleTimeout(Timeout(step: .precommit, height: 1, round: 0), milliseconds: 1000)), "line 47")
        let next = core.handle(.timeout(Timeout(step: .precommit, height: 1, round: 0)))
        #expect(core.round == 1, "line 65")
        if set.proposer(height: 1, round: 1) != me {
            #expect(next.contains(.scheduleTimeout(Timeout(step: .propose, height: 1, round: 1), milliseconds: 3500)), "timeouts grow with the round")
        }
        #expect(core.handle(.timeout(Timeout(step: .propose, height: 1, round: 0))).isEmpty, "a stale timeout does nothing")
    }

    @Test func aLockedValidatorPrevotesNilForAnotherBlockUntilANewerProofOfLock() {
        // Lock on A in round 0.
        let me = Self.keys.first { $0 != set.proposer(height: 1, round: 0) && $0 != set.proposer(height: 1, round: 1) && $0 != set.proposer(height: 1, round: 2) }
            ?? follower()
        var (core, _) = started(me)
        let peers = others(than: me)
        _ = core.handle(.proposal(proposal(blockA), valid: true))
        _ = core.handle(.vote(vote(.prevote, blockA, by: peers[0])))
        _ = core.handle(.vote(vote(.prevote, blockA, by: peers[1])))
        #expect(core.lockedValue == blockA)
        // Round 1 (f+1 moved there: line 55): a fresh proposal of B gets a nil prevote (line 22, locked).
        _ = core.handle(.vote(vote(.prevote, nil, by: peers[0], round: 1)))
        _ = core.handle(.vote(vote(.prevote, nil, by: peers[1], round: 1)))
        #expect(core.round == 1, "line 55: f+1 of the power in a later round")
        if set.proposer(height: 1, round: 1) != me {
            // Locked on A: nil for B (then, with the two nil prevotes already in, a nil quorum: line 44).
            #expect(castVotes(core.handle(.proposal(proposal(blockB, round: 1), valid: true))) == [vote(.prevote, nil, by: me, round: 1), vote(.precommit, nil, by: me, round: 1)])
        }
        // Round 2: B re-proposed with a prevote quorum from round 1 (line 28) unlocks.
        for p in peers { _ = core.handle(.vote(vote(.prevote, blockB, by: p, round: 1))) }
        _ = core.handle(.vote(vote(.precommit, nil, by: peers[0], round: 2)))
        _ = core.handle(.vote(vote(.precommit, nil, by: peers[1], round: 2)))
        #expect(core.round == 2)
        if set.proposer(height: 1, round: 2) != me {
            let votes = castVotes(core.handle(.proposal(proposal(blockB, round: 2, validRound: 1), valid: true)))
            #expect(votes == [vote(.prevote, blockB, by: me, round: 2)], "line 28: a newer proof of lock")
        }
    }

    /// An equivocator that sprays votes for values nobody else backs fills its cap of conflicting
    /// votes; its vote for the value an honest quorum needs is then ignored while nobody backs that
    /// value (the driver offers it again later), and replaces the least-backed one once others do.
    @Test func anEquivocatorsSprayCannotCrowdOutTheVoteAQuorumNeeds() {
        let me = follower()
        var (core, _) = started(me)
        let peers = others(than: me)
        _ = core.handle(.vote(vote(.prevote, nil, by: peers[0])))
        let spray = (0..<TendermintCore.maxConflictingVotes).map { vote(.prevote, SHA256.hash([UInt8($0)]), by: peers[0]) }
        for v in spray { #expect(core.admission(of: v) == .conflicting); _ = core.handle(.vote(v)) }
        let needed = vote(.prevote, blockA, by: peers[0])
        #expect(core.admission(of: needed) == .ignore, "backed by nobody else: no better than what is kept")
        #expect(core.handle(.vote(needed)).isEmpty)
        _ = core.handle(.vote(vote(.prevote, blockA, by: peers[1])))
        guard case .replacing(let weakest) = core.admission(of: needed) else { Issue.record("backed by another: replaces"); return }
        #expect(spray.contains(weakest))
        #expect(core.handle(.vote(needed)).contains(.forget(weakest)))
        #expect(core.admission(of: weakest) == .ignore, "the forgotten one is backed no better than those kept")
        // The proposal arrives: me, peers[1] and the equivocator's kept vote are a quorum for A.
        let effects = core.handle(.proposal(proposal(blockA), valid: true))
        #expect(castVotes(effects).contains(vote(.precommit, blockA, by: me)), "\(effects)")
    }

    @Test func equivocationIsEvidenceAndAnEquivocatorsVoteStillCountsForItsValue() {
        let me = follower()
        var (core, _) = started(me)
        let peers = others(than: me)
        _ = core.handle(.proposal(proposal(blockA), valid: true))
        _ = core.handle(.vote(vote(.prevote, nil, by: peers[0])))
        let second = core.handle(.vote(vote(.prevote, blockA, by: peers[0])))
        #expect(second.contains(.evidence(vote(.prevote, nil, by: peers[0]), vote(.prevote, blockA, by: peers[0]))))
        // me + peers[0] (its vote for A) + peers[1] is a quorum for A.
        let locked = core.handle(.vote(vote(.prevote, blockA, by: peers[1])))
        #expect(castVotes(locked) == [vote(.precommit, blockA, by: me)])
        #expect(core.handle(.vote(vote(.prevote, blockA, by: peers[0]))).isEmpty, "a repeated vote is ignored")
    }

    @Test func foreignVotesFarRoundsAndOtherHeightsAreIgnored() {
        let me = follower()
        var (core, _) = started(me)
        let stranger = (try! PrivateKey(secret: SHA256.hash([9]))).publicKey
        #expect(core.handle(.vote(Vote(kind: .prevote, height: 1, round: 0, value: blockA, validator: stranger))).isEmpty)
        #expect(core.handle(.vote(Vote(kind: .prevote, height: 2, round: 0, value: blockA, validator: others(than: me)[0]))).isEmpty)
        #expect(core.handle(.vote(vote(.prevote, blockA, by: others(than: me)[0], round: TendermintCore.maxRoundsAhead + 1))).isEmpty)
        let notProposer = others(than: set.proposer(height: 1, round: 0))[0]
        #expect(core.handle(.proposal(Proposal(height: 1, round: 0, value: blockA, validRound: -1, proposer: notProposer), valid: true)).isEmpty,
                "only the round's proposer may propose")
        var observer = TendermintCore(me: stranger)
        _ = observer.handle(.start(height: 1, validators: set))
        #expect(castVotes(observer.handle(.proposal(proposal(blockA), valid: true))).isEmpty, "a node outside the set never votes")
    }
}
