public import MeridianCore
public import MeridianState
public import MeridianModules
public import MeridianRuntime
public import MeridianStorage
public import MeridianMempool
import Synchronization

/// Reads of committed state for the API and the mempool, safe from any thread: values come
/// straight from RocksDB (thread-safe reads), proofs from a tree instance of its own whose node
/// cache is behind a lock. Never blocks block production.
public final class QueryService: Sendable, AccountView {
    public let store: BlockStore
    private let tree: Mutex<SparseMerkleTree>

    public init(store: BlockStore) {
        self.store = store
        tree = Mutex(SparseMerkleTree(storage: store.stateStorage, maxCachedNodes: 1 << 18))
    }

    public var reader: StorageReader { StorageReader(storage: store.stateStorage) }

    public func nonce(of key: PublicKey) throws -> UInt64 { try Accounts.nonce(of: key, in: reader) }
    public func isRegistered(_ key: PublicKey) throws -> Bool { try Identity.isRegistered(key, in: reader) }
    public func isProvider(_ key: PublicKey) throws -> Bool { try Identity.member(key, in: reader)?.has(.provider) == true }

    /// The value of a raw key at a height (latest when nil) with its proof and that height's root.
    public func proof(_ key: [UInt8], at height: UInt64?) throws -> (value: [UInt8]?, proof: StateProof, root: Bytes32, height: UInt64) {
        let h = try height ?? store.stateStorage.latestVersion() ?? 0
        guard let root = try store.stateStorage.root(version: h) else { throw NodeError("height", "no state at height \(h)") }
        let keyHash = StateProof.keyHash(key)
        return try tree.withLock { t in
            (try t.value(at: root, keyHash: keyHash), try t.proof(at: root, keyHash: keyHash), root, h)
        }
    }
}

/// Latest committed values read directly from storage.
public struct StorageReader: StateReader, Sendable {
    // Sendable: RocksDBStateStorage only reads RocksDB (thread-safe) through it.
    nonisolated(unsafe) let storage: RocksDBStateStorage
    public init(storage: RocksDBStateStorage) { self.storage = storage }
    public func load(_ key: [UInt8]) throws(RuntimeError) -> [UInt8]? {
        do { return try storage.value(key) } catch { throw RuntimeError("state.\(error.code.rawValue)", error.detail) }
    }
}
