import Foundation
import Testing
import MeridianCore
import MeridianDemo
import MeridianTestSupport

/// `meridian-indexer` against a node that has played the demo story (ScenarioEndToEndTests), into
/// a PostgreSQL cluster the test makes with `initdb` (issue 24, item 8):
/// - a regulator's copy holds its jurisdiction's entries and no transaction, and the regulator's
///   reports run as the documented SQL (Tools/Indexer/Reports) give what `meridian-audit` gives;
/// - an operator's copy, its indexer killed with SIGKILL four times mid-run and restarted, ends
///   equal, table by table, to a copy indexed without interruption: no gap, no duplicate;
/// - hostile or mistaken runs (a second key on the same database, a bad URL, no database) are
///   refused with a reason and a non-zero exit, and the copy is unchanged.
enum IndexerChecks {
    static func check(node: NodeProcess, dir: TemporaryDirectory, environment env: [String: String]) async throws {
        let pg = try await PostgresCluster("indexer")
        func indexer(_ args: [String]) async throws -> CommandResult { try await EndToEndTests.run("meridian-indexer", args, environment: env, in: dir) }
        let regulator = ["--keystore", try DemoKeys.keystore("dpa-th/officer")]
        let operatorKey = ["--keystore", try DemoKeys.keystore("hospital-ribeira/admin")]

        // The regulator's copy and its reports.
        let regulatorDB = try await pg.createDatabase("regulator_th")
        let first = try await indexer(["run", "--once", "--database", regulatorDB] + regulator)
        #expect(first.status == 0 && first.stdout.contains("indexed to block"), "\(first)")
        let head = try #require(Int(try await pg.query("regulator_th", "SELECT height FROM meridian_indexer")))
        let blockCount = try await pg.query("regulator_th", "SELECT count(*) FROM blocks")
        #expect(head > 10 && blockCount == String(head))
        #expect(try await pg.query("regulator_th", "SELECT count(*) FROM transactions") == "0", "a regulator's copy holds no transaction")
        let shown = try #require(Int(try await pg.query("regulator_th", "SELECT count(*) FROM audit_entries")))
        let withheld = try #require(Int(try await pg.query("regulator_th", "SELECT sum(audit_entries_withheld) FROM blocks")))
        let logSize = try #require(Int(try await pg.query("regulator_th", "SELECT audit_log_size FROM blocks WHERE height = \(head)")))
        #expect(shown > 0 && withheld > 0 && shown + withheld == logSize, "shown \(shown) + withheld \(withheld) = log \(logSize)")
        #expect(try await pg.query("regulator_th", "SELECT count(*) FROM audit_entries WHERE source_country <> 'TH' AND destination_country <> 'TH'") == "0",
                "Thailand's regulator copies only entries that concern Thailand")
        // Both read the chain up to the indexed head: entries before the next millisecond.
        let until = try await pg.query("regulator_th", "SELECT to_char((time + interval '1 millisecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM blocks WHERE height = \(head)")
        func audit(_ report: String, _ extra: [String] = []) async throws -> [[String: Any]] {
            let r = try await EndToEndTests.run("meridian-audit", [report, "--format", "json", "--until", until] + extra + regulator, environment: env, in: dir)
            guard r.status == 0 else { throw HarnessError("meridian-audit \(report): \(r)") }
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        }
        func sql(_ report: String, _ variables: [String: String] = [:]) async throws -> [[String]] {
            let file = Binaries.repository.appendingPathComponent("Tools/Indexer/Reports/\(report).sql").path
            let r = try await pg.psql("regulator_th", ["-F", "\t", "-v", "until=\(until)"] + variables.flatMap { ["-v", "\($0.key)=\($0.value)"] } + ["-f", file])
            guard r.status == 0 else { throw HarnessError("\(report).sql: \(r)") }
            return r.stdout.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        }
        let transfers = try await audit("transfers")
        let transferRows = try await sql("transfers")
        #expect(!transfers.isEmpty)
        #expect(Set(transfers.map { "\($0["source"]!) \($0["destination"]!) \($0["basis"]!) \($0["count"]!) \(($0["blocks"] as? [Int] ?? []).map(String.init).joined(separator: " "))" })
                == Set(transferRows.map { "\($0[0]) \($0[1]) \($0[2]) \($0[4]) \($0[5])" }), "\(transfers)\n\(transferRows)")
        let glass = try await audit("break-glass")
        let glassRows = try await sql("break-glass").filter { $0.count == 10 }
        #expect(glass.count == 2 && Set(glass.map { "\($0["transaction"]!) \(($0["decision"] as? [String: Any])?["allowed"] as? Bool == true ? "allowed" : "denied")" })
                == Set(glassRows.map { "\($0[9]) \($0[5])" }), "\(glass)\n\(glassRows)")
        let denied = try await audit("denied")
        let deniedRows = try await sql("denied")
        #expect(!denied.isEmpty && denied.map { "\($0["transaction"]!) \(($0["decision"] as? [String: Any])?["reason"] ?? "")" }
                == deniedRows.map { "\($0[8]) \($0[5])" }, "\(denied)\n\(deniedRows)")
        let trail = try await audit("trail", ["--organization", "chao-phraya"])
        let trailRows = try await sql("trail", ["organization": "chao-phraya"])
        let trailFromTool = trail.map { "\($0["patient"]!) \($0["sequence"]!) \($0["time"]!)" }, trailFromSQL = trailRows.map { "\($0[1]) \($0[2]) \($0[0])" }
        #expect(!trail.isEmpty && trailFromTool == trailFromSQL, "\(trailFromTool)\n\(trailFromSQL)")
        let noFilter = try await pg.psql("regulator_th", ["-f", Binaries.repository.appendingPathComponent("Tools/Indexer/Reports/trail.sql").path])
        #expect(noFilter.status != 0 && noFilter.stderr.contains("give -v patient"), "\(noFilter)")

        // Another key on the same database is refused before anything is written.
        let mixed = try await indexer(["run", "--once", "--database", regulatorDB] + operatorKey)
        #expect(mixed.status == 1 && mixed.stderr.contains("database.other_reader"), "\(mixed)")
        #expect(try await pg.query("regulator_th", "SELECT height FROM meridian_indexer") == String(head))
        for bad in [["--database", "mysql://x@y/z"], ["--database", "postgresql://u@/db?host=/nonexistent-\(UUID().uuidString)"], ["--batch", "0", "--database", regulatorDB], []] {
            let r = try await indexer(["run", "--once"] + bad + regulator)
            #expect(r.status != 0 && !r.stderr.isEmpty && r.status != 134 && r.status != 139, "\(bad): \(r)")
        }

        // The operator's copy, killed -9 at random moments, against one indexed without interruption.
        let cleanDB = try await pg.createDatabase("operator_clean")
        let clean = try await indexer(["run", "--once", "--batch", "1", "--database", cleanDB] + operatorKey)
        #expect(clean.status == 0, "\(clean)")
        #expect(Int(try await pg.query("operator_clean", "SELECT count(*) FROM transactions")) ?? 0 > 0, "an operator's copy holds the transactions")
        let killedDB = try await pg.createDatabase("operator_killed")
        let cleanHead = try #require(Int(try await pg.query("operator_clean", "SELECT height FROM meridian_indexer")))
        var generator = SystemRandomNumberGenerator()
        var heightsAtKill: [Int] = []
        for k in 1...4 {
            // Following the chain (no --once), killed once its cursor passed k fifths of the clean
            // run's head, a random few milliseconds later: wherever it is in its cycle of reading a
            // page, writing rows and moving the cursor.
            let p = try await BackgroundProcess(try Binaries.path("meridian-indexer"), ["run", "--batch", "1", "--database", killedDB] + operatorKey,
                                                environment: env, workingDirectory: dir.url.path, logFile: dir.path("indexer-killed.log"))
            let target = k * cleanHead / 5
            while true {
                try stillWaiting("the killed copy's cursor to pass \(target)")
                guard p.isRunning else { throw HarnessError("the indexer exited: \(String(decoding: FileManager.default.contents(atPath: dir.path("indexer-killed.log")) ?? Data(), as: UTF8.self))") }
                if let h = Int((try? await pg.query("operator_killed", "SELECT height FROM meridian_indexer")) ?? ""), h >= target { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...20, using: &generator)))
            p.send(SIGKILL)
            #expect(await p.waitForExit() != 0)
            heightsAtKill.append(try #require(Int(try await pg.query("operator_killed", "SELECT height FROM meridian_indexer"))))
        }
        #expect(heightsAtKill == heightsAtKill.sorted() && heightsAtKill.first! > 0, "each restart resumed where the last left off: \(heightsAtKill)")
        let resumed = try await indexer(["run", "--once", "--batch", "1", "--database", killedDB] + operatorKey)
        #expect(resumed.status == 0, "\(resumed)")
        // Both copies up to the lower of their heads, table by table.
        let upTo = min(Int(try await pg.query("operator_clean", "SELECT height FROM meridian_indexer"))!,
                       Int(try await pg.query("operator_killed", "SELECT height FROM meridian_indexer"))!)
        for (table, order) in [("blocks", "height"), ("transactions", "height, index"), ("decisions", "height, index"), ("audit_entries", "log_index"), ("anchors", "height, transaction, kind, root")] {
            let digest = "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, '|' ORDER BY \(order)), '')) FROM \(table) t WHERE height <= \(upTo)"
            let a = try await pg.query("operator_clean", digest), b = try await pg.query("operator_killed", digest)
            #expect(a == b, "\(table): clean \(a), after kill -9 \(b)")
        }
        let gaps = try await pg.query("operator_killed", "SELECT count(*) FROM generate_series(1, (SELECT height FROM meridian_indexer)) h WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.height = h)")
        #expect(gaps == "0", "no block is missing after the kills")
        await pg.stop()
    }
}
