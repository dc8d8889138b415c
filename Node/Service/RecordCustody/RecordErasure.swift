import Foundation
public import MeridianCore
public import MeridianModules
import MeridianStorage
public import MeridianRecords
public import MeridianRecordMessages

/// Erasure (GDPR Art. 17) carried out: once the chain marks a record erased, every node holding
/// its body deletes body and keys; the custodian's node tells each organisation the record was
/// shared with by a signed notice, which the recipient's node acts on and acknowledges with a
/// signature, kept by the custodian. Each node also acts on the chain by itself (on the committed
/// erasure event, and in a full sweep at start and as a backstop), so a lost notice delays only
/// the acknowledgement, never the deletion.
extension RecordService {
    /// Carries out one record's erasure if the chain says it is erased: deletes body and keys held
    /// here and, as custodian, sends the notices still unacknowledged. Returns whether
    /// acknowledgements are still awaited (the record then stays on the retry list).
    @discardableResult
    public func carryOutErasure(of commitment: Bytes32) async -> Bool {
        // A storage error at any step is not "nothing to do": the erasure is reported as still
        // pending (true), so the sweeper tries it again until the body and its key are gone.
        let holding: RecordStore.Holding?, rec: RecordEntry?, erasedAt: Timestamp?
        do {
            holding = try store.holding(of: commitment)
            rec = try Sharing.record(commitment, in: query.reader)
            erasedAt = holding == nil ? nil : try store.erasedAt(commitment)
        } catch {
            logger.error("cannot read a record's erasure state; retrying", metadata: ["record": "\(commitment.hex)", "error": "\(error)"])
            return true
        }
        guard let holding, let rec, rec.erased else { return false }
        if erasedAt == nil {
            do {
                try store.erase(commitment, at: now)
                logger.notice("erased a record's body and keys", metadata: ["record": "\(commitment.hex)", "as": "\(holding.custodian ? "custodian" : "copy")"])
            } catch { logger.error("cannot erase a record; retrying", metadata: ["record": "\(commitment.hex)", "error": "\(error)"]); return true }
        }
        guard holding.custodian else { return false }
        return await notifyRecipients(of: commitment) > 0
    }

    /// Every record held here, once: at start (erasures committed while the node was down) and
    /// now and then as a backstop for erasure events a busy subscriber dropped. Returns the records
    /// whose acknowledgements are still awaited.
    public func sweepErasures() async -> Set<Bytes32> {
        guard let held = try? store.held() else { return [] }
        var awaiting: Set<Bytes32> = []
        for (commitment, _) in held where await carryOutErasure(of: commitment) { awaiting.insert(commitment) }
        return awaiting
    }

    /// The organisations a record was shared with (allowed shares on chain). Throws when the chain
    /// cannot be read: "no recipients" would wrongly end the erasure's notices.
    func recipients(of commitment: Bytes32) throws -> [OrganizationID] {
        let shares = try query.shares(of: commitment, limit: 10_000)
        return Array(Set(shares.map(\.recipientOrganization))).sorted { $0.value < $1.value }
    }

    /// Sends each recipient without an acknowledgement its notice; returns how many are still awaited.
    /// When the recipients or the acknowledgements cannot be read, at least one is awaited, so
    /// the record stays on the retry list instead of being taken for fully acknowledged.
    func notifyRecipients(of commitment: Bytes32) async -> Int {
        var awaited = 0
        let acks: [OrganizationID: ErasureAcknowledgement], own: OrganizationID, toNotify: [OrganizationID]
        do {
            acks = try store.acknowledgements(of: commitment)
            own = try organization()
            toNotify = try recipients(of: commitment)
        } catch {
            count("erasure.read_failed")
            logger.error("cannot read an erasure's recipients or acknowledgements; retrying", metadata: ["record": "\(commitment.hex)", "error": "\(error)"])
            return 1
        }
        for org in toNotify where acks[org] == nil && org != own {
            guard let base = directory[org] else {
                count("erasure.no_route")
                awaited += 1
                continue
            }
            do {
                let notice = try ErasureNotice(chainID: chain.chainID, record: commitment, custodianNode: nodeKey, time: now)
                let ack: ErasureAcknowledgement = try await post(base, "/v1/records/\(commitment.hex)/erasure-notice", notice, to: org)
                guard ack.isSigned, ack.record == commitment, ack.chainID == chain.chainID,
                      let m = (try? Identity.member(ack.node, in: query.reader)) ?? nil, m.organization == org, m.has(.worker) else {
                    count("erasure.bad_acknowledgement")
                    awaited += 1
                    logger.warning("refused an erasure acknowledgement", metadata: ["record": "\(commitment.hex)", "organization": "\(org.value)"])
                    continue
                }
                try store.recordAcknowledgement(ack, from: org)
                logger.notice("erasure acknowledged", metadata: ["record": "\(commitment.hex)", "organization": "\(org.value)", "deleted": "\(ack.deleted)"])
            } catch {
                count("erasure.notice_failed")   // retried
                awaited += 1
                logger.info("erasure notice not delivered yet", metadata: ["record": "\(commitment.hex)", "organization": "\(org.value)", "error": "\(error)"])
            }
        }
        return awaited
    }

