public import Foundation
import Synchronization
public import MeridianCore
public import MeridianStorage
import MeridianRuntime

/// A node's backup (`meridian-node backup --out DIR`) and its restore (`meridian-node restore`).
///
/// What a backup holds: `db/`, a RocksDB checkpoint (consistent: whole blocks only, taken while the
/// node runs), `node.json`, `genesis.json`, the encrypted keystores the data needs (`keys/worker.json`,
/// `keys/records.json`, without which no stored record body can be opened), and `manifest.json`: the
/// chain, the head it holds, every file's size and SHA-256, and the metadata (address, SHA-256) of
/// every keystore of the node. Never a private key in the clear, and never the validator's keystore
/// or its signing guard: a validator restored with a guard older than its last signature could sign
/// a second, different vote for a step it already signed (CometBFT's most feared operator error).
/// The validator's key and latest guard come from where the operator keeps the key (the old host, or
/// the signer), given to `restore` explicitly; without them the node is restored as a full node.
public enum NodeBackup {
    public static let manifestName = "manifest.json"
    public static let formatVersion = 1

    public struct KeyMetadata: Codable, Sendable, Hashable {
        /// The keystore's file under `keys/`.
        public let file: String
        public let role: String
        public let address: String
        public let sha256: String
        /// Whether the (encrypted) keystore is in the backup.
        public let included: Bool
    }

    public struct FileEntry: Codable, Sendable, Hashable {
        public let path: String
        public let bytes: UInt64
        public let sha256: String
    }

    public struct Manifest: Codable, Sendable {
        public let format: Int
        public let chainID: String
        public let genesisHash: String
        public let height: UInt64
        public let blockHash: String
        public let stateRoot: String
        public let createdAt: String
        /// Whether the node was a validator (its keystore is then listed, not included).
        public let validator: Bool
        /// The TLS private key the config names, not in the backup (PEM holds it in the clear).
        public let tlsPrivateKey: String?
        public let keys: [KeyMetadata]
        public let files: [FileEntry]
    }

    public struct BackupError: Error, CustomStringConvertible, Sendable {
        public let code: String
        public let message: String
        public init(_ code: String, _ message: String) { self.code = code; self.message = message }
        public var description: String { "\(code): \(message)" }
    }

    /// What a backup never copies from the data directory: the database (checkpointed instead), the
    /// keystores (chosen one by one), the validator's signing guard and consensus WAL, what the running
    /// process writes about itself, and leftover checkpoints.
    static let notCopied: Set<String> = ["db", "keys", "signing-guard.json", "signing-guard.json.tmp", "consensus.wal", "api.address", "p2p.address",
                                          "mllp.address", "node.pid", "backups"]

    /// The keystores a backup carries (encrypted); the others are listed by address only.
    static let carriedKeystores: Set<String> = ["worker.json", "records.json"]

