import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Every field that enters a header, a receipt, a decision, a contract's verdict or an audit entry,
/// with the deterministic value it is built from. The list is checked against the types
/// themselves (by reflection on values the runtime produced): a field added without saying where
/// its value comes from fails here, and the review of that line is where a clock, an address or
/// an engine's text would be caught. Events are enums of these same kinds of values.
@Suite(.timeLimit(.minutes(5))) struct DeterministicFieldsTests {
    static let sources: [String: [String: String]] = [
        "BlockHeader": [
            "chainID": "genesis", "height": "parent's height + 1", "time": "the proposer's proposal, checked against the parent's and a drift bound",
            "parentHash": "the parent header's hash", "lastCommitHash": "hash of the carried commit certificate",
            "transactionsRoot": "RFC 9162 root of the transactions' hashes", "receiptsRoot": "RFC 9162 root of the receipts' canonical bytes",
            "stateRoot": "sparse Merkle root after execution", "validatorsHash": "hash of the state's validator set", "proposer": "a validator key in the state",
            "auditLogSize": "the audit log frontier's size in state after the block's entries",
            "auditLogRoot": "RFC 9162 root of the entry hashes, from the frontier in state",
        ],
        "Receipt": [
            "transaction": "the transaction's hash", "index": "its position in the block", "outcome": "success, or a RuntimeError with a stable code",
            "events": "what the modules emitted from state and the transaction", "decision": "Authorization over state and the block time",
            "createdID": "a hash of the transaction's contents (consent, record, contract)",
        ],
        "AccessDecision": [
            "reason": "a DecisionReason case", "consent": "a consent id in state", "transferBasis": "the transfer rules in state",
            "requesterOrganization": "the requester's membership in state", "sourceCountry": "the custodian's country in state",
            "destinationCountry": "the requester's organisation's country in state", "contract": "the policy contract's verdict",
            "coSigner": "the co-signature in the transaction",
        ],
        "ContractVerdict": [
            "contract": "the code's hash", "consent": "the consent id", "fuelUsed": "the engine's fuel meter (deterministic per instruction)",
            "answer": "the contract's i32 answer", "failure": "a ContractFailure code, never the engine's text",
        ],
        "AuditEntry": [
            "patient": "the record's patient in state", "sequence": "the patient's audit head in state", "kind": "the call", "action": "the call",
            "actor": "the transaction's signer", "organization": "the signer's membership", "record": "the commitment in the transaction",
            "category": "the record's category in state", "purpose": "the transaction", "decision": "the AccessDecision above",
            "breakGlass": "the transaction", "height": "the block", "time": "the block", "transaction": "the transaction's hash",
            "previousHash": "the patient's previous entry's hash",
        ],
        "ContractFailure": Dictionary(uniqueKeysWithValues: ContractFailure.allCases.map { ($0.rawValue, "a fixed code") }),
    ]

    static func fields(_ value: Any) -> Set<String> { Set(Mirror(reflecting: value).children.compactMap(\.label)) }

    @Test func everyFieldOfWhatConsensusComputesHasADeclaredSource() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .summary, custodian: "hospital-ribeira")
        var deny = ContractCheckTests.Module(); deny.body = [0x41, 0x7D]
        #expect(try chain.submit(maria, .deployContract(deny.bytes)).succeeded)
        var terms = chain.terms(to: ["sakura-general"], categories: [.summary], countries: ["JP"])
        terms = ConsentTerms(grantees: terms.grantees, categories: terms.categories, purposes: terms.purposes, countries: terms.countries,
                             validFrom: terms.validFrom, validUntil: terms.validUntil, emergencyAccess: false, policy: ConsentPolicy(contract: SHA256.hash(deny.bytes)))
        #expect(try chain.submit(maria, .grantConsent(terms)).succeeded)
        let receipt = try chain.submit(DemoCast.staff("sakura-general", "clinician"), .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        let decision = try #require(receipt.decision)
        let verdict = try #require(decision.contract)
        let header = try #require(chain.blocks.last?.header)
        let entry = try #require(try Audit.byPatient(maria.publicKey, in: chain.reader).entries.last)
        for (name, value) in [("BlockHeader", header as Any), ("Receipt", receipt), ("AccessDecision", decision), ("ContractVerdict", verdict), ("AuditEntry", entry)] {
            let declared = Set(Self.sources[name]!.keys)
            let actual = Self.fields(value)
            #expect(actual == declared, "\(name): fields without a declared source \(actual.subtracting(declared).sorted()), declared but gone \(declared.subtracting(actual).sorted())")
        }
        // The verdict's failure, when there is one, is one of the fixed codes.
        #expect(verdict.failure == nil && verdict.answer == -3)
        #expect(Set(Self.sources["ContractFailure"]!.keys).allSatisfy { $0.hasPrefix("contract.") && !$0.contains(" ") })
    }
}
