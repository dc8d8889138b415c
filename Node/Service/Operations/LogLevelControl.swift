public import Logging
import Foundation
import Synchronization

/// The node's log level, changeable while it runs (`PUT /v1/node/log-level` by an operator of this
/// node's organisation, or SIGHUP, which re-reads `logLevel` from node.json): an operator chasing a
/// fault turns on debug without a restart, which would lose the very state being looked at.
///
/// swift-log fixes a handler's level when the logger is made; the handlers this control makes read
/// the shared level at each call instead (one atomic load).
public final class LogLevelControl: Sendable {
    private let level: Atomic<UInt8>
    private static let levels = Logger.Level.allCases

    public init(_ level: Logger.Level) { self.level = Atomic(Self.index(level)) }

    public var current: Logger.Level { Self.levels[Int(level.load(ordering: .relaxed))] }

    public func set(_ newLevel: Logger.Level) { level.store(Self.index(newLevel), ordering: .relaxed) }

    private static func index(_ l: Logger.Level) -> UInt8 { UInt8(levels.firstIndex(of: l) ?? 0) }

    /// A handler writing to standard error at the shared level (for `LoggingSystem.bootstrap`).
    public func standardError(label: String) -> any LogHandler {
        var inner = StreamLogHandler.standardError(label: label)
        inner.logLevel = .trace   // the shared level decides; the stream writes what passes
        return Handler(inner: inner, control: self)
    }

    /// Forwards to a stream handler; its level is the control's unless a logger set its own.
    struct Handler: LogHandler {
        var inner: StreamLogHandler
        let control: LogLevelControl
        /// A level one `Logger` value set on itself (swift-log's value semantics: it affects that logger only).
        var own: Logger.Level?

        init(inner: StreamLogHandler, control: LogLevelControl) { self.inner = inner; self.control = control }

        var logLevel: Logger.Level {
            get { own ?? control.current }
            set { own = newValue }
        }
        var metadata: Logger.Metadata {
            get { inner.metadata }
            set { inner.metadata = newValue }
        }
        var metadataProvider: Logger.MetadataProvider? {
            get { inner.metadataProvider }
            set { inner.metadataProvider = newValue }
        }
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { inner[metadataKey: key] }
            set { inner[metadataKey: key] = newValue }
        }
        func log(event: LogEvent) { inner.log(event: event) }
    }
}

/// SIGHUP re-reads `logLevel` from node.json (the Unix daemon's convention, for an operator on
/// the host); a node.json that does not parse leaves the level as it was and says why.
final class LogLevelReload: @unchecked Sendable {
    // @unchecked: `source` is set once in start() and cancelled in stop(), both from NodeRunner.run.
    let control: LogLevelControl
    let dataDirectory: DataDirectory
    let logger: Logger
    private var source: (any DispatchSourceSignal)?

    init(control: LogLevelControl, dataDirectory: DataDirectory, logger: Logger) {
        self.control = control; self.dataDirectory = dataDirectory; self.logger = logger
    }

    func start() {
        signal(SIGHUP, SIG_IGN)   // delivered to the dispatch source instead of ending the process
        let s = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "meridian.sighup"))
        s.setEventHandler { [control, dataDirectory, logger] in
            do {
                let config = try dataDirectory.loadConfig()
                guard let level = Logger.Level(rawValue: config.logLevel) else { return }
                let previous = control.current
                control.set(level)
                logger.notice("log level re-read from node.json (SIGHUP)", metadata: ["level": "\(level.rawValue)", "previous": "\(previous.rawValue)"])
            } catch {
                logger.error("SIGHUP: node.json not re-read; the log level is unchanged", metadata: ["error": "\(error)"])
            }
        }
        s.resume()
        source = s
    }

    func stop() { source?.cancel() }
}
