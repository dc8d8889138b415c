import Foundation
public import Hummingbird
import NIOCore
import MeridianCore
import MeridianStorage
import MeridianTransparency
import MeridianModules

/// The audit log's tree (`AuditLog`, issue 23) as anyone may read it: its size and root at the
/// latest block, inclusion and consistency proofs, and c2sp.org/tlog-tiles resources (hash tiles
/// and entry bundles). Open by design: a leaf is an entry's hash, a commitment that names no one,
/// and each answer is a bounded number of point reads (a tile: 256; a proof: about two per level).
extension NodeAPI {
    func auditLogRoutes() -> [Route] {
        [
            .open(.get, "v1/audit-log", "the audit log's size and root at the latest block") { _, _ in
                let head = try current()
                struct Status: Encodable { let height: UInt64; let size: UInt64; let root: String }
                return try json(Status(height: head.height, size: head.size, root: head.root.hex))
            },
            .open(.get, "v1/audit-log/checkpoint", "the audit log's checkpoint after the latest block, signed by its commit; ?witnessed=K: the newest one K registered witnesses cosigned") { request, _ in
                try checkpointNote(queryDictionary(request))
            },
            .open(.get, "v1/witnesses", "the data-protection authorities' witnesses of the audit log registered on chain, with their vkeys") { _, _ in
                try witnesses()
            },
            .open(.get, "v1/audit-log/proof/inclusion", "an entry hash's inclusion proof in the audit log") { request, _ in
                try inclusion(queryDictionary(request))
            },
            .open(.get, "v1/audit-log/proof/consistency", "a consistency proof between two sizes of the audit log") { request, _ in
                try consistency(queryDictionary(request))
            },
            .open(.get, "v1/audit-log/tile/**", "the audit log's tiles and entry bundles (tlog-tiles)") { _, context in
                try tile(context.parameters.getCatchAll())
            },
        ]
    }

    /// The log at the latest committed block.
    func current() throws -> (height: UInt64, size: UInt64, root: Bytes32) {
        let store = query.store
        let head = try store.headHeight()
        guard let header = try store.header(at: head) else { throw APIError(.serviceUnavailable, "chain.no_head", "no committed header") }
        return (head, header.auditLogSize, header.auditLogRoot)
    }