    /// A notice from the custodian's node: checked (signature, sender is a node of the custodian,
    /// the chain says erased, waiting for this node to see that block), acted on, acknowledged.
    public func receiveNotice(_ notice: ErasureNotice) async throws(Failure) -> ErasureAcknowledgement {
        guard notice.chainID == chain.chainID else { throw Failure(.badRequest, "records.wrong_chain", "the notice is for chain '\(notice.chainID)'") }
        guard notice.isSigned else { count("erasure.bad_signature"); throw Failure(.forbidden, "records.bad_signature", "the erasure notice's signature does not verify") }
        guard RecordMessages.isFresh(notice.time, now: now) else { throw Failure(.forbidden, "records.stale", "the notice's time is more than 5 minutes from this node's clock") }
        guard let rec = (try? Sharing.record(notice.record, in: query.reader)) ?? nil else {
            throw Failure(.notFound, "records.unknown", "no record \(notice.record.hex) on chain")
        }
        guard let sender = (try? Identity.member(notice.custodianNode, in: query.reader)) ?? nil, sender.organization == rec.custodian, sender.has(.worker) else {
            throw Failure(.forbidden, "records.not_custodian_node", "the notice is not from a node of \(rec.custodian.value), the record's custodian")
        }
        let deadline = ContinuousClock.now + .seconds(config.transferTimeoutSeconds)
        while ((try? Sharing.record(notice.record, in: query.reader)) ?? nil)?.erased != true {
            guard ContinuousClock.now < deadline else {
                throw Failure(.conflict, "records.not_erased", "the record is not erased on chain at this node's height")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let deleted: Bool
        if let at = (try? store.erasedAt(notice.record)) ?? nil {
            deleted = (try? store.holding(of: notice.record)) ?? nil != nil
            return try acknowledgement(notice.record, deleted: deleted, at: at)
        }
        do { deleted = try store.erase(notice.record, at: now) } catch { throw Self.failure(error) }
        logger.notice("erased a record on the custodian's notice", metadata: ["record": "\(notice.record.hex)", "custodian": "\(rec.custodian.value)"])
        return try acknowledgement(notice.record, deleted: deleted, at: now)
    }

    func acknowledgement(_ record: Bytes32, deleted: Bool, at: Timestamp) throws(Failure) -> ErasureAcknowledgement {
        do { return try ErasureAcknowledgement(chainID: chain.chainID, record: record, node: nodeKey, deleted: deleted, erasedAt: at) }
        catch { throw Failure(.unavailable, "records.crypto", "\(error)") }
    }

    /// What this node holds of a record: the body (or not), since when, erased when, and as
    /// custodian the acknowledgements of its erasure by organisation.
    public struct Custody: Encodable, Sendable {
        public let record: String
        public let held: String
        public let from: String?
        public let since: String?
        public let erasedAt: String?
        public let acknowledgements: [Ack]
        public let awaiting: [String]
        public struct Ack: Encodable, Sendable { let organization: String; let node: String; let deleted: Bool; let erasedAt: String }
    }

    public func custody(of commitment: Bytes32) throws(Failure) -> Custody {
        let holding: RecordStore.Holding?, erased: Timestamp?, acks: [(key: OrganizationID, value: ErasureAcknowledgement)]
        do {
            holding = try store.holding(of: commitment); erased = try store.erasedAt(commitment)
            acks = try store.acknowledgements(of: commitment).sorted { $0.key.value < $1.key.value }
        } catch { throw Self.failure(error) }
        let own = try? organization()
        let awaiting: [String]
        if holding?.custodian == true && erased != nil {
            // An unreadable chain is an error, not "nobody awaited".
            do { awaiting = try recipients(of: commitment).filter { org in org != own && !acks.contains { $0.key == org } }.map(\.value) }
            catch { throw Failure(.unavailable, "records.storage", "the record's shares cannot be read: \(error)") }
        } else { awaiting = [] }
        return Custody(record: commitment.hex,
                       held: holding == nil ? "no" : erased != nil ? "erased" : holding!.custodian ? "custodian" : "copy",
                       from: holding?.from.value, since: holding?.since.iso8601, erasedAt: erased?.iso8601,
                       acknowledgements: acks.map { Custody.Ack(organization: $0.key.value, node: Address($0.value.node).description,
                                                                 deleted: $0.value.deleted, erasedAt: $0.value.erasedAt.iso8601) },
                       awaiting: awaiting)
    }
}
