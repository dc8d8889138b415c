public import MeridianCore

/// One data-protection law's rule for moving health data out of the countries it governs.
///
/// `freeFlow` lists destinations treated like home (for GDPR: the EU/EEA, where moves are not
/// Chapter V transfers); `adequate` lists destinations with an adequacy decision (GDPR Art. 45).
/// Anything else needs explicit consent to that transfer (Art. 49(1)(a)) or, for emergency
/// treatment the patient allowed, vital interests (Art. 49(1)(f)). The table is chain state,
/// loaded from genesis and changed by governance, never by code.
public struct TransferRule: Hashable, Sendable, Canonical, Codable {
    public let name: String
    public let countries: [CountryCode]
    public let freeFlow: [CountryCode]
    public let adequate: [CountryCode]

    public init(name: String, countries: [CountryCode], freeFlow: [CountryCode], adequate: [CountryCode]) {
        self.name = name; self.countries = countries.canonicalSet; self.freeFlow = freeFlow.canonicalSet; self.adequate = adequate.canonicalSet
    }

    public func validate() throws(RuntimeError) {
        guard !name.isEmpty, name.utf8.count <= 64 else { throw RuntimeError("jurisdiction.bad_name", "rule name must be 1-64 bytes") }
        guard !countries.isEmpty else { throw RuntimeError("jurisdiction.no_countries", "rule '\(name)' governs no country") }
    }

    public func encode(to w: inout CanonicalWriter) { w.write(name); w.write(countries); w.write(freeFlow); w.write(adequate) }
    public init(from r: inout CanonicalReader) throws(CodecError) {
        name = try r.readString("rule.name", max: 64)
        countries = try r.readSortedSet(CountryCode.self, "rule.countries", max: 256)
        freeFlow = try r.readSortedSet(CountryCode.self, "rule.free_flow", max: 256)
        adequate = try r.readSortedSet(CountryCode.self, "rule.adequate", max: 256)
    }

    enum CodingKeys: String, CodingKey { case name, countries, freeFlow, adequate }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), countries: try c.decode([CountryCode].self, forKey: .countries),
                  freeFlow: try c.decodeIfPresent([CountryCode].self, forKey: .freeFlow) ?? [],
                  adequate: try c.decodeIfPresent([CountryCode].self, forKey: .adequate) ?? [])
    }
}

/// The legal basis on which a copy may leave the custodian's country.
public enum TransferBasis: UInt8, CanonicalEnum, Codable, CaseIterable {
    /// Source and destination are the same country.
    case domestic = 0
    /// Inside a free-flow zone (EU/EEA): not a Chapter V transfer.
    case freeFlowZone = 1
    /// GDPR Art. 45: the destination has an adequacy decision.
    case adequacyDecision = 2
    /// GDPR Art. 49(1)(a): explicit consent to this transfer.
    case explicitConsent = 3
    /// GDPR Art. 49(1)(f): vital interests of a patient who cannot consent (emergency).
    case vitalInterests = 4

    public var name: String { ["domestic", "free-flow-zone", "adequacy-decision", "explicit-consent", "vital-interests"][Int(rawValue)] }
    public var legalReference: String {
        ["none needed (domestic)", "GDPR: intra-EEA, not a Chapter V transfer", "GDPR Art. 45 adequacy decision",
         "GDPR Art. 49(1)(a) explicit consent", "GDPR Art. 49(1)(f) vital interests"][Int(rawValue)]
    }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(name) }
}

/// The rule table in state, and the transfer decision.
public enum Jurisdictions {
    static func ruleKey(_ name: String) -> StateKey { StateKey("jurisdiction/rule").appending(name) }
    static let indexKey = StateKey("jurisdiction/index")

    public static func rules(in s: some StateReader) throws(RuntimeError) -> [TransferRule] {
        let names = try s.read(CanonicalList<String>.self, indexKey)?.items ?? []
        var out: [TransferRule] = []
        for n in names {
            guard let r = try s.read(TransferRule.self, ruleKey(n)) else { throw RuntimeError.corrupt("rule \(n)") }
            out.append(r)
        }
        return out
    }

    /// The rule governing data held in `country`, if any.
    public static func rule(governing country: CountryCode, in s: some StateReader) throws(RuntimeError) -> TransferRule? {
        try rules(in: s).first { $0.countries.contains(country) }
    }

    static func putRule(_ rule: TransferRule, _ ctx: ExecutionContext) throws(RuntimeError) {
        try rule.validate()
        var names = try ctx.read(CanonicalList<String>.self, indexKey) ?? CanonicalList()
        for other in try rules(in: ctx.view) where other.name != rule.name {
            if let overlap = other.countries.first(where: { rule.countries.contains($0) }) {
                throw RuntimeError("jurisdiction.overlap", "\(overlap) is already governed by '\(other.name)'")
            }
        }
        if !names.items.contains(rule.name) { names.items.append(rule.name); names.items.sort() }
        ctx.write(indexKey, names)
        ctx.write(ruleKey(rule.name), rule)
    }

    static func removeRule(_ name: String, _ ctx: ExecutionContext) throws(RuntimeError) {
        var names = try ctx.read(CanonicalList<String>.self, indexKey) ?? CanonicalList()
        guard names.items.contains(name) else { throw RuntimeError("jurisdiction.unknown_rule", "no rule '\(name)'") }
        names.items.removeAll { $0 == name }
        ctx.write(indexKey, names)
        ctx.delete(ruleKey(name))
    }

    /// The basis that lets a copy go from `source` to `destination`, or nil if none holds.
    ///
    /// - Parameters:
    ///   - explicitConsent: the patient explicitly consented to transfers to `destination`.
    ///   - emergencyAllowed: emergency treatment that the patient allowed emergency access for.
    public static func transferBasis(from source: CountryCode, to destination: CountryCode, rule: TransferRule?,
                                     explicitConsent: Bool, emergencyAllowed: Bool) -> TransferBasis? {
        if source == destination { return .domestic }
        if let rule {
            if rule.freeFlow.contains(destination) { return .freeFlowZone }
            if rule.adequate.contains(destination) { return .adequacyDecision }
        }
        if explicitConsent { return .explicitConsent }
        if emergencyAllowed { return .vitalInterests }
        return nil
    }
}

extension Jurisdictions {
    public static func putRuleAtGenesis(_ rule: TransferRule, _ ctx: ExecutionContext) throws(RuntimeError) { try putRule(rule, ctx) }
}
