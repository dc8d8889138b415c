// Two-person break-glass: an emergency (break-glass) access that the grant's break-glass
// permission allows goes through only when a second clinician of the requester's organisation
// co-signed it (the host checks the co-signature) within `window-minutes` (parameter, default 15,
// at most 1440) of the block that decides it. Accesses without break-glass are left to the grant.

let windowKey: StaticString = "window-minutes"
let minute: UInt64 = 60_000

@_expose(wasm, "evaluate")
@_cdecl("evaluate")
public func evaluate(_ ptr: Int32, _ length: Int32) -> Int32 {
    guard let request = Request(ptr, length) else { return Deny.malformedRequest }
    guard request.breakGlass else { return Verdict.allow.code }
    var window: UInt64 = 15 &* minute
    let ok: Bool = withUnsafeTemporaryAllocation(byteCount: 8, alignment: 1) { buffer in
        let n = Host.param(windowKey.utf8Start, windowKey.utf8CodeUnitCount, into: buffer.baseAddress!, capacity: 8)
        if n < 0 { return true }
        guard n <= 8, let minutes = decimal(UnsafeRawPointer(buffer.baseAddress!), n), minutes >= 1 && minutes <= 1440 else { return false }
        window = minutes &* minute
        return true
    }
    guard ok else { return Deny.badParameter }
    guard request.coSigned else { return Deny.coSignatureMissing }
    let at = request.coSignedAt, now = request.time
    guard at <= now && now - at <= window else { return Deny.coSignatureLate }
    return Verdict.allow.code
}
