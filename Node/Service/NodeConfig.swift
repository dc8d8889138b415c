import Foundation
public import MeridianMempool

/// The node's configuration file (`<data-dir>/node.json`), written by `meridian-node init` with
/// every default spelled out. Missing keys take the defaults below.
public struct NodeConfig: Codable, Sendable, Hashable {
    /// Address and port of the HTTP API (`127.0.0.1:26657` by default; port 0 picks a free one).
    public var apiHost: String = "127.0.0.1"
    public var apiPort: Int = 26657
    /// Milliseconds between blocks.
    public var blockIntervalMilliseconds: Int = 1000
    /// Whether to produce a block when the mempool is empty.
    public var emptyBlocks: Bool = false
    /// Transactions a proposed block may carry at most (also bounded by the chain parameter).
    public var maxBlockTransactions: Int = 2000
    /// Bytes of transactions a proposed block may carry at most.
    public var maxBlockBytes: Int = 8 << 20
    /// Largest HTTP request body accepted.
    public var maxRequestBodyBytes: Int = 1 << 20
    /// Threads that check signatures during block execution (0: one per core).
    public var verificationThreads: Int = 0
    /// Log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String = "info"
    public var mempool = MempoolLimits()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case apiHost, apiPort, blockIntervalMilliseconds, emptyBlocks, maxBlockTransactions, maxBlockBytes
        case maxRequestBodyBytes, verificationThreads, logLevel, mempool
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = NodeConfig()
        apiHost = try c.decodeIfPresent(String.self, forKey: .apiHost) ?? d.apiHost
        apiPort = try c.decodeIfPresent(Int.self, forKey: .apiPort) ?? d.apiPort
        blockIntervalMilliseconds = try c.decodeIfPresent(Int.self, forKey: .blockIntervalMilliseconds) ?? d.blockIntervalMilliseconds
        emptyBlocks = try c.decodeIfPresent(Bool.self, forKey: .emptyBlocks) ?? d.emptyBlocks
        maxBlockTransactions = try c.decodeIfPresent(Int.self, forKey: .maxBlockTransactions) ?? d.maxBlockTransactions
        maxBlockBytes = try c.decodeIfPresent(Int.self, forKey: .maxBlockBytes) ?? d.maxBlockBytes
        maxRequestBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxRequestBodyBytes) ?? d.maxRequestBodyBytes
        verificationThreads = try c.decodeIfPresent(Int.self, forKey: .verificationThreads) ?? d.verificationThreads
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? d.logLevel
        mempool = try c.decodeIfPresent(MempoolLimits.self, forKey: .mempool) ?? d.mempool
    }

    /// Checks the values, naming the first bad one.
    public func validate() throws(NodeError) {
        guard (0...65535).contains(apiPort) else { throw NodeError("config.apiPort", "\(apiPort) is not a port") }
        guard blockIntervalMilliseconds >= 10 && blockIntervalMilliseconds <= 600_000 else { throw NodeError("config.blockIntervalMilliseconds", "must be 10...600000") }
        guard maxBlockTransactions >= 1 else { throw NodeError("config.maxBlockTransactions", "must be positive") }
        guard maxBlockBytes >= 1024 else { throw NodeError("config.maxBlockBytes", "must be at least 1024") }
        guard maxRequestBodyBytes >= 1024 else { throw NodeError("config.maxRequestBodyBytes", "must be at least 1024") }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else { throw NodeError("config.logLevel", "'\(logLevel)' is not a level") }
        guard mempool.maxTransactions > 0, mempool.maxBytes > 0, mempool.maxPerAccount > 0 else { throw NodeError("config.mempool", "limits must be positive") }
    }
}

/// A node-level failure with the setting or file it concerns.
public struct NodeError: Error, Sendable, CustomStringConvertible {
    public let field: String
    public let message: String
    public init(_ field: String, _ message: String) { self.field = field; self.message = message }
    public var description: String { "\(field): \(message)" }
}
