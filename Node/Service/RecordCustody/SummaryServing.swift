import Foundation
public import MeridianCore
public import MeridianModules
import MeridianStorage
public import MeridianRecords
public import MeridianRecordMessages
public import MeridianSummary

/// A patient summary served to one of this node's clinicians: fetched (see `fetch`), checked,
/// translated by code into the clinician's language, and anchored. The anchored leaf names the
/// record, the language, the terminology file's hash and the hash of the exact bytes served, so a
/// regulator can prove which terminology version produced what the clinician read.
extension RecordService {
    public struct ServedSummary: Sendable {
        /// The FHIR Bundle as served (translated, or as stored when no language was asked).
        public let output: [UInt8]
        public let coverage: SummaryTranslator.Coverage?
        public let leaf: TranslationLeaf
        public let custodian: OrganizationID
    }

    /// The empty terminology used when the node has none: every ICD-10 name falls back to English, marked.
    static let noTerminology = TerminologyIndex(Terminology(system: "http://hl7.org/fhir/sid/icd-10", languages: [], entries: []))
    public var terminologyVersion: Bytes32 { (terminology ?? Self.noTerminology).terminology.version }

    public func summary(_ request: SummaryRequest) async throws(Failure) -> ServedSummary {
        guard request.chainID == chain.chainID else { throw Failure(.badRequest, "records.wrong_chain", "the request is for chain '\(request.chainID)'") }
        guard request.isSigned else { throw Failure(.forbidden, "records.bad_signature", "the summary request's signature does not verify") }
        guard RecordMessages.isFresh(request.time, now: now) else { throw Failure(.forbidden, "records.stale", "the request's time is more than 5 minutes from this node's clock") }
        let org = try requireOwnProvider(request.requester)
        try requireAllowedAccess(request)
        guard let rec = (try? Sharing.record(request.record, in: query.reader)) ?? nil else {
            throw Failure(.notFound, "records.unknown", "no record \(request.record.hex) on chain")
        }
        let body = try await fetch(request.record, for: request.requester, purpose: request.purpose, breakGlass: request.breakGlass)
        let output: [UInt8]
        var coverage: SummaryTranslator.Coverage?
        // The language as BCP 47 (`ja`, `ja-JP`; a POSIX `ja_JP` is read as `ja-JP`).
        var language = ""
        if !request.language.isEmpty {
            guard let tag = LanguageTag.canonical(request.language) else {
                throw Failure(.badRequest, "records.language", "'\(request.language)' is not a language tag (BCP 47 such as ja or ja-JP, or POSIX such as ja_JP)")
            }
            language = tag
        }
        if language.isEmpty {
            output = body
        } else {
            guard let bundle = try? JSONValue(parsing: body), bundle["resourceType"]?.string == "Bundle" else {
                throw Failure(.badRequest, "records.not_a_summary", "the record is not a FHIR Bundle, so it cannot be translated (ask without a language)")
            }
            do {
                let translated = try SummaryTranslator.translate(bundle, to: language, terminology: terminology ?? Self.noTerminology, catalogue: .shipped)
                output = try IPSWriter.json(translated.bundle)
                coverage = translated.coverage
            } catch {
                throw Failure(.badRequest, "records.translation", "\(error)")
            }
        }
        let leaf = TranslationLeaf(record: request.record, language: language.isEmpty ? "original" : language,
                                   terminology: terminologyVersion, output: SHA256.hash(output), servedTo: org, time: now)
        try anchorServed(leaf)
        return ServedSummary(output: output, coverage: coverage, leaf: leaf, custodian: rec.custodian)
    }

    /// The request rests on the clinician's own committed, allowed, recent access request for this
    /// record, purpose and break-glass flag: every summary served has its decision on the trail.
    func requireAllowedAccess(_ request: SummaryRequest) throws(Failure) {
        func refuse(_ why: String) -> Failure { Failure(.forbidden, "records.no_access", "access transaction \(request.access.hex.prefix(16))…: \(why)") }
        guard let loc = try? query.store.location(ofTransaction: request.access), let block = try? query.store.block(at: loc.height),
              Int(loc.index) < block.transactions.count, let receipts = try? query.store.receipts(at: loc.height), Int(loc.index) < receipts.count else {
            throw refuse("not committed on this node's chain")
        }
        let tx = block.transactions[Int(loc.index)].transaction
        guard tx.signer == request.requester else { throw refuse("signed by someone else") }
        guard case .requestAccess(let call) = tx.call, call.record == request.record, call.purpose == request.purpose, call.breakGlass == request.breakGlass else {
            throw refuse("not an access request for this record, purpose and break-glass flag")
        }
        guard receipts[Int(loc.index)].decision?.allowed == true else { throw refuse("the chain denied it") }
        guard block.header.time.unixMilliseconds + SummaryRequest.maxAccessAgeMilliseconds >= now.unixMilliseconds else {
            throw refuse("older than \(SummaryRequest.maxAccessAgeMilliseconds / 60_000) minutes; request access again")
        }
    }

    /// Stores the served leaf and queues it for anchoring, in one synced write.
    func anchorServed(_ leaf: TranslationLeaf) throws(Failure) {
        do {
            try servedWrites.withLock { _ throws(RocksDBError) in
                let wb = RocksDB.WriteBatch(for: store.database)
                store.recordServed(leaf, in: wb)
                anchors?.enqueue(.translations, leaves: [(leaf.canonicalBytes, leaf.time)], in: wb)
                try store.database.write(wb, sync: true)
            }
        } catch { throw Failure(.unavailable, "records.storage", "\(error)") }
    }
}
