public import MeridianCore

/// The TravelWindow policy's `update` message (`Contracts/Policies/TravelWindow.swift`) as the host
/// side writes it: up to 8 stays of 18 bytes, little-endian — country (2 ASCII bytes), from and
/// until (Unix ms, both inclusive). The one encoder of the format, for the wallet, the bench and
/// the tests; the contract checks what it receives.
public enum TravelItinerary {
    public static let stayBytes = 18, maxStays = 8

    public struct Stay: Sendable, Equatable {
        public let country: CountryCode
        public let from: Timestamp
        public let until: Timestamp
        public init(country: CountryCode, from: Timestamp, until: Timestamp) { self.country = country; self.from = from; self.until = until }
    }

    public static func message(_ stays: [Stay]) -> [UInt8] {
        func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        return stays.flatMap { Array($0.country.code.utf8) + le($0.from.unixMilliseconds) + le($0.until.unixMilliseconds) }
    }
}
