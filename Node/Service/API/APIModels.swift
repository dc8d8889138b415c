import Foundation
public import MeridianCore
public import MeridianModules
public import MeridianRuntime
import Hummingbird

/// JSON views of runtime values. Bytes are lower-case hex, keys are `mer1` addresses, times ISO 8601.
public enum JSONView {
    public struct Decision: Codable, Sendable {
        public let allowed: Bool
        public let reason: String
        public let consent: String?
        public let transferBasis: String?
        public let legalBasis: String?
        public let requesterOrganization: String?
        public let sourceCountry: String?
        public let destinationCountry: String?
        /// The policy contract that took part, when the consent names one.
        public let contract: Contract?
        /// The second clinician who co-signed the request, if one did.
        public let coSigner: String?
        init(_ d: AccessDecision) {
            allowed = d.allowed; reason = d.reason.code; consent = d.consent?.hex; transferBasis = d.transferBasis?.name
            legalBasis = d.transferBasis?.legalReference; requesterOrganization = d.requesterOrganization?.value
            sourceCountry = d.sourceCountry?.code; destinationCountry = d.destinationCountry?.code
            contract = d.contract.map(Contract.init); coSigner = d.coSigner.map { Address($0).description }
        }
    }

    /// A contract's part in a decision: its hash, fuel used, and its answer or why it failed.
    public struct Contract: Codable, Sendable {
        public let hash: String
        public let consent: String
        public let fuelUsed: UInt64
        public let answer: Int32?
        public let failure: String?
        init(_ v: ContractVerdict) { hash = v.contract.hex; consent = v.consent.hex; fuelUsed = v.fuelUsed; answer = v.answer; failure = v.failure }
    }

