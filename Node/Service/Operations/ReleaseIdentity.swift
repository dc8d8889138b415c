import Foundation
import Synchronization
public import MeridianCore

/// This process's executable, identified by its SHA-256: what an upgrade plan names as its release
/// (`UpgradePlan.binarySHA256`). Read from `/proc/self/exe` once, when a plan first needs it (a debug
/// build is large; most nodes never have a plan in force).
public enum ReleaseIdentity {
    private static let cached = Mutex<Bytes32??>(nil)

    /// The SHA-256 of the running executable (nil: it cannot be read, which no plan's release matches).
    public static var executableSHA256: Bytes32? {
        cached.withLock { c in
            if let c { return c }
            let digest = sha256(ofFile: "/proc/self/exe")
            c = .some(digest)
            return digest
        }
    }

    public static func sha256(ofFile path: String) -> Bytes32? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hasher = Hasher256()
        while let chunk = try? handle.read(upToCount: 4 << 20), !chunk.isEmpty { chunk.withUnsafeBytes { hasher.update($0) } }
        return hasher.finalize()
    }
}
