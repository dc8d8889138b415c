public import MeridianCore
public import MeridianState
public import MeridianModules
import MeridianTransparency
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A bad genesis spec: which field, and what is wrong with it.
public struct GenesisError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A JSON path such as `organizations[2].country`.
    public let field: String
    public let message: String
    public init(_ field: String, _ message: String) { self.field = field; self.message = message }
    public var description: String { "genesis \(field): \(message)" }
}

/// The JSON chain spec in `Genesis/`: the chain id and start time, parameters, organisations with
/// their first member keys, validators, and the transfer rule table.
public struct GenesisSpec: Codable, Sendable {
    public struct MemberSpec: Codable, Sendable {
        public var key: String
        public var roles: [String]
        public init(key: String, roles: [String]) { self.key = key; self.roles = roles }
    }
    public struct OrganizationSpec: Codable, Sendable {
        public var id: OrganizationID
        public var name: String
        public var country: CountryCode
        public var kind: String
        public var members: [MemberSpec]
        public init(id: OrganizationID, name: String, country: CountryCode, kind: String, members: [MemberSpec]) {
            self.id = id; self.name = name; self.country = country; self.kind = kind; self.members = members
        }
    }
    public struct ValidatorSpec: Codable, Sendable {
        public var key: String
        public var organization: OrganizationID
        public var power: UInt64
        public init(key: String, organization: OrganizationID, power: UInt64) { self.key = key; self.organization = organization; self.power = power }
    }

    /// A data-protection authority's witness of the audit log: the regulator organisation and the
    /// witness's cosigner key in vkey form (c2sp.org/tlog-cosignature, `<name>+<id>+<base64>`).
    public struct WitnessSpec: Codable, Sendable {
        public var organization: OrganizationID
        public var vkey: String
        public init(organization: OrganizationID, vkey: String) { self.organization = organization; self.vkey = vkey }
    }

    public var chainID: String
    public var genesisTime: String
    public var parameters: ChainParameters?
    public var organizations: [OrganizationSpec]
    public var validators: [ValidatorSpec]
    public var transferRules: [TransferRule]
    /// The authorities' witnesses at genesis (optional; governance adds and retires them later).
    public var witnesses: [WitnessSpec]?

    public init(chainID: String, genesisTime: String, parameters: ChainParameters? = nil, organizations: [OrganizationSpec],
                validators: [ValidatorSpec], transferRules: [TransferRule], witnesses: [WitnessSpec]? = nil) {
        self.chainID = chainID; self.genesisTime = genesisTime; self.parameters = parameters
        self.organizations = organizations; self.validators = validators; self.transferRules = transferRules; self.witnesses = witnesses
    }

    /// Parses the JSON, naming the field of the first problem.
    public static func parse(_ json: [UInt8]) throws(GenesisError) -> GenesisSpec {
        do { return try JSONDecoder().decode(GenesisSpec.self, from: Data(json)) }
        catch let DecodingError.dataCorrupted(c) { throw GenesisError(path(c.codingPath), c.debugDescription) }
        catch let DecodingError.keyNotFound(k, c) { throw GenesisError(path(c.codingPath + [k]), "is missing") }
        catch let DecodingError.typeMismatch(_, c) { throw GenesisError(path(c.codingPath), "has the wrong type: \(c.debugDescription)") }
        catch let DecodingError.valueNotFound(_, c) { throw GenesisError(path(c.codingPath), "is null") }
        catch { throw GenesisError("(document)", "is not valid JSON: \(error)") }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for k in keys {
            if let i = k.intValue { out += "[\(i)]" } else { out += out.isEmpty ? k.stringValue : ".\(k.stringValue)" }
        }
        return out.isEmpty ? "(document)" : out
    }

    static func parseKey(_ text: String, field: String) throws(GenesisError) -> PublicKey {
        if let a = Address(text) { return a.publicKey }
        if let k = try? PublicKey(hex: text) { return k }
        throw GenesisError(field, "'\(text)' is neither a mer1 address nor a 64-hex-digit x-only public key on secp256k1")
    }
}

/// Builds the state at height 0 from a spec, and the synthetic genesis header whose hash is the
/// parent of block 1.
public enum Genesis {
    public struct Result {
        public let header: BlockHeader
        public let tip: ChainTip
    }

