import MeridianCore
import Foundation

/// SplitMix64: a tiny seeded generator so that every random test replays exactly from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &self) } }
    mutating func bytes32() -> Bytes32 { Bytes32(bytes(32))! }
}

/// The seed of a property test: MERIDIAN_SEED replays a failure; otherwise a fixed default.
func testSeed(_ fallback: UInt64) -> UInt64 {
    if let s = ProcessInfo.processInfo.environment["MERIDIAN_SEED"], let v = UInt64(s) { return v }
    return fallback
}

/// A deterministic private key for tests.
func testKey(_ n: UInt8) -> PrivateKey {
    var b = [UInt8](repeating: 0, count: 32); b[31] = n; b[0] = 0x11
    return try! PrivateKey(secret: Bytes32(b)!)
}

func dataFile(_ name: String) -> URL {
    Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Data")!
}
