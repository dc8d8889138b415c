public import MeridianCore

/// A proof that a raw key has a given value, or no value, under a state root.
///
/// `siblings` are the sibling hashes from the root down to the position where the key's path
/// ends (the empty hash, 32 zero bytes, where a side is empty); `terminal` is what stands there:
/// the key's own leaf (inclusion), or an empty subtree or another key's leaf (absence).
public struct StateProof: Hashable, Sendable, Canonical {
    public enum Terminal: Hashable, Sendable {
        case empty
        case leaf(keyHash: Bytes32, valueHash: Bytes32)
    }

    public let siblings: [Bytes32]
    public let terminal: Terminal

    public init(siblings: [Bytes32], terminal: Terminal) { self.siblings = siblings; self.terminal = terminal }

    /// The path of a raw key in the tree.
    public static func keyHash(_ key: [UInt8]) -> Bytes32 { SHA256.hash(key) }

    /// Verifies, with nothing but hashing, that `key` maps to `value` (or, with `value == nil`, to
    /// nothing) under `root`.
    public func verify(root: Bytes32, key: [UInt8], value: [UInt8]?) -> Bool {
        guard siblings.count <= 256 else { return false }
        let path = Self.keyHash(key)
        var current: Bytes32
        switch (terminal, value) {
        case (.empty, nil):
            current = .zero
        case (.leaf(let k, let vh), nil):
            // Another key's leaf standing where ours would be proves ours absent, provided it
            // really lies on our path (shares the prefix) and is not our own key.
            guard k != path else { return false }
            for i in 0..<siblings.count where k.bit(i) != path.bit(i) { return false }
            current = SparseMerkleTree.leafHash(key: k, valueHash: vh)
        case (.leaf(let k, let vh), let v?):
            guard k == path, vh == SHA256.hash(v) else { return false }
            current = SparseMerkleTree.leafHash(key: k, valueHash: vh)
        case (.empty, .some):
            return false
        }
        for depth in stride(from: siblings.count - 1, through: 0, by: -1) {
            current = path.bit(depth)
                ? SparseMerkleTree.internalHash(siblings[depth], current)
                : SparseMerkleTree.internalHash(current, siblings[depth])
        }
        return current == root
    }

    // Encoding: depth, a bitmap of the non-empty siblings, those siblings, then the terminal.
    public func encode(to w: inout CanonicalWriter) {
        w.write(varint: UInt64(siblings.count))
        var bitmap = [UInt8](repeating: 0, count: (siblings.count + 7) / 8)
        for (i, s) in siblings.enumerated() where s != .zero { bitmap[i >> 3] |= 0x80 >> UInt8(i & 7) }
        w.writeRaw(bitmap)
        for s in siblings where s != .zero { w.write(s) }
        switch terminal {
        case .empty: w.write(varint: 0)
        case .leaf(let k, let v): w.write(varint: 1); w.write(k); w.write(v)
        }
    }

    public init(from r: inout CanonicalReader) throws(CodecError) {
        let depthStart = r.offset
        let depth = try r.readVarint("proof.depth")
        guard depth <= 256 else { throw CodecError(.lengthTooLarge, field: "proof.depth", offset: depthStart) }
        let bitmapStart = r.offset
        let bitmap = try r.readRaw((Int(depth) + 7) / 8, "proof.bitmap")
        // Unused bits of the last bitmap byte must be zero (one encoding per proof).
        if depth % 8 != 0, let last = bitmap.last, last & (0xff >> UInt8(depth % 8)) != 0 {
            throw CodecError(.invalidValue, field: "proof.bitmap", offset: bitmapStart)
        }
        var siblings = [Bytes32]()
        siblings.reserveCapacity(Int(depth))
        for i in 0..<Int(depth) {
            if bitmap[i >> 3] & (0x80 >> UInt8(i & 7)) != 0 {
                let at = r.offset
                let s = try r.readBytes32("proof.sibling")
                guard s != .zero else { throw CodecError(.invalidValue, field: "proof.sibling", offset: at) }
                siblings.append(s)
            } else {
                siblings.append(.zero)
            }
        }
        self.siblings = siblings
        let tagAt = r.offset
        switch try r.readVarint("proof.terminal") {
        case 0: terminal = .empty
        case 1: terminal = .leaf(keyHash: try r.readBytes32("proof.leaf_key"), valueHash: try r.readBytes32("proof.leaf_value"))
        default: throw CodecError(.unknownVariant, field: "proof.terminal", offset: tagAt)
        }
    }
}
