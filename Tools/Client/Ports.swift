import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports the OS says are free now (bound to port 0, read, released): for localnets and
/// benchmarks that must pick ports before starting processes.
public func freeLoopbackPorts(_ n: Int) throws -> [Int] {
    var fds: [Int32] = [], ports: [Int] = []
    defer { for fd in fds { close(fd) } }
    for _ in 0..<n {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(status: 0, code: "ports.socket", message: "socket: \(errno)") }
        fds.append(fd)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET); addr.sin_port = 0; addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw ClientError(status: 0, code: "ports.bind", message: "bind: \(errno)") }
        ports.append(Int(UInt16(bigEndian: addr.sin_port)))
    }
    return ports
}

