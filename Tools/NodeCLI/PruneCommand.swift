import ArgumentParser
import Foundation
import MeridianCore
import MeridianStorage
import MeridianModules
import MeridianRuntime
import MeridianNode

/// `meridian-node prune --data-dir D`: prunes a stopped node's store now (a running node prunes
/// itself every `pruning.intervalSeconds`), then compacts; prints the database's size before and after.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prune a stopped node's old state versions and, beyond the chain's audit retention, block bodies; then compact.")
    @Option(help: "Data directory of the (stopped) node.") var dataDir: String = "data/node"
    @Option(help: "State versions to keep below the head (default: node.json pruning.keepRecentHeights).") var keepRecent: UInt64?

    func run() async throws {
        let dir = DataDirectory(dataDir)
        let config = try dir.loadConfig()
        let keep = keepRecent ?? config.pruning.keepRecentHeights
        guard keep > 0 else { throw ValidationError("keeping every version (pruning.keepRecentHeights 0): give --keep-recent N") }
        let before = Self.bytes(under: dir.database)
        let store: BlockStore
        do { store = try BlockStore(path: dir.database, additionalColumns: DataDirectory.databaseColumns) }
        catch { throw ValidationError("\(dir.database) does not open (stop the node first: a running node prunes itself): \(error)") }
        let reader = StorageReader(storage: store.stateStorage)
        let retention = try reader.read(ChainParameters.self, ChainState.parametersKey)?.auditRetentionDays ?? ChainParameters().auditRetentionDays
        guard let (stateBelow, bodiesBelow) = try Pruning.plan(store: store, keepRecentHeights: keep, retentionDays: retention) else {
            print("nothing to prune: the head is within \(keep) heights of genesis"); return
        }
        let pruner = StorePruner(store: store)
        guard let prepared = try pruner.prepare(stateBelow: stateBelow) else { print("nothing to prune: state below \(stateBelow) is already pruned"); return }
        let outcome = try pruner.apply(prepared, bodiesBelow: bodiesBelow)
        pruner.compact()
        let after = Self.bytes(under: dir.database)
        print("state kept from height \(outcome.stateKeptFrom) (\(outcome.rootsDeleted) versions and \(outcome.recordsDeleted) tree records deleted); "
              + "bodies kept from height \(outcome.bodiesKeptFrom) (\(outcome.bodiesPruned) pruned; audit retention \(retention) days)")
        print("database \(before >> 20) MiB before, \(after >> 20) MiB after compaction")
    }

    static func bytes(under path: String) -> UInt64 {
        let fm = FileManager.default
        var total: UInt64 = 0
        for f in fm.enumerator(atPath: path)?.compactMap({ $0 as? String }) ?? [] {
            total += (try? fm.attributesOfItem(atPath: path + "/" + f)[.size] as? UInt64) ?? 0
        }
        return total
    }
}
