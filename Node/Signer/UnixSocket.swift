import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking Unix-domain stream socket with length-prefixed frames: the link between a node and its
/// `meridian-signer`. Written on POSIX calls, not SwiftNIO, because the signer must read the
/// connecting process's credentials (`SO_PEERCRED`, which NIO does not expose) and because the
/// consensus core asks for a signature synchronously, in the middle of one state transition: a
/// blocking round trip on a local socket, bounded by a timeout, is what that call needs.
public final class UnixSocket: @unchecked Sendable {   // one owner at a time: the signer's connection thread, or the client under its lock
    public static let maxFrameBytes = 64 * 1024
    public let fd: Int32
    private var closed = false

    init(fd: Int32) { self.fd = fd }
    deinit { close() }

    public func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(fd)
    }

    /// Connects to the socket at `path`.
    public static func connect(path: String, timeoutSeconds: Double) throws(SignerError) -> UnixSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SignerError.system("signer.socket", "socket") }
        let s = UnixSocket(fd: fd)
        try s.setTimeout(seconds: timeoutSeconds)
        var address = try Self.address(path)
        let r = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else { throw SignerError.system("signer.unreachable", "connecting to \(path)") }
        return s
    }

    /// Binds and listens at `path`, replacing a stale socket file (never any other kind of file).
    /// The socket is made readable and writable by its owner and group only.
    public static func listen(path: String) throws(SignerError) -> UnixSocket {
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw SignerError("signer.socket", "\(path) exists and is not a socket: refusing to replace it") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SignerError.system("signer.socket", "socket") }
        let s = UnixSocket(fd: fd)
        var address = try Self.address(path)
        let old = umask(0o117)
        let r = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        umask(old)
        guard r == 0 else { throw SignerError.system("signer.socket", "binding \(path)") }
        guard Glibc.listen(fd, 8) == 0 else { throw SignerError.system("signer.socket", "listening on \(path)") }
        return s
    }

    /// The next connection; nil when the listening socket was closed.
    public func accept() -> UnixSocket? {
        while true {
            let c = Glibc.accept(fd, nil, nil)
            if c >= 0 { _ = fcntl(c, F_SETFD, FD_CLOEXEC); return UnixSocket(fd: c) }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }

    /// The connecting process's user id and process id, as the kernel saw them at `connect`.
    public func peerCredentials() throws(SignerError) -> (uid: UInt32, pid: Int32) {
        // Linux's `struct ucred` (pid_t, uid_t, gid_t), which Glibc's module map leaves out (it is
        // declared only under _GNU_SOURCE).
        struct PeerCredentials { var pid: Int32 = 0; var uid: UInt32 = 0; var gid: UInt32 = 0 }
        var cred = PeerCredentials()
        var size = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) == 0 else { throw SignerError.system("signer.peer", "SO_PEERCRED") }
        return (cred.uid, cred.pid)
    }

    /// Bounds every later read and write (0: no bound).
    public func setTimeout(seconds: Double) throws(SignerError) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0,
              setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw SignerError.system("signer.socket", "setting the timeout")
        }
    }

    /// Writes one frame: a 4-byte big-endian length, then the bytes.
    public func writeFrame(_ payload: [UInt8]) throws(SignerError) {
        guard payload.count <= Self.maxFrameBytes else { throw SignerError("signer.frame_too_large", "a \(payload.count)-byte frame (limit \(Self.maxFrameBytes))") }
        let n = UInt32(payload.count)
        let bytes = [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + payload
        var sent = 0
        while sent < bytes.count {
            let r = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { throw SignerError.system("signer.io", "writing") }
            sent += r
        }
    }

    /// Reads one frame; throws on a closed connection, a timeout or a frame over the limit.
    public func readFrame() throws(SignerError) -> [UInt8] {
        let header = try read(4)
        let n = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard n <= Self.maxFrameBytes else { throw SignerError("signer.frame_too_large", "a \(n)-byte frame (limit \(Self.maxFrameBytes))") }
        return try read(n)
    }

    private func read(_ count: Int) throws(SignerError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if r < 0 && errno == EINTR { continue }
            if r == 0 { throw SignerError("signer.closed", "the other side closed the connection") }
            guard r > 0 else {
                if errno == EAGAIN || errno == EWOULDBLOCK { throw SignerError("signer.timeout", "no answer in time") }
                throw SignerError.system("signer.io", "reading")
            }
            got += r
        }
        return out
    }

    private static func address(_ path: String) throws(SignerError) -> sockaddr_un {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { throw SignerError("signer.socket", "a socket path must be 1...\(capacity - 1) bytes: \(path)") }
        withUnsafeMutableBytes(of: &a.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return a
    }
}

/// A signer's refusal or failure, with a stable code (`signer.*`, or the guard's `guard.*`).
public struct SignerError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(_ code: String, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code): \(message)" }
    static func system(_ code: String, _ what: String) -> SignerError { SignerError(code, "\(what): \(String(cString: strerror(errno)))") }
}
