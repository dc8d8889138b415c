import Synchronization
public import MeridianCore

/// Patient and device keys already checked to be on the curve, by their hex text. Checking an
/// x-only key costs a square root mod p (microseconds), and a monitor gateway names the same few
/// patients in message after message; a key is cached only after it passed the check, so the cache
/// can never make a bad key acceptable. Bounded: it is emptied when full.
public final class KeyCache: Sendable {
    public static let shared = KeyCache(capacity: 8192)
    private let keys: Mutex<[Bytes32: PublicKey]>
    let capacity: Int

    public init(capacity: Int) { self.capacity = capacity; keys = Mutex([:]) }

    /// The key for 64 hex digits (either case), nil if they are not a valid x-only public key.
    public func key(hex: String) -> PublicKey? {
        guard let bytes = Bytes32(hex: hex) else { return nil }
        if let k = keys.withLock({ $0[bytes] }) { return k }
        guard let k = try? PublicKey(bytes) else { return nil }
        keys.withLock { if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }; $0[bytes] = k }
        return k
    }
}
