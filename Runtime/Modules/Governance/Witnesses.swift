public import MeridianCore

/// A data-protection authority's witness of the audit log (issue 23, c2sp.org/tlog-witness): the
/// regulator organisation it speaks for (one witness per authority, the witness of its
/// jurisdiction) and its cosigner key, as the key's name and its Ed25519 public key. The vkey text
/// clients put in a tlog-policy is `<name>+<key id>+<base64(0x04 || key)>`, derived from these two
/// (`MeridianTransparency.CosignerKey`). An institution's key: nothing here names a person.
public struct WitnessRegistration: Hashable, Sendable, Canonical {
    public static let maxNameBytes = 128
    public let organization: OrganizationID
    /// The cosigner key's name (c2sp.org/signed-note: non-empty, no '+', no whitespace or control bytes).
    public let name: String
    /// The Ed25519 public key.
    public let publicKey: Bytes32

    public init(organization: OrganizationID, name: String, publicKey: Bytes32) {
        self.organization = organization; self.name = name; self.publicKey = publicKey
    }

    public func validate() throws(RuntimeError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxNameBytes else {
            throw RuntimeError("witness.bad_name", "a witness key name is 1-\(Self.maxNameBytes) bytes")
        }
        guard name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0 != "+" && !$0.properties.isWhitespace }) else {
            throw RuntimeError("witness.bad_name", "a witness key name has no '+', spaces or control characters (c2sp.org/signed-note)")
        }
    }

    public func encode(to w: inout CanonicalWriter) { w.write(organization); w.write(name); w.write(publicKey) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        organization = try r.read(OrganizationID.self)
        name = try r.readString("witness.name", max: Self.maxNameBytes)
        publicKey = try r.readBytes32("witness.public_key")
    }
}

/// The witnesses registered on chain: at genesis, then by governance (`setWitness`,
/// `removeWitness`). Validators push checkpoints to these and serve only their cosignatures;
/// `GET /v1/witnesses` lists them so a regulator or patient can write their tlog-policy.
public enum Witnesses {
    static func witnessKey(_ id: OrganizationID) -> StateKey { StateKey("governance/witness").appending(id.value) }
    static let indexKey = StateKey("governance/witnesses")

    public static func all(in s: some StateReader) throws(RuntimeError) -> [WitnessRegistration] {
        var out: [WitnessRegistration] = []
        for id in try s.read(CanonicalList<String>.self, indexKey)?.items ?? [] {
            guard let org = OrganizationID(id), let w = try s.read(WitnessRegistration.self, witnessKey(org)) else { throw RuntimeError.corrupt("witness of \(id)") }
            out.append(w)
        }
        return out
    }

    /// Checks a registration against the state: a regulator organisation, a valid name, and a key
    /// and name no other authority's witness uses.
    static func check(_ w: WitnessRegistration, in s: some StateReader) throws(RuntimeError) {
        try w.validate()
        guard let org = try Identity.organization(w.organization, in: s) else {
            throw RuntimeError("governance.unknown_organization", "no organisation '\(w.organization)'")
        }
        guard org.kind == .regulator else { throw RuntimeError("governance.not_a_regulator_org", "'\(w.organization)' is not a regulator; witnesses are the authorities'") }
        for other in try all(in: s) where other.organization != w.organization {
            guard other.publicKey != w.publicKey else { throw RuntimeError("witness.duplicate_key", "the key is already \(other.organization)'s witness") }
            guard other.name != w.name else { throw RuntimeError("witness.duplicate_name", "'\(w.name)' is already \(other.organization)'s witness") }
        }
    }

    /// Registers (or replaces: a key rotation) the witness of an authority.
    static func put(_ w: WitnessRegistration, _ ctx: ExecutionContext) throws(RuntimeError) {
        try check(w, in: ctx.view)
        var ids = try ctx.read(CanonicalList<String>.self, indexKey) ?? CanonicalList()
        if !ids.items.contains(w.organization.value) { ids.items.append(w.organization.value); ids.items.sort() }
        ctx.write(indexKey, ids)
        ctx.write(witnessKey(w.organization), w)
    }

    static func remove(_ id: OrganizationID, _ ctx: ExecutionContext) throws(RuntimeError) {
        var ids = try ctx.read(CanonicalList<String>.self, indexKey) ?? CanonicalList()
        guard ids.items.contains(id.value) else { throw RuntimeError("witness.unknown", "'\(id)' has no registered witness") }
        ids.items.removeAll { $0 == id.value }
        ctx.write(indexKey, ids)
        ctx.delete(witnessKey(id))
    }

    public static func putAtGenesis(_ w: WitnessRegistration, _ ctx: ExecutionContext) throws(RuntimeError) { try put(w, ctx) }
}
