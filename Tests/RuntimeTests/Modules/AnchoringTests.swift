import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Workers' anchors on chain: only a key with the worker role anchors; each root once; the record
/// names the worker's organisation and proves against the state root like any other entry.
@Suite(.timeLimit(.minutes(5))) struct AnchoringTests {
    let worker = DemoCast.staff("hospital-ribeira", "worker")

    func anchor(_ leaves: [[UInt8]], kind: AnchorKind = .readings, from: Timestamp, to: Timestamp) -> AnchorSubmission {
        AnchorSubmission(kind: kind, root: MerkleTree.root(leaves: leaves), count: UInt32(leaves.count), from: from, to: to,
                         producer: SHA256.hash(Array("news2-rcp-2017/1".utf8)))
    }

    @Test func aWorkerAnchorsEachRootOnceForItsOrganisation() throws {
        let chain = try TestChain()
        let a = anchor([[1], [2], [3]], from: chain.time.adding(milliseconds: 0), to: chain.time)
        let r = try chain.submit(worker, .submitAnchor(a))
        #expect(r.succeeded, "\(String(describing: r.error))")
        #expect(r.events.contains(.anchored(worker: worker.publicKey, kind: .readings, root: a.root, count: 3)))
        let record = try #require(try Anchoring.record(root: a.root, in: chain.reader))
        #expect(record.organization.value == "hospital-ribeira" && record.sequence == 0 && record.worker == worker.publicKey)
        #expect(try chain.submit(worker, .submitAnchor(a)).error?.code == "anchor.duplicate")
        let b = anchor([[4]], kind: .assessments, from: chain.time, to: chain.time)
        #expect(try chain.submit(worker, .submitAnchor(b)).succeeded)
        #expect(try Anchoring.record(root: b.root, in: chain.reader)?.sequence == 1)
        // The record proves against the committed state root (a light client checks it this way).
        let key = Anchoring.rootKey(a.root).bytes
        let entry = try chain.state.proof(key)
        #expect(entry.value == record.canonicalBytes && entry.proof.verify(root: entry.root, key: key, value: entry.value))
    }

    @Test func anchorsFromOtherKeysOrWithBadRangesAreRefused() throws {
        let chain = try TestChain()
        let ok = anchor([[9]], from: chain.time, to: chain.time)
        #expect(try chain.submit(DemoCast.staff("hospital-ribeira", "clinician"), .submitAnchor(ok)).error?.code == "anchor.not_a_worker")
        #expect(try chain.submit(DemoCast.staff("hospital-ribeira", "validator"), .submitAnchor(ok)).error?.code == "anchor.not_a_worker")
        let cases: [(AnchorSubmission, String)] = [
            (AnchorSubmission(kind: .readings, root: ok.root, count: 0, from: chain.time, to: chain.time, producer: .zero), "anchor.count"),
            (AnchorSubmission(kind: .readings, root: ok.root, count: 1, from: chain.time.adding(milliseconds: 10), to: chain.time, producer: .zero), "anchor.time_range"),
            (AnchorSubmission(kind: .readings, root: ok.root, count: 1, from: chain.time, to: chain.time.adding(milliseconds: 3_600_000), producer: .zero), "anchor.future"),
            (AnchorSubmission(kind: .readings, root: MerkleTree.emptyRoot, count: 1, from: chain.time, to: chain.time, producer: .zero), "anchor.empty"),
        ]
        for (a, code) in cases { #expect(try chain.submit(worker, .submitAnchor(a)).error?.code == code) }
    }

    @Test func anchorsRoundTripCanonically() throws {
        let a = anchor([[1]], kind: .translations, from: Timestamp(unixMilliseconds: 5), to: Timestamp(unixMilliseconds: 9))
        #expect(try AnchorSubmission(canonicalBytes: a.canonicalBytes) == a)
        #expect(try Call(canonicalBytes: Call.submitAnchor(a).canonicalBytes) == .submitAnchor(a))
    }
}
