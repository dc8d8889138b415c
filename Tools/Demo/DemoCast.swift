public import MeridianCore
public import MeridianModules
public import MeridianRuntime
import MeridianWalletKit
public import MeridianTransparency

/// The demo network's cast (../shared/SCENARIO.md): fictional hospitals, regulators and patients.
///
/// Every demo key is derived from a public name (SHA-256 of "meridian-demo/v1/<name>"), so anyone
/// can sign as any demo actor: these keys exist only to make the demo and the tests reproducible.
/// A real network generates keys with `meridian-node init` and never publishes their secrets.
public enum DemoCast {
    public static let chainID = "meridian-demo-1"
    public static let genesisTime = "2026-01-01T00:00:00Z"

    public static func key(_ name: String) -> PrivateKey {
        try! PrivateKey(secret: SHA256.hash(Array("meridian-demo/v1/\(name)".utf8)))
    }

    public struct Hospital: Sendable {
        public let id: String, name: String, country: String, validator: Bool
    }

    public static let hospitals: [Hospital] = [
        Hospital(id: "hospital-ribeira", name: "Hospital Ribeira, Lisbon", country: "PT", validator: true),
        Hospital(id: "klinikum-spree", name: "Klinikum Spree, Berlin", country: "DE", validator: true),
        Hospital(id: "hopital-rhone", name: "Hôpital Rhône, Lyon", country: "FR", validator: true),
        Hospital(id: "clinique-leman", name: "Clinique Léman, Geneva", country: "CH", validator: true),
        Hospital(id: "clinica-sol", name: "Clínica Sol, Málaga", country: "ES", validator: false),
        Hospital(id: "sakura-general", name: "Sakura General Hospital, Tokyo", country: "JP", validator: false),
        Hospital(id: "chao-phraya", name: "Chao Phraya Hospital, Bangkok", country: "TH", validator: false),
    ]

    /// One fictional data-protection authority per jurisdiction in use.
    public static let regulatorCountries = ["PT", "DE", "FR", "CH", "ES", "JP", "TH"]
    public static func regulatorID(_ country: String) -> String { "dpa-\(country.lowercased())" }

    public static let patients = ["maria", "hans", "jean"]

    /// The hospital staff key names: `<hospital>/admin`, `/clinician`, `/second-clinician`, `/worker`, `/validator`.
    public static func staff(_ hospital: String, _ role: String) -> PrivateKey { key("\(hospital)/\(role)") }
    public static func regulator(_ country: String) -> PrivateKey { key("\(regulatorID(country))/officer") }

    /// The authorities that run a witness of the audit log in the demo, and the demo policy's quorum.
    public static let witnessCountries = ["PT", "DE", "FR", "CH"]
    /// A demo authority's witness: an Ed25519 cosigner key from the public seed
    /// SHA-256("meridian-demo/v1/dpa-<cc>/witness"), named `dpa-<cc>.meridian-demo.example/witness`.
    public static func witnessSeed(_ country: String) -> [UInt8] { SHA256.hash(Array("meridian-demo/v1/\(regulatorID(country))/witness".utf8)).bytes }
    public static func witness(_ country: String) -> Cosigner {
        try! Cosigner(name: "\(regulatorID(country)).meridian-demo.example/witness", seed: witnessSeed(country))
    }
    /// The demo's witness policy (c2sp.org/tlog-policy): any 2 of the four authorities' witnesses.
    public static func witnessPolicy() -> String {
        var lines = ["# The demo's witness policy: the audit log's checkpoints must be cosigned by 2 of the data-protection",
                     "# authorities of PT, DE, FR and CH (their witness keys are registered in Genesis/demo.json)."]
        for c in witnessCountries { lines.append("witness \(c) \(witness(c).key.encoded)") }
        lines.append("group DPAs 2 \(witnessCountries.joined(separator: " "))")
        lines.append("quorum DPAs")
        return lines.joined(separator: "\n") + "\n"
    }
    /// A demo patient's BIP-39 phrase (12 words from public entropy) and the key their wallet derives from it.
    public static func patientPhrase(_ name: String) -> [String] {
        Mnemonic.phrase(entropy: Array(SHA256.hash(Array("meridian-demo/v1/patient-phrase/\(name)".utf8)).bytes.prefix(16)))
    }
    public static func patient(_ name: String) -> PrivateKey { try! Mnemonic.key(phrase: patientPhrase(name)) }

    static let eea = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
                      "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"]
    /// EU adequacy decisions in force in 2025 (../shared/STANDARDS.md). Canada and the United
    /// States are partial (commercial organisations, DPF participants); the table cannot express
    /// that, so they are listed and the limitation is documented in docs/ARCHITECTURE.md.
    static let euAdequacy = ["AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "UY", "US"]

    public static func transferRules() -> [TransferRule] {
        func cc(_ list: [String]) -> [CountryCode] { list.map { CountryCode($0)! } }
        return [
            TransferRule(name: "EU-GDPR", countries: cc(eea), freeFlow: cc(eea), adequate: cc(euAdequacy)),
            // Swiss FADP: the Federal Council's list includes the EEA states and the UK among others.
            TransferRule(name: "CH-FADP", countries: cc(["CH"]), freeFlow: [],
                         adequate: cc(eea + ["GB", "AD", "AR", "CA", "FO", "GG", "IL", "IM", "JE", "NZ", "UY"])),
            // Japan's APPI: the PPC recognises the EEA and the UK as equivalent.
            TransferRule(name: "JP-APPI", countries: cc(["JP"]), freeFlow: [], adequate: cc(eea + ["GB"])),
        ]
    }

    /// The demo chain spec: seven hospitals (four validators) and seven regulators in seven countries.
    public static func genesisSpec() -> GenesisSpec {
        var orgs: [GenesisSpec.OrganizationSpec] = []
        var validators: [GenesisSpec.ValidatorSpec] = []
        for h in hospitals {
            let members = [
                GenesisSpec.MemberSpec(key: staff(h.id, "admin").publicKey.hex, roles: ["admin"]),
                GenesisSpec.MemberSpec(key: staff(h.id, "clinician").publicKey.hex, roles: ["provider"]),
                GenesisSpec.MemberSpec(key: staff(h.id, "second-clinician").publicKey.hex, roles: ["provider"]),
                GenesisSpec.MemberSpec(key: staff(h.id, "worker").publicKey.hex, roles: ["worker"]),
            ]
            orgs.append(.init(id: OrganizationID(h.id)!, name: h.name, country: CountryCode(h.country)!, kind: "hospital", members: members))
            if h.validator {
                validators.append(.init(key: staff(h.id, "validator").publicKey.hex, organization: OrganizationID(h.id)!, power: 10))
            }
        }
        for c in regulatorCountries {
            orgs.append(.init(id: OrganizationID(regulatorID(c))!, name: "Data Protection Authority (\(c), fictional)",
                              country: CountryCode(c)!, kind: "regulator",
                              members: [.init(key: regulator(c).publicKey.hex, roles: ["admin", "regulator"])]))
        }
        return GenesisSpec(chainID: chainID, genesisTime: genesisTime, parameters: ChainParameters(), organizations: orgs,
                           validators: validators, transferRules: transferRules(),
                           witnesses: witnessCountries.map { .init(organization: OrganizationID(regulatorID($0))!, vkey: witness($0).key.encoded) })
    }
}
