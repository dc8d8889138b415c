/// The resource paths of c2sp.org/tlog-tiles below a log's prefix: `tile/<L>/<N>[.p/<W>]` (hash
/// tiles) and `tile/entries/<N>[.p/<W>]` (entry bundles). `<N>` is written in 3-digit groups, all
/// but the last prefixed with `x` (1234067 → `x001/x234/067`); `<L>` is 0-63 and `<W>` 1-255, both
/// without leading zeros; a full tile has no `.p/<W>` and is 256 wide. Parsing accepts only that
/// one spelling of each resource (a cache or CDN then holds one copy) and names what is wrong.
public enum TilePath: Hashable, Sendable {
    case hashes(level: Int, index: UInt64, width: Int)
    case entries(index: UInt64, width: Int)

    public static let fullWidth = 256

    public var path: String {
        switch self {
        case .hashes(let l, let n, let w): "tile/\(l)/\(Self.encodeIndex(n))\(w == Self.fullWidth ? "" : ".p/\(w)")"
        case .entries(let n, let w): "tile/entries/\(Self.encodeIndex(n))\(w == Self.fullWidth ? "" : ".p/\(w)")"
        }
    }

    static func encodeIndex(_ n: UInt64) -> String {
        var groups: [String] = []
        var v = n
        repeat {
            let g = String(v % 1000)
            groups.insert(String(repeating: "0", count: 3 - g.count) + g, at: 0)
            v /= 1000
        } while v > 0
        return groups.enumerated().map { $0.offset < groups.count - 1 ? "x" + $0.element : $0.element }.joined(separator: "/")
    }

    /// Parses a path after the prefix (`tile/...`, no leading slash).
    public init(parsing path: String) throws(NoteError) {
        func bad(_ why: String) -> NoteError { NoteError("tiles.bad_path", "\(why): '\(path.prefix(120))'") }
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0] == "tile" else { throw bad("a tile path is tile/<L>/<N> or tile/entries/<N>") }
        var width = Self.fullWidth
        if parts.count >= 4, parts[parts.count - 2].hasSuffix(".p") {
            let w = parts.removeLast()
            guard Self.isDecimal(w), let v = Int(w), (1...255).contains(v) else { throw bad("a partial width is 1-255 without leading zeros") }
            width = v
            parts[parts.count - 1].removeLast(2)
        }
        let level: Int?
        if parts[1] == "entries" { level = nil } else {
            guard Self.isDecimal(parts[1]), let l = Int(parts[1]), (0...63).contains(l) else { throw bad("a level is 0-63 without leading zeros") }
            level = l
        }
        let groups = parts[2...]
        guard !groups.isEmpty, groups.count <= 7 else { throw bad("an index has 1 to 7 groups of 3 digits") }
        var index: UInt64 = 0
        for (i, g) in groups.enumerated() {
            let last = i == groups.count - 1
            let digits = last ? Substring(g) : (g.hasPrefix("x") ? g.dropFirst() : "")
            guard digits.count == 3, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw bad("index groups are three digits, all but the last prefixed with x")
            }
            let (m, o1) = index.multipliedReportingOverflow(by: 1000)
            let (s, o2) = m.addingReportingOverflow(UInt64(digits)!)
            guard !o1, !o2 else { throw bad("index out of range") }
            index = s
        }
        // One spelling per index: no leading all-zero group.
        guard groups.count == 1 || groups.first != "x000" else { throw bad("an index has no leading x000 group") }
        if let level { self = .hashes(level: level, index: index, width: width) } else { self = .entries(index: index, width: width) }
    }

    static func isDecimal(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && (s == "0" || !s.hasPrefix("0"))
    }
}
