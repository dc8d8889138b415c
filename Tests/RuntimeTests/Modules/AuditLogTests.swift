import Testing
import MeridianCore
@testable import MeridianModules
import MeridianRuntime
import MeridianDemo

/// The audit log in blocks: every audit entry, in block order, is a leaf (its entry hash) of one
/// RFC 9162 tree whose size and root each header carries and every validator re-checks.
@Suite(.timeLimit(.minutes(5))) struct AuditLogTests {
    @Test func everyEntryOfEveryPatientIsALeafInBlockOrderAndHeadersCommitToTheTree() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let hans = try chain.registerPatient("hans", enrolledAt: "klinikum-spree")
        let mariaRecord = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira")
        let hansRecord = try chain.registerRecord(patient: hans.publicKey, category: .medications, custodian: "klinikum-spree")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], purposes: [.treat], countries: ["JP"])))
        let sakura = DemoCast.staff("sakura-general", "clinician"), chao = DemoCast.staff("chao-phraya", "clinician")
        // One block with an allowed access, a denied one, and a transaction that fails (its entry is rolled back).
        let receipts = try chain.block([
            try chain.tx(sakura, .requestAccess(.init(record: mariaRecord, purpose: .treat, breakGlass: false))),
            try chain.tx(chao, .requestAccess(.init(record: hansRecord, purpose: .treat, breakGlass: false))),
            try chain.tx(chao, .requestAccess(.init(record: Bytes32(SHA256.hash([9]).bytes)!, purpose: .treat, breakGlass: false))),
        ])
        #expect(receipts[0].outcome == .success && receipts[1].outcome == .success && receipts[2].outcome != .success)

        // The leaves, in block order, are the entries' hashes: a block's entries in the order of its
        // transactions, a transaction's in the order it recorded them.
        let entries = try [maria.publicKey, hans.publicKey].flatMap { try Audit.byPatient($0, limit: 1000, in: chain.reader).entries }
        var expected: [Bytes32] = []
        for block in chain.blocks {
            for tx in block.transactions {
                expected += entries.filter { $0.transaction == tx.hash }.sorted { $0.sequence < $1.sequence }.map(\.hash)
            }
        }
        let frontier = try AuditLog.frontier(in: chain.reader)
        #expect(frontier.size == UInt64(expected.count) && expected.count >= 4)
        #expect(frontier.root == MerkleTree.root(leafHashes: expected.map { AuditLog.leafHash(ofEntryHash: $0) }))
        // Every header carries the tree as of its block; sizes never shrink.
        var last: UInt64 = 0
        for block in chain.blocks {
            #expect(block.header.auditLogSize >= last)
            last = block.header.auditLogSize
        }
        #expect(chain.blocks.last?.header.auditLogSize == frontier.size && chain.blocks.last?.header.auditLogRoot == frontier.root)
    }

    @Test func aValidatorRefusesABlockWhoseHeaderMisstatesTheLog() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira")
        let tx = try chain.tx(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        // Proposed, not committed: the same executor re-executes it as a validator would.
        let executed = try chain.executor.propose(time: chain.time.adding(milliseconds: 1000), proposer: chain.proposer, transactions: [tx], lastCommit: nil)
        #expect(executed.auditLog.entryHashes.count == 1 && executed.block.header.auditLogSize == executed.auditLog.size)
        var header = executed.block.header
        header.auditLogSize += 1
        let error = #expect(throws: BlockError.self) { try chain.executor.execute(Block(header: header, transactions: [tx], lastCommit: nil)) }
        #expect(error?.code == "block.audit_log")
        var rooted = executed.block.header
        rooted.auditLogRoot = SHA256.hash(rooted.auditLogRoot.bytes)
        let rootError = #expect(throws: BlockError.self) { try chain.executor.execute(Block(header: rooted, transactions: [tx], lastCommit: nil)) }
        #expect(rootError?.code == "block.audit_log")
        // The honest block re-executes to the same log.
        #expect(try chain.executor.execute(executed.block).auditLog == executed.auditLog)
    }
}
