import Testing
@testable import MeridianCore
@testable import MeridianState

/// The node executes block h + 1 while h's version is still being written (`willWrite` … `didWrite`).
/// With caches far too small to hold a version (16 nodes, 1,024 values), every value and tree record
/// of the unwritten version must still be read from memory: the roots must equal those of a state that
/// writes each version before it computes the next.
@Suite(.timeLimit(.minutes(5))) struct UnwrittenVersionTests {
    /// Each version reads and rewrites 2,500 of 6,000 keys (new value = SHA-256 of the old one), so
    /// reads hit values the version before wrote.
    static func writes(_ state: AuthenticatedState, version: UInt64, rng: inout SeededGenerator) throws -> StateView {
        let v = state.view()
        var keys = Set<Int>()
        while keys.count < 2_500 { keys.insert(Int.random(in: 0..<6_000, using: &rng)) }
        for k in keys.sorted() {
            let key = Array("key-\(k)".utf8)
            let old = try v.get(key) ?? []
            if k % 11 == Int(version % 11) { v.delete(key) } else { v.set(key, SHA256.hash(old + [UInt8(truncatingIfNeeded: version)]).bytes) }
        }
        v.commitTransaction()
        return v
    }

    @Test func aVersionBeingWrittenIsReadFromMemory() throws {
        let seed = testSeed(0x0e71_a901)
        var rngA = SeededGenerator(seed: seed), rngB = SeededGenerator(seed: seed)
        let storage = InMemoryStateStorage()
        let overlapped = try AuthenticatedState(storage: storage, maxCachedNodes: 16)
        let reference = try AuthenticatedState(storage: InMemoryStateStorage())
        var inFlight: AuthenticatedState.Prepared?
        for version in UInt64(1)...6 {
            let next = try overlapped.prepare(try Self.writes(overlapped, version: version, rng: &rngA), version: version)
            if let inFlight {
                try storage.commit(inFlight.batch)
                overlapped.didWrite(version: inFlight.version)
            }
            try overlapped.willWrite(next)
            inFlight = next
            #expect(storage.latestVersion() == (version > 1 ? version - 1 : nil), "version \(version) reached storage before its turn")
            try reference.commit(try reference.prepare(try Self.writes(reference, version: version, rng: &rngB), version: version))
            #expect(overlapped.root == reference.root, "seed \(seed) version \(version)")
        }
        // A second version is not handed over while one is being written.
        let extra = try overlapped.prepare(overlapped.view(), version: 7)
        #expect(throws: StateError.self) { try overlapped.willWrite(extra) }
        // Written at last, the state reads from storage alone and gives the same values and proofs.
        let last = try #require(inFlight)
        try storage.commit(last.batch)
        overlapped.didWrite(version: last.version)
        #expect(overlapped.unwrittenVersion == nil)
        let reopened = try AuthenticatedState(storage: storage, maxCachedNodes: 16)
        #expect(reopened.root == reference.root)
        for k in stride(from: 0, to: 6_000, by: 37) {
            let key = Array("key-\(k)".utf8)
            let (value, proof, root) = try reopened.proof(key)
            #expect(value == (try reference.value(key)), "key \(k)")
            #expect(proof.verify(root: root, key: key, value: value))
        }
    }
}
