import ArgumentParser
import Foundation
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianNode

/// `meridian-node governance …`: what a hospital's operator submits, signed with its validator's
/// keystore, for the network to vote on: a new validator (how a hospital's node joins), a software
/// upgrade, and the votes. Each command waits for the transaction's commit and prints its outcome;
/// a transaction the chain refused exits 65 with its code.
struct GovernanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "governance",
        abstract: "Propose and vote on validators and upgrades (signed with a validator's keystore: --keystore).",
        subcommands: [ProposeValidator.self, ProposeUpgrade.self, CancelUpgrade.self, Vote.self, RotateKey.self])

    /// A key given as its address (mer1…) or its public key (hex).
    static func publicKey(_ text: String, _ option: String) throws -> PublicKey {
        if let a = Address(text) { return a.publicKey }
        if let k = try? PublicKey(hex: text) { return k }
        throw ValidationError("\(option): not an address or a public key")
    }

    static func report(_ committed: NodeClient.Committed, _ what: String) {
        print("\(what): committed at height \(committed.height.map(String.init) ?? "?") (transaction \(committed.hash.prefix(16))…)")
        if let id = committed.receipt?.createdID { print("proposal \(id)") }
    }

    struct ProposeValidator: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "propose-validator", abstract: "Propose a hospital's node key as a validator.")
        @Option(help: "The new validator's key: its address (mer1…) or public key (hex), from `meridian-node keygen`.") var key: String
        @Option(help: "The hospital it belongs to (an organisation id on chain).") var organization: String
        @Option(help: "Its voting power (1-1000000).") var power: UInt64 = 10
        @OptionGroup var signer: KeyOptions

        func run() async throws {
            let publicKey = try GovernanceCommand.publicKey(key, "--key")
            guard let org = OrganizationID(organization) else { throw ValidationError("--organization: '\(organization)' is not an organisation id") }
            GovernanceCommand.report(try await signer.submitOrRefuse(.propose(.addValidator(Validator(key: publicKey, organization: org, power: power)))),
                                     "proposed validator \(Address(publicKey)) of \(org.value), power \(power)")
        }
    }

    struct ProposeUpgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "propose-upgrade",
            abstract: "Propose a software upgrade: at --height every node not running the release stops; the release continues.")
        @Option(help: "The release's name (a-z, 0-9, '.', '-', '_'), e.g. meridian-1.4.0.") var name: String
        @Option(help: "The height at which the release takes over.") var height: UInt64
        @Option(help: "The release's meridian-node executable (its SHA-256 is computed).") var release: String?
        @Option(help: "The SHA-256 of the release's meridian-node executable (hex), instead of --release.") var sha256: String?
        @OptionGroup var signer: KeyOptions

        func run() async throws {
            let digest: Bytes32
            switch (release, sha256) {
            case (let path?, nil):
                guard let d = ReleaseIdentity.sha256(ofFile: path) else { throw ValidationError("cannot read \(path)") }
                digest = d
            case (nil, let hex?):
                guard let d = Bytes32(hex: hex) else { throw ValidationError("--sha256: expected 64 hex digits") }
                digest = d
            default: throw ValidationError("give --release FILE or --sha256 HEX")
            }
            let plan = UpgradePlan(name: name, height: height, binarySHA256: digest)
            do { try plan.validate() } catch { throw ValidationError("\(error)") }
            GovernanceCommand.report(try await signer.submitOrRefuse(.propose(.scheduleUpgrade(plan))), "proposed upgrade \(name) at height \(height), release SHA-256 \(digest.hex)")
        }
    }

    /// Signed by the organisation's admin (`--keystore`), with the new key's keystore to prove it is
    /// held: at the printed height the old key loses its role (a validator's power moves to the new
    /// key). Restart the node with the new keystore then (`node.json`'s validator or worker keystore).
    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Replace one of the organisation's validator or worker keys (signed by its admin: --keystore).")
        @Option(help: "validator or worker.") var role: String
        @Option(help: "The key to retire: its address (mer1…) or public key (hex).") var old: String
        @Option(help: "The new key's keystore (from `meridian-node keygen`), opened with the same passphrase, to sign that it is held.") var newKeystore: String
        @OptionGroup var signer: KeyOptions

        func run() async throws {
            guard let role = KeyRotation.Role(name: self.role) else { throw ValidationError("--role: validator or worker") }
            let oldKey = try GovernanceCommand.publicKey(old, "--old")
            guard let data = FileManager.default.contents(atPath: newKeystore) else { throw ValidationError("cannot read \(newKeystore)") }
            let newKey: PrivateKey
            do { newKey = try JSONDecoder().decode(Keystore.self, from: data).open(passphrase: try signer.passphrase()) }
            catch { throw ValidationError("\(newKeystore): \(error)") }
            let client = try signer.client()
            let message = KeyRotations.possessionMessage(chainID: try await client.chainID(), role: role, old: oldKey, new: newKey.publicKey)
            let rotation = KeyRotation(role: role, old: oldKey, new: newKey.publicKey, possession: try newKey.sign(message))
            let committed = try await signer.submitOrRefuse(.rotateKey(rotation))
            GovernanceCommand.report(committed, "rotation of the \(role.name) key \(Address(oldKey)) to \(Address(newKey.publicKey)) scheduled")
            if let h = committed.receipt?.events?.first(where: { $0.kind == "governance.key_rotation" })?.detail["effectiveHeight"] {
                print("takes effect at height \(h): from then the old key's votes are refused; restart the node with \(newKeystore)")
            }
        }
    }

    struct CancelUpgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cancel-upgrade", abstract: "Propose cancelling the pending upgrade.")
        @Option(help: "The pending upgrade's name.") var name: String
        @OptionGroup var signer: KeyOptions

        func run() async throws {
            GovernanceCommand.report(try await signer.submitOrRefuse(.propose(.cancelUpgrade(name))), "proposed cancelling upgrade \(name)")
        }
    }

    struct Vote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Vote on a proposal (validators only).")
        @Argument(help: "The proposal's id (hex, printed by the propose command).") var proposal: String
        @Flag(help: "Vote no (default: yes).") var reject = false
        @OptionGroup var signer: KeyOptions

        func run() async throws {
            guard let id = Bytes32(hex: proposal) else { throw ValidationError("the proposal id is 64 hex digits") }
            GovernanceCommand.report(try await signer.submitOrRefuse(.vote(.init(proposal: id, approve: !reject))), "voted \(reject ? "no" : "yes") on \(proposal.prefix(16))…")
        }
    }
}