    /// Writes a backup of `dataDirectory` to `out` (created; must not exist or be empty) from
    /// `checkpoint`, a database checkpoint already taken (moved into `out/db`).
    public static func write(checkpoint: String, dataDirectory: DataDirectory, to out: String, now: Date = Date()) throws -> Manifest {
        let fm = FileManager.default
        try prepareEmpty(out)
        do { try fm.moveItem(atPath: checkpoint, toPath: out + "/db") }
        catch {
            // Another file system: copy, then drop the checkpoint's hard links.
            try copyTree(checkpoint, to: out + "/db")
            // Left behind, it is removed by the next backup's checkpoint (`BackupCheckpoints.take`).
            try? fm.removeItem(atPath: checkpoint)
        }
        for name in ["node.json", "genesis.json"] where !fm.fileExists(atPath: dataDirectory.path + "/" + name) {
            throw BackupError("backup.missing_file", "\(dataDirectory.path)/\(name) is missing")
        }
        // Everything else the node was configured with (models, terminology, TLS certificates), but
        // what the running process writes for itself and the TLS private key (in the clear in PEM).
        let config = try dataDirectory.loadConfig()
        let tlsKey = config.tls?.privateKey
        for name in try fm.contentsOfDirectory(atPath: dataDirectory.path).sorted() where !Self.notCopied.contains(name) {
            if name == "tls", let tlsKey, tlsKey.hasPrefix("tls/") {
                try fm.createDirectory(atPath: out + "/tls", withIntermediateDirectories: true)
                for file in try fm.contentsOfDirectory(atPath: dataDirectory.path + "/tls") where "tls/" + file != tlsKey {
                    try fm.copyItem(atPath: dataDirectory.path + "/tls/" + file, toPath: out + "/tls/" + file)
                }
            } else {
                try fm.copyItem(atPath: dataDirectory.path + "/" + name, toPath: out + "/" + name)
            }
        }
        var keys: [KeyMetadata] = []
        // An unreadable keys directory must fail the backup: one without `keys/records.json` would
        // restore a node that can open none of its record bodies.
        var keyFiles: [String] = []
        if fm.fileExists(atPath: dataDirectory.keys) {
            do { keyFiles = try fm.contentsOfDirectory(atPath: dataDirectory.keys).filter { $0.hasSuffix(".json") }.sorted() }
            catch { throw BackupError("backup.unreadable", "cannot list \(dataDirectory.keys): \(error.localizedDescription)") }
        }
        for file in keyFiles {
            let path = dataDirectory.keys + "/" + file
            guard let data = fm.contents(atPath: path) else { throw BackupError("backup.unreadable", "cannot read \(path)") }
            let keystore: Keystore
            do { keystore = try JSONDecoder().decode(Keystore.self, from: data) }
            catch { throw BackupError("backup.not_a_keystore", "\(path) is not a Meridian keystore") }
            let role = file.hasPrefix("validator") ? "validator" : file == "worker.json" ? "worker" : file == "records.json" ? "records" : "other"
            let carried = carriedKeystores.contains(file)
            if carried {
                try fm.createDirectory(atPath: out + "/keys", withIntermediateDirectories: true)
                try data.write(to: URL(fileURLWithPath: out + "/keys/" + file))
                try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: out + "/keys/" + file)
            }
            keys.append(KeyMetadata(file: file, role: role, address: keystore.address, sha256: SHA256.hash([UInt8](data)).hex, included: carried))
        }
        // The head the copy holds, read from the copy itself.
        let (chainID, genesis, tip, root) = try headOf(database: out + "/db")
        let manifest = Manifest(format: formatVersion, chainID: chainID, genesisHash: genesis.hex, height: tip.height, blockHash: tip.hash.hex,
                                stateRoot: root.hex, createdAt: ISO8601DateFormatter().string(from: now),
                                validator: keys.contains { $0.role == "validator" }, tlsPrivateKey: tlsKey, keys: keys, files: try inventory(out))
        let encoder = JSONEncoder(); encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: out + "/" + manifestName), options: .atomic)
        return manifest
    }

    /// Checks a backup: its manifest parses, every file it lists is there with its size and SHA-256,
    /// and nothing else is (a file added to a backup is as suspect as one changed).
    public static func verify(_ dir: String) throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: dir + "/" + manifestName) else {
            throw BackupError("restore.no_manifest", "\(dir)/\(manifestName) is missing: not a Meridian backup")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) }
        catch { throw BackupError("restore.bad_manifest", "\(dir)/\(manifestName) does not parse: \(error)") }
        guard manifest.format == formatVersion else { throw BackupError("restore.format", "backup format \(manifest.format); this node reads \(formatVersion)") }
        let present = try inventory(dir)
        let listed = Dictionary(manifest.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let found = Dictionary(present.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for entry in manifest.files.sorted(by: { $0.path < $1.path }) {
            guard let f = found[entry.path] else { throw BackupError("restore.missing_file", "\(entry.path) is listed in the manifest but missing") }
            guard f.bytes == entry.bytes, f.sha256 == entry.sha256 else {
                throw BackupError("restore.corrupt_file", "\(entry.path) differs from the manifest (\(f.bytes) bytes, SHA-256 \(f.sha256.prefix(16))…; expected \(entry.bytes) bytes, \(entry.sha256.prefix(16))…)")
            }
        }
        if let extra = present.map(\.path).sorted().first(where: { listed[$0] == nil }) {
            throw BackupError("restore.unlisted_file", "\(extra) is not in the manifest")
        }
        return manifest
    }

    /// How a validator's backup comes back.
    public enum ValidatorRestore: Sendable {
        /// With its keystore and its latest signing guard (from the old host or the signer).
        case validator(keystore: String, signingGuard: String)
        /// As a full node: it follows consensus under its worker key and signs nothing.
        case fullNode
    }

    /// Restores the backup in `from` into a new data directory `to`, checked file by file; the
    /// restored database must open at the manifest's head. Returns the manifest.
    public static func restore(from: String, to dataDirectory: DataDirectory, validator: ValidatorRestore?, tlsKey: String? = nil) throws -> Manifest {
        let fm = FileManager.default
        let manifest = try verify(from)
        if fm.fileExists(atPath: dataDirectory.path) {
            let present: [String]
            do { present = try fm.contentsOfDirectory(atPath: dataDirectory.path) }
            catch { throw BackupError("restore.unreadable", "cannot list \(dataDirectory.path): \(error.localizedDescription)") }
            guard present.isEmpty else {
                throw BackupError("restore.target_in_use", "\(dataDirectory.path) is not empty: restore into a new or empty directory")
            }
        }
        // Everything the restore needs is checked before anything is written.
        let validatorKey = manifest.keys.first { $0.role == "validator" }
        var validatorFiles: (keystore: Data, signingGuard: Data)?
        switch validator {
        case nil:
            if let validatorKey {
                throw BackupError("restore.validator_key", "this is a backup of validator \(validatorKey.address): give its keystore with its latest signing guard "
                    + "(--validator-keystore, --signing-guard: never an older guard, which could make it sign twice), or restore it as a full node (--full-node)")
            }
        case .fullNode:
            guard manifest.keys.contains(where: { $0.role == "worker" && $0.included }) else {
                throw BackupError("restore.no_worker_key", "a full node's identity is its worker key, which this backup does not hold")
            }
        case .validator(let keystorePath, let guardPath):
            guard let validatorKey else { throw BackupError("restore.not_a_validator", "the backup is of a node without a validator key") }
            guard let data = fm.contents(atPath: keystorePath), let ks = try? JSONDecoder().decode(Keystore.self, from: data) else {
                throw BackupError("restore.bad_keystore", "\(keystorePath) is not a Meridian keystore")
            }
            guard ks.address == validatorKey.address else {
                throw BackupError("restore.wrong_validator", "\(keystorePath) holds \(ks.address), but the backup is of validator \(validatorKey.address)")
            }
            guard let guardData = fm.contents(atPath: guardPath) else { throw BackupError("restore.no_guard", "cannot read the signing guard \(guardPath)") }
            validatorFiles = (data, guardData)
        }
        var tlsKeyData: Data?
        if let listed = manifest.tlsPrivateKey {
            guard let tlsKey else { throw BackupError("restore.tls_key", "the node serves TLS: give its private key (--tls-key), which backups never hold (\(listed))") }
            guard let data = fm.contents(atPath: tlsKey) else { throw BackupError("restore.tls_key", "cannot read \(tlsKey)") }
            tlsKeyData = data
        }
        let existed = fm.fileExists(atPath: dataDirectory.path)
        do {
            try fm.createDirectory(atPath: dataDirectory.path, withIntermediateDirectories: true)
            for name in try fm.contentsOfDirectory(atPath: from).sorted() where name != manifestName && name != "keys" {
                try copyTree(from + "/" + name, to: dataDirectory.path + "/" + name)
            }
            try fm.createDirectory(atPath: dataDirectory.keys, withIntermediateDirectories: true)
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dataDirectory.keys)
            for k in manifest.keys where k.included {
                try fm.copyItem(atPath: from + "/keys/" + k.file, toPath: dataDirectory.keys + "/" + k.file)
                try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dataDirectory.keys + "/" + k.file)
            }
            if let (keystore, signingGuard) = validatorFiles, let validatorKey {
                try keystore.write(to: URL(fileURLWithPath: dataDirectory.keys + "/" + validatorKey.file))
                try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dataDirectory.keys + "/" + validatorKey.file)
                try signingGuard.write(to: URL(fileURLWithPath: dataDirectory.signingGuard))
            }
            if let tlsKeyData, let listed = manifest.tlsPrivateKey {
                let path = listed.hasPrefix("/") ? listed : dataDirectory.path + "/" + listed
                try tlsKeyData.write(to: URL(fileURLWithPath: path))
                try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            }
            // The copy opens at the manifest's head.
            let (_, genesis, tip, root) = try headOf(database: dataDirectory.database)
            guard tip.height == manifest.height, tip.hash.hex == manifest.blockHash, root.hex == manifest.stateRoot, genesis.hex == manifest.genesisHash else {
                throw BackupError("restore.head_mismatch", "the restored database is at height \(tip.height) (\(tip.hash.hex.prefix(16))…), the manifest says \(manifest.height) (\(manifest.blockHash.prefix(16))…)")
            }
        } catch {
            // Nothing half-restored is left to be started by mistake.
            if existed { for name in (try? fm.contentsOfDirectory(atPath: dataDirectory.path)) ?? [] { try? fm.removeItem(atPath: dataDirectory.path + "/" + name) } }
            else { try? fm.removeItem(atPath: dataDirectory.path) }
            throw error
        }
        // Restored as a full node, the data directory holds no validator keystore: the node follows
        // consensus under its worker key (node.json keeps its P2P settings).
        return manifest
    }

    // MARK: Files

    static func prepareEmpty(_ out: String) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: out, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try fm.contentsOfDirectory(atPath: out)).isEmpty else {
                throw BackupError("backup.out_not_empty", "\(out) exists and is not an empty directory")
            }
        } else {
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        }
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: out)
    }

    /// Every file under `dir` but the manifest, with its size and SHA-256, by path.
    static func inventory(_ dir: String) throws -> [FileEntry] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: dir) else { throw BackupError("backup.unreadable", "cannot list \(dir)") }
        var out: [FileEntry] = []
        while let relative = walker.nextObject() as? String {
            let path = dir + "/" + relative
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue, relative != manifestName else { continue }
            let (bytes, digest) = try hashFile(path)
            out.append(FileEntry(path: relative, bytes: bytes, sha256: digest))
        }
        return out.sorted { $0.path < $1.path }
    }

    /// Size and SHA-256 of a file, read in 1 MiB pieces (SST files are large).
    static func hashFile(_ path: String) throws -> (UInt64, String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BackupError("backup.unreadable", "cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = Hasher256()
        var bytes: UInt64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { hasher.update($0) }
            bytes += UInt64(chunk.count)
        }
        return (bytes, hasher.finalize().hex)
    }

    /// Copies a directory tree to another place (another file system: RocksDB's checkpoint is hard
    /// links, which is safe within one, its SST files never being written again once made).
    static func copyTree(_ from: String, to: String) throws {
        do { try FileManager.default.copyItem(atPath: from, toPath: to) }
        catch { throw BackupError("backup.copy", "copying \(from) to \(to): \(error.localizedDescription)") }
    }

    /// The chain id, genesis hash, head and state root a database holds.
    static func headOf(database: String) throws -> (String, Bytes32, ChainTip, Bytes32) {
        let store: BlockStore
        do { store = try BlockStore(path: database, additionalColumns: DataDirectory.databaseColumns) }
        catch { throw BackupError("backup.database", "\(database) does not open: \(error)") }
        guard let genesis = try store.genesisHeader(), let tip = try store.tip(), let head = try store.header(at: tip.height) ?? (tip.height == 0 ? genesis : nil) else {
            throw BackupError("backup.database", "\(database) holds no chain")
        }
        return (genesis.chainID, genesis.hash, tip, head.stateRoot)
    }
}