    public struct Event: Codable, Sendable {
        public let kind: String
        public let patient: String?
        public let detail: [String: String]
        init(_ e: RuntimeEvent) {
            kind = e.kind
            patient = e.patient.map { Address($0).description }
            var d: [String: String] = [:]
            switch e {
            case .patientRegistered(_, let o): d["enrolledBy"] = o.value
            case .devicePaired(_, let dev), .deviceUnpaired(_, let dev): d["device"] = Address(dev).description
            case .memberChanged(let o, let k, let r): d["organization"] = o.value; d["key"] = Address(k).description; d["removed"] = String(r)
            case .consentChanged(_, let c, let v, let s): d["consent"] = c.hex; d["version"] = String(v); d["status"] = s.name
            case .accessRecorded(_, let n, let o, let a, let b): d["sequence"] = String(n); d["organization"] = o.value; d["allowed"] = String(a); d["breakGlass"] = String(b)
            case .recordRegistered(let r, _, let c): d["record"] = r.hex; d["custodian"] = c.value
            case .recordShared(let r, let o): d["record"] = r.hex; d["organization"] = o.value
            case .recordErased(let r, _, let c): d["record"] = r.hex; d["custodian"] = c.value
            case .contractDeployed(let c, let by): d["code"] = c.hex; d["deployer"] = Address(by).description
            case .contractEmitted(let c, let k, let data):
                d["contract"] = c.hex; d["consent"] = k.hex; d["data"] = data.map { String(format: "%02x", $0) }.joined()
                if let text = String(validating: data, as: UTF8.self), text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) { d["text"] = text }
            case .policyUpdated(_, let k, let c, let f): d["consent"] = k.hex; d["contract"] = c.hex; d["fuelUsed"] = String(f)
            case .proposalChanged(let id, let s, let h): d["proposal"] = id.hex; d["status"] = s.name; if let h { d["effectiveHeight"] = String(h) }
            case .governanceVote(let id, let v, let a): d["proposal"] = id.hex; d["voter"] = Address(v).description; d["approve"] = String(a)
            case .evidenceRecorded(let v, let h): d["validator"] = Address(v).description; d["height"] = String(h)
            case .anchored(let w, let k, let root, let n): d["worker"] = Address(w).description; d["kind"] = k.name; d["root"] = root.hex; d["count"] = String(n)
            case .keyRotation(let o, let old, let new, let h, let a):
                d["organization"] = o.value; d["old"] = Address(old).description; d["new"] = Address(new).description
                d["effectiveHeight"] = String(h); d["applied"] = String(a)
            }
            detail = d
        }
    }

    public struct Receipt: Codable, Sendable {
        public let transaction: String
        public let index: UInt32
        public let outcome: String
        public let error: ErrorInfo?
        public let events: [Event]
        public let decision: Decision?
        public let createdID: String?
        public struct ErrorInfo: Codable, Sendable { public let code: String; public let message: String }
        init(_ r: MeridianRuntime.Receipt) {
            transaction = r.transaction.hex; index = r.index
            switch r.outcome { case .success: outcome = "success"; case .failed: outcome = "failed"; case .rejected: outcome = "rejected" }
            error = r.error.map { ErrorInfo(code: $0.code, message: $0.message) }
            events = r.events.map(Event.init); decision = r.decision.map(Decision.init); createdID = r.createdID?.hex
        }
    }

    public struct Header: Codable, Sendable {
        public let chainID: String, height: UInt64, time: String, hash: String, parentHash: String, lastCommitHash: String
        public let transactionsRoot: String, receiptsRoot: String, stateRoot: String, validatorsHash: String, proposer: String
        init(_ h: BlockHeader) {
            chainID = h.chainID; height = h.height; time = h.time.iso8601; hash = h.hash.hex; parentHash = h.parentHash.hex
            lastCommitHash = h.lastCommitHash.hex; transactionsRoot = h.transactionsRoot.hex; receiptsRoot = h.receiptsRoot.hex
            stateRoot = h.stateRoot.hex; validatorsHash = h.validatorsHash.hex; proposer = Address(h.proposer).description
        }
    }

    public struct Commit: Codable, Sendable {
        public let height: UInt64, round: UInt32, blockHash: String
        public let signatures: [Signature]
        public struct Signature: Codable, Sendable { public let validator: String; public let signature: String }
        init(_ c: CommitCertificate) {
            height = c.height; round = c.round; blockHash = c.blockHash.hex
            signatures = c.signatures.map { Signature(validator: Address($0.validator).description, signature: $0.signature.hex) }
        }
    }

    public struct Block: Codable, Sendable {
        public let header: Header
        public let transactions: [Transaction]
        public let lastCommit: Commit?
        public let commit: Commit?
        public let receipts: [Receipt]?
        public struct Transaction: Codable, Sendable { public let hash: String; public let signer: String; public let nonce: UInt64; public let call: String; public let bytes: String }
        init(_ b: MeridianRuntime.Block, commit: CommitCertificate?, receipts: [MeridianRuntime.Receipt]?) {
            header = Header(b.header)
            transactions = b.transactions.map { Transaction(hash: $0.hash.hex, signer: Address($0.transaction.signer).description,
                                                            nonce: $0.transaction.nonce, call: $0.transaction.call.name, bytes: Hex.encode($0.canonicalBytes)) }
            lastCommit = b.lastCommit.map(Commit.init); self.commit = commit.map(Commit.init); self.receipts = receipts?.map(Receipt.init)
        }
    }

    public struct Terms: Codable, Sendable {
        public let grantees: [String], categories: [String], purposes: [String], countries: [String], explicitTransferCountries: [String]
        public let validFrom: String, validUntil: String, emergencyAccess: Bool
        /// The policy contract the consent names, with its parameters.
        public let policy: Policy?
        init(_ t: ConsentTerms) {
            grantees = t.grantees.map(\.value); categories = t.categories.map(\.name); purposes = t.purposes.map(\.code)
            countries = t.countries.map(\.code); explicitTransferCountries = t.explicitTransferCountries.map(\.code)
            validFrom = t.validFrom.iso8601; validUntil = t.validUntil.iso8601; emergencyAccess = t.emergencyAccess
            policy = t.policy.map(Policy.init)
        }
    }

    public struct Policy: Codable, Sendable {
        public let contract: String
        public let parameters: [String: String]
        init(_ p: ConsentPolicy) {
            contract = p.contract.hex
            parameters = Dictionary(uniqueKeysWithValues: p.parameters.map { ($0.key, $0.value) })
        }
    }

    public struct Consent: Codable, Sendable {
        public let id: String, patient: String, status: String, version: UInt32, grantedAt: String, updatedAt: String
        public let terms: Terms
        init(_ c: ConsentRecord) {
            id = c.id.hex; patient = Address(c.patient).description; status = c.status.name; version = c.version
            grantedAt = c.grantedAt.iso8601; updatedAt = c.updatedAt.iso8601; terms = Terms(c.terms)
        }
    }

    public struct AuditEntry: Codable, Sendable {
        public let patient: String, sequence: UInt64, kind: String, action: String, actor: String, organization: String
        public let record: String?, category: String, purpose: String, decision: Decision, breakGlass: Bool
        public let height: UInt64, time: String, transaction: String, hash: String, previousHash: String
        /// The entry's canonical bytes (hex): what `hash` is the tagged SHA-256 of, so a client can
        /// check the fields above against the leaf it proves in the audit log.
        public let bytes: String
        init(_ e: MeridianModules.AuditEntry) {
            patient = Address(e.patient).description; sequence = e.sequence; kind = e.kind.name; action = e.action.code
            actor = Address(e.actor).description; organization = e.organization.value; record = e.record?.hex
            category = e.category.name; purpose = e.purpose.code; decision = Decision(e.decision); breakGlass = e.breakGlass
            height = e.height; time = e.time.iso8601; transaction = e.transaction.hex; hash = e.hash.hex; previousHash = e.previousHash.hex
            bytes = Hex.encode(e.canonicalBytes)
        }
    }
}