    /// Checks the whole spec and writes version 0 of `state` (which must be empty).
    @discardableResult
    public static func initialize(_ spec: GenesisSpec, into state: AuthenticatedState) throws(GenesisError) -> Result {
        guard state.version == nil else { throw GenesisError("(state)", "the state is already initialised at version \(state.version!)") }
        let idBytes = Array(spec.chainID.utf8)
        guard (1...BlockHeader.maxChainIDBytes).contains(idBytes.count),
              idBytes.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 45 }) else {
            throw GenesisError("chainID", "'\(spec.chainID)' must be 1-64 of a-z, 0-9, '-'")
        }
        guard let time = Timestamp(iso8601: spec.genesisTime) else {
            throw GenesisError("genesisTime", "'\(spec.genesisTime)' is not YYYY-MM-DDTHH:MM:SSZ")
        }
        let params = spec.parameters ?? ChainParameters()
        guard params.maxTransactionsPerBlock > 0, params.maxTransactionsPerAccountPerBlock > 0, params.maxActiveConsentsPerPatient > 0,
              params.governanceVotingPeriodBlocks > 0, params.governanceActivationDelayBlocks > 0 else {
            throw GenesisError("parameters", "every bound and period must be positive")
        }
        guard params.maxContractBytes > 0, params.maxContractMemoryPages > 0, params.contractFuelPerCall > 0,
              (4096...(16 << 20)).contains(params.contractStackBytes) else {
            throw GenesisError("parameters", "contract bounds must be positive and the contract stack 4 KiB to 16 MiB")
        }
        guard params.auditRetentionDays >= ChainParameters.minimumAuditRetentionDays else {
            throw GenesisError("parameters.auditRetentionDays", "\(params.auditRetentionDays) days: audit data is kept at least \(ChainParameters.minimumAuditRetentionDays) days (three years)")
        }
        guard !spec.validators.isEmpty else { throw GenesisError("validators", "at least one validator is needed") }

        let view = state.view()
        let ctx = ExecutionContext(view: view, chainID: spec.chainID, height: 0, time: time, parameters: params,
                                   signer: .generatorX, transactionHash: .zero)
        ctx.write(ChainState.chainIDKey, spec.chainID)
        ctx.write(ChainState.parametersKey, params)

        var seenOrgs = Set<OrganizationID>()
        var seenKeys = Set<PublicKey>()
        for (i, o) in spec.organizations.enumerated() {
            let f = "organizations[\(i)]"
            guard seenOrgs.insert(o.id).inserted else { throw GenesisError("\(f).id", "'\(o.id)' appears twice") }
            guard !o.name.isEmpty, o.name.utf8.count <= Organization.maxNameBytes else { throw GenesisError("\(f).name", "must be 1-\(Organization.maxNameBytes) bytes") }
            let kind: OrganizationKind
            switch o.kind {
            case "hospital": kind = .hospital
            case "regulator": kind = .regulator
            default: throw GenesisError("\(f).kind", "'\(o.kind)' is neither 'hospital' nor 'regulator'")
            }
            Identity.putOrganizationAtGenesis(Organization(id: o.id, name: o.name, country: o.country, kind: kind), ctx)
            for (j, m) in o.members.enumerated() {
                let mf = "\(f).members[\(j)]"
                let key = try GenesisSpec.parseKey(m.key, field: "\(mf).key")
                guard seenKeys.insert(key).inserted else { throw GenesisError("\(mf).key", "key is used twice") }
                var roles: [MemberRole] = []
                for (k, r) in m.roles.enumerated() {
                    guard let role = MemberRole(name: r), role != .validator else {
                        throw GenesisError("\(mf).roles[\(k)]", "'\(r)' is not a member role (admin, provider, regulator, worker; validators are listed under 'validators')")
                    }
                    if role == .regulator && kind != .regulator { throw GenesisError("\(mf).roles[\(k)]", "only regulator organisations have regulator members") }
                    if role == .provider && kind != .hospital { throw GenesisError("\(mf).roles[\(k)]", "only hospitals have provider members") }
                    roles.append(role)
                }
                guard !roles.isEmpty else { throw GenesisError("\(mf).roles", "at least one role") }
                do { try Identity.putMemberAtGenesis(Member(key: key, organization: o.id, roles: roles), ctx) }
                catch { throw GenesisError(mf, error.description) }
            }
        }
        for (i, v) in spec.validators.enumerated() {
            let f = "validators[\(i)]"
            let key = try GenesisSpec.parseKey(v.key, field: "\(f).key")
            guard seenOrgs.contains(v.organization) else { throw GenesisError("\(f).organization", "no organisation '\(v.organization)'") }
            do { try Validators.addAtGenesis(Validator(key: key, organization: v.organization, power: v.power), ctx) }
            catch { throw GenesisError(f, error.description) }
        }
        for (i, rule) in spec.transferRules.enumerated() {
            do { try Jurisdictions.putRuleAtGenesis(rule, ctx) }
            catch { throw GenesisError("transferRules[\(i)]", error.description) }
        }
        for (i, w) in (spec.witnesses ?? []).enumerated() {
            let key: CosignerKey
            do { key = try CosignerKey(parsing: w.vkey) } catch { throw GenesisError("witnesses[\(i)].vkey", "\(error)") }
            guard let publicKey = Bytes32(key.publicKey) else { throw GenesisError("witnesses[\(i)].vkey", "not a 32-byte Ed25519 key") }
            do { try Witnesses.putAtGenesis(WitnessRegistration(organization: w.organization, name: key.name, publicKey: publicKey), ctx) }
            catch { throw GenesisError("witnesses[\(i)]", error.description) }
        }
        view.commitTransaction()

        let validators: [ValidatorPower]
        do {
            validators = try Validators.powers(in: view)
            let prepared = try state.prepare(view, version: 0)
            try state.commit(prepared)
        } catch { throw GenesisError("(state)", "\(error)") }
        let header = BlockHeader(chainID: spec.chainID, height: 0, time: time, parentHash: .zero, lastCommitHash: .zero,
                                 transactionsRoot: MerkleTree.emptyRoot, receiptsRoot: MerkleTree.emptyRoot,
                                 stateRoot: state.root, validatorsHash: ValidatorPower.setHash(validators),
                                 proposer: validators.sorted()[0].key)
        return Result(header: header, tip: ChainTip(height: 0, hash: header.hash, time: time))
    }
}
