import Foundation
import Hummingbird
import MeridianCore
import MeridianModules
import MeridianRuntime

/// Network pages for operators and regulators: consensus at a glance, blocks, transactions with
/// their receipts, governance. No personal data is on these pages (the chain holds none).
extension NodeConsole {
    func networkPage(_ viewer: Viewer) async throws -> Response {
        let tip = await api.chain.tip
        let status = api.consensusStatus?()
        let validators = try Validators.current(in: query.reader)
        let total = validators.reduce(0) { $0 + $1.power }
        let missed = status?.missedPrecommits ?? [:]
        let rows = validators.map { v -> [String] in
            let a = Address(v.key).description
            return [HTML.short(a, 20), HTML.escape(v.organization.value), String(v.power),
                    String(format: "%.1f %%", total == 0 ? 0 : Double(v.power) * 100 / Double(total)), String(missed[a] ?? 0)]
        }
        var facts: [(String, String)] = [
            ("Height", "<span data-live=\"height\">\(tip.height)</span>"),
            ("Last block time", "<span data-live=\"time\">\(HTML.escape(tip.time.iso8601))</span>"),
            ("Last block", HTML.link("/console/blocks/\(tip.height)", String(tip.hash.hex.prefix(16)) + "…")),
            ("Mempool", "\(api.mempool.count) transactions"),
        ]
        if let s = status {
            facts += [("Round", "<span data-live=\"round\">\(s.round)</span> (\(HTML.escape(s.step)))"), ("Peers", String(s.peers)),
                      ("Syncing", s.syncing ? "yes" : "no"), ("Rounds at the last height", String(s.roundsLastHeight)),
                      ("Refused messages", String(s.refusedMessages))]
        } else {
            facts.append(("Mode", "single proposer (no consensus peers)"))
        }
        let evidence = try query.evidence(limit: 1000)
        let evidenceRows = evidence.map { r in
            [HTML.short(Address(r.evidence.first.validator).description, 20), String(r.evidence.first.height), String(r.evidence.first.round),
             HTML.short(Address(r.reportedBy).description, 20), HTML.link("/console/blocks/\(r.recordedAt)", String(r.recordedAt)),
             HTML.escape(Self.votingPower(of: r.evidence.first.validator, in: query))]
        }
        let body = HTML.facts(facts)
            + "<p class=\"live-note\" data-live=\"note\">Live: this page updates as blocks commit (with JavaScript); reload otherwise.</p>"
            + "<h2>Validators</h2>" + HTML.table(caption: "Validators with voting power and precommits missed in blocks this node decided",
                                                 headers: ["Validator", "Organisation", "Power", "Share", "Missed precommits"], rows: rows)
            + "<h2>Equivocation evidence</h2>" + HTML.table(caption: "Validators caught double-signing", headers: ["Validator", "Height", "Round", "Reported by", "Recorded in block", "Voting power"],
                                                            rows: evidenceRows, empty: "No evidence: no validator has been caught double-signing.")
            + "<h2>Latest blocks</h2>" + (try blockTable(before: nil, count: 10))
        return ConsoleHeaders.html(layout(title: "Network", viewer: viewer, body: body, live: "network", current: "/console/network"))
    }

    func blockTable(before: UInt64?, count: Int) throws -> String {
        let head = try query.store.headHeight()
        var h = min(before.map { $0 == 0 ? 0 : $0 - 1 } ?? head, head)
        var rows: [[String]] = []
        while h >= 1 && rows.count < count {
            if let b = try query.store.block(at: h) {
                rows.append([HTML.link("/console/blocks/\(h)", String(h)), HTML.escape(b.header.time.iso8601), String(b.transactions.count),
                             HTML.short(Address(b.header.proposer).description, 20), HTML.short(b.header.hash.hex)])
            }
            h -= 1
        }
        return HTML.table(caption: "Blocks, newest first", headers: ["Height", "Time", "Transactions", "Proposer", "Hash"], rows: rows, empty: "No block yet.")
    }

