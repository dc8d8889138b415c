import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianVitals
import MeridianIngest
import MeridianWorkers
import MeridianNode
import MeridianDemo

/// The workers' anchoring end to end in one node: stored readings are queued in the write that
/// stores them, anchored by the worker key in a block, and each proves against the on-chain root.
@Suite(.timeLimit(.minutes(5))) struct AnchoringWorkerTests {
    @Test func storedReadingsAreAnchoredOnChainAndEachProvesAgainstItsRoot() async throws {
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        let oximeter = try PrivateKey(secret: SHA256.hash(Array("anchor-test-oximeter".utf8)))
        try await node.submit(maria, .pairDevice(.init(device: oximeter.publicKey, kind: .pulseOximeter)))
        let t0 = await node.chain.tip.time   // readings no later than the chain's time (an anchor may not end in its future)
        let frames = try (1...5).map { s in
            try DeviceFrame.encode(kind: .readings, device: oximeter, sequence: UInt64(s), time: t0.adding(milliseconds: UInt64(s) * 1000),
                                   entries: [.reading(offsetMilliseconds: 0, mdc: 150456, unit: "%", value: MeridianVitals.Measurement(whole: 95))])
        }
        #expect(try await node.workers.ingestor.ingest(frames: frames).allSatisfy { $0.status == .stored })
        #expect(try node.workers.anchors.queued(.readings) == 5)

        let anchorWorker = try #require(node.workers.anchor)
        let anchoring = Task { try await anchorWorker.anchorOnce(.readings) }
        // The anchor transaction reaches the mempool; a block commits it.
        while node.chain.mempool.count == 0 {
            if Task.isCancelled { throw TestFailure("stopped by the time limit: no anchor transaction was submitted") }
            try await Task.sleep(for: .milliseconds(5))
        }
        let tip = await node.chain.tip
        _ = try await node.chain.produceBlock(now: tip.time.adding(milliseconds: 1000))
        let root = try #require(try await anchoring.value)

        let record = try #require(try Anchoring.record(root: root, in: node.chain.query.reader))
        #expect(record.anchor.count == 5 && record.anchor.kind == .readings && record.organization.value == "hospital-ribeira")
        #expect(record.worker == DemoCast.staff("hospital-ribeira", "worker").publicKey)
        #expect(try node.workers.anchors.queued(.readings) == 0)
        // Every stored batch proves against the anchored root; a tampered one does not.
        let stored = try node.workers.ingestor.store.batches(patient: maria.publicKey)
        #expect(stored.count == 5)
        for b in stored {
            let leaf = MerkleTree.leafHash(b.canonicalBytes)
            let inclusion = try #require(try node.workers.anchors.inclusion(of: leaf))
            #expect(inclusion.root == root && MerkleTree.verifyInclusion(leafHash: leaf, index: inclusion.index, treeSize: inclusion.treeSize, proof: inclusion.path, root: root))
            let tampered = ReadingBatch(patient: b.patient, source: b.source, readings: b.readings.map { VitalReading(sign: $0.sign, value: MeridianVitals.Measurement(whole: 99), time: $0.time) })
            #expect(!MerkleTree.verifyInclusion(leafHash: MerkleTree.leafHash(tampered.canonicalBytes), index: inclusion.index, treeSize: inclusion.treeSize, proof: inclusion.path, root: root))
        }
        // Nothing is left to anchor; a second round does nothing.
        #expect(try await anchorWorker.anchorOnce(.readings) == nil)
    }

    @Test func aBatchAlreadyOnChainIsMarkedWithoutASecondTransaction() async throws {
        // A crash after the anchor committed but before it was marked: the same leaves give the same
        // root, which the worker finds on chain.
        let node = try TestNode()
        let (maria, _, _) = try await node.seedMaria()
        let device = try PrivateKey(secret: SHA256.hash(Array("anchor-test-thermometer".utf8)))
        try await node.submit(maria, .pairDevice(.init(device: device.publicKey, kind: .thermometer)))
        let frame = try DeviceFrame.encode(kind: .readings, device: device, sequence: 1, time: await node.chain.tip.time,
                                           entries: [.reading(offsetMilliseconds: 0, mdc: 150364, unit: "Cel", value: MeridianVitals.Measurement(whole: 37))])
        _ = try await node.workers.ingestor.ingest(frames: [frame])
        let pending = try #require(try node.workers.anchors.pending(.readings, limit: 10))
        let worker = DemoCast.staff("hospital-ribeira", "worker")
        try await node.submit(worker, .submitAnchor(AnchorSubmission(kind: .readings, root: pending.root, count: 1, from: pending.from, to: pending.to,
                                                                     producer: NodeWorkers.readingsProducer)))
        let mempoolBefore = node.chain.mempool.count
        #expect(try await node.workers.anchor?.anchorOnce(.readings) == pending.root)
        #expect(node.chain.mempool.count == mempoolBefore, "no second transaction")
        #expect(try node.workers.anchors.queued(.readings) == 0)
    }
}
