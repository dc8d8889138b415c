import ArgumentParser
import Foundation
import MeridianCore
import MeridianStorage
import MeridianNode
import MeridianClient

/// `meridian-node backup --data-dir D --out DIR`: a consistent copy of a node, running or stopped.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up a node's data directory while it runs (a RocksDB checkpoint, its config and its encrypted worker and records keystores).",
        discussion: """
            A running node is asked (as an operator of its organisation: --keystore) for a checkpoint of its
            database, which this command moves out; run it on the node's host, as the user the node runs as.
            A stopped node's database is opened and checkpointed directly. The validator's keystore and its
            signing guard are never copied (the manifest lists the validator's address): restore gives them.
            """)
    @Option(help: "Data directory of the node.") var dataDir: String = "data/node"
    @Option(help: "Directory to write the backup to (created; must be empty).") var out: String
    @OptionGroup var key: KeyOptions

    func run() async throws {
        let dir = DataDirectory(dataDir)
        guard FileManager.default.fileExists(atPath: dir.database) else { throw ValidationError("\(dataDir) holds no node database") }
        let checkpoint: String
        if let pid = runningNode(dir) {
            guard key.keystore != nil || ProcessInfo.processInfo.environment["MERIDIAN_KEYSTORE"] != nil else {
                throw ValidationError("the node is running (pid \(pid)): give an operator's --keystore to ask it for a checkpoint")
            }
            let client = try NodeClient.resolve(key.node, dataDir: dataDir, ca: key.ca).expecting(node: key.nodeKey).signed(by: key.key())
            struct Taken: Decodable { let name: String; let height: UInt64 }
            let taken = try JSONDecoder().decode(Taken.self, from: try await client.request("POST", "/v1/node/backups"))
            // Only a name the node may have made, under this data directory's backups/.
            guard BackupCheckpoints.isCheckpointName(taken.name) else { throw ValidationError("the node answered an unexpected checkpoint name") }
            checkpoint = dir.backups + "/" + taken.name
            guard FileManager.default.fileExists(atPath: checkpoint + "/CURRENT") else {
                throw ValidationError("the node's checkpoint is not under \(dir.backups): is --node the node of --data-dir \(dataDir)?")
            }
        } else {
            let store: BlockStore
            do { store = try BlockStore(path: dir.database, additionalColumns: DataDirectory.databaseColumns) }
            catch { throw ValidationError("\(dir.database) does not open (is the node running without its pid file?): \(error)") }
            try FileManager.default.createDirectory(atPath: dir.backups, withIntermediateDirectories: true)
            checkpoint = dir.backups + "/checkpoint-\(UInt64(Date().timeIntervalSince1970 * 1000))"
            try store.db.checkpoint(to: checkpoint)
        }
        let manifest: NodeBackup.Manifest
        do { manifest = try NodeBackup.write(checkpoint: checkpoint, dataDirectory: dir, to: out) }
        catch let e as NodeBackup.BackupError { throw ValidationError(e.description) }
        let bytes = manifest.files.reduce(UInt64(0)) { $0 + $1.bytes }
        print("backup of \(manifest.chainID) at height \(manifest.height) (block \(manifest.blockHash.prefix(16))…) in \(out): \(manifest.files.count) files, \(bytes >> 20) MiB")
        for k in manifest.keys {
            print("  \(k.role.padding(toLength: 9, withPad: " ", startingAt: 0)) \(k.address)  \(k.included ? "keystore included (encrypted)" : "listed only: its keystore and signing guard are not in the backup")")
        }
    }

    /// The pid of a node running on this data directory (its pid file names a live process).
    func runningNode(_ dir: DataDirectory) -> Int32? {
        guard let text = FileManager.default.contents(atPath: dir.pidFile).map({ String(decoding: $0, as: UTF8.self) }),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return nil }
        return pid
    }
}

/// `meridian-node restore --from DIR --data-dir NEW`: a backup back into a new data directory.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a backup into a new data directory, checking every file against its manifest; start the node and it catches up from its peers.")
    @Option(help: "The backup (from meridian-node backup).") var from: String
    @Option(help: "The new data directory (must not hold a database).") var dataDir: String
    @Option(help: "A validator's keystore (its address must be the backup's validator).") var validatorKeystore: String?
    @Option(help: "The validator's latest signing guard (signing-guard.json from the old host or kept with the key): never an older copy.")
    var signingGuard: String?
    @Flag(help: "Restore a validator's backup as a full node (no validator key: it follows consensus under its worker key).") var fullNode = false
    @Option(help: "The node's TLS private key (PEM), for a node that serves TLS: backups never hold it.") var tlsKey: String?

    func run() async throws {
        let mode: NodeBackup.ValidatorRestore?
        switch (validatorKeystore, signingGuard, fullNode) {
        case (nil, nil, false): mode = nil
        case (nil, nil, true): mode = .fullNode
        case (let k?, let g?, false): mode = .validator(keystore: k, signingGuard: g)
        case (_, _, true): throw ValidationError("--full-node restores without a validator key: drop --validator-keystore and --signing-guard")
        default: throw ValidationError("--validator-keystore and --signing-guard go together")
        }
        let manifest: NodeBackup.Manifest
        do { manifest = try NodeBackup.restore(from: from, to: DataDirectory(dataDir), validator: mode, tlsKey: tlsKey) }
        catch let e as NodeBackup.BackupError { throw ValidationError(e.description) }
        print("restored \(dataDir) from \(from): chain \(manifest.chainID) at height \(manifest.height) (block \(manifest.blockHash.prefix(16))…), \(manifest.files.count) files checked")
        if case .fullNode = mode { print("  as a full node: the validator key \(manifest.keys.first { $0.role == "validator" }?.address ?? "") stays out") }
        print("start it (meridian-node start --data-dir \(dataDir)) and it catches up from its peers")
    }
}
