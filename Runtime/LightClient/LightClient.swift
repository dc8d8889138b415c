public import MeridianCore
public import MeridianState
public import MeridianModules
public import MeridianRuntime

/// Why the light client refused what a node sent. A stable code and what exactly did not hold, so a
/// regulator can name the dishonest node's lie.
public struct LightClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code): \(message)" }
}

/// A light client: it trusts only the genesis spec, verifies the header chain from it, and then
/// verifies state entries (audit entries, consents, shares) against a verified header's state root.
///
/// Each header must follow its parent (height, parent hash, chain id) and carry a commit certificate
/// signed by more than 2/3 of the voting power of the validators that sign that height. That set is
/// the one in the state after the parent block, so when a header names a new set (its
/// `validatorsHash` changes) the client checks the set's state entry with its proof against the
/// parent's verified state root: no node has to be trusted for the set either. Pure verification,
/// no I/O: the caller fetches from any node.
public struct LightClient: Sendable {
    public let chainID: String
    /// The last verified header.
    public private(set) var head: BlockHeader
    /// The validators that sign the next header.
    public private(set) var validators: [ValidatorPower]
    /// State roots of every verified height.
    public private(set) var stateRoots: [UInt64: Bytes32]
    /// Header hashes of every verified height (a checkpoint of a past height must name one of them).
    public private(set) var headerHashes: [UInt64: Bytes32]
    public private(set) var validatorSetChanges = 0
    /// The hash of the genesis header, computed here from the spec.
    public let genesisHash: Bytes32

    /// Starts from the genesis spec, executing it locally to obtain the genesis header.
    public init(genesis spec: GenesisSpec) throws(LightClientError) {
        let state: AuthenticatedState
        do {
            state = try AuthenticatedState(storage: InMemoryStateStorage())
            head = try Genesis.initialize(spec, into: state).header
            validators = try Validators.powers(in: CommittedStateReader(state))
        } catch { throw LightClientError("light.genesis", "the genesis spec does not initialise: \(error)") }
        chainID = spec.chainID
        genesisHash = head.hash
        stateRoots = [0: head.stateRoot]
        headerHashes = [0: head.hash]
    }


    /// Verifies the next header and its certificate. `validatorSet` is the validator set's state
    /// entry (value and proof at the parent's height), needed only when the header names a set the
    /// client does not know yet.
    public mutating func verifyNext(_ header: BlockHeader, certificate: CommitCertificate,
                                    validatorSet: (value: [UInt8], proof: StateProof)? = nil) throws(LightClientError) {
        let h = header.height
        guard header.chainID == chainID else { throw LightClientError("light.chain_id", "header \(h) is for chain '\(header.chainID)', not '\(chainID)'") }
        guard h == head.height + 1 else { throw LightClientError("light.height", "expected header \(head.height + 1), got \(h)") }
        guard header.parentHash == head.hash else {
            throw LightClientError("light.parent", "header \(h) names parent \(header.parentHash.hex.prefix(16)), but the verified header \(head.height) is \(head.hash.hex.prefix(16))")
        }
        var signers = validators
        if header.validatorsHash != ValidatorPower.setHash(signers) {
            guard let (value, proof) = validatorSet else {
                throw LightClientError("light.validators_needed", "header \(h) is signed by a new validator set: its state entry at height \(head.height) is needed")
            }
            guard proof.verify(root: head.stateRoot, key: Validators.setKey.bytes, value: value) else {
                throw LightClientError("light.validators_proof", "the validator set offered for header \(h) is not in the state of verified header \(head.height)")
            }
            do { signers = try CanonicalList<Validator>(canonicalBytes: value).items.map { ValidatorPower(key: $0.key, power: $0.power) } }
            catch { throw LightClientError("light.decode", "the validator set entry does not decode: \(error)") }
            guard ValidatorPower.setHash(signers) == header.validatorsHash else {
                throw LightClientError("light.validators", "header \(h) names validator set \(header.validatorsHash.hex.prefix(16)), the proven set is another")
            }
            validatorSetChanges += 1
        }
        guard certificate.height == h else { throw LightClientError("light.commit", "the certificate for header \(h) is for height \(certificate.height)") }
        if case .failure(let e) = certificate.verify(chainID: chainID, validators: signers, blockHash: header.hash) {
            throw LightClientError("light.commit", "header \(h): the commit certificate does not verify (\(e)): not signed by more than 2/3 of the voting power for this block")
        }
        head = header
        validators = signers
        stateRoots[h] = header.stateRoot
        headerHashes[h] = header.hash
    }

    /// Verifies a state entry (or its absence, when `value` is nil) at a verified height.
    public func verifyEntry(key: [UInt8], value: [UInt8]?, proof: StateProof, height: UInt64) throws(LightClientError) {
        guard let root = stateRoots[height] else { throw LightClientError("light.unverified_height", "height \(height) has not been verified") }
        guard proof.verify(root: root, key: key, value: value) else {
            throw LightClientError("light.proof", "the entry does not match the verified state root of height \(height) (\(root.hex.prefix(16))): tampered or from another state")
        }
    }
}
