import Foundation
import Hummingbird
import NIOCore
import MeridianCore
import MeridianModules
import MeridianRecords
import MeridianRecordMessages
import MeridianSummary

/// The record-body endpoints: a custodian's providers upload bodies, hospitals' nodes transfer them
/// and carry out erasures, and clinicians get summaries in their language. Present when the node
/// holds a worker key (its identity to other nodes).
extension NodeAPI {
    func recordRoutes() -> [Route] {
        guard let records else { return [] }
        return [
            .signed(.post, "v1/records", .provider) { request, _, caller in
                // A provider of this hospital uploads a body (signed request); the node encrypts and
                // keeps it and answers the commitment the provider then registers on chain.
                let raw = try await body(request)
                let uploader = caller.key
                let stored: RecordStore.Stored
                do { stored = try records.upload(raw, by: uploader) } catch let e as RecordService.Failure { throw Self.apiError(e) }
                struct U: Encodable { let commitment: String; let bytes: Int }
                return try json(U(commitment: stored.commitment.hex, bytes: raw.count), status: .created)
            },
            .signed(.get, "v1/records/:commitment/custody", .operators) { _, context, _ in
                let c = try hash(context.parameters.require("commitment"), "commitment")
                do { return try json(try records.custody(of: c)) } catch let e as RecordService.Failure { throw Self.apiError(e) }
            },
            .signed(.post, "v1/records/:commitment/transfer", .hospitalNode) { request, context, caller in
                // A hospital's node asks for a body the chain has allowed it (signed request and signed
                // message, by the same worker key); served only as the chain decided.
                let c = try hash(context.parameters.require("commitment"), "commitment")
                let m: TransferRequest = try Self.canonical(try await body(request), "transfer request")
                guard m.node == caller.key else { throw Self.forbidden("the transfer request is signed by another node than the request") }
                guard m.record == c else { throw APIError.badRequest("records.path_mismatch", "the request names another record than the path") }
                do { return Self.canonicalResponse(try await records.serveTransfer(m)) } catch let e as RecordService.Failure { throw Self.apiError(e) }
            },
            .signed(.post, "v1/records/:commitment/erasure-notice", .hospitalNode) { request, context, caller in
                // The custodian's node tells this node to erase (signed request and signed notice, one key).
                let c = try hash(context.parameters.require("commitment"), "commitment")
                let m: ErasureNotice = try Self.canonical(try await body(request), "erasure notice")
                guard m.custodianNode == caller.key else { throw Self.forbidden("the notice is signed by another node than the request") }
                guard m.record == c else { throw APIError.badRequest("records.path_mismatch", "the notice names another record than the path") }
                do { return Self.canonicalResponse(try await records.receiveNotice(m)) } catch let e as RecordService.Failure { throw Self.apiError(e) }
            },
            .signed(.get, "v1/records/:commitment/served", .auditReader) { _, context, caller in
                // Each summary served of the record (its anchored leaf: record, language, hashes, to
                // whom; no content) with its inclusion proof once anchored: to the record's patient,
                // hospital operators, and regulators of the custodian's country.
                let c = try hash(context.parameters.require("commitment"), "commitment")
                if caller.operatorOrganization == nil {
                    guard let rec = try Sharing.record(c, in: query.reader),
                          rec.patient == caller.key || mayReadRecordEntry(custodian: rec.custodian, as: caller) else {
                        throw Self.forbidden("not a record you may read")
                    }
                }
                let leaves: [TranslationLeaf]
                do { leaves = try records.store.served(c) } catch let e as RecordStore.RecordError { throw Self.apiError(RecordService.failure(e)) }
                struct P: Encodable {
                    let leaf: String; let language: String; let terminology: String; let output: String; let servedTo: String; let time: String
                    let anchored: Bool; let root: String?; let index: Int?; let treeSize: Int?; let path: [String]?
                }
                return try json(try leaves.map { l in
                    let bytes = l.canonicalBytes
                    let i = try anchors?.inclusion(of: MerkleTree.leafHash(bytes))
                    return P(leaf: Hex.encode(bytes), language: l.language, terminology: l.terminology.hex, output: l.output.hex, servedTo: l.servedTo.value,
                             time: l.time.iso8601, anchored: i != nil, root: i?.root.hex, index: i?.index, treeSize: i?.treeSize, path: i?.path.map(\.hex))
                })
            },
            .signed(.post, "v1/summaries", .provider) { request, _, caller in
                // A clinician of this hospital asks for a summary in their language (a signed request
                // carrying a signed SummaryRequest that names its access decided on chain). The
                // answer: the FHIR Bundle served, its coverage and its anchor leaf.
                let m: SummaryRequest = try Self.canonical(try await body(request), "summary request")
                guard m.requester == caller.key else { throw Self.forbidden("the summary request is signed by another key than the request") }
                let s: RecordService.ServedSummary
                do { s = try await records.summary(m) } catch let e as RecordService.Failure { throw Self.apiError(e) }
                struct C: Encodable { let translated: Int; let codes: Int; let untranslatedFreeText: Int; let percent: Double }
                struct S: Encodable {
                    let record: String; let custodian: String; let language: String; let terminology: String; let catalogue: String
                    let output: String; let leaf: String; let coverage: C?; let bundle: String
                }
                return try json(S(record: m.record.hex, custodian: s.custodian.value, language: s.leaf.language, terminology: s.leaf.terminology.hex,
                                  catalogue: SummaryCatalogue.shipped.version.hex, output: s.leaf.output.hex, leaf: Hex.encode(s.leaf.canonicalBytes),
                                  coverage: s.coverage.map { C(translated: $0.translated, codes: $0.codes, untranslatedFreeText: $0.untranslatedFreeText,
                                                              percent: (($0.fraction * 1000).rounded()) / 10) },
                                  bundle: String(decoding: s.output, as: UTF8.self)))
            },
        ]
    }

    static func canonical<T: Canonical>(_ raw: [UInt8], _ what: String) throws -> T {
        do { return try T(canonicalBytes: raw) } catch { throw APIError.badRequest("records.malformed", "the \(what) does not decode: \(error)") }
    }

    static func canonicalResponse(_ value: some Canonical) -> Response {
        Response(status: .ok, headers: [.contentType: RecordMessages.contentType], body: .init(byteBuffer: ByteBuffer(bytes: value.canonicalBytes)))
    }

    static func apiError(_ error: RecordService.Failure) -> APIError {
        let status: HTTPResponse.Status = switch error.kind {
        case .badRequest: .badRequest
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .gone: .gone
        case .conflict: .conflict
        case .upstream: .badGateway
        case .unavailable: .serviceUnavailable
        }
        return APIError(status, error.code, error.message)
    }
}
