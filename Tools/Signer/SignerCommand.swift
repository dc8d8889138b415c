// meridian-signer: the validator key in its own process (issue 24; the tmkms pattern).
//   run   open the validator keystore and sign, over a Unix socket, what the node asks and the
//         signing guard allows
import ArgumentParser
import Foundation
import MeridianCore
import MeridianSigner
import MeridianClient

@main
struct SignerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-signer",
        abstract: "Holds a validator's key apart from its node and signs only what the signing guard allows.",
        discussion: """
            Run it as another user than the node, on the node's host, with the validator keystore and the \
            signing guard's file readable by that user only: a node host taken over can then ask for \
            signatures, but never a second vote at a step already signed, and never gets the key.
            """,
        subcommands: [Run.self])
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve signatures on a Unix socket until SIGINT or SIGTERM.")

    @Option(help: "The validator keystore (from `meridian-node keygen`).") var keystore: String
    @Option(help: "The signer's own directory: it keeps the signing guard's file (signing-guard.json) there.") var stateDir: String
    @Option(help: "The Unix socket to listen on (the node's node.json `signer.socket`).") var socket: String
    @Option(help: "The chain id the signer signs for (the genesis's chain_id).") var chainID: String
    @Option(help: "The node's signer-client public key (hex), printed by `meridian-node init --signer-socket`.") var client: String
    @Option(help: "A user id allowed to connect (repeatable; default: this process's own user, unless --allow-user is given).") var allowUid: [UInt32] = []
    @Option(help: "A user name allowed to connect, such as the node's (repeatable).") var allowUser: [String] = []
    @Option(help: "File whose first line is the keystore passphrase (default: $MERIDIAN_PASSPHRASE).") var passphraseFile: String?

    func run() throws {
        let clientKey: PublicKey
        if let a = Address(client) { clientKey = a.publicKey }
        else if let k = try? PublicKey(hex: client) { clientKey = k }
        else { throw ValidationError("--client \(client.prefix(80)): not an address or a public key in hex (as `meridian-node init` prints it)") }
        guard let data = FileManager.default.contents(atPath: keystore) else { throw ValidationError("cannot read \(keystore)") }
        let sealed: Keystore
        do { sealed = try JSONDecoder().decode(Keystore.self, from: data) } catch { throw ValidationError("\(keystore) is not a Meridian keystore") }
        let key: PrivateKey
        do { key = try sealed.open(passphrase: try readPassphrase(file: passphraseFile)) } catch let e as ValidationError { throw e } catch { throw ValidationError("\(keystore): \(error)") }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: stateDir, isDirectory: &isDirectory) {
            try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } else if !isDirectory.boolValue { throw ValidationError("--state-dir \(stateDir) is not a directory") }
        let policy: SigningPolicy
        do { policy = try SigningPolicy(key: key, chainID: chainID, guardPath: stateDir + "/signing-guard.json") } catch { throw ValidationError("\(error)") }
        if let last = policy.lastSigned { log("the signing guard resumes after height \(last.height) round \(last.round) step \(last.step)") }
        var allowed = Set(allowUid)
        for name in allowUser {
            guard let entry = getpwnam(name) else { throw ValidationError("--allow-user \(name): no such user") }
            allowed.insert(entry.pointee.pw_uid)
        }
        if allowed.isEmpty { allowed = [getuid()] }
        log("serving the processes of user id(s) \(allowed.sorted().map(String.init).joined(separator: ", "))")
        var options = SignerServer.Options(allowedUserIDs: allowed)
        options.maxConnections = 4
        let server = SignerServer(policy: policy, client: clientKey, options: options, log: log)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { log("stopping (signal \(sig))"); server.stop(); unlink(socket); Foundation.exit(0) }
            source.resume()
            Self.signalSources.append(source)
        }
        do { try server.serve(path: socket) } catch { throw ValidationError("\(error)") }
    }

    nonisolated(unsafe) static var signalSources: [any DispatchSourceSignal] = []   // kept alive for the process's life; set on the main thread before serving
}

@Sendable func log(_ line: String) {
    let stamp = ISO8601DateFormatter().string(from: Date())
    FileHandle.standardError.write(Data("\(stamp) meridian-signer: \(line)\n".utf8))
}
