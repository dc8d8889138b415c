import MeridianCore
import MeridianModules
import MeridianTransparency

/// What the data-protection authorities' witnesses have cosigned of what a page shows (issue 23):
/// the newest checkpoint of the audit log that the most registered witnesses cosigned, the
/// authorities that did, and whether it covers the page's latest block. The cosignatures are the
/// ones this node verified with each witness's registered key before serving them.
extension NodeConsole {
    func witnessStatement(coveringHeight height: UInt64) -> String {
        let registered: [WitnessRegistration]
        do { registered = try Witnesses.all(in: query.reader) } catch { return "" }   // the page stands without it
        guard !registered.isEmpty else { return "<p role=\"status\">No witness of the audit log is registered on this chain.</p>" }
        let names = registered.map { "\($0.organization.value)" }.joined(separator: ", ")
        guard let pusher = api.services.witnesses else {
            return "<p role=\"status\">Witnessed: this node pushes no checkpoint to the \(registered.count) registered witnesses (\(HTML.escape(names))); ask a node that does, or check with <code>meridian-audit verify --policy</code>.</p>"
        }
        let genesis: Bytes32
        do { guard let g = try query.store.genesisHeader() else { return "" }; genesis = g.hash } catch { return "" }
        // The newest checkpoint with the most cosignatures that covers the page, else the newest cosigned one.
        var best: (ChainCheckpoint, [String])?
        for k in stride(from: registered.count, through: 1, by: -1) {
            guard let note = pusher.latestWitnessed(minimum: k) else { continue }
            let opened: ChainCheckpoint
            do { opened = try ChainCheckpoint(opening: note, chainID: api.chainID, genesis: genesis) } catch { continue }
            let by = registered.filter { r in note.signatures.contains { $0.name == r.name } }.map(\.organization.value)
            if best == nil { best = (opened, by) }
            if opened.header.height >= height { best = (opened, by); break }
        }
        guard let (checkpoint, by) = best else {
            return "<p class=\"error\" role=\"status\">Witnessed: no checkpoint of the audit log has been cosigned by the registered witnesses (\(HTML.escape(names))) yet.</p>"
        }
        let covers = checkpoint.header.height >= height
        return "<p role=\"status\">Witnessed: the audit log's checkpoint of \(checkpoint.checkpoint.size) entries at block \(checkpoint.header.height) is cosigned by "
            + "\(by.count) of the \(registered.count) authorities' witnesses registered on chain (\(HTML.escape(by.joined(separator: ", "))))"
            + (covers ? "; it includes every entry on this page." : "; entries after block \(checkpoint.header.height) are not yet in a cosigned checkpoint.")
            + " Check it yourself with <code>meridian-audit verify --policy</code> or <code>meridian-wallet accesses --policy</code>.</p>"
    }
}
