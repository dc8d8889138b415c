import Foundation
import Testing
import MeridianCore
import MeridianDemo
import MeridianTestSupport

/// A validator key rotated on a localnet (issue 24): Hospital Ribeira's admin moves its validator's
/// power to a new key (made by `meridian-node keygen`, put beside the old keystore); refused
/// rotations say why; at the printed height the set holds the new key with the same power, no
/// certificate after it carries the old key's vote (its node, still running with the old key, is
/// no longer counted), and the node restarted picks the new key and signs again.
@Suite(.serialized, .timeLimit(.minutes(10))) struct KeyRotationTests {
    @Test func aHospitalRotatesItsValidatorKeyAndTheOldKeysVotesNoLongerCount() async throws {
        let scratch = try TemporaryDirectory("rotation-keys")
        let net = try await Localnet(label: "rotation")
        try await net.start()
        defer { for n in net.nodes { n.terminate() } }
        try await net.waitHeight(2, nodes: [0, 1, 2, 3])
        let env = ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase]
        let url = try net.nodes[0].api().base.absoluteString
        let oldKey = DemoCast.staff("hospital-ribeira", "validator").publicKey
        let old = Address(oldKey).description
        let newKeystore = scratch.path("ribeira-validator-2.json")
        let made = try await run("meridian-node", ["keygen", "--out", newKeystore], environment: env, in: scratch)
        let new = try #require(made.stdout.firstMatch(of: /address\s+(mer1[0-9a-z]+)/).map { String($0.output.1) }, "\(made)")
        func rotate(_ signer: String, old: String, newKeystore: String) async throws -> CommandResult {
            try await run("meridian-node", ["governance", "rotate-key", "--role", "validator", "--old", old, "--new-keystore", newKeystore,
                                            "--node", url, "--keystore", try DemoKeys.keystore(signer)], environment: env, in: scratch)
        }
        // Refused: the validator key itself is not the admin; another hospital's admin; a key already on chain as the new key.
        let byValidator = try await rotate("hospital-ribeira/validator", old: old, newKeystore: newKeystore)
        #expect(byValidator.status == 65 && byValidator.stderr.contains("identity."), "\(byValidator)")
        let byOther = try await rotate("klinikum-spree/admin", old: old, newKeystore: newKeystore)
        #expect(byOther.status == 65 && byOther.stderr.contains("rotation.not_a_member"), "\(byOther)")
        let taken = try await rotate("hospital-ribeira/admin", old: old, newKeystore: try DemoKeys.keystore("klinikum-spree/validator"))
        #expect(taken.status == 65 && taken.stderr.contains("identity.key_in_use"), "\(taken)")

        // The new keystore beside the old one; the admin rotates.
        try FileManager.default.copyItem(atPath: newKeystore, toPath: net.nodes[0].dataDir + "/keys/validator-next.json")
        let rotated = try await rotate("hospital-ribeira/admin", old: old, newKeystore: newKeystore)
        #expect(rotated.status == 0 && rotated.stdout.contains("scheduled"), "\(rotated)")
        let effective = try #require(rotated.stdout.firstMatch(of: /takes effect at height (\d+)/).map { Int($0.output.1)! }, "\(rotated)")
        // Again (through another node: from its height Ribeira's node, still on the old key, is no
        // longer admitted by its peers): pending, or already done; refused either way.
        let twice = try await run("meridian-node", ["governance", "rotate-key", "--role", "validator", "--old", old, "--new-keystore", newKeystore,
                                                    "--node", try net.nodes[1].api().base.absoluteString, "--keystore", try DemoKeys.keystore("hospital-ribeira/admin")],
                                  environment: env, in: scratch)
        #expect(twice.status == 65 && twice.stderr.contains("rotation."), "\(twice)")

        // Past the height, the three others go on; the set holds the new key with the old one's power.
        try await net.waitHeight(effective + 4, nodes: [1, 2, 3])
        let (_, status) = try await http(try net.nodes[1].api(), "GET", "/v1/status")
        #expect(status["height"] as? Int ?? 0 >= effective + 4)
        let validators = try await httpArray(try net.nodes[1].api(), "/v1/validators").1
        let addresses = validators.compactMap { $0["address"] as? String }
        #expect(addresses.contains(new) && !addresses.contains(old), "\(validators)")
        #expect(Set(validators.compactMap { $0["power"] as? Int }).count == 1, "the new key has the power the old one had: \(validators)")
        // No certificate after the height counts the old key (its node still runs with it).
        func signers(_ height: Int) async throws -> Set<String> {
            let block = try await http(try net.nodes[1].api(), "GET", "/v1/blocks/\(height)").1
            let commit = try #require(block["commit"] as? [String: Any], "block \(height): \(block)")
            return Set((commit["signatures"] as? [[String: Any]] ?? []).compactMap { $0["validator"] as? String })
        }
        for h in (effective + 1)...(effective + 4) {
            let s = try await signers(h)
            #expect(!s.contains(old) && s.count >= 3, "block \(h) signed by \(s)")
        }

        // Restarted, Ribeira's node votes with the new key (the old keystore is kept, not used).
        #expect(await net.nodes[0].stop() == 0, "\(net.nodes[0].logText)")
        try await net.nodes[0].start(blockIntervalMilliseconds: 200)
        let restarted = try await http(try net.nodes[0].api(), "GET", "/v1/status").1
        #expect(restarted["validatorKeys"] as? Int == 1, "two keystores under keys/, one in the set: \(restarted)")
        var signedByNew = 0
        var h = try await net.height(1) + 1
        while signedByNew == 0 {
            try stillWaiting("a certificate with the new key's signature")
            try await net.waitHeight(h, nodes: [1])
            if try await signers(h).contains(new) { signedByNew = h }
            h += 1
        }
        let tip = try await net.height(1) + 2
        try await net.waitHeight(tip, nodes: [0, 1, 2, 3])
        try await net.checkAgreement(upTo: tip, nodes: [0, 1, 2, 3])
    }
}
