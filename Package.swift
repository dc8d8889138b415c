// swift-tools-version:6.1
// Meridian: a permissioned chain for cross-border health-data consent, audit and sharing.
// The layout follows the design card: Runtime/ (deterministic rules), Node/ (time and I/O),
// Tools/ (CLIs, benchmarks, fuzzers), Contracts/, Genesis/, Tests/. See docs/ARCHITECTURE.md.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The consensus core and its simulator run optimised in every build configuration.
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "Meridian",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeridianRuntime", targets: ["MeridianRuntime"]),
        .executable(name: "meridian-bench", targets: ["MeridianBench"]),
        .executable(name: "meridian-genesis", targets: ["meridian-genesis"]),
        .executable(name: "meridian-scenario", targets: ["meridian-scenario"]),
        .executable(name: "meridian-determinism", targets: ["meridian-determinism"]),
        .executable(name: "meridian-node", targets: ["meridian-node"]),
        .executable(name: "meridian-wallet", targets: ["meridian-wallet"]),
        .executable(name: "meridian-provider", targets: ["meridian-provider"]),
        .executable(name: "meridian-audit", targets: ["meridian-audit"]),
        .executable(name: "meridian-sim", targets: ["meridian-sim"]),
        .executable(name: "meridian-localnet", targets: ["meridian-localnet"]),
        .executable(name: "meridian-sensors", targets: ["meridian-sensors"]),
        .executable(name: "meridian-demo", targets: ["meridian-demo"]),
        .executable(name: "meridian-witness", targets: ["meridian-witness"]),
        .executable(name: "meridian-indexer", targets: ["meridian-indexer"]),
        .executable(name: "meridian-signer", targets: ["meridian-signer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // Exact: its fuel schedule is part of consensus (every validator must charge the same fuel).
        .package(url: "https://github.com/swiftwasm/WasmKit", exact: "0.4.2"),
        // The tests' child processes (nodes, CLIs, the Python cross-checks): exits watched by pidfd,
        // real close-on-exec, cancellation kills the child (Tests/Support/ChildProcess.swift says why).
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        // TLS: the API's HTTPS and MLLP's client certificates (swift-nio-ssl, under HummingbirdTLS),
        // the CLIs' HTTPS client trusting a local CA (AsyncHTTPClient: Linux's URLSession cannot be
        // given a CA), and the local CA `meridian-localnet init` issues (swift-certificates).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        // The regulators' SQL copy (meridian-indexer writes committed blocks and audit entries into PostgreSQL).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        // C libraries, found by pkg-config; each is wrapped once by a Swift type in MeridianCore/MeridianStorage.
        .systemLibrary(name: "CSecp256k1", path: "Runtime/System/CSecp256k1", pkgConfig: "libsecp256k1",
                       providers: [.apt(["libsecp256k1-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Runtime/System/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        // OpenSSL initialised before main without its exit-time cleanup (see the C file).
        .target(name: "COpenSSLInit", dependencies: ["COpenSSL"], path: "Runtime/System/COpenSSLInit"),
        .systemLibrary(name: "CRocksDB", path: "Node/System/CRocksDB", pkgConfig: "rocksdb",
                       providers: [.apt(["librocksdb-dev"])]),

        // Runtime: deterministic, no clock, no network, no disk beyond the state interface.
        // Optimised in every configuration: its codec and hashing are in every hot path, and the
        // consensus simulation decodes millions of messages in CI's debug build.
        .target(name: "MeridianCore", dependencies: ["CSecp256k1", "COpenSSL", "COpenSSLInit"], path: "Runtime/Core",
                swiftSettings: strict + optimised),
        .target(name: "MeridianState", dependencies: ["MeridianCore"], path: "Runtime/State",
                swiftSettings: strict),
        // Transparency-log formats (C2SP signed-note, tlog-checkpoint): the audit log's witnesses (issue 23).
        .target(name: "MeridianTransparency", dependencies: ["MeridianCore", .product(name: "Crypto", package: "swift-crypto")],
                path: "Runtime/Transparency", swiftSettings: strict),
        .target(name: "MeridianModules", dependencies: ["MeridianCore", "MeridianState", .product(name: "WasmKit", package: "WasmKit")], path: "Runtime/Modules",
                swiftSettings: strict),
        .target(name: "MeridianRuntime", dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianTransparency"],
                path: "Runtime/Execution", swiftSettings: strict),

        // The light client: verification of headers and state entries from genesis, no I/O.
        .target(name: "MeridianLightClient", dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianTransparency"],
                path: "Runtime/LightClient", swiftSettings: strict),

        // Node: everything with time and I/O.
        .target(name: "MeridianStorage", dependencies: ["CRocksDB", "MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianTransparency"],
                path: "Node/Storage", swiftSettings: strict),

        // Consensus: the Tendermint core, pure (no clock, socket or disk). Optimised even in debug
        // builds, so that CI's hundreds of simulated runs stay fast.
        .target(name: "MeridianConsensus", dependencies: ["MeridianCore"], path: "Node/Consensus/Core",
                swiftSettings: strict + optimised),
        // The consensus driver: a pure DriverCore (inputs in, actions out) and its thin actor shell;
        // the journal (WAL and signing guard) and transport seams. No dependency on P2P.
        .target(name: "MeridianConsensusDriver", dependencies: ["MeridianCore", "MeridianConsensus", "MeridianModules", "MeridianRuntime", .product(name: "Logging", package: "swift-log")], path: "Node/Consensus/Driver",
                swiftSettings: strict + optimised),
        // P2P: the authenticated, encrypted transport between nodes (handshake, frames, SwiftNIO).
        .target(name: "MeridianP2P", dependencies: ["MeridianCore",
                                                    .product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "NIOPosix", package: "swift-nio")],
                path: "Node/P2P", swiftSettings: strict),
        // Record bodies at the custodian: encrypted at rest, each with its own key, checked against commitments.
        // What custodians and clients say to each other about record bodies (summary and transfer
        // requests, payloads, erasure notices): no storage, so the CLIs link it without RocksDB.
        // The validator key's separate process (meridian-signer) and the node's client of it (issue 24).
        .target(name: "MeridianSigner", dependencies: ["MeridianCore", "MeridianConsensus", "MeridianConsensusDriver", "MeridianRuntime", "MeridianP2P"],
                path: "Node/Signer", swiftSettings: strict),
        .target(name: "MeridianRecordMessages", dependencies: ["MeridianCore", "MeridianModules"], path: "Node/RecordMessages",
                swiftSettings: strict),
        .target(name: "MeridianRecords", dependencies: ["MeridianCore", "MeridianModules", "MeridianStorage", "MeridianRecordMessages"], path: "Node/RecordStore",
                swiftSettings: strict),
        // Request authentication: RFC 9421 HTTP Message Signatures with the bip340 algorithm, for the
        // node (verify) and every client (sign).
        .target(name: "MeridianRequestAuth", dependencies: ["MeridianCore"], path: "Node/RequestAuth", swiftSettings: strict),
        .target(name: "MeridianMempool", dependencies: ["MeridianCore", "MeridianModules", "MeridianRuntime"], path: "Node/Mempool",
                swiftSettings: strict),
        .target(name: "MeridianNode",
                dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianStorage", "MeridianMempool",
                               "MeridianConsensus", "MeridianConsensusDriver", "MeridianP2P", "MeridianTransparency",
                               "MeridianVitals", "MeridianIngest", "MeridianRisk", "MeridianWorkers", "MeridianModel",
                               "MeridianRecords", "MeridianRecordMessages", "MeridianSummary", "MeridianLightClient", "MeridianRequestAuth", "MeridianSigner",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                               .product(name: "HummingbirdTLS", package: "hummingbird"),
                               .product(name: "HummingbirdCore", package: "hummingbird"),
                               .product(name: "NIOSSL", package: "swift-nio-ssl"),
                               .product(name: "AsyncHTTPClient", package: "async-http-client"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                path: "Node/Service", resources: [.copy("openapi.yaml")], swiftSettings: strict),

        // Off-chain workers: vital-sign model and units, parsers of every ingestion format, risk scoring.
        .target(name: "MeridianVitals", dependencies: ["MeridianCore"], path: "Node/Workers/Vitals", swiftSettings: strict),
        .target(name: "MeridianRisk", dependencies: ["MeridianCore", "MeridianModules", "MeridianVitals", "MeridianModel", .product(name: "DequeModule", package: "swift-collections")],
                path: "Node/Workers/Risk", swiftSettings: strict),
        // The native ONNX evaluator: onnx.proto compiled once by swift-protobuf's plugin (Generated/).
        .target(name: "MeridianModel", dependencies: ["MeridianCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                path: "Node/Workers/Model", swiftSettings: strict),
        // Patient summaries: coded terminology (ICD-10 from the WHO translations, imported at setup) and translation.
        .target(name: "MeridianSummary", dependencies: ["MeridianCore"], path: "Node/Workers/Summary",
                resources: [.copy("Catalogue/summary-catalogue.json")], swiftSettings: strict),
        .target(name: "MeridianIngest", dependencies: ["MeridianCore", "MeridianVitals"], path: "Node/Workers/Ingest", swiftSettings: strict),
        // The workers inside the node: reading store (its own RocksDB column families), host, alerts, anchoring.
        .target(name: "MeridianWorkers", dependencies: ["MeridianCore", "MeridianModules", "MeridianVitals", "MeridianIngest", "MeridianRisk", "MeridianStorage",
                                                  .product(name: "Logging", package: "swift-log"),
                                                  .product(name: "NIOCore", package: "swift-nio"),
                                                  .product(name: "NIOPosix", package: "swift-nio"),
                                                  .product(name: "Prometheus", package: "swift-prometheus"),
                                                  .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                                  .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                path: "Node/Workers/Pipeline", swiftSettings: strict),

        // Tools.
        .target(name: "MeridianDemo", dependencies: ["MeridianCore", "MeridianModules", "MeridianRuntime", "MeridianWalletKit", "MeridianTransparency"],
                path: "Tools/Demo", swiftSettings: strict),
        .target(name: "MeridianClient", dependencies: ["MeridianCore", "MeridianModules", "MeridianRuntime", "MeridianWalletKit", "MeridianRequestAuth", "MeridianLightClient", "MeridianTransparency",
                                                 .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                 .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                 .product(name: "NIOCore", package: "swift-nio"),
                                                 .product(name: "NIOHTTP1", package: "swift-nio"),
                                                 .product(name: "NIOSSL", package: "swift-nio-ssl")],
                path: "Tools/Client", swiftSettings: strict),
        .target(name: "MeridianWalletKit", dependencies: ["MeridianCore"], path: "Tools/WalletKit",
                resources: [.copy("bip39-english.txt")], swiftSettings: strict),
        .executableTarget(name: "meridian-node",
                          dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianStorage", "MeridianNode", "MeridianClient", "MeridianModel", "MeridianSummary", "MeridianTransparency",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "NIOCore", package: "swift-nio"),
                                         .product(name: "NIOPosix", package: "swift-nio")],
                          path: "Tools/NodeCLI", swiftSettings: strict),
        // The witness a data-protection authority runs (c2sp.org/tlog-witness; issue 23).
        .executableTarget(name: "meridian-witness",
                          dependencies: ["MeridianCore", "MeridianTransparency", "MeridianRuntime", "MeridianLightClient", "MeridianClient",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Hummingbird", package: "hummingbird"),
                                         .product(name: "Logging", package: "swift-log")],
                          path: "Tools/Witness", swiftSettings: strict),
        .executableTarget(name: "meridian-wallet",
                          dependencies: ["MeridianCore", "MeridianModules", "MeridianRuntime", "MeridianClient", "MeridianWalletKit",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/Wallet", swiftSettings: strict),
        .executableTarget(name: "meridian-provider",
                          dependencies: ["MeridianCore", "MeridianModules", "MeridianRuntime", "MeridianClient", "MeridianVitals", "MeridianIngest", "MeridianSummary", "MeridianRecordMessages",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/Provider", swiftSettings: strict),
        // Streams committed blocks, receipts, audit entries, decisions and anchors into PostgreSQL,
        // exactly once behind a durable cursor (issue 24 item 8; docs/INDEXER.md).
        .executableTarget(name: "meridian-signer",
                          dependencies: ["MeridianCore", "MeridianSigner", "MeridianClient",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/Signer", swiftSettings: strict),
        .executableTarget(name: "meridian-indexer",
                          dependencies: ["MeridianCore", "MeridianClient",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "PostgresNIO", package: "postgres-nio"),
                                         .product(name: "NIOSSL", package: "swift-nio-ssl")],
                          path: "Tools/Indexer", exclude: ["Reports"], swiftSettings: strict),
        .executableTarget(name: "meridian-audit",
                          dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianLightClient", "MeridianClient", "MeridianVitals", "MeridianRisk", "MeridianRecordMessages", "MeridianTransparency",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/Audit", swiftSettings: strict),
        // The determinism check: blocks with every hostile contract kind, executed in one process
        // and replayed in another; the records must match byte for byte (Tests/EndToEndTests).
        .executableTarget(name: "meridian-determinism",
                          dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianDemo", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/Determinism", swiftSettings: strict),
        .executableTarget(name: "meridian-scenario",
                          dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianStorage", "MeridianDemo", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/Scenario", swiftSettings: strict),
        .target(name: "MeridianSimulation",
                dependencies: ["MeridianCore", "MeridianConsensus", "MeridianConsensusDriver", "MeridianModules", "MeridianRuntime",
                               .product(name: "HeapModule", package: "swift-collections")],
                path: "Tools/Simulator", swiftSettings: strict + optimised),
        .executableTarget(name: "meridian-localnet",
                          dependencies: ["MeridianCore", "MeridianClient", "MeridianDemo", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "X509", package: "swift-certificates"),
                                         .product(name: "SwiftASN1", package: "swift-asn1"),
                                         .product(name: "Crypto", package: "swift-crypto")],
                          path: "Tools/Localnet", swiftSettings: strict),
        .executableTarget(name: "meridian-sensors",
                          dependencies: ["MeridianCore", "MeridianModules", "MeridianRuntime", "MeridianClient", "MeridianDemo", "MeridianVitals", "MeridianIngest",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                                         .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                         .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")],
                          path: "Tools/Sensors", swiftSettings: strict),
        .executableTarget(name: "meridian-sim", dependencies: ["MeridianSimulation", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/Sim", swiftSettings: strict),
        // Demo only: the demo cast's keys as keystores (for the production CLIs' --keystore) and the
        // demo patients' IPS documents; no production executable links MeridianDemo.
        .executableTarget(name: "meridian-demo", dependencies: ["MeridianCore", "MeridianDemo", "MeridianClient", "MeridianSummary", "MeridianRuntime",
                                                              "MeridianLightClient", "MeridianTransparency",
                                                              .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                              .product(name: "Hummingbird", package: "hummingbird")],
                          path: "Tools/DemoCLI", swiftSettings: strict),
        .executableTarget(name: "meridian-genesis", dependencies: ["MeridianDemo", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "Tools/GenesisTool",
                          swiftSettings: strict),
        .executableTarget(name: "MeridianBench",
                          dependencies: ["MeridianRuntime", "MeridianStorage", "MeridianDemo", "MeridianClient", "CSecp256k1",
                                         "MeridianVitals", "MeridianIngest", "MeridianRisk", "MeridianWorkers", "MeridianModel", "MeridianNode",
                                         "MeridianSummary", "MeridianRecords", "MeridianRecordMessages", "MeridianRequestAuth", "MeridianTransparency",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "Hummingbird", package: "hummingbird"),
                                         .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")],
                          path: "Tools/Bench", swiftSettings: strict),
        .target(name: "MeridianFuzzing", path: "Tools/Fuzzing", swiftSettings: strict),
        .executableTarget(name: "FuzzWorkers", dependencies: ["MeridianCore", "MeridianVitals", "MeridianIngest", "MeridianModel", "MeridianFuzzing"], path: "Tools/FuzzWorkers",
                          swiftSettings: strict),
        .executableTarget(name: "FuzzContracts", dependencies: ["MeridianCore", "MeridianModules", "MeridianFuzzing"], path: "Tools/FuzzContracts",
                          swiftSettings: strict),
        .executableTarget(name: "FuzzCodec", dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianDemo", "MeridianFuzzing"], path: "Tools/FuzzCodec",
                          swiftSettings: strict),

        // Tests mirror the layout.
        // What the test targets share: child processes that a time limit can stop, node slots.
        .target(name: "MeridianTestSupport", dependencies: [.product(name: "Subprocess", package: "swift-subprocess")],
                path: "Tests/Support", swiftSettings: strict),
        .testTarget(name: "RuntimeTests",
                    dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianDemo", "MeridianTestSupport", "MeridianTransparency"],
                    path: "Tests/RuntimeTests", resources: [.copy("Data")], swiftSettings: strict),
        .testTarget(name: "NodeTests",
                    dependencies: ["MeridianCore", "MeridianState", "MeridianModules", "MeridianRuntime", "MeridianStorage", "MeridianDemo",
                                   "MeridianMempool", "MeridianNode", "MeridianConsensus", "MeridianSimulation", "MeridianP2P", "MeridianConsensusDriver", "MeridianLightClient", "MeridianWorkers", "MeridianVitals", "MeridianIngest", "MeridianRisk", "MeridianRecords", "MeridianRecordMessages", "MeridianSummary", "MeridianRequestAuth", "MeridianTestSupport", "MeridianTransparency",
                                   .product(name: "Logging", package: "swift-log"),
                                   .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOPosix", package: "swift-nio"),
                                   .product(name: "Hummingbird", package: "hummingbird"),
                                   .product(name: "HummingbirdTesting", package: "hummingbird"),
                                   .product(name: "Yams", package: "Yams")],
                    path: "Tests/NodeTests", swiftSettings: strict),
        .testTarget(name: "WorkerTests", dependencies: ["MeridianCore", "MeridianModules", "MeridianVitals", "MeridianRisk", "MeridianModel", "MeridianSummary", "MeridianRecords", "MeridianRecordMessages", "MeridianIngest", "MeridianWorkers", "MeridianStorage", "MeridianTestSupport",
                                                      .product(name: "Prometheus", package: "swift-prometheus"),
                                                      .product(name: "Logging", package: "swift-log"),
                                                      .product(name: "NIOCore", package: "swift-nio"),
                                                      .product(name: "NIOPosix", package: "swift-nio")], path: "Tests/WorkerTests",
                    swiftSettings: strict),
        .testTarget(name: "ToolTests", dependencies: ["MeridianCore", "MeridianWalletKit", "MeridianTestSupport"], path: "Tests/ToolTests", swiftSettings: strict),
        // Real processes: the executables (built by `swift build` before `swift test`, see the Makefile)
        // on loopback ports, driven by the real CLIs.
        .testTarget(name: "EndToEndTests",
                    dependencies: ["MeridianCore", "MeridianModules", "MeridianRuntime", "MeridianClient", "MeridianDemo", "MeridianP2P", "MeridianVitals", "MeridianIngest",
                                   "MeridianConsensus", "MeridianConsensusDriver", "MeridianRecords", "MeridianRecordMessages", "MeridianSummary", "MeridianTestSupport", "MeridianTransparency", "MeridianSigner", "MeridianLightClient", "MeridianStorage", "MeridianNode",
                                   .product(name: "Logging", package: "swift-log"),
                                   .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOPosix", package: "swift-nio"),
                                   .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")],
                    path: "Tests/EndToEndTests", swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
