public import MeridianCore

/// The TravelWindow policy's formats (`Contracts/Policies/TravelWindow.swift`) as the host side
/// writes them. The one encoder of the formats, for the wallet, the provider, the bench and the
/// tests; the contract checks what it receives.
///
/// The itinerary is not on chain in the clear: the patient's `update` message holds, per stay, a
/// salted commitment, SHA-256 of the stay's opening (country: 2 ASCII bytes, from and until: Unix
/// ms, little-endian, both inclusive, then a 16-byte random salt: 34 bytes). The patient gives the
/// opening of a stay to the hospital that treats them there (the wallet prints it as a stay
/// token); a TREAT request carries it as its evidence, and the contract allows when it opens one
/// of the stored commitments, names the requester's country and the request falls in the stay.
/// The chain learns a stay only when a hospital of that country uses it.
public enum TravelItinerary {
    public static let commitmentBytes = 32, maxStays = 8, saltBytes = 16
    public static let openingBytes = 2 + 8 + 8 + saltBytes

    public struct Stay: Sendable, Equatable {
        public let country: CountryCode
        public let from: Timestamp
        public let until: Timestamp
        public init(country: CountryCode, from: Timestamp, until: Timestamp) { self.country = country; self.from = from; self.until = until }
    }

    /// A stay with its salt: what the patient keeps and gives the treating hospital.
    public struct Opening: Sendable, Equatable {
        public let stay: Stay
        public let salt: [UInt8]
        public init(stay: Stay, salt: [UInt8]) { self.stay = stay; self.salt = salt }

        /// A stay with a fresh random salt.
        public static func random(_ stay: Stay) -> Opening {
            var g = SystemRandomNumberGenerator()
            return Opening(stay: stay, salt: (0..<saltBytes).map { _ in UInt8.random(in: 0...255, using: &g) })
        }

        /// The 34 bytes a request carries as its evidence.
        public var bytes: [UInt8] {
            func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
            return Array(stay.country.code.utf8) + le(stay.from.unixMilliseconds) + le(stay.until.unixMilliseconds) + salt
        }

        /// The opening's bytes as they were printed (hex), or nil when they are not an opening.
        public init?(bytes: [UInt8]) {
            guard bytes.count == TravelItinerary.openingBytes, let country = CountryCode(String(decoding: bytes[0..<2], as: UTF8.self)) else { return nil }
            func le(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) } }
            let from = Timestamp(unixMilliseconds: le(2)), until = Timestamp(unixMilliseconds: le(10))
            guard from <= until else { return nil }
            stay = Stay(country: country, from: from, until: until); salt = Array(bytes[18...])
        }

        /// What the itinerary stores for this stay.
        public var commitment: Bytes32 { SHA256.hash(bytes) }
    }

    /// The `update` message: the stays' commitments (at most 8).
    public static func message(_ openings: [Opening]) -> [UInt8] { openings.flatMap { $0.commitment.bytes } }
}
