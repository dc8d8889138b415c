import Foundation
import Hummingbird
import NIOCore
import MeridianCore
import MeridianModules
import MeridianVitals
import MeridianIngest
import MeridianRisk
import MeridianWorkers

/// The vital-signs endpoints of the off-chain workers: device frames and FHIR Observations in,
/// readings, device progress and the latest NEWS2 assessment out. Present when the node runs its
/// workers (`workers.enabled`, the default).
extension NodeAPI {
    func vitalsRoutes() -> [Route] {
        guard let vitals else { return [] }
        let risk = self.risk, feedTokens = self.feedTokens, anchors = self.anchors, assessmentStore = self.assessmentStore
        return [
            .selfAuthenticating(.post, "v1/vitals/frames", "each frame is signed by a device paired with its patient (pairing checked first)") { request, _ in
                let raw = try await body(request)
                let frames: [[UInt8]]
                if request.headers[.contentType]?.hasPrefix("application/x-meridian-frames") == true {
                    guard let split = VitalsIngestor.splitFrames(raw) else {
                        throw APIError.badRequest("vitals.malformed", "frame lengths (u16 big-endian before each frame) do not tile the body")
                    }
                    frames = split
                } else { frames = [raw] }
                guard !frames.isEmpty else { throw APIError.badRequest("vitals.malformed", "no frame in the body") }
                let outcomes = try await vitals.ingest(frames: frames)
                return try Self.outcomeResponse(outcomes)
            },
            .selfAuthenticating(.post, "v1/vitals/batches", "a feed's bearer token (node.json workers.feeds)") { request, _ in
                // Bulk import from a hospital system (e.g. WFDB records converted by `meridian-provider vitals
                // import-wfdb`): canonical reading batches, each preceded by its length (u32 big-endian). The
                // node names the source itself: the authenticated feed, with the sender's message id.
                let feed = try Self.feed(request, feedTokens)
                let raw = try await body(request)
                var batches: [ReadingBatch] = [], i = 0
                while i < raw.count {
                    guard i + 4 <= raw.count else { throw APIError.badRequest("vitals.malformed", "a batch length is cut off at byte \(i)") }
                    let n = Int(raw[i]) << 24 | Int(raw[i + 1]) << 16 | Int(raw[i + 2]) << 8 | Int(raw[i + 3])
                    i += 4
                    guard n > 0, i + n <= raw.count, batches.count < 10_000 else { throw APIError.badRequest("vitals.malformed", "batch \(batches.count): bad length \(n)") }
                    let b: ReadingBatch
                    do { b = try ReadingBatch(canonicalBytes: raw[i..<(i + n)]) }
                    catch { throw APIError.badRequest("vitals.malformed", "batch \(batches.count): \(error)") }
                    guard case .feed(_, let messageID) = b.source, !b.readings.isEmpty else {
                        throw APIError.badRequest("vitals.malformed", "batch \(batches.count): a feed batch with readings (device readings come as signed frames)")
                    }
                    for r in b.readings where !r.sign.hardLimits.contains(r.value) {
                        throw APIError(.unprocessableContent, "vitals.impossible_value", "batch \(batches.count): \(r.sign.name) \(r.value) is outside \(r.sign.hardLimits)")
                    }
                    batches.append(ReadingBatch(patient: b.patient, source: .feed(feed, messageID: messageID), readings: b.readings))
                    i += n
                }
                guard !batches.isEmpty else { throw APIError.badRequest("vitals.malformed", "no batch in the body") }
                return try Self.outcomeResponse(try await vitals.ingest(feedBatches: batches))
            },
            .selfAuthenticating(.post, "v1/vitals/fhir", "a feed's bearer token (node.json workers.feeds)") { request, _ in
                let feed = try Self.feed(request, feedTokens)
                let raw = try await body(request)
                let batches: [ReadingBatch]
                do throws(VitalsError) { batches = try FHIRObservation.batches(parsing: raw, feed: feed) }
                catch { throw APIError(.unprocessableContent, error.code.rawValue, error.reason) }
                return try Self.outcomeResponse(try await vitals.ingest(feedBatches: batches))
            },
            .signed(.get, "v1/vitals/:patient", .patientOrAuthorizedClinician) { request, context, caller in
                let patient = try address(context.parameters.require("patient"), "patient")
                let q = try queryDictionary(request)
                try await permitPatientData(caller, patient: patient, category: .vitalSigns, purpose: purpose(q), evidence: evidence(q))
                let from = try timestamp(q["from"], "from") ?? .zero, to = try timestamp(q["to"], "to") ?? Timestamp(unixMilliseconds: .max)
                let limit = try integer(q["limit"], "limit", default: 100, range: 1...1000)
                struct R: Encodable { let sign: String; let loinc: String?; let value: String; let unit: String; let time: String }
                struct B: Encodable { let source: String; let sequence: UInt64?; let messageID: String?; let readings: [R] }
                let batches = try vitals.store.batches(patient: patient, from: from, to: to, limit: limit)
                return try json(batches.map { b in
                    let (source, sequence, message): (String, UInt64?, String?)
                    switch b.source {
                    case .device(let d, let s): (source, sequence, message) = (Address(d).description, s, nil)
                    case .feed(let f, let m): (source, sequence, message) = (f, nil, m)
                    }
                    return B(source: source, sequence: sequence, messageID: message, readings: b.readings.map {
                        R(sign: $0.sign.name, loinc: $0.sign.loinc, value: $0.value.description, unit: $0.sign.canonicalUnit, time: $0.time.iso8601)
                    })
                })
            },
            .signed(.get, "v1/vitals/:patient/assessment", .patientOrAuthorizedClinician) { request, context, caller in
                let patient = try address(context.parameters.require("patient"), "patient")
                try await permitPatientData(caller, patient: patient, category: .vitalSigns, purpose: purpose(queryDictionary(request)), evidence: evidence(queryDictionary(request)))
                guard let a = risk?.assessment(of: patient) else { throw APIError.notFound("assessment") }
                struct P: Encodable { let parameter: String; let score: Int }
                struct I: Encodable { let parameter: String; let reason: String; let ageSeconds: UInt64? }
                // A NEWS2 total only when every parameter had a current reading; otherwise `news2` is
                // null, `partialTotal` sums what was measured and `incomplete` says what is not.
                struct A: Encodable {
                    let patient: String; let time: String; let news2: Nullable<Int>; let complete: Bool; let partialTotal: Int; let incomplete: [I]
                    let band: String; let contributing: [P]; let missing: [String]; let scoringVersion: String
                    let variables: Int; let features: [String: Double]
                    let modelRisk: Double?; let modelHighRisk: Bool?; let modelHash: String?; let modelMissingInputs: [String]
                }
                // The trend variables that were measured (a variable never measured is left out: JSON has no NaN).
                let features = Dictionary(uniqueKeysWithValues: zip(TrendFeatures.names, a.features).filter { !$0.1.isNaN })
                let incomplete = a.missing.map { p in
                    I(parameter: p.name, reason: a.expired[p] == nil ? "never measured" : "expired", ageSeconds: a.expired[p].map { $0 / 1000 })
                }
                return try json(A(patient: Address(a.patient).description, time: a.time.iso8601, news2: Nullable(a.complete ? a.score.total : nil),
                                  complete: a.complete, partialTotal: a.score.total, incomplete: incomplete, band: a.score.band.name,
                                  contributing: a.score.contributing.map { P(parameter: $0.0.name, score: $0.1) }, missing: a.missing.map(\.name),
                                  scoringVersion: RiskAssessment.scoringVersion, variables: a.features.count, features: features,
                                  modelRisk: a.modelRisk, modelHighRisk: a.modelRisk.map { $0 >= risk?.model?.highRisk ?? 1 },
                                  modelHash: a.modelRisk == nil ? nil : risk?.model?.model.sha256.hex, modelMissingInputs: a.modelMissing))
            },
            .signed(.get, "v1/alerts", .clinician) { request, _, caller in
                // Reached only without a WebSocket upgrade (AlertStream upgrades valid requests first).
                _ = try alertOrganization(queryDictionary(request), for: caller)
                throw APIError(.upgradeRequired, "alerts.upgrade_required", "connect with a WebSocket client (Upgrade: websocket)")
            },
            .signed(.get, "v1/vitals/:patient/alerts", .patientOrAuthorizedClinician) { request, context, caller in
                // The stored alerts of a patient (what was raised, why, for whom), for the hospital's systems.
                let patient = try address(context.parameters.require("patient"), "patient")
                let q = try queryDictionary(request)
                try await permitPatientData(caller, patient: patient, category: .alerts, purpose: purpose(q), evidence: evidence(q))
                let limit = try integer(q["limit"], "limit", default: 100, range: 1...1000)
                let stored = try assessmentStore?.alerts(patient: patient, limit: limit) ?? []
                return try json(stored.map { AlertStream.Message($0) })
            },
            .selfAuthenticating(.put, "v1/vitals/:patient/risk-profile", "a feed's bearer token (node.json workers.feeds)") { request, context in
                // The model's inputs no sensor measures (age, smoking, cholesterol …), from a hospital
                // system (a feed's bearer token). Kept off chain beside the readings; never anchored alone.
                _ = try Self.feed(request, feedTokens)
                let patient = try address(context.parameters.require("patient"), "patient")
                guard let risk, let model = risk.model else { throw APIError(.conflict, "risk.no_model", "this node runs no risk model (workers.model)") }
                let raw = try await body(request)
                guard let values = try? JSONDecoder().decode([String: Double].self, from: Data(raw)) else {
                    throw APIError.badRequest("risk.profile_malformed", "expected a JSON object of numbers keyed by the model's input names: \(model.featureNames.joined(separator: ", "))")
                }
                let profile = RiskProfile(values: values)
                if let problem = model.validate(profile) { throw APIError(.unprocessableContent, "risk.profile_invalid", problem) }
                do { try risk.setProfile(profile, of: patient) } catch { throw APIError(.serviceUnavailable, "storage.unavailable", "\(error)") }
                struct R: Encodable { let patient: String; let stored: Int; let missing: [String] }
                let missing = model.featureNames.filter { values[$0] == nil && CardiovascularModel.vitalFeatures[$0] == nil }
                return try json(R(patient: Address(patient).description, stored: values.count, missing: missing))
            },
            .signed(.get, "v1/vitals/:patient/proofs", .patientOrAuthorizedClinician) { request, context, caller in
                // Each stored result (`kind` readings: the reading batches; assessments: the risk
                // assessments) as canonical bytes with its RFC 9162 inclusion proof in the anchored batch;
                // a regulator checks the root's anchor against a verified block (meridian-audit verify --vitals).
                let patient = try address(context.parameters.require("patient"), "patient")
                let q = try queryDictionary(request)
                try await permitPatientData(caller, patient: patient, category: q["kind"] == "alerts" ? .alerts : .vitalSigns, purpose: purpose(q), evidence: evidence(q))
                let limit = try integer(q["limit"], "limit", default: 100, range: 1...1000)
                let results: [[UInt8]]
                switch q["kind"] ?? "readings" {
                case "readings": results = try vitals.store.batches(patient: patient, limit: limit).map(\.canonicalBytes)
                case "assessments": results = try assessmentStore?.assessments(patient: patient, limit: limit).map(\.canonicalBytes) ?? []
                case "alerts": results = try assessmentStore?.alerts(patient: patient, limit: limit).map(\.canonicalBytes) ?? []
                default: throw APIError.badRequest("parameter.invalid", "kind: readings, assessments or alerts")
                }
                struct P: Encodable { let batch: String; let anchored: Bool; let root: String?; let index: Int?; let treeSize: Int?; let path: [String]? }
                return try json(try results.map { bytes in
                    guard let i = try anchors?.inclusion(of: MerkleTree.leafHash(bytes)) else {
                        return P(batch: Hex.encode(bytes), anchored: false, root: nil, index: nil, treeSize: nil, path: nil)
                    }
                    return P(batch: Hex.encode(bytes), anchored: true, root: i.root.hex, index: i.index, treeSize: i.treeSize, path: i.path.map(\.hex))
                })
            },
            .signed(.get, "v1/devices/:device/progress", .knownKey) { _, context, caller in
                // The device itself, the patient it is paired with, or an operator of this node's organisation.
                let device = try address(context.parameters.require("device"), "device")
                let pairing = try Identity.device(device, in: query.reader)
                guard device == caller.key || (pairing != nil && pairing?.patient == caller.key)
                      || (caller.operatorOrganization != nil && caller.operatorOrganization == organization) else {
                    throw Self.forbidden("the device, its patient or an operator of this node's organisation")
                }
                guard let p = try vitals.store.progress(of: device) else { throw APIError.notFound("device") }
                struct G: Encodable { let from: UInt64; let to: UInt64 }
                struct D: Encodable { let device: String; let highWater: UInt64; let received: UInt64; let missing: UInt64; let gaps: [G]; let forgotten: UInt64 }
                return try json(D(device: Address(device).description, highWater: p.highWater, received: p.received, missing: p.missing,
                                  gaps: p.gaps.map { G(from: $0.lowerBound, to: $0.upperBound) }, forgotten: p.forgotten))
            },
        ]
    }

