public import MeridianCore
public import MeridianState
public import MeridianModules
public import MeridianTransparency

/// Writing a state-synced node's database (issue 24 item 2): everything the checks of
/// `StateSyncer` passed, as the database of a node that pruned below the snapshot's height.
/// Headers and commit certificates from genesis (each verified by the light client), the kept
/// validator-set entries, the state at the snapshot's version (its tree rebuilt from the entries
/// and its root checked again), and the audit log's tree; block bodies and older state versions
/// are absent, as after pruning (`bodiesKeptFrom`, `stateKeptFrom`), and the head is written last.
extension BlockStore {
    public struct VerifiedHeader: Sendable {
        public let header: BlockHeader
        public let certificate: CommitCertificate
        /// The validator set's entry and proof at the parent's height, when this header changed the set.
        public let lightSet: (value: [UInt8], proof: [UInt8])?
        public init(header: BlockHeader, certificate: CommitCertificate, lightSet: (value: [UInt8], proof: [UInt8])?) {
            self.header = header; self.certificate = certificate; self.lightSet = lightSet
        }
    }

    /// Restores a snapshot of height `headers.last` into this (fresh) database: `headers` from 1 to
    /// the snapshot's height, `entries` the whole state at that height, `auditEntryHashes` the
    /// audit log's leaves. Refuses what does not rebuild the headers' state root and audit log root.
    /// `signersOfTop`: the validator set that signed the snapshot's header (the state one version
    /// before it, which a restored node does not hold, names it; the light client knows it).
    public func restoreSnapshot(genesis: BlockHeader, headers: [VerifiedHeader], signersOfTop: [ValidatorPower], entries: [StateSnapshot.Chunk.Entry],
                                auditEntryHashes: [Bytes32]) throws(BlockStoreError) {
        let empty: Bool
        do { empty = try headHeight() == 0 && (try stateStorage.latestVersion()) == nil } catch { throw BlockStoreError("\(error)") }
        guard empty else { throw BlockStoreError("a snapshot is restored only into an empty database") }
        guard let top = headers.last else { throw BlockStoreError("a snapshot needs at least one header") }
        let height = top.header.height
        for (i, v) in headers.enumerated() where v.header.height != UInt64(i + 1) {
            throw BlockStoreError("snapshot headers are not 1...\(height) in order")
        }
        // The state: its tree rebuilt from the entries must give the verified header's root.
        let tree = SparseMerkleTree(storage: stateStorage, maxCachedNodes: 1 << 16)
        let result: SparseMerkleTree.Result
        do { result = try tree.apply(root: SparseMerkleTree.emptyRoot, updates: entries.map { .init(keyHash: StateProof.keyHash($0.key), value: $0.value) }) }
        catch { throw BlockStoreError("rebuilding the snapshot's state: \(error)") }
        guard result.root == top.header.stateRoot else {
            throw BlockStoreError("the snapshot's entries rebuild state root \(result.root.hex.prefix(16)), header \(height) says \(top.header.stateRoot.hex.prefix(16))")
        }
        // The audit log: its leaves must rebuild the header's log root and size.
        var frontier = LogFrontier()
        var stored: [LogFrontier.StoredHash] = []
        for h in auditEntryHashes { frontier.append(leafHash: AuditLog.leafHash(ofEntryHash: h), completed: &stored) }
        guard frontier.size == top.header.auditLogSize, frontier.root == top.header.auditLogRoot else {
            throw BlockStoreError("the snapshot's \(auditEntryHashes.count) audit log leaves give root \(frontier.root.hex.prefix(16)), header \(height) says \(top.header.auditLogRoot.hex.prefix(16)) of size \(top.header.auditLogSize)")
        }

        try storeGenesis(genesis)
        // Headers, certificates and kept validator sets, in pages.
        for page in stride(from: 0, to: headers.count, by: 10_000) {
            let wb = RocksDB.WriteBatch(for: db)
            for v in headers[page..<min(page + 10_000, headers.count)] {
                let h = v.header.height
                wb.put("headers", Self.heightKey(h), v.header.canonicalBytes)
                wb.put("commits", Self.heightKey(h), v.certificate.canonicalBytes)
                wb.put("block_index", v.header.hash.bytes, Self.heightKey(h))
                if let set = v.lightSet { wb.put("light_sets", Self.heightKey(h), Self.encodeLightSet(value: set.value, proof: set.proof)) }
            }
            try write(wb)
        }
        // The audit log's tree.
        for page in stride(from: 0, to: auditEntryHashes.count, by: 100_000) {
            let wb = RocksDB.WriteBatch(for: db)
            let part = Array(auditEntryHashes[page..<min(page + 100_000, auditEntryHashes.count)])
            AuditLogStore.addLeaves(part, firstIndex: UInt64(page), to: wb)
            try write(wb)
        }
        let hashes = RocksDB.WriteBatch(for: db)
        for s in stored { AuditLogStore.addStoredHash(s, to: hashes) }
        try write(hashes)
        // The state version, then the markers of what is kept, then the head: last, so that a
        // database interrupted before it is still empty to whoever opens it.
        let wb = RocksDB.WriteBatch(for: db)
        stateStorage.addState(StateBatch(version: height, root: result.root, nodes: result.newNodes, values: entries.map { ($0.key, $0.value) }), to: wb)
        try write(wb)
        let head = RocksDB.WriteBatch(for: db)
        var signers = CanonicalWriter()
        signers.write(varint: height); signers.write(signersOfTop)
        head.put("meta", Self.snapshotSignersKey, signers.bytes)
        head.put("meta", Self.bodiesFromKey, Self.heightKey(height + 1))
        head.put("meta", Self.stateFromKey, Self.heightKey(height))
        head.put("meta", Self.headKey, Self.heightKey(height))
        try write(head)
    }

    static let snapshotSignersKey = Array("statesync.signers_of_snapshot".utf8)

    /// The snapshot this database was restored from (its height) and the validators that signed its
    /// header: `ChainService` checks the certificate a next block carries for it against them.
    public func snapshotSigners() throws(BlockStoreError) -> (height: UInt64, signers: [ValidatorPower])? {
        let raw: [UInt8]?
        do { raw = try db.get("meta", Self.snapshotSignersKey) } catch { throw BlockStoreError("\(error)") }
        guard let raw else { return nil }
        do {
            var r = CanonicalReader(raw)
            let h = try r.readVarint("height")
            let set = try r.readArray(ValidatorPower.self, "signers", max: 10_000)
            try r.finish()
            return (h, set)
        } catch { throw BlockStoreError("the state-sync signers record is corrupt: \(error)") }
    }

    private func write(_ wb: RocksDB.WriteBatch) throws(BlockStoreError) {
        do { try db.write(wb, sync: true) } catch { throw BlockStoreError(error.description) }
    }
}

extension AuditLogStore {
    static func addLeaves(_ hashes: [Bytes32], firstIndex: UInt64, to wb: RocksDB.WriteBatch) {
        for (i, h) in hashes.enumerated() {
            wb.put("auditlog.entries", entryKey(firstIndex + UInt64(i)), h.bytes)
            wb.put("auditlog.positions", h.bytes, entryKey(firstIndex + UInt64(i)))
        }
    }

    static func addStoredHash(_ s: LogFrontier.StoredHash, to wb: RocksDB.WriteBatch) {
        wb.put("auditlog.hashes", hashKey(s.level, s.index), s.hash.bytes)
    }
}
