import Foundation
import Logging
import PostgresNIO
import MeridianCore
import MeridianModules

/// Where the indexer stands: the last block written in full, kept in the same PostgreSQL
/// transaction as that block's rows, so a crash at any point leaves either the block and the
/// cursor past it, or neither.
struct IndexCursor: Equatable {
    let chainID: String
    let reader: String
    let height: UInt64
    let blockHash: String
    let auditLogSize: UInt64
}

/// The indexer's PostgreSQL connection: the schema, the cursor and the writes of verified blocks.
/// One indexer writes to a database at a time (a session advisory lock), and each page of blocks is
/// one transaction that moves the cursor only from where it was read: a second writer, or a crash
/// between the rows and the cursor, cannot leave a gap or a duplicate.
final class IndexDatabase: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// The advisory lock's key ("meridian" in ASCII).
    static let lockKey: Int64 = 0x6d65_7269_6469_616e

    init(_ url: DatabaseURL, logger: Logger) async throws {
        self.logger = logger
        do { connection = try await PostgresConnection.connect(configuration: try url.configuration, id: 1, logger: logger) }
        catch { throw IndexerError("database.unreachable", "cannot connect to \(url): \(String(reflecting: error))") }
    }

    func close() async { try? await connection.close() }

    /// Takes the writer's lock or says another indexer holds it.
    func lock() async throws {
        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey))", logger: logger)
        for try await (locked) in rows.decode(Bool.self) where !locked {
            throw IndexerError("database.locked", "another meridian-indexer is writing to this database")
        }
    }

    /// Creates the tables (idempotent) and refuses a database of another schema version.
    func prepareSchema() async throws {
        try await connection.withTransaction(logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(\(Self.lockKey + 1))", logger: logger)
            for statement in Schema.statements { try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        }
        let rows = try await connection.query("SELECT schema_version FROM meridian_indexer", logger: logger)
        for try await version in rows.decode(Int.self) where version != Schema.version {
            throw IndexerError("database.schema", "this database holds schema version \(version); this indexer writes version \(Schema.version)")
        }
    }

    func cursor() async throws -> IndexCursor? {
        let rows = try await connection.query("SELECT chain_id, reader, height, block_hash, audit_log_size FROM meridian_indexer", logger: logger)
        for try await (chain, reader, height, hash, size) in rows.decode((String, String, Int64, String, Int64).self) {
            return IndexCursor(chainID: chain, reader: reader, height: UInt64(height), blockHash: hash, auditLogSize: UInt64(size))
        }
        return nil
    }

    /// The first cursor: the chain's genesis (height 0), before any block is written.
    func start(at genesis: IndexCursor) async throws {
        try await connection.query("""
            INSERT INTO meridian_indexer (schema_version, chain_id, reader, height, block_hash, audit_log_size)
            VALUES (\(Schema.version), \(genesis.chainID), \(genesis.reader), \(Int64(genesis.height)), \(genesis.blockHash), \(Int64(genesis.auditLogSize)))
            ON CONFLICT (singleton) DO NOTHING
            """, logger: logger)
    }

    /// Writes `blocks` (verified, consecutive, following `from`) and moves the cursor to the last
    /// of them, in one transaction. Rows are inserted without ON CONFLICT: a duplicate would be an
    /// error, never silently merged.
    func write(_ blocks: [VerifiedBlock], from: IndexCursor) async throws -> IndexCursor {
        guard let last = blocks.last else { return from }
        let to = IndexCursor(chainID: from.chainID, reader: from.reader, height: last.header.height, blockHash: last.hash, auditLogSize: last.header.auditLogSize)
        try await connection.withTransaction(logger: logger) { c in
            try await insertBlocks(blocks, c)
            try await insertTransactions(blocks, c)
            try await insertEntries(blocks, c)
            try await insertAnchorsAndEvidence(blocks, c)
            let moved = try await c.query("""
                UPDATE meridian_indexer SET height = \(Int64(to.height)), block_hash = \(to.blockHash), audit_log_size = \(Int64(to.auditLogSize)), updated_at = now()
                WHERE height = \(Int64(from.height)) AND block_hash = \(from.blockHash) RETURNING height
                """, logger: logger)
            var count = 0
            for try await _ in moved { count += 1 }
            guard count == 1 else { throw IndexerError("database.cursor_moved", "the cursor is no longer at block \(from.height): another writer moved it") }
        }
        return to
    }

    /// Times travel as integer milliseconds and become `timestamptz` in SQL (`'epoch' + ms`), exactly:
    /// a `Date` is a Double and would turn .965 into .964999.
    private static func milliseconds(_ t: Timestamp) -> Int64 { Int64(t.unixMilliseconds) }

    private func insertBlocks(_ blocks: [VerifiedBlock], _ c: PostgresConnection) async throws {
        let h = blocks.map { Int64($0.header.height) }, hash = blocks.map(\.hash), parent = blocks.map { $0.header.parentHash.hex }
        let time = blocks.map { Self.milliseconds($0.header.time) }, proposer = blocks.map { Address($0.header.proposer).description }
        let root = blocks.map { $0.header.stateRoot.hex }, size = blocks.map { Int64($0.header.auditLogSize) }, logRoot = blocks.map { $0.header.auditLogRoot.hex }
        let round = blocks.map { $0.commitRound.map(Int64.init) ?? -1 }, signatures = blocks.map { Int64($0.commitSigners ?? -1) }
        let count = blocks.map { Int64($0.transactions?.count ?? -1) }, withheld = blocks.map { Int64($0.withheld) }
        try await c.query("""
            INSERT INTO blocks (height, hash, parent_hash, time, proposer, state_root, audit_log_size, audit_log_root, commit_round, commit_signatures, transaction_count, audit_entries_withheld)
            SELECT h, hash, parent, 'epoch'::timestamptz + time * interval '1 millisecond', proposer, root, size, log_root, NULLIF(round, -1), NULLIF(sigs, -1), NULLIF(n, -1), withheld
            FROM unnest(\(h), \(hash), \(parent), \(time), \(proposer), \(root), \(size), \(logRoot), \(round), \(signatures), \(count), \(withheld))
                AS t(h, hash, parent, time, proposer, root, size, log_root, round, sigs, n, withheld)
            """, logger: logger)
    }

    private func insertTransactions(_ blocks: [VerifiedBlock], _ c: PostgresConnection) async throws {
        var h: [Int64] = [], index: [Int64] = [], hash: [String] = [], signer: [String] = [], nonce: [Int64] = [], call: [String] = []
        var outcome: [String] = [], code: [String] = [], message: [String] = [], created: [String] = []
        var dh: [Int64] = [], di: [Int64] = [], allowed: [Bool] = [], reason: [String] = [], consent: [String] = [], basis: [String] = [], legal: [String] = []
        var requester: [String] = [], source: [String] = [], destination: [String] = [], contract: [String] = [], coSigner: [String] = []
        for b in blocks {
            for t in b.transactions ?? [] {
                h.append(Int64(b.header.height)); index.append(Int64(t.index)); hash.append(t.hash); signer.append(t.signer); nonce.append(Int64(bitPattern: t.nonce))
                call.append(t.call); outcome.append(t.outcome); code.append(t.error?.code ?? ""); message.append(t.error?.message ?? ""); created.append(t.createdID ?? "")
                if let d = t.decision {
                    dh.append(Int64(b.header.height)); di.append(Int64(t.index)); allowed.append(d.allowed); reason.append(d.reason)
                    consent.append(d.consent ?? ""); basis.append(d.transferBasis ?? ""); legal.append(d.legalBasis ?? ""); requester.append(d.requesterOrganization ?? "")
                    source.append(d.sourceCountry ?? ""); destination.append(d.destinationCountry ?? ""); contract.append(d.contract?.hash ?? ""); coSigner.append(d.coSigner ?? "")
                }
            }
        }
        guard !h.isEmpty else { return }
        try await c.query("""
            INSERT INTO transactions (height, index, hash, signer, nonce, call, outcome, error_code, error_message, created_id)
            SELECT h, i, hash, signer, nonce, call, outcome, NULLIF(code, ''), NULLIF(message, ''), NULLIF(created, '')
            FROM unnest(\(h), \(index), \(hash), \(signer), \(nonce), \(call), \(outcome), \(code), \(message), \(created))
                AS t(h, i, hash, signer, nonce, call, outcome, code, message, created)
            """, logger: logger)
        guard !dh.isEmpty else { return }
        try await c.query("""
            INSERT INTO decisions (height, index, allowed, reason, consent, transfer_basis, legal_basis, requester_organization, source_country, destination_country, contract, co_signer)
            SELECT h, i, allowed, reason, NULLIF(consent, ''), NULLIF(basis, ''), NULLIF(legal, ''), NULLIF(requester, ''), NULLIF(source, ''), NULLIF(destination, ''), NULLIF(contract, ''), NULLIF(co, '')
            FROM unnest(\(dh), \(di), \(allowed), \(reason), \(consent), \(basis), \(legal), \(requester), \(source), \(destination), \(contract), \(coSigner))
                AS t(h, i, allowed, reason, consent, basis, legal, requester, source, destination, contract, co)
            """, logger: logger)
    }

    private func insertEntries(_ blocks: [VerifiedBlock], _ c: PostgresConnection) async throws {
        var logIndex: [Int64] = [], h: [Int64] = [], time: [Int64] = [], patient: [String] = [], sequence: [Int64] = [], kind: [String] = []
        var action: [String] = [], actor: [String] = [], organization: [String] = [], record: [String] = [], category: [String] = [], purpose: [String] = []
        var breakGlass: [Bool] = [], allowed: [Bool] = [], reason: [String] = [], consent: [String] = [], basis: [String] = [], legal: [String] = []
        var requester: [String] = [], source: [String] = [], destination: [String] = [], contract: [String] = [], coSigner: [String] = []
        var transaction: [String] = [], hash: [String] = [], previous: [String] = []
        for b in blocks {
            for (index, e, entryHash) in b.entries {
                let d = e.decision
                logIndex.append(Int64(index)); h.append(Int64(e.height)); time.append(Self.milliseconds(e.time)); patient.append(Address(e.patient).description)
                sequence.append(Int64(bitPattern: e.sequence)); kind.append(e.kind.name); action.append(e.action.code); actor.append(Address(e.actor).description)
                organization.append(e.organization.value); record.append(e.record?.hex ?? ""); category.append(e.category.name); purpose.append(e.purpose.code)
                breakGlass.append(e.breakGlass); allowed.append(d.allowed); reason.append(d.reason.code); consent.append(d.consent?.hex ?? "")
                basis.append(d.transferBasis?.name ?? ""); legal.append(d.transferBasis?.legalReference ?? ""); requester.append(d.requesterOrganization?.value ?? "")
                source.append(d.sourceCountry?.code ?? ""); destination.append(d.destinationCountry?.code ?? ""); contract.append(d.contract?.contract.hex ?? "")
                coSigner.append(d.coSigner.map { Address($0).description } ?? ""); transaction.append(e.transaction.hex); hash.append(entryHash); previous.append(e.previousHash.hex)
            }
        }
        guard !logIndex.isEmpty else { return }
        try await c.query("""
            INSERT INTO audit_entries (log_index, height, time, patient, sequence, kind, action, actor, organization, record, category, purpose, break_glass,
                                       allowed, reason, consent, transfer_basis, legal_basis, requester_organization, source_country, destination_country,
                                       contract, co_signer, transaction, hash, previous_hash)
            SELECT li, h, 'epoch'::timestamptz + time * interval '1 millisecond', patient, seq, kind, action, actor, org, NULLIF(record, ''), category, purpose, glass,
                   allowed, reason, NULLIF(consent, ''), NULLIF(basis, ''), NULLIF(legal, ''), NULLIF(requester, ''), NULLIF(source, ''), NULLIF(destination, ''),
                   NULLIF(contract, ''), NULLIF(co, ''), tx, hash, prev
            FROM unnest(\(logIndex), \(h), \(time), \(patient), \(sequence), \(kind), \(action), \(actor), \(organization), \(record), \(category), \(purpose), \(breakGlass),
                        \(allowed), \(reason), \(consent), \(basis), \(legal), \(requester), \(source), \(destination), \(contract), \(coSigner), \(transaction), \(hash), \(previous))
                AS t(li, h, time, patient, seq, kind, action, actor, org, record, category, purpose, glass, allowed, reason, consent, basis, legal, requester,
                     source, destination, contract, co, tx, hash, prev)
            """, logger: logger)
    }

    private func insertAnchorsAndEvidence(_ blocks: [VerifiedBlock], _ c: PostgresConnection) async throws {
        var h: [Int64] = [], tx: [String] = [], worker: [String] = [], kind: [String] = [], root: [String] = [], count: [Int64] = []
        var eh: [Int64] = [], etx: [String] = [], validator: [String] = [], offence: [Int64] = []
        for b in blocks {
            for a in b.anchors { h.append(Int64(b.header.height)); tx.append(a.transaction); worker.append(a.worker); kind.append(a.kind); root.append(a.root); count.append(Int64(a.count)) }
            for e in b.evidence { eh.append(Int64(b.header.height)); etx.append(e.transaction); validator.append(e.validator); offence.append(Int64(e.height)) }
        }
        if !h.isEmpty {
            try await c.query("""
                INSERT INTO anchors (height, transaction, worker, kind, root, count)
                SELECT * FROM unnest(\(h), \(tx), \(worker), \(kind), \(root), \(count))
                """, logger: logger)
        }
        if !eh.isEmpty {
            try await c.query("""
                INSERT INTO evidence (height, transaction, validator, offence_height)
                SELECT * FROM unnest(\(eh), \(etx), \(validator), \(offence))
                """, logger: logger)
        }
    }
}