    /// A hospital system, known by its bearer token (node.json `workers.feeds`: name → SHA-256 of the token).
    static func feed(_ request: Request, _ tokens: [String: String]) throws -> String {
        guard let auth = request.headers[.authorization], auth.hasPrefix("Bearer "),
              let feed = tokens[SHA256.hash(Array(auth.dropFirst("Bearer ".count).utf8)).hex] else {
            throw APIError(.unauthorized, "vitals.unauthorized", "a feed's bearer token is required (node.json workers.feeds)")
        }
        return feed
    }

    /// 200 with one result per frame or batch; 422 when every one was refused; 503 when the node
    /// stored none because it is busy (the sender keeps its data and retries).
    static func outcomeResponse(_ outcomes: [VitalsIngestor.Outcome]) throws -> Response {
        struct O: Encodable { let status: String; let reason: String?; let device: String?; let sequence: UInt64?; let readings: Int }
        struct Body: Encodable { let results: [O] }
        let body = Body(results: outcomes.map { O(status: $0.status.rawValue, reason: $0.reason, device: $0.device.map { Address($0).description }, sequence: $0.sequence, readings: $0.readings) })
        let status: HTTPResponse.Status
        if outcomes.allSatisfy({ $0.status == .refused }) { status = .unprocessableContent }
        else if outcomes.allSatisfy({ $0.status == .busy }) { status = .serviceUnavailable }
        else { status = .ok }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(body))))
    }
}

/// A value JSON writes as `null` when absent (a synthesised `Encodable` leaves a nil out).
struct Nullable<T: Encodable>: Encodable {
    let value: T?
    init(_ value: T?) { self.value = value }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}
