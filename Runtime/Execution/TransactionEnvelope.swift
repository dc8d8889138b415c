public import MeridianCore
public import MeridianModules

/// The checks a transaction's envelope passes before its call runs, written once: the mempool
/// admits by them against the committed state, and execution applies them against the block's
/// state, with the same order, codes and messages. Each caller reads the facts from its own state
/// (the mempool adds its pending transactions to the expected nonce).
public enum TransactionEnvelope {
    /// Chain, then signature (`signatureValid` is asked only for a transaction of this chain), then
    /// registration: an unknown key may send only its own enrolment.
    public static func check(_ tx: Transaction, chainID: String, signatureValid: () -> Bool, signerIsRegistered: Bool) -> RuntimeError? {
        guard tx.chainID == chainID else { return RuntimeError("tx.wrong_chain", "signed for chain '\(tx.chainID)', this is '\(chainID)'") }
        guard signatureValid() else { return RuntimeError("tx.bad_signature", "the signature does not verify for \(Address(tx.signer))") }
        if case .registerPatient = tx.call { return nil }
        guard signerIsRegistered else { return RuntimeError("tx.unregistered_signer", "\(Address(tx.signer)) is not a registered account") }
        return nil
    }

    /// The nonce: exactly the next one (a lower one is a replay, a higher one leaves a gap).
    public static func checkNonce(_ tx: Transaction, expected: UInt64) -> RuntimeError? { checkNonce(tx.nonce, expected: expected) }

    public static func checkNonce(_ nonce: UInt64, expected: UInt64) -> RuntimeError? {
        guard nonce != expected else { return nil }
        return RuntimeError(nonce < expected ? "tx.replayed_nonce" : "tx.future_nonce", "nonce \(nonce), expected \(expected)")
    }

    // An enrolment (`registerPatient`) is checked by `Identity.enrolmentRefusal`, also shared.
}
