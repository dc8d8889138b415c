import Foundation
import MeridianCore
import MeridianModules

/// A page of `GET /v1/index/blocks` as the node serves it.
struct FeedPage: Decodable {
    let chainID: String
    let head: UInt64
    let bodiesKeptFrom: UInt64
    let blocks: [Block]
    let next: UInt64?

    struct Block: Decodable {
        let height: UInt64
        let hash: String
        let header: String
        let commit: Commit?
        let transactions: [Transaction]?
        let auditEntries: [Entry]
        let auditEntriesWithheld: Int
        let anchors: [Anchor]
        let evidence: [Evidence]
    }
    struct Commit: Decodable { let round: UInt32; let blockHash: String; let signatures: [Signature]; struct Signature: Decodable { let validator: String } }
    struct Transaction: Decodable {
        let index: UInt32, hash: String, signer: String, nonce: UInt64, call: String, outcome: String
        let error: ErrorInfo?, decision: Decision?, createdID: String?
        struct ErrorInfo: Decodable { let code: String; let message: String }
    }
    struct Decision: Decodable {
        let allowed: Bool, reason: String, consent: String?, transferBasis: String?, legalBasis: String?
        let requesterOrganization: String?, sourceCountry: String?, destinationCountry: String?
        let contract: Contract?, coSigner: String?
        struct Contract: Decodable { let hash: String }
    }
    struct Entry: Decodable { let logIndex: UInt64; let entry: Served; struct Served: Decodable { let hash: String; let bytes: String } }
    struct Anchor: Decodable { let transaction: String, worker: String, kind: String, root: String, count: UInt32 }
    struct Evidence: Decodable { let transaction: String, validator: String, height: UInt64 }
}

struct IndexerError: Error, CustomStringConvertible {
    let code: String, message: String
    init(_ code: String, _ message: String) { self.code = code; self.message = message }
    var description: String { "\(code): \(message)" }
}

/// A block checked before anything of it is written: its header decodes from the bytes served and
/// hashes to the hash served, it follows the block indexed before it, its commit certificate is for
/// it, and each audit entry's columns come from the entry's own canonical bytes, whose hash is the
/// hash served and whose index lies in this block's part of the audit log. A node that serves
/// anything else (another chain, a rewritten entry) stops the indexer before its copy changes.
struct VerifiedBlock {
    let header: BlockHeader
    let hash: String
    let commitRound: UInt32?
    let commitSigners: Int?
    let transactions: [FeedPage.Transaction]?
    let entries: [(logIndex: UInt64, entry: AuditEntry, hash: String)]
    let withheld: Int
    let anchors: [FeedPage.Anchor]
    let evidence: [FeedPage.Evidence]

    init(_ b: FeedPage.Block, chainID: String, after previous: (height: UInt64, hash: String, auditLogSize: UInt64)) throws {
        guard let bytes = Hex.decode(b.header), let header = try? BlockHeader(canonicalBytes: bytes) else {
            throw IndexerError("feed.bad_header", "block \(b.height): the header's bytes do not decode")
        }
        guard header.hash.hex == b.hash, header.height == b.height else {
            throw IndexerError("feed.header_mismatch", "block \(b.height): the header served does not hash to \(b.hash)")
        }
        guard header.chainID == chainID else { throw IndexerError("feed.wrong_chain", "block \(b.height) is of chain \(header.chainID), not \(chainID)") }
        guard header.height == previous.height + 1 else {
            throw IndexerError("feed.gap", "expected block \(previous.height + 1), the node served \(header.height)")
        }
        guard header.parentHash.hex == previous.hash else {
            throw IndexerError("feed.fork", "block \(header.height)'s parent is \(header.parentHash.hex), but block \(previous.height) indexed here is \(previous.hash): this database holds another history")
        }
        if let c = b.commit, c.blockHash != b.hash { throw IndexerError("feed.bad_commit", "block \(b.height): the commit certificate is for another block") }
        guard header.auditLogSize >= previous.auditLogSize else { throw IndexerError("feed.audit_log", "block \(b.height): the audit log shrank") }
        let added = header.auditLogSize - previous.auditLogSize
        guard UInt64(b.auditEntries.count) + UInt64(max(0, b.auditEntriesWithheld)) == added, b.auditEntriesWithheld >= 0 else {
            throw IndexerError("feed.audit_count", "block \(b.height) adds \(added) audit entries; the node served \(b.auditEntries.count) and withheld \(b.auditEntriesWithheld)")
        }
        var entries: [(UInt64, AuditEntry, String)] = []
        var seen = Set<UInt64>()
        for e in b.auditEntries {
            guard let raw = Hex.decode(e.entry.bytes), let entry = try? AuditEntry(canonicalBytes: raw) else {
                throw IndexerError("feed.bad_entry", "block \(b.height): an audit entry's bytes do not decode")
            }
            guard entry.hash.hex == e.entry.hash, entry.height == header.height else {
                throw IndexerError("feed.entry_mismatch", "block \(b.height): audit entry \(e.entry.hash) is not what its bytes say")
            }
            guard e.logIndex >= previous.auditLogSize, e.logIndex < header.auditLogSize, seen.insert(e.logIndex).inserted else {
                throw IndexerError("feed.entry_index", "block \(b.height): audit log index \(e.logIndex) is outside the block's part of the log or repeated")
            }
            entries.append((e.logIndex, entry, e.entry.hash))
        }
        self.header = header; hash = b.hash
        commitRound = b.commit?.round; commitSigners = b.commit?.signatures.count
        transactions = b.transactions; self.entries = entries; withheld = b.auditEntriesWithheld
        anchors = b.anchors; evidence = b.evidence
    }
}
