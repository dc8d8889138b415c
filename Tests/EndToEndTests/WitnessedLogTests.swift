import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianDemo
import MeridianTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The witnessed audit log on a real localnet (issue 23): the four data-protection authorities of the
/// demo run `meridian-witness` beside three validators (`meridian-localnet`'s default), the
/// validators push each checkpoint to them, and the regulator's reports, the regulator's monitor and
/// the patient's "accesses" verify against the demo's policy (2 of the 4). Witnesses killed with
/// SIGKILL do not stop the chain; one restarted keeps its last checkpoint and catches up by a
/// consistency proof; without the quorum a report is refused, naming what is missing.
@Suite(.serialized, .timeLimit(.minutes(10))) struct WitnessedLogTests {
    struct Layout: Decodable {
        let nodes: [N]; let witnesses: [W]
        struct N: Decodable { let name: String; let apiPort: Int }
        struct W: Decodable { let country: String; let port: Int; let dataDir: String; let keyFile: String; let node: Int }
    }

    @Test func reportsAndAccessesAreProvenAgainstTheAuthoritiesWitnessedCheckpoints() async throws {
        let slots = try await NodeSlots.shared.reserve(3)
        defer { slots.release() }
        let dir = try TemporaryDirectory("witnessed")
        let net = dir.path("net"), ca = net + "/ca.pem", policy = net + "/witnesses.policy"
        let env = ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase, "MERIDIAN_CA": ca]
        let initialised = try await run("meridian-localnet", ["init", "--dir", net, "--validators", "3", "--block-interval-ms", "200"], environment: env, in: dir)
        try #require(initialised.status == 0, "\(initialised)")
        let started = try await run("meridian-localnet", ["start", "--dir", net], environment: env, in: dir)
        // Every process of the localnet (witnesses and nodes) is killed at the end whatever happened.
        defer {
            for pid in ((try? String(contentsOfFile: net + "/pids", encoding: .utf8)) ?? "").split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
        }
        try #require(started.status == 0, "\(started)")
        let layout = try JSONDecoder().decode(Layout.self, from: Data(contentsOf: URL(fileURLWithPath: net + "/localnet.json")))
        #expect(layout.witnesses.map(\.country) == ["PT", "DE", "FR", "CH"])
        let ribeira = "https://127.0.0.1:\(layout.nodes[0].apiPort)"
        let api = try NodeClient(ribeira, ca: ca)
        func cli(_ name: String, _ args: [String]) async throws -> CommandResult { try await run(name, args, environment: env, in: dir) }
        let officer = try DemoKeys.args("dpa-pt/officer")
        let maria = DemoCast.patient("maria"), mariaAddress = Address(maria.publicKey).description

        // Maria enrolled, a record of hers registered (audit entry 0), and Sakura's clinician asking
        // for it without her consent: denied, and audited (entry 1). Each regulator's or patient's read
        // of the trail is audited too, so later counts depend on when those reads commit.
        let clinician = DemoCast.staff("hospital-ribeira", "clinician")
        let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))
        _ = try await api.submit(.registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)), as: maria)
        let record = SHA256.hash(Array("witnessed record".utf8))
        _ = try await api.submit(.registerRecord(.init(commitment: record, patient: maria.publicKey, category: .problems)), as: clinician)
        let sakura = DemoCast.staff("sakura-general", "clinician")
        func access() async throws { _ = try await api.submit(.requestAccess(.init(record: record, purpose: .treat, breakGlass: false)), as: sakura) }
        try await access()

        // The regulator's report: every entry proven in a checkpoint that 2 of the 4 authorities cosigned.
        let trail = try await cli("meridian-audit", ["trail", "--node", ribeira, "--patient", mariaAddress, "--policy", policy] + officer)
        #expect(trail.status == 0 && trail.stdout.contains("witnessed: all 2 entries included") && trail.stdout.contains("quorum 'DPAs' met"), "\(trail)")
        // The patient's answer, the same way.
        let accesses = try await cli("meridian-wallet", ["accesses", "--node", ribeira, "--policy", policy] + (try DemoKeys.args("maria")))
        #expect(accesses.status == 0 && accesses.stdout.contains("witnessed: all ") && accesses.stdout.contains(" accesses included"), "\(accesses)")
        // The light client's check of the served checkpoint.
        let verified = try await cli("meridian-audit", ["verify", "--node", ribeira, "--policy", policy] + officer)
        #expect(verified.status == 0 && verified.stdout.contains("quorum 'DPAs' met"), "\(verified)")

        // The regulator's monitor: a first step reports the entry; after a second access, the next
        // step resumes from the saved checkpoint, checks the consistency proof and reports only the new one.
        let state = dir.path("monitor.state")
        let monitor = ["monitor", "--node", ribeira, "--policy", policy, "--organization", "sakura-general", "--state", state, "--once"] + officer
        let first = try await cli("meridian-audit", monitor)
        #expect(first.status == 0 && first.stdout.contains("entry     #1 ") && first.stdout.contains("1 new entry about sakura-general in entries 0..<"), "\(first)")
        try await access()
        let second = try await cli("meridian-audit", monitor)
        #expect(second.status == 0 && second.stdout.contains("resumed   from the checkpoint of ") && second.stdout.contains(", consistent with the one of ")
                && second.stdout.contains("1 new entry about sakura-general in entries ") && !second.stdout.contains("entry     #1 "), "\(second)")

        // Two witnesses killed with SIGKILL: the chain goes on, and FR and CH still make the quorum.
        let pids = try String(contentsOfFile: net + "/pids", encoding: .utf8).split(separator: "\n").compactMap { pid_t($0) }
        let pt = layout.witnesses[0]
        let origin = SHA256.hash(Array("meridian/\(DemoCast.chainID)/audit-log".utf8)).hex
        let witnessPT = try NodeClient("http://127.0.0.1:\(pt.port)")
        let heldBefore = try await witnessPT.exchange("GET", "/\(origin)/checkpoint")
        #expect(heldBefore.status == 200)
        for pid in pids.prefix(2) { kill(pid, SIGKILL) }
        try await access()
        let withTwo = try await cli("meridian-audit", ["trail", "--node", ribeira, "--patient", mariaAddress, "--policy", policy] + officer)
        #expect(withTwo.status == 0 && withTwo.stdout.contains("cosigned by FR, CH"), "\(withTwo)")
        // FR too: one witness left, the chain still commits, and a report is refused naming what is missing.
        kill(pids[2], SIGKILL)
        try await access()
        let withOne = try await cli("meridian-audit", ["trail", "--node", ribeira, "--patient", mariaAddress, "--policy", policy, "--wait", "2"] + officer)
        #expect(withOne.status == 2 && withOne.stderr.contains("REPORT REFUSED"), "\(withOne)")
        let answer = try await cli("meridian-wallet", ["accesses", "--node", ribeira, "--policy", policy, "--wait", "2"] + (try DemoKeys.args("maria")))
        #expect(answer.status == 2 && answer.stderr.contains("ACCESSES REFUSED"), "\(answer)")

        // PT restarted on its data: it kept the checkpoint it had cosigned, and catches up with a
        // consistency proof at the next push; with CH the quorum is back.
        let restarted = try await BackgroundProcess(try Binaries.path("meridian-witness"),
                                                    ["serve", "--key", pt.keyFile, "--chain", net + "/node-0/genesis.json", "--node", ribeira, "--node-ca", ca,
                                                     "--data-dir", pt.dataDir, "--port", String(pt.port)],
                                                    environment: [:], workingDirectory: Binaries.repository.path, logFile: dir.path("pt-restarted.log"))
        defer { restarted.send(SIGKILL) }
        var kept: (status: Int, body: Data)?
        while kept?.status != 200 {
            kept = try? await witnessPT.exchange("GET", "/\(origin)/checkpoint")
            try stillWaiting("the restarted witness to answer"); try await Task.sleep(for: .milliseconds(100))
        }
        #expect(kept?.body == heldBefore.body, "the restarted witness serves the checkpoint it held when killed")
        try await access()
        let back = try await cli("meridian-audit", ["trail", "--node", ribeira, "--patient", mariaAddress, "--policy", policy] + officer)
        #expect(back.status == 0 && back.stdout.contains("cosigned by PT, CH") && back.stdout.contains("witnessed: all "), "\(back)")
    }
}
