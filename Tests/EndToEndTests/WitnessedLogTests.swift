import Foundation
import Testing
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianClient
import MeridianTransparency
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

    /// A localnet of three validators and the four DPAs' witnesses (`meridian-localnet`'s default), with
    /// the clients the tests use; every process of it (witnesses and nodes) is killed at the end,
    /// whatever happened (a deinit cannot await `meridian-localnet stop`; its pids file names them).
    final class Network {
        let slots: NodeSlots.Reservation
        let dir: TemporaryDirectory
        let net: String, ca: String, policy: String
        let env: [String: String]
        let layout: Layout
        /// Hospital Ribeira's node (node-0), and a client of its API.
        let ribeira: String
        let api: NodeClient
        /// The localnet's processes as `start` recorded them: the four witnesses, then the nodes.
        let pids: [pid_t]

        init(_ label: String) async throws {
            dir = try TemporaryDirectory(label)
            slots = try await NodeSlots.shared.reserve(3)
            net = dir.path("net"); ca = net + "/ca.pem"; policy = net + "/witnesses.policy"
            env = ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase, "MERIDIAN_CA": ca]
            let initialised = try await run("meridian-localnet", ["init", "--dir", net, "--validators", "3", "--block-interval-ms", "200"], environment: env, in: dir)
            guard initialised.status == 0 else { slots.release(); throw HarnessError("localnet init: \(initialised)") }
            let started = try await run("meridian-localnet", ["start", "--dir", net], environment: env, in: dir)
            pids = ((try? String(contentsOfFile: net + "/pids", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
            guard started.status == 0, pids.count == 7 else {
                for pid in pids { kill(pid, SIGKILL) }
                slots.release()
                throw HarnessError("localnet start: \(started)")
            }
            layout = try JSONDecoder().decode(Layout.self, from: Data(contentsOf: URL(fileURLWithPath: net + "/localnet.json")))
            ribeira = "https://127.0.0.1:\(layout.nodes[0].apiPort)"
            api = try NodeClient(ribeira, ca: ca)
        }
        deinit {
            for pid in pids { kill(pid, SIGCONT); kill(pid, SIGKILL) }
            slots.release()
        }

        func cli(_ name: String, _ args: [String]) async throws -> CommandResult { try await run(name, args, environment: env, in: dir) }

        /// Maria enrolled by Hospital Ribeira and a record of hers registered (her audit entry 0).
        func seedMaria(record label: String) async throws -> Bytes32 {
            let maria = DemoCast.patient("maria"), clinician = DemoCast.staff("hospital-ribeira", "clinician")
            let attestation = try clinician.sign(Identity.enrolmentMessage(chainID: DemoCast.chainID, patient: maria.publicKey))
            _ = try await api.submit(.registerPatient(.init(attestor: clinician.publicKey, attestation: attestation)), as: maria)
            let record = SHA256.hash(Array(label.utf8))
            _ = try await api.submit(.registerRecord(.init(commitment: record, patient: maria.publicKey, category: .problems)), as: clinician)
            return record
        }

        /// Sakura General's clinician asks for the record without Maria's consent: denied, and audited.
        func access(_ record: Bytes32) async throws {
            _ = try await api.submit(.requestAccess(.init(record: record, purpose: .treat, breakGlass: false)), as: DemoCast.staff("sakura-general", "clinician"))
        }
    }

    @Test func reportsAndAccessesAreProvenAgainstTheAuthoritiesWitnessedCheckpoints() async throws {
        let network = try await Network("witnessed")
        let (dir, net, ca, policy, env, layout, ribeira, api) = (network.dir, network.net, network.ca, network.policy, network.env, network.layout, network.ribeira, network.api)
        #expect(layout.witnesses.map(\.country) == ["PT", "DE", "FR", "CH"])
        func cli(_ name: String, _ args: [String]) async throws -> CommandResult { try await network.cli(name, args) }
        let officer = try DemoKeys.args("dpa-pt/officer")
        let mariaAddress = Address(DemoCast.patient("maria").publicKey).description

        // Maria enrolled, a record of hers registered (audit entry 0), and Sakura's clinician asking
        // for it without her consent: denied, and audited (entry 1). Each regulator's or patient's read
        // of the trail is audited too, so later counts depend on when those reads commit.
        let record = try await network.seedMaria(record: "witnessed record")
        func access() async throws { try await network.access(record) }
        try await access()

        // The regulator's report: every entry proven in a checkpoint that 2 of the 4 authorities cosigned.
        let trail = try await cli("meridian-audit", ["trail", "--node", ribeira, "--patient", mariaAddress, "--policy", policy] + officer)
        #expect(trail.status == 0 && trail.stdout.contains("witnessed: all 2 entries included") && trail.stdout.contains("quorum 'DPAs' met"), "\(trail)")
        // The patient's answer, the same way.
        let accesses = try await cli("meridian-wallet", ["accesses", "--node", ribeira, "--policy", policy] + (try DemoKeys.args("maria")))
        #expect(accesses.status == 0 && accesses.stdout.contains("witnessed: all ") && accesses.stdout.contains(" accesses included"), "\(accesses)")
        // The light client's check of the served checkpoint.
        let verified = try await cli("meridian-audit", ["verify", "--node", ribeira, "--policy", policy, "--patient", mariaAddress, "--sequence", "1"] + officer)
        #expect(verified.status == 0 && verified.stdout.contains("quorum 'DPAs' met") && verified.stdout.contains("audit     entry 1 is leaf #1 of the witnessed checkpoint"), "\(verified)")

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

        // Maria follows her trail: each new access is printed as it is committed, with its inclusion
        // proof against a witnessed checkpoint (EHDS Art. 9).
        let followLog = dir.path("follow.log")
        let follow = try await BackgroundProcess(try Binaries.path("meridian-wallet"),
                                                 ["accesses", "--node", ribeira, "--policy", policy, "--follow", "--interval", "1"] + (try DemoKeys.args("maria")),
                                                 environment: env, workingDirectory: Binaries.repository.path, logFile: followLog)
        defer { follow.send(SIGKILL) }
        func followed() -> String { String(decoding: FileManager.default.contents(atPath: followLog) ?? Data(), as: UTF8.self) }
        while !followed().contains("following:") {
            guard follow.isRunning else { throw HarnessError("accesses --follow exited: \(followed())") }
            try stillWaiting("accesses --follow to start"); try await Task.sleep(for: .milliseconds(50))
        }
        try await access()
        while !followed().contains("sakura-general") || !followed().contains("[entry #") {
            guard follow.isRunning else { throw HarnessError("accesses --follow exited: \(followed())") }
            try stillWaiting("accesses --follow to print the new access"); try await Task.sleep(for: .milliseconds(50))
        }
        #expect(followed().contains("cosigned by") && followed().contains("denied"), "\(followed())")
        follow.send(SIGKILL)

        // Two witnesses killed with SIGKILL: the chain goes on, and FR and CH still make the quorum.
        let pids = network.pids
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
        // What it held when killed, or a later one of the same chain (pushes went on until the kill).
        let genesis = try BlockHeader(canonicalBytes: Hex.decode(try await api.lightHeaders(from: 0, limit: 1).headers[0].header)!).hash
        let before = try ChainCheckpoint(opening: Array(heldBefore.body), chainID: DemoCast.chainID, genesis: genesis)
        let after = try ChainCheckpoint(opening: Array(try #require(kept).body), chainID: DemoCast.chainID, genesis: genesis)
        #expect(after.header.height >= before.header.height && after.checkpoint.size >= before.checkpoint.size && after.checkpoint.size > 0,
                "the restarted witness serves the checkpoint it held when killed (held \(before.header.height), serves \(after.header.height))")
        try await access()
        let back = try await cli("meridian-audit", ["trail", "--node", ribeira, "--patient", mariaAddress, "--policy", policy] + officer)
        #expect(back.status == 0 && back.stdout.contains("cosigned by PT, CH") && back.stdout.contains("witnessed: all "), "\(back)")
        withExtendedLifetime(network) {}   // its processes live until here
    }

    /// A tampered node (`meridian-demo tamper`: a proxy in front of a node that serves the log without
    /// Sakura's access, in a next block signed by the demo's public validator keys, as colluding
    /// hospitals could): every witness refuses the inconsistent checkpoint (422), the regulator's
    /// monitor reports the split view with both signed checkpoints as evidence (exit 3), and once the
    /// proxy is gone the honest chain goes on and is witnessed as before: nothing is lost.
    @Test func aTamperedNodesSplitViewIsRefusedByTheWitnessesAndReportedByTheRegulator() async throws {
        let network = try await Network("split-view")
        let (dir, ca, policy, layout, ribeira, api, pids) = (network.dir, network.ca, network.policy, network.layout, network.ribeira, network.api, network.pids)
        func cli(_ name: String, _ args: [String]) async throws -> CommandResult { try await network.cli(name, args) }
        let officer = try DemoKeys.args("dpa-pt/officer")
        let mariaAddress = Address(DemoCast.patient("maria").publicKey).description
        let record = try await network.seedMaria(record: "split view record")
        try await network.access(record)

        // The regulator's monitor has seen the honest log, Sakura's access (entry 1) in it.
        let state = dir.path("monitor.state")
        let seen = try await cli("meridian-audit", ["monitor", "--node", ribeira, "--policy", policy, "--organization", "sakura-general", "--state", state, "--once"] + officer)
        try #require(seen.status == 0 && seen.stdout.contains("entry     #1 "), "\(seen)")

        // One validator stopped (SIGSTOP): with two of the genesis's four validators running, no block
        // can be finalised, so the honest chain holds at node-0's head, whose log (size and root)
        // every witness has cosigned. (A block without new entries has the same checkpoint text, so a
        // witness may hold an earlier block of it; it catches up through a node before judging the next.)
        let origin = SHA256.hash(Array("meridian/\(DemoCast.chainID)/audit-log".utf8)).hex
        let genesis = try BlockHeader(canonicalBytes: Hex.decode(try await api.lightHeaders(from: 0, limit: 1).headers[0].header)!).hash
        func witnessesHold() async throws -> [(height: UInt64, size: UInt64, root: Bytes32)] {
            var out: [(UInt64, UInt64, Bytes32)] = []
            for w in layout.witnesses {
                let held = try await NodeClient("http://127.0.0.1:\(w.port)").exchange("GET", "/\(origin)/checkpoint")
                guard held.status == 200 else { out.append((0, 0, .zero)); continue }
                let opened = try ChainCheckpoint(opening: Array(held.body), chainID: DemoCast.chainID, genesis: genesis)
                out.append((opened.header.height, opened.checkpoint.size, opened.checkpoint.root))
            }
            return out
        }
        struct Log: Decodable { let height: UInt64; let size: UInt64; let root: String }
        while true {
            kill(pids[6], SIGSTOP)
            let head = try await api.get("/v1/audit-log", as: Log.self)
            var held = try await witnessesHold()
            while held.contains(where: { $0.height <= head.height && ($0.size != head.size || $0.root.hex != head.root) }) {
                try stillWaiting("the witnesses to cosign the log of block \(head.height) (they hold \(held))"); try await Task.sleep(for: .milliseconds(100))
                held = try await witnessesHold()
            }
            if held.allSatisfy({ $0.height <= head.height }) { break }
            // A block node-0 had not received yet: run on, and stop again.
            kill(pids[6], SIGCONT)
            try stillWaiting("a quiet moment to stop a validator"); try await Task.sleep(for: .milliseconds(300))
        }
        // The tampered node: the log without entry 1, offered to every witness, then served.
        let address = dir.path("tamper.address")
        let tamper = try await BackgroundProcess(try Binaries.path("meridian-demo"),
                                                 ["tamper", "--node", ribeira, "--ca", ca, "--hide", "1", "--address-file", address]
                                                    + layout.witnesses.flatMap { ["--push-to", "http://127.0.0.1:\($0.port)"] },
                                                 environment: [:], workingDirectory: Binaries.repository.path, logFile: dir.path("tamper.log"))
        defer { tamper.send(SIGKILL) }
        while !FileManager.default.fileExists(atPath: address) {
            guard tamper.isRunning else { throw HarnessError("tamper exited: \(String(decoding: FileManager.default.contents(atPath: dir.path("tamper.log")) ?? Data(), as: UTF8.self))") }
            try stillWaiting("the tampering proxy"); try await Task.sleep(for: .milliseconds(50))
        }
        let proxy = try String(contentsOfFile: address, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let offered = String(decoding: FileManager.default.contents(atPath: dir.path("tamper.log")) ?? Data(), as: UTF8.self)
        for w in layout.witnesses {
            #expect(offered.contains("witness http://127.0.0.1:\(w.port): 422 "), "witness \(w.country) did not refuse the inconsistent checkpoint with 422: \(offered)")
        }

        // The regulator's tools pointed at the tampered node: the monitor reports the split view with
        // both signed checkpoints; verify refuses the head for want of the quorum.
        let caught = try await cli("meridian-audit", ["monitor", "--node", proxy, "--policy", policy, "--organization", "sakura-general", "--state", state, "--once", "--wait", "1"] + officer)
        #expect(caught.status == 3 && caught.stderr.contains("SPLIT VIEW: split_view.") && caught.stderr.components(separatedBy: "--- signed checkpoint (evidence)").count == 3,
                "\(caught)")
        let evidence = caught.stderr.components(separatedBy: "--- signed checkpoint (evidence)\n").dropFirst().map { Array($0.utf8) }
        if evidence.count == 2 {
            // Both are the chain's: the first witnessed (cosigned by the authorities), the second signed by the validators alone.
            let honest = try SignedNote(parsing: evidence[0]), forged = try SignedNote(parsing: evidence[1])
            #expect(try WitnessPolicy(parsing: DemoCast.witnessPolicy()).verify(honest).count >= 2)
            #expect(try ChainCheckpoint(opening: forged, chainID: DemoCast.chainID, genesis: genesis).commit.signatures.count == 4)
        }
        let refused = try await cli("meridian-audit", ["verify", "--node", proxy, "--policy", policy] + officer)
        #expect(refused.status == 2 && refused.stderr.contains("policy.no_quorum"), "\(refused)")

        // Nothing is lost: the proxy gone and the validators back, the honest chain goes on and the
        // witnesses (whose light clients never took the forged block) cosign it.
        tamper.send(SIGKILL)
        kill(pids[6], SIGCONT)
        try await network.access(record)
        let after = try await cli("meridian-audit", ["monitor", "--node", ribeira, "--policy", policy, "--organization", "sakura-general", "--state", state, "--once"] + officer)
        #expect(after.status == 0 && after.stdout.contains("1 new entry about sakura-general"), "\(after)")
        let trail = try await cli("meridian-audit", ["trail", "--node", ribeira, "--patient", mariaAddress, "--policy", policy] + officer)
        #expect(trail.status == 0 && trail.stdout.contains("quorum 'DPAs' met"), "\(trail)")
        withExtendedLifetime(network) {}
    }
}
