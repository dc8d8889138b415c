// Travel window: providers in a country get TREAT access only during the patient's stay there,
// plus a grace period the patient sets (consent parameter `grace-days`, default 0); ETREAT and
// every other purpose are left to the grant. The patient stores the itinerary in the contract's
// storage with an `update` message: up to 8 stays of 18 bytes each, little-endian
// (country: 2 ASCII bytes, from: UInt64 Unix ms, until: UInt64 Unix ms).

let itineraryKey: StaticString = "itinerary"
let graceKey: StaticString = "grace-days"
let stayBytes = 18
let maxStays = 8
let day: UInt64 = 86_400_000

@_expose(wasm, "evaluate")
@_cdecl("evaluate")
public func evaluate(_ ptr: Int32, _ length: Int32) -> Int32 {
    guard let request = Request(ptr, length) else { return Deny.malformedRequest }
    guard request.purpose == 0 else { return Verdict.allow.code }   // TREAT only; the grant decides the rest
    var grace: UInt64 = 0
    let parsed: Int32 = withUnsafeTemporaryAllocation(byteCount: 8, alignment: 1) { buffer in
        let n = Host.param(graceKey.utf8Start, graceKey.utf8CodeUnitCount, into: buffer.baseAddress!, capacity: 8)
        if n < 0 { return 1 }
        guard n <= 8, let days = decimal(UnsafeRawPointer(buffer.baseAddress!), n), days <= 365 else { return 0 }
        grace = days &* day   // days ≤ 365: no overflow (wrapping arithmetic avoids a 128-bit multiply the wasm32 target has no libc for)
        return 1
    }
    guard parsed == 1 else { return Deny.badParameter }
    return withUnsafeTemporaryAllocation(byteCount: stayBytes * maxStays, alignment: 1) { buffer -> Int32 in
        let p = buffer.baseAddress!
        let n = Host.storageGet(itineraryKey.utf8Start, itineraryKey.utf8CodeUnitCount, into: p, capacity: stayBytes * maxStays)
        guard n > 0 else { return Deny.noItinerary }
        guard n % stayBytes == 0 else { return Deny.malformedRequest }
        var i = 0
        while i < n {
            let country = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i, as: UInt16.self)
            let from = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i + 2, as: UInt64.self)
            let until = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i + 10, as: UInt64.self)
            if country == request.requesterCountry && request.time >= from && request.time <= until &+ grace && until &+ grace >= until {
                return Verdict.allow.code
            }
            i += stayBytes
        }
        return Deny.outsideWindow
    }
}

/// The patient's itinerary: replaces the stored one (checked: whole stays, at most 8, from ≤ until).
@_expose(wasm, "update")
@_cdecl("update")
public func update(_ ptr: Int32, _ length: Int32) -> Int32 {
    guard length > 0, Int(length) % stayBytes == 0, Int(length) / stayBytes <= maxStays, let p = UnsafeRawPointer(bitPattern: Int(ptr)) else {
        return Deny.malformedRequest
    }
    var i = 0
    while i < Int(length) {
        let from = p.loadUnaligned(fromByteOffset: i + 2, as: UInt64.self), until = p.loadUnaligned(fromByteOffset: i + 10, as: UInt64.self)
        guard from <= until else { return Deny.malformedRequest }
        i += stayBytes
    }
    guard Host.storageSet(itineraryKey.utf8Start, itineraryKey.utf8CodeUnitCount, p, Int(length)) else { return Deny.malformedRequest }
    return 1
}
