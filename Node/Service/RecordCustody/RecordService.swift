import Foundation
import MeridianRequestAuth
public import Logging
public import Prometheus
import Synchronization
public import MeridianCore
public import MeridianModules
public import MeridianRuntime
import MeridianStorage
public import MeridianRecords
public import MeridianRecordMessages
public import MeridianSummary
public import MeridianWorkers

/// Record bodies at this node: the custodian's store, transfers between hospitals' nodes, erasure,
/// and summaries translated and anchored for this node's clinicians.
///
/// The chain decides; this service only carries out. A transfer is answered only after the
/// custodian's share transaction (its decision on the patient's audit trail) is committed, with
/// the body sealed under the record key whose envelope that share addresses to the requesting
/// node; the requesting node opens it with its own key from its own copy of the chain and checks
/// the body against the on-chain commitment before storing or serving anything.
public final class RecordService: Sendable {
    public let store: RecordStore
    let chain: ChainService
    let query: QueryService
    /// This node's key: a worker-role member of its organisation on chain.
    let nodeKey: PrivateKey
    let directory: [OrganizationID: URL]
    /// The keys of the peers' nodes, learnt from their status and checked against the chain.
    let peerKeys = Mutex<[URL: String]>([:])
    let terminology: TerminologyIndex?
    let anchors: AnchorStore?
    let submitter: @Sendable (Call) async -> Bytes32?
    let config: RecordsConfig
    let logger: Logger
    let registry: PrometheusCollectorRegistry
    /// The HTTP(S) client for other nodes.
    let peers: PeerHTTP
    let counters = Mutex<[String: Int]>([:])
    /// Serialises the writes that queue served summaries for anchoring (their counters are taken in order).
    let servedWrites = Mutex<Void>(())

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public enum Kind: Sendable { case badRequest, forbidden, notFound, gone, conflict, upstream, unavailable }
        public let kind: Kind
        public let code: String
        public let message: String
        /// The chain's decision, when the failure is a denial.
        public let decision: AccessDecision?
        init(_ kind: Kind, _ code: String, _ message: String, decision: AccessDecision? = nil) {
            self.kind = kind; self.code = code; self.message = message; self.decision = decision
        }
        public var description: String { "\(code): \(message)" }
    }

    public init(store: RecordStore, chain: ChainService, nodeKey: PrivateKey, config: RecordsConfig, terminology: TerminologyIndex?,
                anchors: AnchorStore?, logger: Logger, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                peers: PeerHTTP = PeerHTTP(), submit: @escaping @Sendable (Call) async -> Bytes32?) {
        self.registry = registry
        self.peers = peers
        self.store = store; self.chain = chain; self.query = chain.query; self.nodeKey = nodeKey; self.config = config
        self.terminology = terminology; self.anchors = anchors; self.logger = logger; self.submitter = submit
        var dir: [OrganizationID: URL] = [:]
        for (org, url) in config.nodes { if let o = OrganizationID(org), let u = URL(string: url) { dir[o] = u } }
        directory = dir
    }

    /// The RocksDB column families of the record store.
    public static let columns = RecordStore.columns

    /// Counts of what the service refused or failed, by code (also the Prometheus series
    /// `meridian_records_refused_total{reason}`: a body that does not match its commitment is
    /// `transfer.commitment_mismatch`).
    public var failureCounts: [String: Int] { counters.withLock { $0 } }
    func count(_ code: String) {
        counters.withLock { $0[code, default: 0] += 1 }
        registry.makeCounter(name: "meridian_records_refused_total", labels: [("reason", code)],
                             help: "Record transfers, notices and acknowledgements refused or failed, by reason").increment()
    }

    var now: Timestamp { Timestamp(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)) }

    /// This node's organisation, from the committed state.
    public func organization() throws(Failure) -> OrganizationID {
        guard let m = (try? Identity.member(nodeKey.publicKey, in: query.reader)) ?? nil, m.has(.worker) else {
            throw Failure(.unavailable, "records.node_not_registered", "this node's key \(Address(nodeKey.publicKey)) is not a worker-role member on chain")
        }
        return m.organization
    }

    /// The provider of this node's organisation who signed a request, or a refusal.
    func requireOwnProvider(_ key: PublicKey) throws(Failure) -> OrganizationID {
        let org = try organization()
        guard let m = (try? Identity.member(key, in: query.reader)) ?? nil, m.organization == org, m.has(.provider) else {
            throw Failure(.forbidden, "records.not_a_provider_here", "\(Address(key)) is not a provider of \(org.value), which runs this node")
        }
        return org
    }

    // MARK: Custodian: upload

    /// Stores a body a provider of this hospital uploads (encrypted under a fresh key); the provider
    /// then registers the returned commitment on chain. Until then the body is held but unknown.
    public func upload(_ body: [UInt8], by provider: PublicKey) throws(Failure) -> RecordStore.Stored {
        let org = try requireOwnProvider(provider)
        guard !body.isEmpty else { throw Failure(.badRequest, "records.empty", "the record body is empty") }
        do { return try store.store(body, holding: .init(custodian: true, from: org, since: now)) }
        catch { throw Self.failure(error) }
    }

    static func failure(_ e: RecordStore.RecordError) -> Failure {
        switch e {
        case .tooLarge(let n): Failure(.badRequest, "records.too_large", "\(n) bytes exceed the \(RecordStore.maxBodyBytes)-byte limit")
        case .unknown: Failure(.notFound, "records.not_held", "this node holds no body for the record")
        case .erased: Failure(.gone, "records.erased", "the record is erased")
        case .corrupt(let m): Failure(.upstream, "records.corrupt", m)
        case .commitmentMismatch: Failure(.upstream, "records.commitment_mismatch", "the body does not match the commitment registered on chain")
        case .storage(let m): Failure(.unavailable, "records.storage", m)
        }
    }

    // MARK: Custodian: serving a transfer

    /// Answers another hospital's node: checks who asks, lets the chain decide by submitting the
    /// share (audited either way) and waits for it; an allowed share is answered with the sealed
    /// body, a denied one with the denial only.
    public func serveTransfer(_ request: TransferRequest) async throws(Failure) -> TransferPayload {
        guard request.chainID == chain.chainID else { throw Failure(.badRequest, "records.wrong_chain", "the request is for chain '\(request.chainID)'") }
        guard request.isSigned else { count("transfer.bad_signature"); throw Failure(.forbidden, "records.bad_signature", "the transfer request's signature does not verify") }
        guard RecordMessages.isFresh(request.time, now: now) else { throw Failure(.forbidden, "records.stale", "the request's time is more than 5 minutes from this node's clock") }
        guard let node = (try? Identity.member(request.node, in: query.reader)) ?? nil, node.has(.worker) else {
            count("transfer.unknown_node")
            throw Failure(.forbidden, "records.unknown_node", "\(Address(request.node)) is not a registered node (worker-role member)")
        }
        guard let requester = (try? Identity.member(request.requester, in: query.reader)) ?? nil, requester.organization == node.organization else {
            throw Failure(.forbidden, "records.requester_elsewhere", "the requester is not a member of \(node.organization.value), whose node asks")
        }
        let org = try organization()
        guard let rec = (try? Sharing.record(request.record, in: query.reader)) ?? nil else {
            throw Failure(.notFound, "records.unknown", "no record \(request.record.hex) on chain")
        }
        guard rec.custodian == org else { throw Failure(.notFound, "records.not_custodian", "\(org.value) is not the custodian of this record") }
        let secrets: (recordKey: Bytes32, salt: Bytes32)
        let body: [UInt8]
        // An erased record is answered 410 without asking the chain again: the clinician's own access
        // request, denied as erased, is already on the patient's trail.
        guard !rec.erased else { throw Failure(.gone, "records.erased", "the record is erased") }
        do { secrets = try store.secrets(of: request.record); body = try store.body(of: request.record) }
        catch { throw Self.failure(error) }
        let envelope: KeyEnvelope
        do { envelope = try KeyEnvelope.seal(recordKey: secrets.recordKey, for: request.node, context: request.record.bytes) }
        catch { throw Failure(.unavailable, "records.crypto", "\(error)") }
        let (decision, height) = try await share(request, envelope: envelope)
        guard decision.allowed else {
            throw Failure(.forbidden, "records.denied", "the chain denied the transfer: \(decision.reason.code)", decision: decision)
        }
        do { return try TransferPayload.seal(record: request.record, shareHeight: height, salt: secrets.salt, body: body, recordKey: secrets.recordKey) }
        catch { throw Failure(.unavailable, "records.crypto", "\(error)") }
    }

    /// Submits the share (the chain decides and audits it) and waits for its receipt.
    func share(_ request: TransferRequest, envelope: KeyEnvelope) async throws(Failure) -> (AccessDecision, UInt64) {
        let call = Call.shareRecord(.init(record: request.record, recipient: request.requester, purpose: request.purpose,
                                          breakGlass: request.breakGlass, envelope: envelope))
        guard let tx = await submitter(call) else {
            throw Failure(.unavailable, "records.share_not_admitted", "the share transaction was not admitted (mempool full or key not registered)")
        }
        let (receipt, height) = try await waitForReceipt(tx)
        if let e = receipt.error { throw Failure(.forbidden, e.code, e.message) }
        guard let decision = receipt.decision else { throw Failure(.unavailable, "records.no_decision", "the share's receipt carries no decision") }
        return (decision, height)
    }

    func waitForReceipt(_ tx: Bytes32) async throws(Failure) -> (Receipt, UInt64) {
        let deadline = ContinuousClock.now + .seconds(config.transferTimeoutSeconds)
        while ContinuousClock.now < deadline {
            if let loc = try? query.store.location(ofTransaction: tx), let receipts = try? query.store.receipts(at: loc.height), Int(loc.index) < receipts.count {
                return (receipts[Int(loc.index)], loc.height)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        throw Failure(.unavailable, "records.share_timeout", "the share was not committed within \(config.transferTimeoutSeconds) s")
    }

    // MARK: Requesting node: fetching

    /// The body of a record for one of this node's clinicians: read here at the custodian, else
    /// fetched from the custodian's node, opened with this node's key and checked against the
    /// commitment. The copy served is kept, encrypted, as the hospital's record of what its
    /// clinician was shown, until the record is erased; it is never served again without asking
    /// the custodian, because each access needs the chain's decision anew.
    public func fetch(_ record: Bytes32, for requester: PublicKey, purpose: PurposeOfUse, breakGlass: Bool) async throws(Failure) -> [UInt8] {
        let org = try requireOwnProvider(requester)
        guard let rec = (try? Sharing.record(record, in: query.reader)) ?? nil else {
            throw Failure(.notFound, "records.unknown", "no record \(record.hex) on chain")
        }
        if rec.erased {
            throw Failure(.gone, "records.erased", "the record is erased")
        }
        if rec.custodian == org {
            do { return try store.body(of: record) } catch { throw Self.failure(error) }
        }
        guard let base = directory[rec.custodian] else {
            throw Failure(.unavailable, "records.no_route", "this node knows no node of \(rec.custodian.value) (records.nodes in node.json)")
        }
        let request: TransferRequest
        do { request = try TransferRequest(chainID: chain.chainID, record: record, node: nodeKey, requester: requester, purpose: purpose, breakGlass: breakGlass, time: now) }
        catch { throw Failure(.unavailable, "records.crypto", "\(error)") }
        let payload: TransferPayload = try await post(base, "/v1/records/\(record.hex)/transfer", request, to: rec.custodian)
        guard payload.record == record else { count("transfer.wrong_record"); throw Failure(.upstream, "records.wrong_record", "the custodian's node answered for another record") }
        // The share with the key envelope, from this node's own copy of the chain.
        let share = try await waitForShare(record, org: org, atLeast: payload.shareHeight)
        guard share.envelope.recipient == nodeKey.publicKey else {
            throw Failure(.forbidden, "records.not_addressee", "the share's key envelope is addressed to \(Address(share.envelope.recipient)), not this node")
        }
        let recordKey: Bytes32
        do { recordKey = try share.envelope.open(with: nodeKey, context: record.bytes) }
        catch { count("transfer.envelope"); throw Failure(.upstream, "records.envelope", "the share's key envelope does not open with this node's key") }
        let opened: (salt: Bytes32, body: [UInt8])
        do { opened = try payload.open(recordKey: recordKey) }
        catch {
            count(error == .commitmentMismatch ? "transfer.commitment_mismatch" : "transfer.corrupt")
            logger.error("refused a record body from the custodian's node", metadata: [
                "record": "\(record.hex)", "custodian": "\(rec.custodian.value)", "reason": "\(error)"])
            throw Self.failure(error)
        }
        do { try store.storeCopy(opened.body, salt: opened.salt, recordKey: recordKey, commitment: record, holding: .init(custodian: false, from: rec.custodian, since: now)) }
        catch { throw Self.failure(error) }
        return opened.body
    }

    func waitForShare(_ record: Bytes32, org: OrganizationID, atLeast height: UInt64) async throws(Failure) -> ShareEntry {
        let deadline = ContinuousClock.now + .seconds(config.transferTimeoutSeconds)
        while ContinuousClock.now < deadline {
            if let tip = try? query.store.headHeight(), tip >= height, let s = (try? Sharing.share(record, to: org, in: query.reader)) ?? nil {
                return s
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        throw Failure(.unavailable, "records.share_not_seen", "this node has not seen the share at height \(height) within \(config.transferTimeoutSeconds) s")
    }

    struct PeerError: Decodable { let error: I; struct I: Decodable { let code: String; let message: String } }

    struct PeerStatus: Decodable { let chainID: String; let nodeKey: String? }

    /// The key of the node at `base`, which must be a worker (a hospital's node) of `org` on this
    /// node's copy of the chain: the audience this node's signed requests to it name. A node that
    /// answers with another key (a relay, a misconfigured directory) is refused before anything is
    /// signed for it.
    func peerKey(_ base: URL, of org: OrganizationID) async throws(Failure) -> String {
        if let known = peerKeys.withLock({ $0[base] }) { return known }
        guard let url = URL(string: "/v1/status", relativeTo: base) else { throw Failure(.badRequest, "records.bad_url", base.absoluteString) }
        let data: Data
        do { data = try await peers.send("GET", url, timeoutSeconds: config.transferTimeoutSeconds, maxBytes: 64 * 1024).1 }
        catch { throw Failure(.unavailable, "records.peer_unreachable", "no answer from \(base.absoluteString): \(error)") }
        guard let status = try? JSONDecoder().decode(PeerStatus.self, from: data), status.chainID == chain.chainID,
              let text = status.nodeKey, let address = Address(text),
              let member = (try? Identity.member(address.publicKey, in: query.reader)) ?? nil, member.organization == org, member.has(.worker) else {
            throw Failure(.upstream, "records.wrong_peer", "the node at \(base.absoluteString) is not a node of \(org.value) on chain \(chain.chainID)")
        }
        peerKeys.withLock { $0[base] = text }
        return text
    }

    /// POSTs a canonical message to `org`'s node, signed with this node's worker key (RFC 9421,
    /// Meridian's profile: the peer's key as audience, chain id, nonce), and decodes its canonical
    /// answer; an error answer is passed on with its code (a denial stays a denial).
    func post<Reply: Canonical>(_ base: URL, _ path: String, _ message: some Canonical, to org: OrganizationID) async throws(Failure) -> Reply {
        guard let url = URL(string: path, relativeTo: base) else { throw Failure(.badRequest, "records.bad_url", path) }
        let audience = try await peerKey(base, of: org)
        var headers = [("Content-Type", RecordMessages.contentType)]
        do {
            for h in try SignedRequests.headers(method: "POST", targetURI: url.absoluteString, body: message.canonicalBytes, chainID: chain.chainID,
                                                audience: audience, key: nodeKey, created: Int64(Date().timeIntervalSince1970)) {
                headers.append((h.name, h.value))
            }
        } catch { throw Failure(.unavailable, "records.crypto", "\(error)") }
        let status: Int, data: Data
        do {
            (status, data) = try await peers.send("POST", url, headers: headers, body: message.canonicalBytes,
                                                  timeoutSeconds: config.transferTimeoutSeconds + 5, maxBytes: RecordStore.maxBodyBytes + 4096 + 1)
        } catch { throw Failure(.unavailable, "records.peer_unreachable", "no answer from \(base.absoluteString): \(error)") }
        guard status == 200 else {
            let e = try? JSONDecoder().decode(PeerError.self, from: data)
            let kind: Failure.Kind = status == 403 ? .forbidden : status == 404 ? .notFound : status == 410 ? .gone : .upstream
            throw Failure(kind, e?.error.code ?? "records.peer_http_\(status)", "the custodian's node answered: \(e?.error.message ?? "HTTP \(status)")")
        }
        guard data.count <= RecordStore.maxBodyBytes + 4096 else { throw Failure(.upstream, "records.too_large", "the answer is too large") }
        do { return try Reply(canonicalBytes: [UInt8](data)) }
        catch { count("transfer.malformed"); throw Failure(.upstream, "records.malformed", "the answer does not decode: \(error)") }
    }
}
