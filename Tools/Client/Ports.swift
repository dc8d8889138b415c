import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports free now, for localnets, tests and benchmarks that must name ports before
/// starting the processes that listen on them.
///
/// They are taken from below the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`):
/// a port the OS chose by binding port 0 and then released could be handed out again at once to
/// any socket that binds port 0 or connects (a proxy, a client, another test), and the process
/// meant to listen on it then failed with "Address already in use" (seen in a fresh-clone CI run).
/// Below the ephemeral range the kernel never hands a port out by itself; each candidate is still
/// checked by binding it, and a port is given out at most once per process.
public func freeLoopbackPorts(_ n: Int) throws -> [Int] {
    let (low, _) = ephemeralPortRange()
    let lowest = 10_000, highest = max(lowest + 1_000, low - 1)
    var ports: [Int] = []
    var attempts = 0
    while ports.count < n {
        attempts += 1
        guard attempts <= 10_000 else { throw ClientError(status: 0, code: "ports.exhausted", message: "no free loopback port in \(lowest)-\(highest)") }
        let candidate = Int.random(in: lowest...highest)
        guard handedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
        if try isFree(candidate) { ports.append(candidate) }
    }
    return ports
}

private let handedOut = Mutex<Set<Int>>([])

/// The kernel's ephemeral port range (Linux defaults when it cannot be read).
private func ephemeralPortRange() -> (Int, Int) {
    guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else { return (32_768, 60_999) }
    let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
    return parts.count == 2 ? (parts[0], parts[1]) : (32_768, 60_999)
}

/// Whether `port` can be bound on 127.0.0.1 now (the test socket is closed again at once).
private func isFree(_ port: Int) throws -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClientError(status: 0, code: "ports.socket", message: "socket: \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET); addr.sin_port = in_port_t(UInt16(port).bigEndian); addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
