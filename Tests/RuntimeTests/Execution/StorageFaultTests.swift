import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// A storage that fails when told to: the Nth read from now on, or the next commit.
final class FaultyStorage: StateStorage {
    let inner = InMemoryStateStorage()
    /// Reads left before every read fails (nil: none fails).
    var readsBeforeFailure: Int?
    var failCommit = false
    private(set) var injected = 0

    private func read() throws(StateError) {
        guard let left = readsBeforeFailure else { return }
        if left <= 0 { injected += 1; throw StateError(.backend, "injected read failure") }
        readsBeforeFailure = left - 1
    }
    func node(_ hash: Bytes32) throws(StateError) -> [UInt8]? { try read(); return inner.node(hash) }
    func value(_ key: [UInt8]) throws(StateError) -> [UInt8]? { try read(); return inner.value(key) }
    func root(version: UInt64) throws(StateError) -> Bytes32? { try read(); return inner.root(version: version) }
    func latestVersion() throws(StateError) -> UInt64? { inner.latestVersion() }
    func commit(_ batch: StateBatch) throws(StateError) {
        if failCommit { injected += 1; throw StateError(.backend, "injected commit failure") }
        try inner.commit(batch)
    }
    func scan(prefix: [UInt8], from start: [UInt8]?, limit: Int) throws(StateError) -> [(key: [UInt8], value: [UInt8])] {
        try read(); return inner.scan(prefix: prefix, from: start, limit: limit)
    }
}

/// The failure policy at the runtime's seam: a storage error is the node's fault, never a
/// transaction's. Execution never turns one into a receipt (another node, whose disk is fine,
/// would write a different receipt); the block fails as a node fault, nothing is committed, and
/// once the storage works again the same block executes and commits.
@Suite(.timeLimit(.minutes(5))) struct StorageFaultTests {
    @Test func aReadFailureAtAnyPointFailsTheBlockAsANodeFaultNeverAReceipt() throws {
        var fired = 0
        for n in 0..<120 {
            let storage = FaultyStorage()
            let chain = try TestChain(storage: storage)
            let maria = try chain.registerPatient("maria")
            let record = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira")
            _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"])))
            let before = chain.executor.tip
            let txs = [try chain.tx(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))),
                       try chain.tx(maria, .revokeConsent(SHA256.hash([1])))]
            storage.readsBeforeFailure = n
            do {
                let executed = try chain.executor.propose(time: chain.time.adding(milliseconds: 1000), proposer: chain.proposer, transactions: txs, lastCommit: nil)
                #expect(storage.injected == 0, "read \(n): a storage error was swallowed: \(executed.receipts.map { String(describing: $0.error) })")
                for r in executed.receipts { #expect(r.error.map { !$0.code.hasPrefix("state.") } ?? true, "read \(n): a storage error became a receipt: \(String(describing: r.error))") }
            } catch {
                fired += 1
                #expect(error.isNodeFault, "read \(n): \(error)")
                #expect(chain.executor.tip == before, "read \(n): a failed block moved the tip")
            }
        }
        #expect(fired >= 3, "the injected failures were reached only \(fired) times")
    }

    @Test func aFailedCommitCommitsNothingAndTheSameBlockCommitsOnceStorageWorks() throws {
        let storage = FaultyStorage()
        let chain = try TestChain(storage: storage)
        let maria = try chain.registerPatient("maria")
        let before = (chain.executor.tip, chain.state.root)
        let executed = try chain.executor.propose(time: chain.time.adding(milliseconds: 1000), proposer: chain.proposer,
                                                  transactions: [try chain.tx(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"])))], lastCommit: nil)
        storage.failCommit = true
        #expect(throws: BlockError.self) { try chain.executor.commit(executed) }
        #expect(chain.executor.tip == before.0 && chain.state.root == before.1, "a failed commit moved the chain")
        storage.failCommit = false
        // What is durable is the state before the block: executing the same block again commits it.
        let again = try chain.executor.execute(executed.block)
        try chain.executor.commit(again)
        #expect(chain.executor.tip.hash == executed.block.hash && chain.state.root == executed.block.header.stateRoot)
    }
}
