import Foundation
import MeridianTestSupport
import Testing
import MeridianCore
import MeridianDemo

/// The demo story (../shared/SCENARIO.md, steps 1-3, 5-7 in their plain-grant form) played against a
/// real `meridian-node` process by the real `meridian-wallet`, `meridian-provider` and
/// `meridian-audit` executables, checking what each prints and how each exits.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ScenarioEndToEndTests {
    @Test func theStoryThroughTheRealCommands() async throws {
        let node = try await NodeProcess("scenario")
        try await node.start()
        defer { node.terminate() }
        let dir = node.dir
        let env = node.environment

        func cli(_ name: String, _ args: [String]) async throws -> CommandResult { try await run(name, args, environment: env, in: dir) }
        func ok(_ name: String, _ args: [String]) async throws -> String {
            let r = try await cli(name, args)
            guard r.status == 0 else { throw HarnessError("\(name) \(args.joined(separator: " ")) failed: \(r)") }
            return r.stdout
        }
        func wallet(_ who: String) -> [String] { ["--keystore", dir.path("\(who).json")] }
        func json(_ s: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any] ?? [:]
        }

        // Enrolment: each patient restores the wallet from the phrase, the hospital attests, the patient registers.
        func enrol(_ who: String, at hospital: String) async throws -> String {
            _ = try await ok("meridian-wallet", ["restore", "--mnemonic", DemoCast.patientPhrase(who).joined(separator: " ")] + wallet(who))
            let address = try await ok("meridian-wallet", ["address"] + wallet(who)).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(address == Address(DemoCast.patient(who).publicKey).description)
            let attestation = try await ok("meridian-provider", ["enrol", "--keystore", DemoKeys.keystore("\(hospital)/clinician"), address])
                .split(whereSeparator: \.isWhitespace).map(String.init)
            #expect(try await ok("meridian-wallet", ["register"] + wallet(who) + attestation).contains("committed at height"))
            return address
        }
        func record(_ address: String, _ hospital: String, _ category: String) async throws -> String {
            let body = dir.path("\(address)-\(category).txt")
            try Data("summary section \(category)".utf8).write(to: URL(fileURLWithPath: body))
            let out = try await ok("meridian-provider", ["register-record", "--keystore", DemoKeys.keystore("\(hospital)/clinician"), "--patient", address,
                                                   "--category", category, "--body", body, "--held-elsewhere", "--json"])
            return try #require(try json(out)["record"] as? String)
        }
        func access(_ who: String, _ record: String, _ purpose: String, breakGlass: Bool = false) async throws -> CommandResult {
            try await cli("meridian-provider", ["request-access", "--keystore", DemoKeys.keystore("\(who)/clinician"), "--record", record, "--purpose", purpose] + (breakGlass ? ["--break-glass"] : []))
        }

        // 1. Maria grants consent for her trip to Japan; access in Portugal and in Tokyo is allowed.
        let maria = try await enrol("maria", at: "hospital-ribeira")
        let mariaProblems = try await record(maria, "hospital-ribeira", "problems")
        _ = try await ok("meridian-wallet", ["consent", "grant"] + wallet("maria") + ["--to", "hospital-ribeira,sakura-general",
                   "--categories", "problems,medications,allergies", "--purpose", "TREAT,ETREAT", "--countries", "PT,JP", "--until", "2027-06-30", "--emergency", "allow"])
        let lisbon = try await access("hospital-ribeira", mariaProblems, "TREAT")
        #expect(lisbon.status == 0 && lisbon.stdout.contains("ALLOWED") && lisbon.stdout.contains("PT→PT"), "\(lisbon)")
        let tokyo = try await access("sakura-general", mariaProblems, "TREAT")
        #expect(tokyo.status == 0 && tokyo.stdout.contains("ALLOWED") && tokyo.stdout.contains("Art. 45"), "\(tokyo)")

        // 2. Hans lets Clínica Sol read his medications, revokes, and the next request is denied.
        let hans = try await enrol("hans", at: "klinikum-spree")
        let hansMeds = try await record(hans, "klinikum-spree", "medications")
        let granted = try json(try await ok("meridian-wallet", ["consent", "grant"] + wallet("hans") + ["--to", "clinica-sol", "--categories", "medications",
                                                         "--purpose", "TREAT", "--countries", "ES", "--until", "2027-03-31", "--json"]))
        let hansConsent = try #require(granted["consent"] as? String)
        #expect(try await access("clinica-sol", hansMeds, "TREAT").stdout.contains("ALLOWED"))
        _ = try await ok("meridian-wallet", ["consent", "revoke"] + wallet("hans") + [hansConsent])
        // Revoking it again is refused by the chain: the refusal and its code, no usage text, exit 65.
        let again = try await cli("meridian-wallet", ["consent", "revoke"] + wallet("hans") + [hansConsent])
        #expect(again.status == 65 && again.stderr.hasPrefix("refused: consent.") && !again.stderr.contains("USAGE"), "\(again)")
        let afterRevoke = try await access("clinica-sol", hansMeds, "TREAT")
        #expect(afterRevoke.status != 0 && afterRevoke.stdout.contains("DENIED"), "a denial exits non-zero: \(afterRevoke)")
        let listed = try await ok("meridian-wallet", ["consent", "list"] + wallet("hans"))
        #expect(listed.contains("revoked"), "\(listed)")

        // 3. Jean: Bangkok refused without a transfer basis, then allowed on explicit consent (Art. 49(1)(a)).
        let jean = try await enrol("jean", at: "hopital-rhone")
        let jeanProblems = try await record(jean, "hopital-rhone", "problems")
        let jeanConsent = try #require(try json(try await ok("meridian-wallet", ["consent", "grant"] + wallet("jean") + ["--to", "chao-phraya",
            "--categories", "problems", "--purpose", "TREAT", "--countries", "TH", "--until", "2027-12-31", "--json"]))["consent"] as? String)
        let refused = try await access("chao-phraya", jeanProblems, "TREAT")
        #expect(refused.status != 0 && refused.stdout.contains("no_transfer_basis"), "\(refused)")
        _ = try await ok("meridian-wallet", ["consent", "amend"] + wallet("jean") + [jeanConsent, "--to", "chao-phraya", "--categories", "problems",
                   "--purpose", "TREAT", "--countries", "TH", "--explicit-transfer", "TH", "--until", "2027-12-31"])
        #expect(try await access("chao-phraya", jeanProblems, "TREAT").stdout.contains("Art. 49(1)(a)"))

        // 4/5. Break-glass for Maria (she allowed emergency access) is allowed and marked; for Hans, denied.
        let glass = try await access("chao-phraya", mariaProblems, "ETREAT", breakGlass: true)
        #expect(glass.status == 0 && glass.stdout.contains("break_glass") && glass.stdout.contains("Art. 49(1)(f)"), "\(glass)")
        #expect(try await access("chao-phraya", hansMeds, "ETREAT", breakGlass: true).status != 0)

        // 6. The regulators' reports, each row traceable to a block and transaction; each regulator
        //    sees the transfers that concern its country, and only those.
        func regulator(_ country: String) throws -> [String] { ["--keystore", try DemoKeys.keystore("dpa-\(country)/officer")] }
        func routes(_ country: String) async throws -> Set<String> {
            let transfers = try JSONSerialization.jsonObject(with: Data(try await ok("meridian-audit", ["transfers", "--format", "json"] + regulator(country)).utf8)) as? [[String: Any]] ?? []
            return Set(transfers.map { "\($0["source"] ?? "")→\($0["destination"] ?? "") \($0["basis"] ?? "")" })
        }
        let pt = try await routes("pt"), th = try await routes("th"), de = try await routes("de")
        #expect(pt == ["PT→JP adequacy-decision", "PT→TH vital-interests"], "\(pt)")
        #expect(th == ["FR→TH explicit-consent", "PT→TH vital-interests"], "\(th)")
        #expect(de == ["DE→ES free-flow-zone"], "\(de)")
        #expect(pt.union(th).union(de) == ["PT→JP adequacy-decision", "DE→ES free-flow-zone", "FR→TH explicit-consent", "PT→TH vital-interests"])
        let breakGlass = try await ok("meridian-audit", ["break-glass", "--format", "csv"] + regulator("th"))
        // Both attempts are in the report, the denied one (Hans) marked as such.
        let glassRows = breakGlass.split(whereSeparator: \.isNewline)   // RFC 4180: CRLF
        #expect(glassRows.count == 3 && glassRows.allSatisfy { $0.contains("chao-phraya") || $0.hasPrefix("organisation") }, "\(breakGlass)")
        #expect(glassRows.contains { $0.contains(",allowed,") } && glassRows.contains { $0.contains(",denied,") }, "\(breakGlass)")
        var deniedByTransaction: [String: [String: Any]] = [:]
        for c in DemoCast.regulatorCountries {
            let rows = try JSONSerialization.jsonObject(with: Data(try await ok("meridian-audit", ["denied", "--format", "json"] + regulator(c.lowercased())).utf8)) as? [[String: Any]] ?? []
            for r in rows { deniedByTransaction[r["transaction"] as? String ?? ""] = r }
        }
        let denied = Array(deniedByTransaction.values)
        #expect(denied.count == 3, "\(denied)")
        #expect(denied.allSatisfy { ($0["transaction"] as? String)?.count == 64 && ($0["height"] as? Int ?? 0) > 0 })

        // 7. Maria's wallet: who accessed her data, including the emergency access.
        let accesses = try await ok("meridian-wallet", ["accesses"] + wallet("maria"))
        #expect(accesses.contains("sakura-general") && accesses.contains("BREAK-GLASS") && accesses.contains("PT→TH"), "\(accesses)")

        // A record key is shared with Sakura General's clinician (wrapped for them alone), on Maria's consent.
        let sakura = Address(DemoCast.staff("sakura-general", "clinician").publicKey).description
        let share = try await cli("meridian-provider", ["share", "--keystore", DemoKeys.keystore("hospital-ribeira/clinician"), "--record", mariaProblems, "--recipient", sakura,
                                                  "--purpose", "TREAT", "--record-key", String(repeating: "ab", count: 32)])
        #expect(share.status == 0 && share.stdout.contains("ALLOWED"), "\(share)")
        let recordView = try await http(try node.api().signed(by: DemoCast.patient("maria")), "GET", "/v1/records/\(mariaProblems)").1
        #expect((recordView["shares"] as? [[String: Any]])?.first?["organization"] as? String == "sakura-general", "\(recordView)")

        // A new patient's wallet: a fresh phrase and keystore, and a paired pulse oximeter.
        try Data("another passphrase\n".utf8).write(to: URL(fileURLWithPath: dir.path("pass.txt")))
        let created = try await ok("meridian-wallet", ["create", "--keystore", dir.path("new.json"), "--words", "12", "--passphrase-file", dir.path("pass.txt")])
        let phrase = created.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.split(separator: " ").count == 12 }
        #expect(phrase != nil, "\(created)")
        #expect(try await cli("meridian-wallet", ["create", "--keystore", dir.path("new.json"), "--passphrase-file", dir.path("pass.txt")]).status != 0,
                "an existing keystore is never overwritten")
        #expect(try await cli("meridian-wallet", ["address", "--keystore", dir.path("new.json")]).status != 0, "the wrong passphrase does not open it")
        let oximeter = Address(DemoCast.key("device/oximeter-1").publicKey).description
        _ = try await ok("meridian-wallet", ["device", "pair", oximeter, "--kind", "pulse-oximeter"] + wallet("maria"))
        let device = try await http(try node.api(), "GET", "/v1/accounts/\(oximeter)").1
        #expect(device["kind"] as? String == "device" && device["pairedTo"] as? String == maria, "\(device)")

        // The regulator's light client: the chain from genesis, then Maria's break-glass entry, Hans's
        // consent and the share to Sakura General, each proven against a verified state root.
        let accessesJSON = try JSONSerialization.jsonObject(with: Data(try await ok("meridian-audit", ["trail", "--patient", maria, "--format", "json"] + regulator("pt")).utf8)) as? [[String: Any]] ?? []
        let glassSequence = try #require(accessesJSON.first { $0["breakGlass"] as? Bool == true }?["sequence"] as? Int)
        let verified = try await cli("meridian-audit", ["verify", "--genesis", "Genesis/demo.json", "--patient", maria, "--sequence", String(glassSequence),
                                                  "--record", mariaProblems, "--organization", "sakura-general"] + regulator("pt"))
        #expect(verified.status == 0 && verified.stdout.contains("verified") && verified.stdout.contains("BREAK-GLASS")
                && verified.stdout.contains("share     to sakura-general proven present"), "\(verified)")
        // Hans proves his own consent (consents are read by their patient alone).
        let consentProof = try await cli("meridian-audit", ["verify", "--patient", hans, "--consent", hansConsent] + wallet("hans"))
        #expect(consentProof.status == 0 && consentProof.stdout.contains("revoked"), "\(consentProof)")
        let missing = try await cli("meridian-audit", ["verify", "--patient", maria, "--sequence", "999"] + wallet("maria"))
        #expect(missing.status == 2 && missing.stderr.contains("proven absent"), "\(missing)")
        // A genesis the node does not run is caught before anything else.
        var otherSpec = try JSONSerialization.jsonObject(with: Data(contentsOf: Binaries.repository.appendingPathComponent("Genesis/demo.json"))) as! [String: Any]
        otherSpec["genesisTime"] = "2026-03-01T00:00:00Z"
        try JSONSerialization.data(withJSONObject: otherSpec).write(to: URL(fileURLWithPath: dir.path("other-genesis.json")))
        let wrongGenesis = try await cli("meridian-audit", ["verify", "--genesis", dir.path("other-genesis.json")] + regulator("pt"))
        #expect(wrongGenesis.status == 2 && wrongGenesis.stderr.contains("light.genesis"), "\(wrongGenesis)")

        // The regulators' SQL copy of what the story committed (meridian-indexer into PostgreSQL).
        try await IndexerChecks.check(node: node, dir: dir, environment: env)

        // FHIR export of a consent and a clean stop.
        let fhir = try await ok("meridian-wallet", ["consent", "export"] + wallet("hans") + [hansConsent])
        #expect(try json(fhir)["resourceType"] as? String == "Consent")
        #expect(await node.stop() == 0, "SIGTERM stops the node gracefully with exit 0")
    }

    @Test func commandsAnswerBadInputWithAMessageAndANonZeroExit() async throws {
        let dir = try TemporaryDirectory("cli-bad-input")
        // The demo keystores open (sealed with the harness's passphrase): what is refused is the input.
        let env = ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase, "MERIDIAN_NODE": "http://127.0.0.1:1"]
        let cases: [(String, [String])] = try [
            ("meridian-wallet", ["restore", "--keystore", dir.path("w.json"), "--mnemonic", "abandon abandon abandon"]),
            ("meridian-wallet", ["consent", "grant", "--keystore", DemoKeys.keystore("maria"), "--to", "x", "--categories", "nonsense", "--purpose", "TREAT", "--countries", "PT", "--until", "2027-01-01"]),
            ("meridian-wallet", ["consent", "grant", "--keystore", DemoKeys.keystore("maria"), "--to", "sakura-general", "--categories", "problems", "--purpose", "TREAT", "--countries", "XX", "--until", "2027-01-01"]),
            ("meridian-wallet", ["address", "--keystore", dir.path("missing.json")]),
            ("meridian-provider", ["request-access", "--keystore", DemoKeys.keystore("sakura-general/clinician"), "--record", "nothex", "--purpose", "TREAT"]),
            ("meridian-provider", ["alert-escalation", "--keystore", DemoKeys.keystore("sakura-general/admin"), "--recipient", "mer1notanaddress", "--after-seconds", "300"]),
            ("meridian-provider", ["alert-escalation", "--keystore", DemoKeys.keystore("sakura-general/admin"), "--recipient", Address(DemoCast.staff("sakura-general", "clinician").publicKey).description, "--after-seconds", "5"]),
            ("meridian-provider", ["acknowledge-alert", "--keystore", DemoKeys.keystore("sakura-general/clinician"), "--patient", Address(DemoCast.patient("maria").publicKey).description, "--alert", "zz"]),
            ("meridian-audit", ["trail"]),
            ("meridian-audit", ["trail", "--organization", "sakura-general", "--from", "yesterday"]),
            ("meridian-node", ["start", "--data-dir", dir.path("nothing")]),
            ("meridian-node", ["status"]),
        ]
        for (name, args) in cases {
            let r = try await run(name, args, environment: env, in: dir)
            #expect(r.status != 0, "\(name) \(args): \(r)")
            #expect(!r.stderr.isEmpty, "\(name) \(args) says what was wrong")
            #expect(r.status != 134 && r.status != 132 && r.status != 139, "\(name) \(args) crashed: \(r)")
        }
    }
}