    /// The checkpoint of the latest block as a signed note (`ChainCheckpoint`): mutable, so it is
    /// not to be cached beyond a few seconds (tlog-tiles).
    func checkpointNote(_ params: [String: String] = [:]) throws -> Response {
        if let text = params["witnessed"] {
            guard let k = Int(text), (1...WitnessPolicy.maxEntries).contains(k) else {
                throw APIError.badRequest("parameter.invalid", "witnessed: the number of cosignatures wanted, 1 to \(WitnessPolicy.maxEntries)")
            }
            guard let note = services.witnesses?.latestWitnessed(minimum: k) else {
                throw APIError(.notFound, "auditlog.not_witnessed", services.witnesses == nil
                               ? "this node pushes to no witness (node.json has no \"witnesses\")"
                               : "none of this node's recent checkpoints has \(k) cosignature(s) of registered witnesses yet")
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "public, max-age=2"],
                            body: .init(byteBuffer: ByteBuffer(bytes: note.bytes)))
        }
        let store = query.store
        let head = try store.headHeight()
        guard head > 0, let block = try store.block(at: head), let commit = try store.commit(at: head), let genesis = try store.genesisHeader() else {
            throw APIError(.notFound, "auditlog.no_checkpoint", "no block has been committed yet")
        }
        var note = ChainCheckpoint(header: block.header, commit: commit).note(genesis: genesis.hash)
        // The witnesses' cosignatures of this checkpoint (same size and root), as they arrive.
        if let witnesses = services.witnesses { note = note.adding(witnesses.cosignatures(for: note.text)) }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "public, max-age=2"],
                        body: .init(byteBuffer: ByteBuffer(bytes: note.bytes)))
    }

    /// The witnesses on chain, each with the vkey a tlog-policy names it by.
    func witnesses() throws -> Response {
        struct W: Encodable { let organization: String; let country: String?; let name: String; let publicKey: String; let vkey: String }
        var out: [W] = []
        for w in try Witnesses.all(in: query.reader) {
            let vkey: String
            do { vkey = try CosignerKey(name: w.name, publicKey: w.publicKey.bytes).encoded }
            catch { throw APIError(.internalServerError, "witness.bad_key", "\(w.organization)'s registered key is not an Ed25519 key: \(error)") }
            let org = try Identity.organization(w.organization, in: query.reader)
            out.append(W(organization: w.organization.value, country: org?.country.code, name: w.name, publicKey: w.publicKey.hex, vkey: vkey))
        }
        return try json(out)
    }

    func sizeParameter(_ text: String?, _ field: String, current: UInt64) throws -> UInt64 {
        guard let text else { return current }
        guard let v = UInt64(text), v <= current else {
            throw APIError.badRequest("parameter.invalid", "\(field): expected an integer between 0 and the log's size \(current)")
        }
        return v
    }

    func inclusion(_ params: [String: String]) throws -> Response {
        let head = try current()
        let size = try sizeParameter(params["size"], "size", current: head.size)
        let log = query.store.auditLog
        let index: UInt64
        if let text = params["hash"] {
            guard params["index"] == nil else { throw APIError.badRequest("parameter.invalid", "give index or hash, not both") }
            guard let h = Bytes32(hex: text) else { throw APIError.badRequest("parameter.invalid", "hash: 64 hex digits, an audit entry's hash") }
            guard let at = try log.index(ofEntryHash: h), at < size else {
                throw APIError(.notFound, "auditlog.not_included", "no entry with hash \(h.hex.prefix(16))… in the log of size \(size)")
            }
            index = at
        } else {
            guard let text = params["index"], let i = UInt64(text), i < size else {
                throw APIError.badRequest("parameter.invalid", "index: expected an integer below the size \(size)")
            }
            index = i
        }
        guard let entry = try log.entryHash(index: index) else { throw APIError(.internalServerError, "auditlog.missing", "entry \(index) is not stored") }
        let tree = log.tree(size: size)
        struct Proof: Encodable { let index: UInt64; let size: UInt64; let root: String; let entryHash: String; let proof: [String] }
        return try json(Proof(index: index, size: size, root: try tree.root().hex, entryHash: entry.hex, proof: try tree.inclusionProof(index: index).map(\.hex)))
    }

    func consistency(_ params: [String: String]) throws -> Response {
        let head = try current()
        let size = try sizeParameter(params["size"], "size", current: head.size)
        guard params["old"] != nil else { throw APIError.badRequest("parameter.missing", "old: the smaller size is required") }
        let old = try sizeParameter(params["old"], "old", current: size)
        let log = query.store.auditLog
        struct Proof: Encodable { let old: UInt64; let size: UInt64; let oldRoot: String; let root: String; let proof: [String] }
        return try json(Proof(old: old, size: size, oldRoot: try log.tree(size: old).root().hex, root: try log.tree(size: size).root().hex,
                              proof: try log.tree(size: size).consistencyProof(oldSize: old).map(\.hex)))
    }

    func tile(_ parts: [Substring]) throws -> Response {
        let path: TilePath
        do { path = try TilePath(parsing: "tile/" + parts.joined(separator: "/")) }
        catch { throw APIError.badRequest(error.code, error.message) }
        let head = try current()
        guard let bytes = try query.store.auditLog.resource(path, size: head.size) else {
            throw APIError(.notFound, "tiles.not_found", "\(path.path) is not in the log of size \(head.size)")
        }
        // A tile of a given width never changes, partial or full: cacheable for good.
        return Response(status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: "public, max-age=31536000, immutable"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
