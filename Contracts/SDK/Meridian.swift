// Meridian's contract SDK (Embedded Swift, wasm32). A policy contract narrows a consent grant: the
// runtime has already found a grant and a transfer basis that allow the access, then calls the
// contract's `evaluate`, which can only say "allow" or "deny, because". No heap: the SDK and every
// policy use fixed-size values and the stack, so a contract links with no libc and nothing it does
// allocates.
//
// The ABI (version 1), also in docs/ARCHITECTURE.md:
// - exports `memory`, `evaluate(ptr: i32, len: i32) -> i32` and, for contracts the patient
//   configures, `update(ptr: i32, len: i32) -> i32`;
// - the host writes the request (`evaluate`) or the patient's message (`update`) at `ptr`;
// - `evaluate` returns 1 to allow, or a deny reason ≤ 0 (`Deny`); `update` returns 1 for done, or ≤ 0;
// - imports, module "env": `storage_get`, `storage_set`, `param_get`, `emit`, `sha256`; nothing else exists.

@_extern(wasm, module: "env", name: "storage_get")
@_extern(c)
func host_storage_get(_ key: Int32, _ keyLength: Int32, _ value: Int32, _ capacity: Int32) -> Int32

@_extern(wasm, module: "env", name: "storage_set")
@_extern(c)
func host_storage_set(_ key: Int32, _ keyLength: Int32, _ value: Int32, _ valueLength: Int32) -> Int32

@_extern(wasm, module: "env", name: "param_get")
@_extern(c)
func host_param_get(_ key: Int32, _ keyLength: Int32, _ value: Int32, _ capacity: Int32) -> Int32

@_extern(wasm, module: "env", name: "emit")
@_extern(c)
func host_emit(_ data: Int32, _ length: Int32) -> Int32

@_extern(wasm, module: "env", name: "sha256")
@_extern(c)
func host_sha256(_ data: Int32, _ length: Int32, _ out: Int32) -> Int32

/// What `evaluate` answers.
public enum Verdict {
    case allow
    case deny(Int32)
    public var code: Int32 {
        switch self {
        case .allow: return 1
        case .deny(let reason): return reason <= 0 ? reason : -reason
        }
    }
}

/// Deny reasons shared by the policies (a policy may add its own, below -100).
public enum Deny {
    public static let malformedRequest: Int32 = 0
    public static let outsideWindow: Int32 = -1
    public static let noItinerary: Int32 = -2
    public static let limitReached: Int32 = -3
    public static let notNamed: Int32 = -4
    public static let coSignatureMissing: Int32 = -5
    public static let coSignatureLate: Int32 = -6
    public static let badParameter: Int32 = -7
    /// The request carries no opening of a stay, or one that opens no stored commitment.
    public static let noStayOpened: Int32 = -8
}

/// The access request, as the host lays it out (little-endian, version 1: 152 bytes, then the
/// consent's id: 184, then the evidence's length (2 bytes) and the evidence).
public struct Request {
    public static let size: Int32 = 152
    let base: UnsafeRawPointer
    let length: Int

    public init?(_ ptr: Int32, _ length: Int32) {
        guard length >= Request.size, let p = UnsafeRawPointer(bitPattern: Int(ptr)), p.load(as: UInt8.self) == 1 else { return nil }
        base = p
        self.length = Int(length)
    }

    /// What the requester shows this policy (e.g. a travel stay's opening the patient gave the
    /// hospital): its length (0 when the request has none) and its bytes at `evidence`.
    public var evidenceLength: Int {
        guard length >= 186 else { return 0 }
        let n = Int(base.loadUnaligned(fromByteOffset: 184, as: UInt16.self))
        return n <= length - 186 ? n : 0
    }
    public var evidence: UnsafeRawPointer { base + 186 }

