// Counted second opinion: the organisation named by the consent parameter `organization` may read
// at most `limit` times (parameter, 1...1000); each allowed access by it is counted in the
// contract's storage, and the one after the last is denied. Other organisations the grant names
// are left to the grant.

let organizationKey: StaticString = "organization"
let limitKey: StaticString = "limit"
let countKey: StaticString = "count"

@_expose(wasm, "evaluate")
@_cdecl("evaluate")
public func evaluate(_ ptr: Int32, _ length: Int32) -> Int32 {
    guard let request = Request(ptr, length) else { return Deny.malformedRequest }
    return withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { buffer -> Int32 in
        let p = buffer.baseAddress!
        let n = Host.param(organizationKey.utf8Start, organizationKey.utf8CodeUnitCount, into: p, capacity: 48)
        guard n > 0 && n <= 48 else { return Deny.badParameter }
        guard request.organizationIs(UnsafeRawPointer(p), n) else { return Verdict.allow.code }
        let m = Host.param(limitKey.utf8Start, limitKey.utf8CodeUnitCount, into: p, capacity: 8)
        guard m > 0 && m <= 8, let limit = decimal(UnsafeRawPointer(p), m), limit >= 1 && limit <= 1000 else { return Deny.badParameter }
        var count: UInt64 = 0
        if Host.storageGet(countKey.utf8Start, countKey.utf8CodeUnitCount, into: p, capacity: 8) == 8 {
            count = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
        }
        guard count < limit else { return Deny.limitReached }
        p.storeBytes(of: count &+ 1, as: UInt64.self)
        guard Host.storageSet(countKey.utf8Start, countKey.utf8CodeUnitCount, UnsafeRawPointer(p), 8) else { return Deny.malformedRequest }
        return Verdict.allow.code
    }
}
