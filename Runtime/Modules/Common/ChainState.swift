public import MeridianCore

/// Chain-wide entries: the chain id and parameters, written at genesis.
public enum ChainState {
    public static let chainIDKey = StateKey("chain/id")
    public static let parametersKey = StateKey("chain/parameters")
}

/// Per-account nonces: the next nonce each signer must use.
public enum Accounts {
    static func nonceKey(_ key: PublicKey) -> StateKey { StateKey("account/nonce").appending(key) }

    public static func nonce(of key: PublicKey, in s: some StateReader) throws(RuntimeError) -> UInt64 {
        try s.read(Counter.self, nonceKey(key))?.value ?? 0
    }

    public static func setNonce(_ n: UInt64, of key: PublicKey, _ ctx: ExecutionContext) { ctx.write(nonceKey(key), Counter(n)) }
}
