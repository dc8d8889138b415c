public import MeridianCore
public import MeridianState

/// Raw state keys: a module prefix, then fixed-width or length-prefixed parts, so that no two
/// different logical keys ever produce the same bytes and a prefix selects one collection.
public struct StateKey: Hashable, Sendable {
    public private(set) var bytes: [UInt8]

    public init(_ prefix: String) { bytes = Array(prefix.utf8); bytes.append(0x2f) }  // "prefix/"

    public func appending(_ key: PublicKey) -> StateKey { var k = self; k.bytes += key.bytes32.bytes; return k }
    public func appending(_ b: Bytes32) -> StateKey { var k = self; k.bytes += b.bytes; return k }
    /// Big-endian, so keys sort numerically.
    public func appending(_ n: UInt64) -> StateKey { var k = self; withUnsafeBytes(of: n.bigEndian) { k.bytes += $0 }; return k }
    /// Length-prefixed bytes (at most 255).
    public func appending(lengthPrefixed b: [UInt8]) -> StateKey { var k = self; k.bytes.append(UInt8(min(b.count, 255))); k.bytes += b.prefix(255); return k }
    /// Length-prefixed text.
    public func appending(_ s: String) -> StateKey { var k = self; let u = Array(s.utf8); k.bytes.append(UInt8(min(u.count, 255))); k.bytes += u.prefix(255); return k }
}

/// Read access to state: an execution view, or the committed state for queries.
public protocol StateReader {
    func load(_ key: [UInt8]) throws(RuntimeError) -> [UInt8]?
}

extension StateReader {
    public func read<T: CanonicalDecodable>(_ type: T.Type, _ key: StateKey) throws(RuntimeError) -> T? {
        guard let raw = try load(key.bytes) else { return nil }
        do { return try T(trustedCanonicalBytes: raw) } catch { throw RuntimeError.corrupt(String(describing: T.self)) }
    }
}

extension MeridianState.StateView: StateReader {
    public func load(_ key: [UInt8]) throws(RuntimeError) -> [UInt8]? {
        do { return try get(key) } catch { throw RuntimeError.state(error) }
    }
}

/// Queries read the latest committed state.
public struct CommittedStateReader: StateReader {
    public let state: AuthenticatedState
    public init(_ state: AuthenticatedState) { self.state = state }
    public func load(_ key: [UInt8]) throws(RuntimeError) -> [UInt8]? {
        do { return try state.value(key) } catch { throw RuntimeError.state(error) }
    }
}

