// Travel window: providers in a country get TREAT access only during the patient's stay there,
// plus a grace period the patient sets (consent parameter `grace-days`, default 0); ETREAT and
// every other purpose are left to the grant. The itinerary is not stored in the clear: the
// patient's `update` message holds up to 8 salted commitments, SHA-256 of each stay's opening
// (34 bytes, little-endian: country, 2 ASCII bytes; from and until, UInt64 Unix ms, inclusive;
// a 16-byte salt). The patient gives a stay's opening to the hospital treating them there; a TREAT
// request carries it as its evidence, and is allowed when it opens a stored commitment, names the
// requester's country, and the request's time is in the stay (plus grace).

let itineraryKey: StaticString = "itinerary"
let graceKey: StaticString = "grace-days"
let commitmentBytes = 32
let openingBytes = 34
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
    return withUnsafeTemporaryAllocation(byteCount: commitmentBytes * maxStays + commitmentBytes, alignment: 1) { buffer -> Int32 in
        let p = buffer.baseAddress!
        let n = Host.storageGet(itineraryKey.utf8Start, itineraryKey.utf8CodeUnitCount, into: p, capacity: commitmentBytes * maxStays)
        guard n > 0 else { return Deny.noItinerary }
        guard n % commitmentBytes == 0 else { return Deny.malformedRequest }
        guard request.evidenceLength == openingBytes else { return Deny.noStayOpened }
        let opening = request.evidence
        let digest = p + commitmentBytes * maxStays
        guard Host.sha256(opening, openingBytes, into: digest) else { return Deny.malformedRequest }
        var opened = false
        var i = 0
        while i < n && !opened {
            var same = true
            var j = 0
            while j < commitmentBytes {
                if UnsafeRawPointer(p).load(fromByteOffset: i + j, as: UInt8.self) != UnsafeRawPointer(digest).load(fromByteOffset: j, as: UInt8.self) { same = false }
                j += 1
            }
            opened = same
            i += commitmentBytes
        }
        guard opened else { return Deny.noStayOpened }
        let country = opening.loadUnaligned(fromByteOffset: 0, as: UInt16.self)
        let from = opening.loadUnaligned(fromByteOffset: 2, as: UInt64.self)
        let until = opening.loadUnaligned(fromByteOffset: 10, as: UInt64.self)
        if country == request.requesterCountry && request.time >= from && request.time <= until &+ grace && until &+ grace >= until {
            return Verdict.allow.code
        }
        return Deny.outsideWindow
    }
}

/// The patient's itinerary: replaces the stored commitments (checked: whole commitments, 1 to 8).
@_expose(wasm, "update")
@_cdecl("update")
public func update(_ ptr: Int32, _ length: Int32) -> Int32 {
    guard length > 0, Int(length) % commitmentBytes == 0, Int(length) / commitmentBytes <= maxStays, let p = UnsafeRawPointer(bitPattern: Int(ptr)) else {
        return Deny.malformedRequest
    }
    guard Host.storageSet(itineraryKey.utf8Start, itineraryKey.utf8CodeUnitCount, p, Int(length)) else { return Deny.malformedRequest }
    return 1
}
