public import MeridianCore

/// A transparency-log trust policy in the text form of c2sp.org/tlog-policy: the logs a client
/// accepts (`log <vkey> [<url>]`), the witnesses (`witness <name> <vkey> [<url>]`, cosigner keys),
/// groups (`group <name> all|any|<k> <member>...`) and exactly one `quorum <name>` (or `quorum none`).
///
/// Parsing follows the specification: lines separated by newlines, items by spaces and tabs only,
/// `#` comments and blank lines ignored, only tab, newline, 0x20-0x7E and 0x80-0xFF allowed, names
/// opaque, a name defined before it is used, each name a member of at most one group, no duplicate
/// keys, 1 <= k <= n. Anything else is refused with the line and the reason.
public struct WitnessPolicy: Sendable, Equatable {
    public struct Log: Sendable, Equatable { public let key: NoteVerifierKey; public let url: String? }
    public struct Witness: Sendable, Equatable { public let name: String; public let key: CosignerKey; public let url: String? }
    public struct Group: Sendable, Equatable { public let name: String; public let threshold: Int; public let members: [String] }

    public let logs: [Log]
    public let witnesses: [Witness]
    public let groups: [Group]
    /// The name of the quorum: a witness, a group, or "none".
    public let quorum: String

    /// Limits beyond the specification's recommended minimum (32 of each).
    public static let maxEntries = 256

    public init(parsing text: String) throws(NoteError) {
        let bytes = Array(text.utf8)
        if let bad = bytes.firstIndex(where: { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A) || $0 == 0x7F }) {
            throw NoteError("policy.bad_character", "byte 0x\(String(bytes[bad], radix: 16)) at offset \(bad) (only tab, newline and printable characters)")
        }
        var logs: [Log] = [], witnesses: [Witness] = [], groups: [Group] = []
        var quorum: String?
        var defined: [String: Bool] = ["none": false]   // name → is a group or witness (none: predefined)
        var usedAsMember = Set<String>()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = n + 1
            let items = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = items.first, !keyword.hasPrefix("#") else { continue }
            func fail(_ why: String) -> NoteError { NoteError("policy.invalid", "line \(line): \(why)") }
            guard logs.count + witnesses.count + groups.count < Self.maxEntries else { throw fail("more than \(Self.maxEntries) entries") }
            switch keyword {
            case "log":
                guard items.count == 2 || items.count == 3 else { throw fail("log <vkey> [<url>]") }
                let key: NoteVerifierKey
                do throws(NoteError) { key = try NoteVerifierKey(parsing: items[1]) } catch { throw fail(error.message) }
                guard !logs.contains(where: { $0.key.publicKey == key.publicKey }) else { throw fail("duplicate log key") }
                logs.append(Log(key: key, url: items.count == 3 ? items[2] : nil))
            case "witness":
                guard items.count == 3 || items.count == 4 else { throw fail("witness <name> <vkey> [<url>]") }
                let name = items[1]
                guard defined[name] == nil else { throw fail("'\(name)' is already defined") }
                let key: CosignerKey
                do throws(NoteError) { key = try CosignerKey(parsing: items[2]) } catch { throw fail(error.message) }
                guard !witnesses.contains(where: { $0.key.publicKey == key.publicKey }) else { throw fail("duplicate witness key") }
                witnesses.append(Witness(name: name, key: key, url: items.count == 4 ? items[3] : nil))
                defined[name] = true
            case "group":
                guard items.count >= 4 else { throw fail("group <name> all|any|<k> <member>...") }
                let name = items[1], members = Array(items[3...])
                guard defined[name] == nil else { throw fail("'\(name)' is already defined") }
                for m in members {
                    guard m != "none" else { throw fail("'none' cannot be a group member") }
                    guard defined[m] != nil else { throw fail("member '\(m)' is not defined on a preceding line") }
                    guard usedAsMember.insert(m).inserted else { throw fail("'\(m)' is already a group member") }
                }
                let k: Int
                switch items[2] {
                case "all": k = members.count
                case "any": k = 1
                case let s:
                    guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = Int(s), v >= 1, v <= members.count else {
                        throw fail("the threshold is all, any, or a decimal k with 1 <= k <= \(members.count): '\(s.prefix(20))'")
                    }
                    k = v
                }
                groups.append(Group(name: name, threshold: k, members: members))
                defined[name] = true
            case "quorum":
                guard items.count == 2 else { throw fail("quorum <name>") }
                guard quorum == nil else { throw fail("a policy has exactly one quorum line") }
                guard defined[items[1]] != nil else { throw fail("quorum '\(items[1])' is not defined on a preceding line") }
                quorum = items[1]
            default:
                throw fail("unknown keyword '\(keyword.prefix(30))'")
            }
        }
        guard let quorum else { throw NoteError("policy.invalid", "a policy has exactly one quorum line") }
        self.logs = logs; self.witnesses = witnesses; self.groups = groups; self.quorum = quorum
    }

    /// Whether witnesses named in `cosigned` satisfy `name` (a witness, a group, or the quorum).
    public func isSatisfied(_ name: String? = nil, by cosigned: Set<String>) -> Bool {
        let target = name ?? quorum
        if target == "none" { return true }
        if witnesses.contains(where: { $0.name == target }) { return cosigned.contains(target) }
        guard let g = groups.first(where: { $0.name == target }) else { return false }
        return g.members.filter { isSatisfied($0, by: cosigned) }.count >= g.threshold
    }

    /// The fewest cosignatures that can satisfy `name` (default the quorum): what to ask a node for.
    public func minimumCosigners(_ name: String? = nil) -> Int {
        let target = name ?? quorum
        if target == "none" { return 0 }
        if witnesses.contains(where: { $0.name == target }) { return 1 }
        guard let g = groups.first(where: { $0.name == target }) else { return 0 }
        return g.members.map { minimumCosigners($0) }.sorted().prefix(g.threshold).reduce(0, +)
    }

    /// What keeps `cosigned` from satisfying the quorum, in words (nil when it is satisfied).
    public func missing(from cosigned: Set<String>, _ name: String? = nil) -> String? {
        let target = name ?? quorum
        guard !isSatisfied(target, by: cosigned) else { return nil }
        if witnesses.contains(where: { $0.name == target }) { return "a cosignature by \(target)" }
        guard let g = groups.first(where: { $0.name == target }) else { return "'\(target)' is not defined" }
        let have = g.members.filter { isSatisfied($0, by: cosigned) }
        let lacking = g.members.filter { !isSatisfied($0, by: cosigned) }.map { missing(from: cosigned, $0) ?? $0 }
        return "\(g.threshold) of \(g.members.count) in \(g.name) (have \(have.count)\(have.isEmpty ? "" : ": " + have.joined(separator: ", "))); missing \(lacking.joined(separator: " or "))"
    }

    /// Checks a cosigned checkpoint against the policy: signed by one of its logs (if it lists any)
    /// and cosigned by a quorum of its witnesses. Returns the witnesses whose cosignatures verified;
    /// throws with what is missing otherwise.
    public func verify(_ note: SignedNote) throws(NoteError) -> [String] {
        if !logs.isEmpty { _ = try note.verified(by: logs.map(\.key)) }
        let cosigners = try note.cosigners(among: witnesses.map(\.key))
        let names = Set(cosigners.compactMap { c in witnesses.first(where: { $0.key == c.key })?.name })
        if let lacking = missing(from: names) {
            throw NoteError("policy.no_quorum", "the checkpoint lacks the witness quorum '\(quorum)': needs \(lacking)")
        }
        return witnesses.map(\.name).filter(names.contains)
    }
}
