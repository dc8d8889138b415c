// meridian-indexer: copies what a node has committed (blocks, transactions with their receipts and
// decisions, audit entries, anchors, evidence) into PostgreSQL, so a regulator or a hospital's data
// office queries it with SQL (the reports of meridian-audit are in Tools/Indexer/Reports). Exactly
// once: each page of blocks and the cursor past it are one PostgreSQL transaction, so a crash or a
// kill -9 at any moment resumes from the last block written, without gap or duplicate.
// docs/INDEXER.md is its guide.
import ArgumentParser
import Foundation
import Logging
import MeridianCore
import MeridianClient

@main
struct IndexerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-indexer",
        abstract: "Copy a node's committed blocks, receipts, audit entries, decisions and anchors into PostgreSQL, exactly once.",
        subcommands: [Run.self, Status.self, PrintSchema.self], defaultSubcommand: Run.self)
}

struct DatabaseOption: ParsableArguments {
    @Option(help: "PostgreSQL URL: postgresql://user[:password]@host[:port]/database[?sslmode=require], or ?host=/socket/dir for a Unix socket (default: $MERIDIAN_INDEXER_DATABASE).")
    var database: String?

    func url() throws -> DatabaseURL {
        guard let text = database ?? ProcessInfo.processInfo.environment["MERIDIAN_INDEXER_DATABASE"], !text.isEmpty else {
            throw ValidationError("give --database postgresql://… (or set MERIDIAN_INDEXER_DATABASE)")
        }
        do { return try DatabaseURL(text) } catch let e as IndexerError { throw ValidationError(e.message) }
    }
}

func logger(_ level: String) -> Logger {
    var l = Logger(label: "meridian-indexer")
    l.logLevel = Logger.Level(rawValue: level) ?? .info
    return l
}

/// Exit 1 with the reason on standard error (an `IndexerError` or a node's refusal).
func fail(_ error: any Error) -> Never {
    FileHandle.standardError.write(Data("meridian-indexer: \(error)\n".utf8))
    Foundation.exit(1)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Index from the cursor to the node's head, then follow new blocks (--once: stop at the head).")
    /// The reading key: a hospital operator's (every transaction, its organisation's audit entries)
    /// or a regulator's (its jurisdiction's audit entries); the node decides, and puts the reads on
    /// the audit trail. A database is indexed by one key only.
    @OptionGroup var key: KeyOptions
    @OptionGroup var db: DatabaseOption
    @Option(help: "Blocks per page (and per PostgreSQL transaction), 1 to 500.") var batch: Int = 100
    @Flag(help: "Stop once the node's head is indexed instead of following it.") var once = false
    @Option(help: "Seconds between polls of the node once caught up.") var poll: Double = 1
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String = "info"

    func validate() throws {
        guard (1...500).contains(batch) else { throw ValidationError("--batch: 1 to 500 blocks") }
        guard poll > 0, poll <= 3600 else { throw ValidationError("--poll: more than 0 and at most 3600 seconds") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: trace, debug, info, notice, warning, error or critical") }
    }

    func run() async throws {
        let log = logger(logLevel)
        let url = try db.url()
        let client = try key.client()
        let reader = Address(try key.key().publicKey).description
        let database: IndexDatabase
        do { database = try await IndexDatabase(url, logger: log) } catch { fail(error) }
        defer { Task { await database.close() } }
        do {
            try await database.lock()
            try await database.prepareSchema()
            var cursor = try await startingCursor(database, client: client, reader: reader)
            log.info("indexing", metadata: ["from": "\(cursor.height + 1)", "database": "\(url)"])
            var written = 0, entries = 0
            let started = ContinuousClock.now
            while true {
                let page: FeedPage
                do { page = try await client.get("/v1/index/blocks?from=\(cursor.height + 1)&limit=\(batch)", as: FeedPage.self) }
                catch let e as ClientError where e.status == 0 || e.status >= 500 {
                    if once { throw e }
                    log.warning("node unreachable; retrying", metadata: ["error": "\(e)"])
                    try await Task.sleep(for: .seconds(poll)); continue
                }
                guard page.chainID == cursor.chainID else {
                    throw IndexerError("feed.wrong_chain", "the node runs chain \(page.chainID); this database indexes \(cursor.chainID)")
                }
                var previous = (height: cursor.height, hash: cursor.blockHash, auditLogSize: cursor.auditLogSize)
                var verified: [VerifiedBlock] = []
                for b in page.blocks {
                    let v = try VerifiedBlock(b, chainID: cursor.chainID, after: previous)
                    verified.append(v); previous = (v.header.height, v.hash, v.header.auditLogSize)
                }
                if !verified.isEmpty {
                    cursor = try await database.write(verified, from: cursor)
                    written += verified.count; entries += verified.reduce(0) { $0 + $1.entries.count }
                    log.debug("indexed", metadata: ["height": "\(cursor.height)", "head": "\(page.head)"])
                }
                if page.next == nil && cursor.height >= page.head {
                    if once {
                        let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds)
                        print("indexed to block \(cursor.height) (\(written) blocks, \(entries) audit entries this run, \(String(format: "%.1f", seconds)) s) into \(url)")
                        return
                    }
                    try await Task.sleep(for: .seconds(poll))
                }
            }
        } catch { fail(error) }
    }

    /// The database's cursor, checked against this node and key; or, for a new database, the
    /// chain's genesis header (height 0, from the node's light-client route) as the first cursor.
    func startingCursor(_ database: IndexDatabase, client: NodeClient, reader: String) async throws -> IndexCursor {
        let chainID = try await client.chainID()
        if let c = try await database.cursor() {
            guard c.chainID == chainID else { throw IndexerError("database.other_chain", "this database indexes chain \(c.chainID); the node runs \(chainID)") }
            guard c.reader == reader else {
                throw IndexerError("database.other_reader", "this database is indexed with \(c.reader)'s standing; reading with another key would mix what each may see")
            }
            return c
        }
        struct Light: Decodable { let headers: [H]; struct H: Decodable { let height: UInt64; let header: String } }
        let light = try await client.get("/v1/light/headers?from=0&limit=1", as: Light.self)
        guard let g = light.headers.first, g.height == 0, let bytes = Hex.decode(g.header), let header = try? BlockHeader(canonicalBytes: bytes), header.chainID == chainID else {
            throw IndexerError("feed.genesis", "the node did not serve its genesis header")
        }
        let genesis = IndexCursor(chainID: chainID, reader: reader, height: 0, blockHash: header.hash.hex, auditLogSize: header.auditLogSize)
        try await database.start(at: genesis)
        guard let c = try await database.cursor() else { throw IndexerError("database.cursor", "the cursor was not written") }
        return c
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The database's cursor and row counts.")
    @OptionGroup var db: DatabaseOption
    func run() async throws {
        let database: IndexDatabase
        do { database = try await IndexDatabase(try db.url(), logger: logger("error")) } catch { fail(error) }
        defer { Task { await database.close() } }
        do {
            guard let c = try await database.cursor() else { print("not indexed yet"); return }
            print("chain   \(c.chainID)\nreader  \(c.reader)\nheight  \(c.height)\nblock   \(c.blockHash)\naudit log size \(c.auditLogSize)")
        } catch { fail(error) }
    }
}

struct PrintSchema: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "schema", abstract: "Print the SQL the indexer creates its tables with.")
    func run() async throws { print(Schema.statements.map { $0 + ";" }.joined(separator: "\n\n")) }
}
