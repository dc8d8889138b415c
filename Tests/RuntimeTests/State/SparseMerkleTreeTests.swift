import Testing
@testable import MeridianCore
@testable import MeridianState

@Suite(.timeLimit(.minutes(5))) struct SparseMerkleTreeTests {
    /// Random inserts, updates and deletes against a plain dictionary: after every batch the
    /// values, the root (recomputed from scratch in another order) and the proofs must agree.
    @Test func matchesADictionaryUnderRandomBatches() throws {
        let seed = testSeed(0x5eed_0001)
        var rng = SeededGenerator(seed: seed)
        let state = try AuthenticatedState(storage: InMemoryStateStorage())
        var model: [[UInt8]: [UInt8]] = [:]
        let keySpace = (0..<400).map { [UInt8]("k\($0)".utf8) }
        for batch in 1...60 {
            let view = state.view()
            var expected = model
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                let key = keySpace.randomElement(using: &rng)!
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    view.delete(key); expected[key] = nil
                } else {
                    let v = rng.bytes(Int.random(in: 0...40, using: &rng))
                    view.set(key, v); expected[key] = v
                }
            }
            view.commitTransaction()
            let prepared = try state.prepare(view, version: UInt64(batch))
            try state.commit(prepared)
            model = expected

            // The same contents written in one shuffled batch into a fresh tree give the same root.
            let fresh = try AuthenticatedState(storage: InMemoryStateStorage())
            let v2 = fresh.view()
            for (k, v) in model.shuffled(using: &rng) { v2.set(k, v) }
            v2.commitTransaction()
            #expect(try fresh.prepare(v2, version: 1).root == state.root, "seed \(seed) batch \(batch): root depends on history")

            for key in keySpace.shuffled(using: &rng).prefix(50) {
                let (value, proof, root) = try state.proof(key)
                #expect(value == model[key], "seed \(seed) batch \(batch)")
                #expect(try state.value(key) == model[key])
                #expect(proof.verify(root: root, key: key, value: model[key]), "seed \(seed) batch \(batch): proof")
                let decoded = try StateProof(canonicalBytes: proof.canonicalBytes)
                #expect(decoded == proof)
                // A proof never verifies a wrong claim.
                #expect(!proof.verify(root: root, key: key, value: (model[key] ?? []) + [1]))
                if model[key] != nil { #expect(!proof.verify(root: root, key: key, value: nil)) }
            }
        }
        #expect(state.version == 60)
    }

    @Test func emptyTreeHasZeroRootAndProvesAbsence() throws {
        let state = try AuthenticatedState(storage: InMemoryStateStorage())
        #expect(state.root == .zero)
        let (value, proof, root) = try state.proof(Array("nothing".utf8))
        #expect(value == nil)
        #expect(proof.verify(root: root, key: Array("nothing".utf8), value: nil))
    }

    @Test func deletingEverythingReturnsToTheEmptyRoot() throws {
        let state = try AuthenticatedState(storage: InMemoryStateStorage())
        let v = state.view()
        for i in 0..<100 { v.set([UInt8(i)], [UInt8(i), 1]) }
        v.commitTransaction()
        try state.commit(try state.prepare(v, version: 1))
        #expect(state.root != .zero)
        let d = state.view()
        for i in 0..<100 { d.delete([UInt8(i)]) }
        d.commitTransaction()
        try state.commit(try state.prepare(d, version: 2))
        #expect(state.root == .zero)
    }

    @Test func oldVersionsStayReadableAndProvable() throws {
        let state = try AuthenticatedState(storage: InMemoryStateStorage())
        for version in 1...5 {
            let v = state.view()
            v.set(Array("counter".utf8), [UInt8(version)])
            v.commitTransaction()
            try state.commit(try state.prepare(v, version: UInt64(version)))
        }
        for version in 1...5 {
            let (value, proof, root) = try state.proof(Array("counter".utf8), at: UInt64(version))
            #expect(value == [UInt8(version)])
            #expect(proof.verify(root: root, key: Array("counter".utf8), value: [UInt8(version)]))
        }
    }

    @Test func rolledBackTransactionsLeaveNoWrites() throws {
        let state = try AuthenticatedState(storage: InMemoryStateStorage())
        let v = state.view()
        v.set([1], [1]); v.commitTransaction()
        v.set([2], [2]); v.rollbackTransaction()
        #expect(try v.get([1]) == [1])
        #expect(try v.get([2]) == nil)
        #expect(v.pendingWriteCount == 1)
    }

    @Test func tamperedProofsAreRejected() throws {
        let state = try AuthenticatedState(storage: InMemoryStateStorage())
        let v = state.view()
        for i in 0..<64 { v.set([UInt8(i)], [UInt8(i)]) }
        v.commitTransaction()
        try state.commit(try state.prepare(v, version: 1))
        let (_, proof, root) = try state.proof([7])
        #expect(proof.verify(root: root, key: [7], value: [7]))
        for i in proof.siblings.indices {
            var s = proof.siblings
            s[i] = SHA256.hash(s[i].bytes)
            #expect(!StateProof(siblings: s, terminal: proof.terminal).verify(root: root, key: [7], value: [7]))
        }
        #expect(!StateProof(siblings: proof.siblings.dropLast(), terminal: proof.terminal).verify(root: root, key: [7], value: [7]))
        #expect(!proof.verify(root: SHA256.hash(root.bytes), key: [7], value: [7]))
    }
}

