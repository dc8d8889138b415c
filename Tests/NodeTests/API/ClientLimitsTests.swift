import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import MeridianCore
@testable import MeridianNode

/// Per-client bounds of the HTTP listener: a client over its request rate gets 429 before any work
/// is done for it, and connections per address are counted and capped.
@Suite(.timeLimit(.minutes(5))) struct ClientLimitsTests {
    @Test func aClientOverItsRequestRateGets429AndOthersAreNotAffected() async throws {
        let node = try TestNode()
        var limits = ClientLimiter.Limits()
        limits.requestsPerSecond = 5   // a burst of 10
        let api = node.makeAPI(clientLimiter: ClientLimiter(limits: limits) { 1_000_000_000 })   // time stands still: no refill during the test
        let app = Application(router: api.router())
        let statuses = try await app.test(.router) { client in
            var out: [Int] = []
            for _ in 0..<40 { out.append(try await client.execute(uri: "/health", method: .get) { Int($0.status.code) }) }
            return out
        }
        #expect(statuses.prefix(10).allSatisfy { $0 == 200 }, "the burst is served: \(statuses)")
        #expect(statuses.dropFirst(10).allSatisfy { $0 == 429 }, "the rest are refused: \(statuses)")
        // The limiter itself: another address has its own bucket; time refills a bucket.
        let limiter = ClientLimiter(limits: limits)
        let t0: UInt64 = 1_000_000_000
        for _ in 0..<10 { #expect(limiter.admitRequest(from: "198.51.100.1", now: t0)) }
        #expect(!limiter.admitRequest(from: "198.51.100.1", now: t0))
        #expect(limiter.admitRequest(from: "198.51.100.2", now: t0))
        #expect(limiter.admitRequest(from: "198.51.100.1", now: t0 + 1_000_000_000), "a second later, five more")
    }

    @Test func connectionsPerAddressAreCappedAndReleased() {
        var limits = ClientLimiter.Limits()
        limits.maxConnections = 3
        limits.maxTrackedClients = 2
        let limiter = ClientLimiter(limits: limits)
        #expect((0..<3).allSatisfy { _ in limiter.openConnection(from: "203.0.113.9") })
        #expect(!limiter.openConnection(from: "203.0.113.9"), "a fourth is refused")
        limiter.closeConnection(from: "203.0.113.9")
        #expect(limiter.openConnection(from: "203.0.113.9"), "one closed, one more may open")
        // The table of clients is bounded: a third address evicts the idle one, never one with connections.
        #expect(limiter.admitRequest(from: "203.0.113.10"))
        #expect(limiter.admitRequest(from: "203.0.113.11"))
        #expect(!limiter.openConnection(from: "203.0.113.9"), "the busy client was kept, with its three connections")
    }
}