/// The running node's side of a backup: a checkpoint of its database under `<data-dir>/backups/`
/// (`POST /v1/node/backups`), one at a time, which `meridian-node backup` on the same host moves
/// out. A checkpoint left by a backup that did not finish is removed by the next one.
public final class BackupCheckpoints: Sendable {
    let store: BlockStore
    let directory: DataDirectory
    private let busy = Mutex(false)

    public init(store: BlockStore, directory: DataDirectory) { self.store = store; self.directory = directory }

    /// Names are `checkpoint-<unix milliseconds>`: nothing a caller chooses reaches the file system.
    public static func isCheckpointName(_ name: String) -> Bool {
        name.hasPrefix("checkpoint-") && name.count <= 40 && name.dropFirst("checkpoint-".count).allSatisfy(\.isASCII) && UInt64(name.dropFirst("checkpoint-".count)) != nil
    }

    public struct Taken: Sendable, Encodable { public let name: String; public let height: UInt64 }

    /// Takes a checkpoint now; throws `backup.busy` while another is being taken.
    public func take(now: Date = Date()) throws -> Taken {
        guard busy.withLock({ b in if b { return false }; b = true; return true }) else {
            throw NodeBackup.BackupError("backup.busy", "another backup's checkpoint is being taken")
        }
        defer { busy.withLock { $0 = false } }
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory.backups, withIntermediateDirectories: true)
        for old in (try? fm.contentsOfDirectory(atPath: directory.backups)) ?? [] where Self.isCheckpointName(old) {
            try? fm.removeItem(atPath: directory.backups + "/" + old)
        }
        let name = "checkpoint-\(UInt64(now.timeIntervalSince1970 * 1000))"
        let height = try store.headHeight()
        do { try store.db.checkpoint(to: directory.backups + "/" + name) }
        catch { throw NodeBackup.BackupError("backup.checkpoint", "\(error)") }
        return Taken(name: name, height: height)
    }
}
