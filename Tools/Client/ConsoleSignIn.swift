public import Foundation
public import ArgumentParser
public import MeridianCore
import MeridianModules

/// `sign-in CODE`, shared by the wallet (patients) and the audit tool (regulators, hospital staff):
/// fetches the browser's challenge from the node, shows what is signed, signs it with the person's
/// key and posts the signature. The key never leaves this process; the browser that showed the
/// code then continues into a session carrying the person's on-chain role.
public struct ConsoleSignInCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sign-in", abstract: "Sign in to a node's web console: sign the code the browser shows.")

    @Argument(help: "The code the console's sign-in page shows (e.g. 7K2D-Q9XM-4T1B).") public var code: String
    @OptionGroup public var keyOptions: KeyOptions

    public init() {}

    struct Challenge: Decodable { let code: String; let chainID: String; let audience: String; let organization: String?; let expires: UInt64; let expiresISO: String }
    struct Answer: Decodable { let signedIn: String; let roles: [String] }

    public func validate() throws {
        guard ConsoleSignIn.isCode(code.uppercased()) else {
            throw ValidationError("'\(code)' is not a console sign-in code (three groups of four letters and digits, e.g. 7K2D-Q9XM-4T1B)")
        }
    }

    public func run() async throws {
        let code = code.uppercased()
        let key = try keyOptions.key()
        let client = try keyOptions.client(signedBy: key)
        let challenge: Challenge
        do { challenge = try await client.get("/console/challenges/\(code)", as: Challenge.self) }
        catch let e as ClientError where e.status == 404 { throw ValidationError("the node has no sign-in in progress with code \(code): it expired or was used; reload the sign-in page") }
        guard let audience = try? PublicKey(hex: challenge.audience), challenge.code == code else {
            throw ValidationError("the node's challenge is malformed")
        }
        // The node the code is for must be the node answering (its status names its key, and a
        // pinned --node-key was checked against that): a code relayed from another node is refused.
        let answering = try await client.nodeIdentity()
        guard Address(audience).description == answering.audience, challenge.chainID == answering.chainID else {
            throw ValidationError("the code is for node \(Address(audience)) on chain \(challenge.chainID), but \(client.base.absoluteString) is \(answering.audience) on \(answering.chainID): refused (a relayed code?)")
        }
        print("signing in to the console of node \(Address(audience))\(challenge.organization.map { " (\($0))" } ?? "") on chain \(challenge.chainID), until \(challenge.expiresISO)")
        let message = ConsoleSignIn.message(chainID: challenge.chainID, code: code, audience: audience, expires: Timestamp(unixMilliseconds: challenge.expires))
        let signature = try key.sign(message)
        let body = try JSONSerialization.data(withJSONObject: ["key": Address(key.publicKey).description, "signature": signature.hex])
        let data: Data
        do { data = try await client.request("POST", "/console/challenges/\(code)", body: body) }
        catch let e as ClientError { throw ValidationError("sign-in refused (\(e.status)): \(e.message)") }
        let answer = try JSONDecoder().decode(Answer.self, from: data)
        print("signed in as \(answer.signedIn) (\(answer.roles.joined(separator: ", "))): continue in the browser")
    }
}
