public import Foundation
public import MeridianCore

/// The demo cast's keys as ordinary encrypted keystores, so that the production CLIs take every key
/// the same way (`--keystore FILE`, the passphrase from `--passphrase-file` or `$MERIDIAN_PASSPHRASE`)
/// and hold no code that derives a key from a public name. Only the demo's tools link this
/// (`meridian-demo keys`, `meridian-localnet`, the benchmarks and the tests).
public enum DemoKeystores {
    /// The key of a demo actor: `maria`, `hans`, `jean` (patients, from their BIP-39 phrases),
    /// `<hospital>/<role>` (staff, e.g. `hospital-ribeira/clinician`, `chao-phraya/validator`),
    /// `dpa-<cc>/officer` (a regulator), `sensors/<seed>/<kind>/<n>` (the sensor simulator's actors).
    public static func key(of actor: String) throws(DemoActorError) -> PrivateKey {
        if DemoCast.patients.contains(actor) { return DemoCast.patient(actor) }
        let parts = actor.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 4, parts[0] == "sensors", UInt64(parts[1]) != nil, UInt64(parts[3]) != nil, !parts[2].isEmpty { return DemoCast.key(actor) }
        if parts.count == 2, !parts[1].isEmpty {
            if parts[0].hasPrefix("dpa-"), DemoCast.regulatorCountries.map(DemoCast.regulatorID).contains(parts[0]) { return DemoCast.key(actor) }
            if DemoCast.hospitals.contains(where: { $0.id == parts[0] }) { return DemoCast.staff(parts[0], parts[1]) }
        }
        throw DemoActorError(actor: actor)
    }

    /// The file a demo actor's keystore is kept in under `directory` (`/` becomes `+`).
    public static func path(of actor: String, in directory: String) -> String {
        directory + "/" + actor.replacingOccurrences(of: "/", with: "+") + ".json"
    }

    /// Writes the actor's keystore under `directory` (mode 600) sealed with `passphrase`, unless a
    /// keystore of the same key is there already; returns its path.
    @discardableResult
    public static func write(_ actor: String, in directory: String, passphrase: String) throws -> String {
        let key = try key(of: actor)
        let path = path(of: actor, in: directory)
        let fm = FileManager.default
        if let data = fm.contents(atPath: path), let existing = try? JSONDecoder().decode(Keystore.self, from: data),
           existing.address == Address(key.publicKey).description {
            return path
        }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(try Keystore.seal(key, passphrase: passphrase))
        // Written whole under a temporary name, then renamed: a concurrent reader sees all or nothing.
        let temporary = path + ".\(UUID().uuidString).tmp"
        guard fm.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw DemoActorError(actor: actor, reason: "cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            try? fm.removeItem(atPath: temporary)
            throw DemoActorError(actor: actor, reason: "cannot rename \(temporary) to \(path)")
        }
        return path
    }
}

/// A name that is not one of the demo cast's actors.
public struct DemoActorError: Error, CustomStringConvertible {
    public let actor: String
    public var reason = "not a demo actor (maria, hans, jean, <hospital>/<role>, dpa-<cc>/officer, sensors/<seed>/<kind>/<n>)"
    public var description: String { "\(actor): \(reason)" }
}