    /// HL7 ActReason purpose: 0 TREAT, 1 ETREAT, 2 HRESCH, 3 PUBHLTH, 4 HPAYMT, 5 CAREMGT, 6 COC, 7 HOPERAT.
    public var purpose: UInt8 { base.load(fromByteOffset: 1, as: UInt8.self) }
    /// Data category, as the runtime numbers them (0 problems, 1 medications, 2 allergies, ..., 16 summary).
    public var category: UInt8 { base.load(fromByteOffset: 2, as: UInt8.self) }
    public var breakGlass: Bool { base.load(fromByteOffset: 3, as: UInt8.self) & 1 != 0 }
    /// The requester's country and the custodian's, ISO 3166-1 alpha-2 as two ASCII bytes in a UInt16 (first letter low).
    public var requesterCountry: UInt16 { base.loadUnaligned(fromByteOffset: 4, as: UInt16.self) }
    public var custodianCountry: UInt16 { base.loadUnaligned(fromByteOffset: 6, as: UInt16.self) }
    /// The block's time, Unix milliseconds, and height: the only clock a contract has.
    public var time: UInt64 { base.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
    public var height: UInt64 { base.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }
    /// The requester's organisation id (lower-case ASCII, at most 48 bytes) and its length.
    public var organizationLength: Int { Int(base.load(fromByteOffset: 24, as: UInt8.self)) }
    public var organization: UnsafeRawPointer { base + 25 }
    /// A second clinician's co-signature, checked by the host: 1 if one of the requester's
    /// organisation co-signed, and when (Unix ms; 0 without one).
    public var coSigned: Bool { base.load(fromByteOffset: 73, as: UInt8.self) == 1 }
    public var coSignedAt: UInt64 { base.loadUnaligned(fromByteOffset: 80, as: UInt64.self) }
    /// The requester's and the patient's keys (x-only, 32 bytes each).
    public var requester: UnsafeRawPointer { base + 88 }
    public var patient: UnsafeRawPointer { base + 120 }
    // Offset 152: the id of the consent whose policy this contract is (32 bytes; present when the
    // length the host passes is at least 184). Read it as `base + 152` after checking the length.

    /// Whether the requester's organisation id equals `bytes` (`count` long).
    public func organizationIs(_ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        guard count == organizationLength else { return false }
        var i = 0
        while i < count {
            if organization.load(fromByteOffset: i, as: UInt8.self) != bytes.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }
}

/// Two ASCII letters as the Request stores a country.
public func country(_ a: UInt8, _ b: UInt8) -> UInt16 { UInt16(a) | UInt16(b) << 8 }

/// Contract storage and the consent's parameters, through the host. Keys and values are byte
/// ranges in this contract's memory; the host charges fuel per byte.
public enum Host {
    /// Reads a value into `buffer`; the value's length, or -1 when absent.
    public static func storageGet(_ key: UnsafeRawPointer, _ keyLength: Int, into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        Int(host_storage_get(Int32(Int(bitPattern: key)), Int32(keyLength), Int32(Int(bitPattern: buffer)), Int32(capacity)))
    }
    public static func storageSet(_ key: UnsafeRawPointer, _ keyLength: Int, _ value: UnsafeRawPointer, _ valueLength: Int) -> Bool {
        host_storage_set(Int32(Int(bitPattern: key)), Int32(keyLength), Int32(Int(bitPattern: value)), Int32(valueLength)) == 0
    }
    /// A parameter the consent gives this contract (`--param key=value`), as bytes; its length, or -1.
    public static func param(_ key: UnsafeRawPointer, _ keyLength: Int, into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        Int(host_param_get(Int32(Int(bitPattern: key)), Int32(keyLength), Int32(Int(bitPattern: buffer)), Int32(capacity)))
    }
    /// SHA-256 of `length` bytes at `data` into the 32 bytes at `out`.
    public static func sha256(_ data: UnsafeRawPointer, _ length: Int, into out: UnsafeMutableRawPointer) -> Bool {
        host_sha256(Int32(Int(bitPattern: data)), Int32(length), Int32(Int(bitPattern: out))) == 32
    }
    /// An event, shown in the receipt and on the event stream.
    public static func emit(_ data: UnsafeRawPointer, _ length: Int) { _ = host_emit(Int32(Int(bitPattern: data)), Int32(length)) }
}

/// Parses an unsigned decimal number of `length` ASCII digits (a parameter's value); nil if it is not one.
public func decimal(_ p: UnsafeRawPointer, _ length: Int) -> UInt64? {
    guard length > 0 && length <= 18 else { return nil }   // 18 digits cannot overflow UInt64
    var v: UInt64 = 0, i = 0
    while i < length {
        let c = p.load(fromByteOffset: i, as: UInt8.self)
        guard c >= 48 && c <= 57 else { return nil }
        v = v &* 10 &+ UInt64(c - 48)
        i += 1
    }
    return v
}