@Suite(.timeLimit(.minutes(5))) struct SparseMerkleTreeParallelTests {
    /// Batches above the parallel threshold are rebuilt on two threads; the result must equal the
    /// same contents written in small (sequential) batches, including deletions.
    @Test func largeBatchesGiveTheSameRootAsSmallOnes() throws {
        var rng = SeededGenerator(seed: testSeed(0x9a7a))
        let big = try AuthenticatedState(storage: InMemoryStateStorage())
        let small = try AuthenticatedState(storage: InMemoryStateStorage())
        var model: [[UInt8]: [UInt8]] = [:]
        for version in 0..<4 {
            var writes: [([UInt8], [UInt8]?)] = []
            for _ in 0..<3000 {
                let k = Array("key-\(Int.random(in: 0..<5000, using: &rng))".utf8)
                let v: [UInt8]? = Int.random(in: 0..<5, using: &rng) == 0 ? nil : rng.bytes(8)
                writes.append((k, v)); model[k] = v
            }
            let bv = big.view()
            for (k, v) in writes { if let v { bv.set(k, v) } else { bv.delete(k) } }
            bv.commitTransaction()
            try big.commit(try big.prepare(bv, version: UInt64(version)))
            let sv = small.view()
            for (k, _) in writes { if let v = model[k] { sv.set(k, v) } else { sv.delete(k) } }
            sv.commitTransaction()
            // Same final contents, applied in slices smaller than the threshold on a fresh tree.
            let fresh = try AuthenticatedState(storage: InMemoryStateStorage())
            var items = model.map { ($0.key, $0.value) }
            items.shuffle(using: &rng)
            var n: UInt64 = 0
            while !items.isEmpty {
                let chunk = items.prefix(SparseMerkleTree.parallelThreshold - 1)
                items.removeFirst(chunk.count)
                let fv = fresh.view()
                for (k, v) in chunk { fv.set(k, v) }
                fv.commitTransaction()
                try fresh.commit(try fresh.prepare(fv, version: n)); n += 1
            }
            #expect(fresh.root == big.root, "seed \(rng) version \(version)")
            for k in model.keys.prefix(200) {
                let (value, proof, root) = try big.proof(k)
                #expect(value == model[k]! && proof.verify(root: root, key: k, value: model[k]!))
            }
        }
    }
}
