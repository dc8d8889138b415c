import Foundation
import ArgumentParser
import MeridianClient
import MeridianDemo

/// `meridian-demo keys ACTOR...`: writes each demo actor's key as a keystore (kept if already there)
/// and prints its path, one per line, for the production CLIs' `--keystore`.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Write demo actors' keys as keystores (for --keystore) and print their paths, one per line.",
        discussion: "Actors: maria, hans, jean, <hospital>/<role> (e.g. hospital-ribeira/clinician), dpa-<cc>/officer, sensors/<seed>/<kind>/<n>. "
            + "Each keystore is sealed with the passphrase (--passphrase-file or $MERIDIAN_PASSPHRASE) and kept if already there.")

    @Option(help: "Directory the keystores are written to.") var dir: String = "data/demo-keys"
    @Option(help: "File whose first line is the keystore passphrase (default: $MERIDIAN_PASSPHRASE).") var passphraseFile: String?
    @Argument(help: "Demo actors.") var actors: [String]

    func validate() throws {
        if actors.isEmpty { throw ValidationError("name at least one demo actor") }
        for a in actors {
            do { _ = try DemoKeystores.key(of: a) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() throws {
        let passphrase = try readPassphrase(file: passphraseFile)
        for actor in actors { print(try DemoKeystores.write(actor, in: dir, passphrase: passphrase)) }
    }
}
