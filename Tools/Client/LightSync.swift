public import Foundation
public import MeridianCore
public import MeridianLightClient

extension NodeClient {
    /// A page of the node's headers and certificates (the open `GET /v1/light/headers`).
    public func lightHeaders(from: UInt64, limit: Int = 500, timeout: TimeInterval = 60) async throws -> LightHeadersPage {
        try JSONDecoder().decode(LightHeadersPage.self, from: try await request("GET", "/v1/light/headers?from=\(from)&limit=\(limit)", timeout: timeout))
    }

    /// Fetches the node's headers after `verified` up to `target` page by page and hands each page to
    /// `verify` (a light client's `advance`, which checks every header and returns how many it took).
    /// Nothing the node sends is trusted; a node that stops short or sends what does not follow is
    /// refused with the reason.
    public func followHeaders(after verified: UInt64, to target: UInt64, timeout: TimeInterval = 60,
                              verify: (LightHeadersPage) throws -> Int) async throws {
        var next = verified + 1
        while next <= target {
            let page = try await lightHeaders(from: next, timeout: timeout)
            guard page.headers.contains(where: { $0.height == next }) else {
                throw LightClientError("light.missing", "the node sent no header \(next) (its head is \(page.head))")
            }
            let taken = try verify(page)
            guard taken > 0 else { throw LightClientError("light.missing", "no header of the page follows height \(next - 1)") }
            next += UInt64(taken)
        }
    }
}