    func blocksPage(_ viewer: Viewer, _ request: Request) throws -> Response {
        let q = try api.queryDictionary(request)
        var before: UInt64?
        if let b = q["before"] {
            guard let v = UInt64(b), b.count < 20 else { throw ConsoleError(.badRequest, "Bad height", "before: expected a block height") }
            before = v
        }
        let head = try query.store.headHeight()
        let top = min(before.map { $0 == 0 ? 0 : $0 - 1 } ?? head, head)
        var body = try blockTable(before: before, count: 25)
        if top > 25 { body += "<p>\(HTML.link("/console/blocks?before=\(top - 24)", "Older blocks"))</p>" }
        return ConsoleHeaders.html(layout(title: "Blocks", viewer: viewer, body: body, current: "/console/blocks"))
    }

    func blockPage(_ viewer: Viewer, _ text: String) throws -> Response {
        guard let h = UInt64(text), text.count < 20 else { throw ConsoleError(.badRequest, "Bad height", "expected a block height, not '\(text.prefix(40))'") }
        guard h >= 1, let b = try query.store.block(at: h) else { throw ConsoleError(.notFound, "No such block", "This node has no block \(h).") }
        let receipts = try query.store.receipts(at: h) ?? []
        let commit = try query.store.commit(at: h)
        let facts = HTML.facts([
            ("Hash", "<code>\(b.header.hash.hex)</code>"), ("Time", HTML.escape(b.header.time.iso8601)),
            ("Parent", h > 1 ? HTML.link("/console/blocks/\(h - 1)", b.header.parentHash.hex) : "<code>\(b.header.parentHash.hex)</code>"),
            ("State root", "<code>\(b.header.stateRoot.hex)</code>"), ("Proposer", "<code>\(Address(b.header.proposer))</code>"),
            ("Finalised by", commit.map { "\($0.signatures.count) precommit signatures, round \($0.round)" } ?? "no commit certificate stored"),
        ])
        let rows = b.transactions.enumerated().map { i, t -> [String] in
            let r = i < receipts.count ? receipts[i] : nil
            return [HTML.link("/console/transactions/\(t.hash.hex)", String(t.hash.hex.prefix(16)) + "…"), HTML.escape(t.transaction.call.name),
                    HTML.short(Address(t.transaction.signer).description, 20), HTML.escape(r.map(outcome) ?? "—")]
        }
        let body = facts + "<h2>Transactions</h2>" + HTML.table(caption: "Transactions of block \(h) with their receipts", headers: ["Hash", "Call", "Signer", "Outcome"], rows: rows, empty: "An empty block.")
        return ConsoleHeaders.html(layout(title: "Block \(h)", viewer: viewer, body: body, current: "/console/blocks"))
    }

    func outcome(_ r: Receipt) -> String {
        switch r.outcome {
        case .success: r.decision.map { "success (\($0.reason.code))" } ?? "success"
        case .failed: "failed: \(r.error?.code ?? "")"
        case .rejected: "rejected: \(r.error?.code ?? "")"
        }
    }

