import Foundation
import MeridianCore

/// Keys and paths shared by the worker tests.
enum Fixtures {
    static func key(_ n: UInt8) -> PrivateKey { try! PrivateKey(secret: Bytes32([UInt8](repeating: n, count: 32))!) }
    static let patient = key(11), device = key(12), gateway = key(13)

    /// The repository root (for reference packages fetched by `make setup` under .build/reference).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
