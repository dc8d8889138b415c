import Foundation
import Testing
import MeridianTestSupport

/// What the built executables link, read from their symbol tables (GNU `nm`): the production CLIs
/// hold no code of the demo cast (whose keys are derived from public names) and neither they nor the
/// sensor simulator carry the node's server or its RocksDB storage. Each check has its positive
/// control, so that a symbol naming scheme that changed cannot make it pass vacuously.
/// (10 minutes, as the other suites that start nodes: the limit also counts the wait for one of the
/// suite's node slots, which a localnet test holds all of for its whole run.)
@Suite(.timeLimit(.minutes(10))) struct ProductionBinariesTests {
    /// The Swift mangling of a module's name as it prefixes that module's symbols.
    static func mangled(_ module: String) -> String { "\(module.utf8.count)\(module)" }

    static func symbols(_ binary: String) async throws -> String {
        let r = try await ChildProcess.run("/usr/bin/nm", [try Binaries.path(binary)])
        #expect(r.status == 0, "nm \(binary): \(r.stderr)")
        return r.stdout
    }

    @Test func productionCLIsHoldNoDemoKeysAndNoNodeServer() async throws {
        let demo = Self.mangled("MeridianDemo"), node = Self.mangled("MeridianNode")
        #expect(try await Self.symbols("meridian-demo").contains(demo), "control: the demo-only tool links the demo cast")
        let nodeSymbols = try await Self.symbols("meridian-node")
        #expect(nodeSymbols.contains(node) && nodeSymbols.contains("rocksdb_open"), "control: the node links its server and RocksDB")
        #expect(!nodeSymbols.contains(demo), "meridian-node links the demo cast")
        for cli in ["meridian-wallet", "meridian-provider", "meridian-audit"] {
            let s = try await Self.symbols(cli)
            #expect(!s.contains(demo), "\(cli) links the demo cast")
        }
        for tool in ["meridian-wallet", "meridian-provider", "meridian-audit", "meridian-sensors"] {
            let s = try await Self.symbols(tool)
            #expect(!s.contains(node), "\(tool) links the node's server")
            #expect(!s.contains("rocksdb_open"), "\(tool) links RocksDB")
        }
    }

    /// The demo's old shortcut is gone from the production CLIs: a key is a keystore.
    @Test func theProductionCLIsHaveNoDemoKeyOption() async throws {
        let dir = try TemporaryDirectory("no-demo-option")
        for (cli, args) in [("meridian-wallet", ["address", "--demo", "maria"]), ("meridian-audit", ["trail", "--demo", "dpa-pt/officer"]),
                            ("meridian-node", ["init", "--data-dir", dir.path("n"), "--demo-validators"])] {
            let r = try await run(cli, args, in: dir)
            #expect(r.status == 64 && r.stderr.contains("Unknown option"), "\(cli) \(args): \(r)")
        }
        // The demo-only tool refuses a name outside the cast, saying so.
        let unknown = try await run("meridian-demo", ["keys", "--dir", dir.path("keys"), "mallory"], environment: ["MERIDIAN_PASSPHRASE": "p"], in: dir)
        #expect(unknown.status == 64 && unknown.stderr.contains("not a demo actor"), "\(unknown)")
    }
}
