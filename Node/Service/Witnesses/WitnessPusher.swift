import Foundation
import ServiceLifecycle
public import Logging
import Synchronization
public import MeridianCore
public import MeridianTransparency
public import MeridianStorage
public import MeridianModules

/// A witness this node sends the audit log's checkpoints to (`node.json` `witnesses`): its
/// tlog-witness URL (the prefix before `/add-checkpoint`) and its cosigner key in vkey form.
public struct WitnessEndpoint: Codable, Sendable, Hashable {
    public var url: String
    public var vkey: String
    public init(url: String, vkey: String) { self.url = url; self.vkey = vkey }
}

/// How the pusher reaches a witness: HTTP (`PeerHTTP`) in a node, a function in tests.
public protocol WitnessTransport: Sendable {
    /// POSTs a tlog-witness `add-checkpoint` body; returns the status and the body of the answer.
    func addCheckpoint(_ body: [UInt8], to url: String) async throws -> (status: Int, body: [UInt8])
}

extension PeerHTTP: WitnessTransport {
    public func addCheckpoint(_ body: [UInt8], to url: String) async throws -> (status: Int, body: [UInt8]) {
        guard let base = URL(string: url), base.host != nil else { throw NodeError("witness.url", "'\(url)' is not a URL") }
        let (status, data) = try await send("POST", base.appendingPathComponent("add-checkpoint"), headers: [("Content-Type", "text/plain")],
                                            body: body, timeoutSeconds: 10, maxBytes: 64 << 10)
        return (status, [UInt8](data))
    }
}

/// Sends the audit log's checkpoint after each block to the witnesses (c2sp.org/tlog-witness), each
/// with a consistency proof from the size that witness last cosigned (learnt from its 409 answer
/// when unknown), and keeps the cosignature each answers once it verifies against the witness's key,
/// so that the node serves the collected cosignatures beside the checkpoint. A witness that is down,
/// slow or refusing never holds the chain: pushes run beside it and a failure is logged.
public final class WitnessPusher: Sendable {
    struct Witness: Sendable { let url: String; let key: CosignerKey }
    struct Progress: Sendable {
        /// The size this witness last cosigned (nil: not known yet).
        var size: UInt64?
        /// Its cosignatures of the last `WitnessPusher.kept` checkpoints pushed, by checkpoint text.
        var cosigned: [String: NoteSignature] = [:]
    }

    let witnesses: [Witness]
    private let store: BlockStore
    private let transport: any WitnessTransport
    private let logger: Logger
    private let progress: Mutex<[String: Progress]>
    /// The witnesses registered on chain (`Witnesses`, by genesis or governance), read before each
    /// push: a configured witness whose key is not among them is neither pushed to nor served, so
    /// node.json says only where the chain's witnesses are, never who they are. Nil: every
    /// configured witness (tests of the protocol alone).
    private let registered: (@Sendable () throws -> [WitnessRegistration])?
    /// The URLs of the configured witnesses registered at the last push.
    private let current: Mutex<Set<String>>
    /// The last checkpoints pushed, newest last (their cosignatures are kept while they are here).
    private let pushed: Mutex<[SignedNote]>
    static let kept = 32

    /// Refuses a witness whose key does not parse, naming it.
    public init(witnesses: [WitnessEndpoint], store: BlockStore, transport: any WitnessTransport, logger: Logger,
                registered: (@Sendable () throws -> [WitnessRegistration])? = nil) throws(NodeError) {
        var parsed: [Witness] = []
        for w in witnesses {
            do { parsed.append(Witness(url: w.url, key: try CosignerKey(parsing: w.vkey))) }
            catch { throw NodeError("config.witnesses", "\(w.url): the witness key does not parse (\(error))") }
        }
        self.witnesses = parsed
        self.store = store
        self.transport = transport
        self.logger = logger
        self.registered = registered
        current = Mutex(registered == nil ? Set(parsed.map(\.url)) : [])
        pushed = Mutex([])
        progress = Mutex(Dictionary(parsed.map { ($0.url, Progress()) }, uniquingKeysWith: { a, _ in a }))
    }

    /// The checkpoint of the stored head, signed by its commit (nil before the first block).
    func headCheckpoint() throws -> SignedNote? {
        let head = try store.headHeight()
        guard head > 0, let block = try store.block(at: head), let commit = try store.commit(at: head), let genesis = try store.genesisHeader() else { return nil }
        return ChainCheckpoint(header: block.header, commit: commit).note(genesis: genesis.hash)
    }

    /// Pushes the head's checkpoint to every witness at once; returns when all have answered.
    public func pushHead() async {
        let note: SignedNote
        do {
            guard let n = try headCheckpoint() else { return }
            note = n
        } catch {
            logger.warning("witnesses: the head's checkpoint could not be read", metadata: ["error": "\(error)"])
            return
        }
        let targets = registeredWitnesses()
        let forgotten: [String] = pushed.withLock { list in
            // The same checkpoint under a later commit (a block without audit entries): the newer one.
            if list.last?.text == note.text { list[list.count - 1] = note; return [] }
            list.append(note)
            guard list.count > Self.kept else { return [] }
            let n = list.count - Self.kept
            let gone = list.prefix(n).map(\.text)
            list.removeFirst(n)
            return gone
        }
        if !forgotten.isEmpty {
            progress.withLock { p in for url in p.keys { for t in forgotten { p[url]?.cosigned[t] = nil } } }
        }
        await withTaskGroup(of: Void.self) { group in
            for w in targets { group.addTask { await self.push(note, to: w) } }
        }
    }

