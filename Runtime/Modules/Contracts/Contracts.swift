public import MeridianCore

/// A deployed policy contract: its code (checked at upload), who uploaded it and when. Stored by
/// the SHA-256 of the code, so a consent names exactly one program.
public struct ContractRecord: Hashable, Sendable, Canonical {
    public let code: [UInt8]
    public let deployer: PublicKey
    public let height: UInt64
    public init(code: [UInt8], deployer: PublicKey, height: UInt64) { self.code = code; self.deployer = deployer; self.height = height }
    public var hash: Bytes32 { SHA256.hash(code) }
    public func encode(to w: inout CanonicalWriter) { w.write(bytes: code); w.write(deployer); w.write(varint: height) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        code = try r.readByteString("contract.code", max: 1 << 20); deployer = try r.read(PublicKey.self); height = try r.readVarint("contract.height")
    }
}

/// Policy contracts on chain: upload (checked, stored by code hash) and lookup.
public enum Contracts {
    public static func codeKey(_ hash: Bytes32) -> StateKey { StateKey("contracts/code").appending(hash) }

    public static func contract(_ hash: Bytes32, in s: some StateReader) throws(RuntimeError) -> ContractRecord? {
        try s.read(ContractRecord.self, codeKey(hash))
    }

    /// Uploads a contract: any registered account (the block executor refuses others) may, a patient
    /// for their own consents or a hospital member; the code passes the upload check under the
    /// chain's limits or the transaction fails with the check's reason. Returns the code hash.
    public static func deploy(_ code: [UInt8], _ ctx: ExecutionContext) throws(RuntimeError) -> Bytes32 {
        // The upload check, then WasmKit's own parse: a module that either refuses is refused.
        _ = try ContractRunner(code: code, limits: ctx.parameters.contractLimits, stackBytes: Int(ctx.parameters.contractStackBytes))
        let hash = SHA256.hash(code)
        guard try contract(hash, in: ctx.view) == nil else { throw RuntimeError("contract.duplicate", "contract \(hash.hex) is already deployed") }
        ctx.write(codeKey(hash), ContractRecord(code: code, deployer: ctx.signer, height: ctx.height))
        ctx.emit(.contractDeployed(code: hash, deployer: ctx.signer))
        return hash
    }
}