    func transactionPage(_ viewer: Viewer, _ text: String) throws -> Response {
        guard let hash = Bytes32(hex: text) else { throw ConsoleError(.badRequest, "Bad hash", "expected 64 hex digits") }
        guard let loc = try query.store.location(ofTransaction: hash), let block = try query.store.block(at: loc.height), Int(loc.index) < block.transactions.count else {
            throw ConsoleError(.notFound, "No such transaction", "No committed transaction \(hash.hex.prefix(16))… on this node.")
        }
        let t = block.transactions[Int(loc.index)]
        let receipts = try query.store.receipts(at: loc.height) ?? []
        let r = Int(loc.index) < receipts.count ? receipts[Int(loc.index)] : nil
        var facts: [(String, String)] = [("Block", HTML.link("/console/blocks/\(loc.height)", String(loc.height))), ("Index", String(loc.index)),
                                          ("Call", HTML.escape(t.transaction.call.name)), ("Signer", "<code>\(Address(t.transaction.signer))</code>"),
                                          ("Nonce", String(t.transaction.nonce))]
        if let r {
            facts.append(("Outcome", HTML.escape(outcome(r))))
            if let e = r.error { facts.append(("Error", HTML.escape("\(e.code): \(e.message)"))) }
            if let d = r.decision {
                facts.append(("Decision", HTML.escape(d.reason.code)))
                if let b = d.transferBasis { facts.append(("Legal basis", HTML.escape("\(b.name) (\(b.legalReference))"))) }
            }
            if let c = r.createdID { facts.append(("Created", "<code>\(c.hex)</code>")) }
        }
        let events = (r?.events ?? []).map { e -> [String] in
            let v = JSONView.Event(e)
            return [HTML.escape(v.kind), HTML.escape(v.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))]
        }
        let body = HTML.facts(facts) + "<h2>Events</h2>" + HTML.table(caption: "Events the transaction emitted", headers: ["Kind", "Detail"], rows: events, empty: "No events.")
        return ConsoleHeaders.html(layout(title: "Transaction \(hash.hex.prefix(16))…", viewer: viewer, body: body, current: "/console/blocks"))
    }

    func governancePage(_ viewer: Viewer) throws -> Response {
        let proposals = try query.proposals().sorted { $0.createdHeight > $1.createdHeight }
        let table = proposals.map { p -> [String] in
            [HTML.short(p.id.hex), HTML.escape(describe(p.action)), HTML.short(Address(p.proposer).description, 20), HTML.escape(p.status.name),
             "\(p.yes.count) yes, \(p.no.count) no", HTML.link("/console/blocks/\(p.createdHeight)", String(p.createdHeight)),
             String(p.deadlineHeight), p.effectiveHeight.map(String.init) ?? "—"]
        }
        let voteRows = proposals.flatMap { p in
            p.yes.map { [HTML.short(p.id.hex), HTML.short(Address($0).description, 20), "yes"] } + p.no.map { [HTML.short(p.id.hex), HTML.short(Address($0).description, 20), "no"] }
        }
        let body = HTML.table(caption: "Governance proposals, newest first", headers: ["Proposal", "Action", "Proposer", "Status", "Votes", "Created", "Deadline", "Effective"],
                              rows: table, empty: "No proposal yet.")
            + "<h2>Votes</h2>" + HTML.table(caption: "Votes cast", headers: ["Proposal", "Voter", "Vote"], rows: voteRows, empty: "No vote yet.")
        return ConsoleHeaders.html(layout(title: "Governance", viewer: viewer, body: body, current: "/console/governance"))
    }

    /// A double-signer's standing: suspended (since or from a block) or readmitted; a state error
    /// is shown as such, never as "readmitted".
    static func votingPower(of validator: PublicKey, in query: QueryService) -> String {
        do {
            guard let s = try Suspensions.suspension(of: validator, in: query.reader) else { return "readmitted" }
            return s.inEffect ? "suspended since block \(s.effectiveHeight)" : "suspended from block \(s.effectiveHeight)"
        } catch { return "unknown (the node could not read its state)" }
    }

    func describe(_ a: GovernanceAction) -> String {
        switch a {
        case .addValidator(let v): "add validator \(Address(v.key)) of \(v.organization.value), power \(v.power)"
        case .removeValidator(let k): "remove validator \(Address(k))"
        case .addOrganization(let o, _): "add organisation \(o.id.value) (\(o.country.code))"
        case .removeOrganization(let id): "remove organisation \(id.value)"
        case .addRegulator(let o, let k): "add regulator officer \(Address(k)) to \(o.value)"
        case .setTransferRule(let r): "set transfer rule \(r.name)"
        case .removeTransferRule(let n): "remove transfer rule \(n)"
        case .readmitValidator(let k): "readmit validator \(Address(k)), suspended for equivocation"
        case .setWitness(let w): "register \(w.organization.value)'s audit-log witness \(w.name) (Ed25519 \(w.publicKey.hex.prefix(16))…)"
        case .removeWitness(let id): "retire \(id.value)'s audit-log witness"
        case .scheduleUpgrade(let p): "upgrade to \(p.name) at height \(p.height) (release SHA-256 \(p.binarySHA256.hex.prefix(16))…)"
        case .cancelUpgrade(let n): "cancel the upgrade \(n)"
        }
    }
}