    /// The configured witnesses whose name and key the chain has registered (all without `registered`).
    func registeredWitnesses() -> [Witness] {
        guard let registered else { return witnesses }
        let onChain: [WitnessRegistration]
        do { onChain = try registered() } catch {
            logger.warning("witnesses: the registered witnesses could not be read", metadata: ["error": "\(error)"])
            return []
        }
        let targets = witnesses.filter { w in onChain.contains { $0.name == w.key.name && $0.publicKey.bytes == w.key.publicKey } }
        let urls = Set(targets.map(\.url))
        let before = current.withLock { c in defer { c = urls }; return c }
        for w in witnesses where !urls.contains(w.url) && (before.contains(w.url) || before.isEmpty) {
            logger.notice("witness in node.json is not registered on chain: not pushed to, its cosignatures not served", metadata: ["witness": "\(w.url)", "key": "\(w.key.name)"])
        }
        return targets
    }

    /// One witness: at most two requests (the second after a 409 names the size it holds).
    func push(_ note: SignedNote, to witness: Witness) async {
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint(parsing: note.text) } catch { return }
        var old = progress.withLock { $0[witness.url]?.size } ?? 0
        for _ in 0..<2 {
            if progress.withLock({ $0[witness.url]?.cosigned[note.text] }) != nil { return }   // already cosigned
            guard old <= checkpoint.size else {
                logger.notice("witness holds a larger log than this node's head", metadata: ["witness": "\(witness.url)", "size": "\(old)"])
                return
            }
            let proof: [Bytes32]
            do { proof = old == 0 || old == checkpoint.size ? [] : try store.auditLog.tree(size: checkpoint.size).consistencyProof(oldSize: old) }
            catch {
                logger.warning("witnesses: no consistency proof", metadata: ["from": "\(old)", "to": "\(checkpoint.size)", "error": "\(error)"])
                return
            }
            let answer: (status: Int, body: [UInt8])
            do { answer = try await transport.addCheckpoint(AddCheckpointRequest(oldSize: old, proof: proof, checkpoint: note.bytes).body, to: witness.url) }
            catch {
                logger.notice("witness unreachable", metadata: ["witness": "\(witness.url)", "error": "\(error)"])
                return
            }
            switch answer.status {
            case 200:
                guard let signature = Self.cosignature(answer.body, on: note, by: witness.key) else {
                    logger.warning("witness answered with a cosignature that does not verify", metadata: ["witness": "\(witness.url)"])
                    return
                }
                progress.withLock { p in
                    p[witness.url, default: Progress()].size = checkpoint.size
                    p[witness.url, default: Progress()].cosigned[note.text] = signature
                }
                return
            case 409:
                guard let size = UInt64(String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
                progress.withLock { $0[witness.url, default: Progress()].size = size }
                old = size
            default:
                logger.notice("witness refused the checkpoint", metadata: ["witness": "\(witness.url)", "status": "\(answer.status)",
                                                                          "reason": "\(String(decoding: answer.body.prefix(300), as: UTF8.self))"])
                return
            }
        }
    }

    /// The witness's cosignature line in `body`, if it verifies on `note` with `key`.
    static func cosignature(_ body: [UInt8], on note: SignedNote, by key: CosignerKey) -> NoteSignature? {
        do {
            let cosigned = try SignedNote(parsing: note.bytes + body)
            guard try cosigned.cosigners(among: [key]).count == 1 else { return nil }
            return cosigned.signatures.first { $0.name == key.name && $0.keyID == key.keyID }
        } catch { return nil }
    }

    /// The cosignatures collected for a checkpoint with this text (same origin, size and root).
    public func cosignatures(for text: String) -> [NoteSignature] {
        let urls = current.withLock { $0 }
        return progress.withLock { p in witnesses.filter { urls.contains($0.url) }.compactMap { w in p[w.url]?.cosigned[text] } }
    }

    /// The newest checkpoint pushed that at least `minimum` registered witnesses cosigned, with their
    /// cosignatures: what a client verifying against a witness policy asks for, since the head's
    /// checkpoint is cosigned only once the witnesses have answered its push.
    public func latestWitnessed(minimum: Int) -> SignedNote? {
        for note in pushed.withLock({ $0 }).reversed() {
            let cosignatures = cosignatures(for: note.text)
            if cosignatures.count >= max(1, minimum) { return note.adding(cosignatures) }
        }
        return nil
    }
}

/// Pushes each new head's checkpoint to the witnesses, until shutdown (a node with `witnesses` in
/// `node.json`). One push at a time: a slow witness delays only the next push, never the chain.
struct WitnessPushService: Service {
    let pusher: WitnessPusher
    let store: BlockStore
    let interval: Duration

    func run() async throws {
        var pushed: UInt64 = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let head: UInt64
            do { head = try store.headHeight() } catch { head = pushed }   // the chain's own failure policy reports it
            if head > pushed {
                await pusher.pushHead()
                pushed = head
            } else {
                do { try await Task.sleep(for: interval) } catch { break }   // cancelled: shutting down
            }
        }
    }
}
