import Foundation
import Hummingbird
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianStorage

/// `GET /v1/index/blocks?from=H&limit=N`: committed blocks in height order for an indexer
/// (`meridian-indexer`), each with what the caller's standing lets it copy:
/// - everyone it admits (hospital operators and regulators): the header, the commit certificate,
///   the anchors workers put on chain and equivocation evidence (no one is named by them);
/// - audit entries by the same rule as `/v1/audit` (an operator its organisation's, a regulator
///   its jurisdiction's), each with its index in the audit log; the rest are counted, not shown;
/// - hospital operators only (as `/v1/blocks/{id}`): every transaction with its receipt and decision.
/// Reading entries puts the disclosure on the audit trail like `/v1/audit` does.
extension NodeAPI {
    struct BlockFeed: Encodable {
        let chainID: String
        let head: UInt64
        /// Bodies (transactions, receipts) below this height were pruned; headers, commits and audit entries are kept.
        let bodiesKeptFrom: UInt64
        let blocks: [FeedBlock]
        /// The height to ask for next; absent when the page reached the head.
        let next: UInt64?
    }

    struct FeedBlock: Encodable {
        let height: UInt64
        let hash: String
        let parentHash: String
        let time: String
        let proposer: String
        let stateRoot: String
        let auditLogSize: UInt64
        let auditLogRoot: String
        /// The header's canonical bytes (hex): `hash` is their hash, so a client can check the fields.
        let header: String
        let commit: JSONView.Commit?
        /// Operators only; absent for regulators and for pruned bodies.
        let transactions: [FeedTransaction]?
        let auditEntries: [FeedAuditEntry]
        /// Audit entries of this block the caller may not read (they are counted, not shown).
        let auditEntriesWithheld: Int
        let anchors: [FeedAnchor]
        let evidence: [FeedEvidence]
    }

    struct FeedTransaction: Encodable {
        let index: UInt32, hash: String, signer: String, nonce: UInt64, call: String
        let outcome: String, error: JSONView.Receipt.ErrorInfo?, decision: JSONView.Decision?, createdID: String?
    }
    struct FeedAuditEntry: Encodable { let logIndex: UInt64; let entry: JSONView.AuditEntry }
    struct FeedAnchor: Encodable { let transaction: String, worker: String, kind: String, root: String, count: UInt32 }
    struct FeedEvidence: Encodable { let transaction: String, validator: String, height: UInt64 }

    /// At most this many blocks, and a page stops after the block that takes it past this many audit entries.
    static let feedMaxBlocks = 500
    static let feedMaxEntries = 5_000

    func blockFeed(_ params: [String: String], _ caller: Caller) throws -> Response {
        guard let fromText = params["from"] else { throw APIError.badRequest("parameter.missing", "from: the first height to read (1 or more)") }
        guard let from = UInt64(fromText), from >= 1, fromText.count < 20 else {
            throw APIError.badRequest("parameter.invalid", "from: expected a height of 1 or more")
        }
        let limit = UInt64(try integer(params["limit"], "limit", default: 100, range: 1...Self.feedMaxBlocks))
        let store = query.store
        let head = try store.headHeight()
        let keptFrom = try store.bodiesKeptFrom()
        let operatorReads = caller.operatorOrganization != nil
        let reader = query.reader
        var blocks: [FeedBlock] = []
        var shown: [AuditEntry] = []
        var height = from
        var previous = from > head ? nil : try store.header(at: from - 1)
        while height <= head, UInt64(blocks.count) < limit, shown.count < Self.feedMaxEntries {
            guard let header = try store.header(at: height), let before = previous else {
                throw APIError(.internalServerError, "block.missing", "the header at \(height) is missing from this node's store")
            }
            let receipts = try store.receipts(at: height)
            let block = height >= keptFrom ? try store.block(at: height) : nil
            var entries: [FeedAuditEntry] = []
            var withheld = 0
            var anchors: [FeedAnchor] = []
            var evidence: [FeedEvidence] = []
            var logIndex = before.auditLogSize
            if let receipts {
                for r in receipts {
                    for event in r.events {
                        switch event {
                        case .accessRecorded(let patient, let sequence, _, _, _):
                            defer { logIndex += 1 }
                            guard let e = try Audit.entry(patient, sequence, in: reader) else {
                                throw APIError(.internalServerError, "audit.missing", "audit entry \(sequence) of a patient at height \(height) is missing from state")
                            }
                            if mayRead(e, as: caller) { entries.append(FeedAuditEntry(logIndex: logIndex, entry: JSONView.AuditEntry(e))); shown.append(e) }
                            else { withheld += 1 }
                        case .anchored(let worker, let kind, let root, let count):
                            anchors.append(FeedAnchor(transaction: r.transaction.hex, worker: Address(worker).description, kind: kind.name, root: root.hex, count: count))
                        case .evidenceRecorded(let validator, let offence):
                            evidence.append(FeedEvidence(transaction: r.transaction.hex, validator: Address(validator).description, height: offence))
                        default: break
                        }
                    }
                }
            } else if header.auditLogSize > before.auditLogSize {
                // A pruned body: the entries are kept in state but their order in the block is not; say so rather than guess.
                throw APIError(.gone, "block.pruned", "the receipts of block \(height) were pruned (kept from \(keptFrom)); index from there, or from a node that keeps them")
            }
            var transactions: [FeedTransaction]? = nil
            if operatorReads, let block, let receipts {
                transactions = zip(block.transactions, receipts).map { t, r in
                    let view = JSONView.Receipt(r)
                    return FeedTransaction(index: r.index, hash: t.hash.hex, signer: Address(t.transaction.signer).description, nonce: t.transaction.nonce,
                                           call: t.transaction.call.name, outcome: view.outcome, error: view.error, decision: view.decision, createdID: view.createdID)
                }
            }
            blocks.append(FeedBlock(height: height, hash: header.hash.hex, parentHash: header.parentHash.hex, time: header.time.iso8601,
                                    proposer: Address(header.proposer).description, stateRoot: header.stateRoot.hex,
                                    auditLogSize: header.auditLogSize, auditLogRoot: header.auditLogRoot.hex, header: Hex.encode(header.canonicalBytes),
                                    commit: try store.commit(at: height).map(JSONView.Commit.init), transactions: transactions,
                                    auditEntries: entries, auditEntriesWithheld: withheld, anchors: anchors, evidence: evidence))
            previous = header
            height += 1
        }
        try recordAuditDisclosure(to: caller, of: shown)
        return try json(BlockFeed(chainID: chainID, head: head, bodiesKeptFrom: keptFrom, blocks: blocks, next: height <= head ? height : nil))
    }
}
