import Foundation
public import Logging
public import MeridianCore
public import MeridianState
public import MeridianRuntime
import MeridianModules
import MeridianLightClient
public import MeridianStorage
import MeridianRequestAuth
import Synchronization

/// State sync in node.json: the API addresses of nodes to restore from (they must serve TLS when
/// this node does), and how long one request may take before the next server is asked.
public struct StateSyncConfig: Codable, Sendable, Hashable {
    public var servers: [String]
    public var requestTimeoutSeconds: Int = 30
    public init(servers: [String]) { self.servers = servers }
    enum CodingKeys: String, CodingKey { case servers, requestTimeoutSeconds }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        servers = try c.decode([String].self, forKey: .servers)
        requestTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .requestTimeoutSeconds) ?? 30
    }
}

/// A new node joining in minutes (issue 24 item 2; CometBFT's state sync): it asks its servers for
/// snapshots, verifies every header from genesis to the snapshot's height with its light client
/// (trusting only genesis.json), checks the snapshot's manifest against that header's state root and
/// each chunk against the manifest, checks the audit log's leaves against the header's log root, and
/// writes the database of a node pruned below that height (`BlockStore.restoreSnapshot`). The node
/// then syncs blocks from the snapshot's height to the tip as any node catching up does.
///
/// Each request goes to one server; a server that does not answer within the timeout, answers an
/// error, or sends what fails a check, is passed over for the next (one that sent something false
/// is dropped for the rest of the sync). With no snapshot offered, `run` returns nil and the node
/// syncs every block from genesis instead.
public final class StateSyncer: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    let servers: [URL]
    let timeout: Int
    let genesis: GenesisSpec
    let key: PrivateKey
    let peers: PeerHTTP
    let logger: Logger
    let chainID: String

    public init(config: StateSyncConfig, genesis: GenesisSpec, key: PrivateKey, peers: PeerHTTP, logger: Logger) throws {
        servers = try config.servers.map { s in
            guard let u = URL(string: s), u.scheme == "http" || u.scheme == "https", u.host != nil else { throw NodeError("config.stateSync.servers", "'\(s)' is not an http(s) URL") }
            return u
        }
        timeout = config.requestTimeoutSeconds
        self.genesis = genesis; self.key = key; self.peers = peers; self.logger = logger
        chainID = genesis.chainID
    }

    /// A server as this sync sees it: its address, its node key (the audience of signed requests),
    /// and whether it sent something false (then it is asked nothing more). Chunk fetches run
    /// concurrently: both behind a lock.
    final class Server: Sendable {
        let base: URL
        private let state = Mutex<(audience: String?, dropped: Bool)>((nil, false))
        init(base: URL) { self.base = base }
        var audience: String? {
            get { state.withLock { $0.audience } }
            set { state.withLock { $0.audience = newValue } }
        }
        var dropped: Bool {
            get { state.withLock { $0.dropped } }
            set { state.withLock { $0.dropped = newValue } }
        }
    }

    /// Restores into the empty database `store`; returns the snapshot's height, or nil when no
    /// server offered one.
    public func run(into store: BlockStore) async throws -> UInt64? {
        let started = ContinuousClock.now
        let servers = self.servers.map(Server.init)
        // The snapshots offered: the highest height any server offers.
        var offers: [(Server, SnapshotService.Offer)] = []
        for s in servers {
            do {
                let data = try await get(s, "/v1/snapshots", signed: true, maxBytes: 1 << 22)
                let list = try JSONDecoder().decode(SnapshotList.self, from: data)
                for o in list.snapshots { offers.append((s, o)) }
            } catch { logger.notice("state sync: no snapshot list from a server", metadata: ["server": "\(s.base.absoluteString)", "error": "\(error)"]) }
        }
        guard let best = offers.map(\.1.height).max() else {
            logger.notice("state sync: no server offered a snapshot; syncing every block from genesis instead", metadata: ["servers": "\(servers.count)"])
            return nil
        }
        var candidates = offers.filter { $0.1.height == best }
        logger.notice("state sync: restoring the snapshot of height \(best)", metadata: ["servers": "\(candidates.count)"])

        // Headers from genesis to the snapshot's height, each verified by the light client.
        var light: LightClient
        do { light = try LightClient(genesis: genesis) } catch { throw Failure(message: "genesis.json: \(error)") }
        let genesisHeader = light.head
        var verified: [BlockStore.VerifiedHeader] = []
        verified.reserveCapacity(Int(best))
        while light.head.height < best {
            let from = light.head.height + 1
            let page = try await fromAny(candidates.map(\.0), "headers from \(from)") { s in
                let data = try await self.get(s, "/v1/light/headers?from=\(from)&limit=1000", signed: false, maxBytes: 64 << 20)
                return try JSONDecoder().decode(LightHeadersPage.self, from: data)
            }
            var advanced = 0
            for item in page.headers where item.height == light.head.height + 1 && item.height <= best {
                let parentSet = light.head.validatorsHash
                do {
                    guard try light.advance(with: LightHeadersPage(head: page.head, headers: [item]), upTo: best) == 1 else { break }
                } catch {
                    throw Failure(message: "state sync: header \(item.height) from a server does not verify: \(error)")
                }
                let header = light.head
                guard let commitHex = item.commit, let commitBytes = Hex.decode(commitHex), let certificate = try? CommitCertificate(canonicalBytes: commitBytes) else {
                    throw Failure(message: "header \(item.height): its certificate does not decode")
                }
                // Kept only where the light client needed and checked it: where the set changed.
                let set = item.validatorSet.flatMap { e -> (value: [UInt8], proof: [UInt8])? in
                    guard header.validatorsHash != parentSet, let v = Hex.decode(e.value), let p = Hex.decode(e.proof) else { return nil }
                    return (v, p)
                }
                verified.append(.init(header: header, certificate: certificate, lightSet: set))
                advanced += 1
            }
            if advanced == 0 { throw Failure(message: "state sync: no server sent header \(light.head.height + 1)") }
        }
        guard let root = light.stateRoots[best], let top = verified.last?.header else { throw Failure(message: "state sync: header \(best) was not verified") }
        let signersOfTop = light.validators   // the set that signed header `best`
        logger.notice("state sync: headers verified from genesis", metadata: ["height": "\(best)", "validatorSetChanges": "\(light.validatorSetChanges)"])

        // The manifest: from the first candidate whose manifest composes to the verified root.
        var manifest: StateSnapshot.Manifest?
        for (s, offer) in candidates where manifest == nil {
            do {
                guard let bytes = Hex.decode(offer.manifest) else { throw Failure(message: "not hex") }
                let m = try StateSnapshot.Manifest(canonicalBytes: bytes)
                try m.verify(expectedRoot: root)
                guard m.version == best, offer.auditLogSize == top.auditLogSize, offer.auditLogPart > 0 else { throw Failure(message: "the offer does not match header \(best)") }
                manifest = m
            } catch {
                s.dropped = true
                logger.warning("state sync: a server's manifest does not match the verified state root; dropped", metadata: ["server": "\(s.base.absoluteString)", "error": "\(error)"])
            }
        }
        candidates.removeAll { $0.0.dropped }
        guard let manifest, let part = candidates.first?.1.auditLogPart else { throw Failure(message: "state sync: no server offered a manifest that matches header \(best)'s state root") }
        let chosen = candidates.map(\.0)

        // The chunks, each checked against the manifest; a few at a time, spread over the servers.
        var entries: [StateSnapshot.Chunk.Entry] = []
        let wanted = manifest.chunks.indices.filter { manifest.chunks[$0] != .empty }
        var next = 0
        try await withThrowingTaskGroup(of: StateSnapshot.Chunk.self) { group in
            func add(_ i: Int) {
                let order = (0..<chosen.count).map { chosen[($0 + i) % chosen.count] }
                group.addTask {
                    try await self.fromAny(order, "chunk \(i)") { s in
                        let data = try await self.get(s, "/v1/snapshots/\(best)/chunks/\(i)", signed: true, maxBytes: 256 << 20)
                        let chunk = try StateSnapshot.Chunk(canonicalBytes: [UInt8](data))
                        do { guard chunk.index == i else { throw StateError(.corruptNode, "chunk \(chunk.index) sent for \(i)") }; try chunk.verify(against: manifest) }
                        catch { s.dropped = true; throw error }
                        return chunk
                    }
                }
            }
            while next < min(4, wanted.count) { add(wanted[next]); next += 1 }
            while let chunk = try await group.next() {
                entries.append(contentsOf: chunk.entries)
                if next < wanted.count { add(wanted[next]); next += 1 }
            }
        }
        logger.notice("state sync: state chunks verified", metadata: ["chunks": "\(wanted.count)", "entries": "\(entries.count)"])

        // The audit log's leaves, in parts (checked together against the header's log root when written).
        var leaves: [Bytes32] = []
        leaves.reserveCapacity(Int(top.auditLogSize))
        var index: UInt64 = 0
        while index < top.auditLogSize {
            let p = Int(index / UInt64(part))
            let expected = Int(min(UInt64(part), top.auditLogSize - index))
            let bytes = try await fromAny(chosen, "audit log part \(p)") { s in
                let data = try await self.get(s, "/v1/snapshots/\(best)/auditlog/\(p)", signed: true, maxBytes: expected * 32 + 1)
                guard data.count == expected * 32 else { throw Failure(message: "\(data.count) bytes for \(expected) leaves") }
                return [UInt8](data)
            }
            for o in stride(from: 0, to: bytes.count, by: 32) { leaves.append(Bytes32(bytes[o..<(o + 32)])!) }
            index += UInt64(expected)
        }

        try store.restoreSnapshot(genesis: genesisHeader, headers: verified, signersOfTop: signersOfTop, entries: entries, auditEntryHashes: leaves)
        let seconds = Double((ContinuousClock.now - started).components.seconds) + Double((ContinuousClock.now - started).components.attoseconds) / 1e18
        logger.notice("state sync: restored", metadata: ["height": "\(best)", "entries": "\(entries.count)", "auditEntries": "\(leaves.count)",
                                                         "seconds": "\(String(format: "%.1f", seconds))"])
        return best
    }

    struct SnapshotList: Codable { let snapshots: [SnapshotService.Offer] }

    /// Tries `body` on each server not dropped, in order, until one succeeds.
    func fromAny<T: Sendable>(_ servers: [Server], _ what: String, _ body: @Sendable (Server) async throws -> T) async throws -> T {
        var errors: [String] = []
        for s in servers where !s.dropped {
            do { return try await body(s) } catch {
                errors.append("\(s.base.absoluteString): \(error)")
                logger.warning("state sync: a server failed; asking the next", metadata: ["what": "\(what)", "server": "\(s.base.absoluteString)", "error": "\(error)"])
            }
        }
        throw Failure(message: "state sync: no server gave \(what): \(errors.joined(separator: "; "))")
    }

    /// One GET, signed with this node's key when `signed` (the audience is the server's node key,
    /// from its open status).
    func get(_ s: Server, _ path: String, signed: Bool, maxBytes: Int) async throws -> Data {
        guard let url = URL(string: path, relativeTo: s.base) else { throw Failure(message: "bad path \(path)") }
        var headers: [(String, String)] = []
        if signed {
            if s.audience == nil {
                let data = try await get(s, "/v1/status", signed: false, maxBytes: 1 << 20)
                guard let status = try? JSONSerialization.jsonObject(with: data) as? [String: Any], status["chainID"] as? String == chainID,
                      let nodeKey = status["nodeKey"] as? String else {
                    throw Failure(message: "\(s.base.absoluteString) is not a node of chain \(chainID)")
                }
                s.audience = nodeKey
            }
            for h in try SignedRequests.headers(method: "GET", targetURI: url.absoluteString, body: [], chainID: chainID, audience: s.audience!,
                                                key: key, created: Int64(Date().timeIntervalSince1970)) {
                headers.append((h.name, h.value))
            }
        }
        let (status, data) = try await peers.send("GET", url, headers: headers, timeoutSeconds: timeout, maxBytes: maxBytes)
        guard status == 200 else { throw Failure(message: "HTTP \(status): \(String(decoding: data.prefix(300), as: UTF8.self))") }
        return data
    }
}
