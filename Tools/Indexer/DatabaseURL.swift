import Foundation
import PostgresNIO
import NIOSSL

/// A libpq-style connection URL (`postgresql://user:password@host:port/database?sslmode=require`,
/// or a Unix socket directory as `?host=/run/postgresql`), read into postgres-nio's configuration.
/// postgres-nio takes a configuration, not a URL; this is the small part of libpq's syntax the
/// indexer documents (docs/INDEXER.md), so an operator writes the URL psql already takes.
struct DatabaseURL: CustomStringConvertible {
    var user: String
    var password: String?
    var host: String?
    var socketDirectory: String?
    var port: Int
    var database: String
    var tls: Bool

    init(_ text: String) throws {
        guard let c = URLComponents(string: text), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw IndexerError("database.bad_url", "expected postgresql://user[:password]@host[:port]/database (or ?host=/socket/dir), got '\(Self.redacted(text))'")
        }
        var query: [String: String] = [:]
        for item in c.queryItems ?? [] { query[item.name] = item.value ?? "" }
        for name in query.keys where !["host", "port", "user", "password", "sslmode", "dbname"].contains(name) {
            throw IndexerError("database.bad_url", "unsupported URL parameter '\(name)' (host, port, user, password, sslmode, dbname)")
        }
        let hostParameter = query["host"]
        if let h = hostParameter, h.hasPrefix("/") { socketDirectory = h; host = nil }
        else { host = (c.host?.isEmpty == false ? c.host : nil) ?? hostParameter; socketDirectory = nil }
        if host == nil && socketDirectory == nil { host = "localhost" }
        let portText = query["port"] ?? c.port.map(String.init)
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw IndexerError("database.bad_url", "port '\(portText)' is not a TCP port") }
            port = p
        } else { port = 5432 }
        user = query["user"] ?? c.user ?? ProcessInfo.processInfo.environment["PGUSER"] ?? "postgres"
        password = query["password"] ?? c.password ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        var path = c.path
        if path.hasPrefix("/") { path.removeFirst() }
        database = query["dbname"] ?? (path.isEmpty ? user : path)
        switch query["sslmode"] ?? "prefer" {
        case "disable", "allow", "prefer": tls = false
        case "require", "verify-ca", "verify-full": tls = true
        case let other: throw IndexerError("database.bad_url", "sslmode '\(other)': use disable, require or verify-full")
        }
        if tls && socketDirectory != nil { throw IndexerError("database.bad_url", "sslmode=require over a Unix socket: TLS is for TCP") }
    }

    var configuration: PostgresConnection.Configuration {
        get throws {
            if let socketDirectory {
                return .init(unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
            }
            // TLS verifies the server's certificate against the system's roots (verify-full).
            let tlsMode: PostgresConnection.Configuration.TLS = tls ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
            return .init(host: host ?? "localhost", port: port, username: user, password: password, database: database, tls: tlsMode)
        }
    }

    /// Where it connects, without the password.
    var description: String {
        "\(user)@" + (socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } ?? "\(host ?? "localhost"):\(port)") + "/\(database)"
    }

    static func redacted(_ text: String) -> String {
        guard var c = URLComponents(string: text), c.password != nil else { return text }
        c.password = "***"
        return c.string ?? "(unreadable URL)"
    }
}
