public import MeridianCore
public import MeridianTransparency
import Synchronization

/// The authority of Meridian's own audit log for a witness (`CheckpointAuthority`): a checkpoint is
/// the chain's when its commit line (`ChainCheckpoint`) carries a header the light client verifies
/// from genesis, with the certificate that finalised it. A header at a height already verified must
/// be the one verified there (another is a fork, refused); the next height is verified with its
/// certificate; a later one is refused until the caller has brought the light client up to its parent
/// (`meridian-witness` fetches the headers from a node first: the node need not be trusted, every
/// header is checked).
public final class ChainCheckpointAuthority: CheckpointAuthority, Sendable {
    public let origin: String
    public let chainID: String
    public let genesisHash: Bytes32
    private let client: Mutex<LightClient>

    public init(client: LightClient) {
        chainID = client.chainID
        genesisHash = client.genesisHash
        origin = ChainCheckpoint.origin(chainID: client.chainID)
        self.client = Mutex(client)
    }

    /// The verified head's height.
    public var verifiedHeight: UInt64 { client.withLock { $0.head.height } }

    /// Verifies more headers (a page fetched from any node) up to `target`.
    public func advance(with page: LightHeadersPage, upTo target: UInt64) throws(LightClientError) -> Int {
        try client.withLock { (c: inout LightClient) throws(LightClientError) -> Int in try c.advance(with: page, upTo: target) }
    }

    /// The height of the block whose commit makes `note` the chain's (nil if the note is not one of
    /// this chain's checkpoints): how far the caller must sync first.
    public func height(of note: SignedNote) -> UInt64? {
        do { return try ChainCheckpoint(opening: note, chainID: chainID, genesis: genesisHash).header.height }
        catch { return nil }   // not this chain's checkpoint: `authenticate` names why
    }

    public func authenticate(_ note: SignedNote, checkpoint: Checkpoint) throws(NoteError) {
        let opened = try ChainCheckpoint(opening: note, chainID: chainID, genesis: genesisHash)
        let header = opened.header
        try client.withLock { (c: inout LightClient) throws(NoteError) in
            if header.height <= c.head.height {
                guard c.headerHashes[header.height] == header.hash else {
                    throw NoteError("checkpoint.fork", "the header at height \(header.height) is not the one this witness verified there: another history")
                }
                guard opened.commit.blockHash == header.hash else { throw NoteError("checkpoint.bad_commit", "the certificate is for another block") }
                return
            }
            guard header.height == c.head.height + 1 else {
                throw NoteError("checkpoint.unverified", "height \(header.height) is ahead of this witness's verified head \(c.head.height)")
            }
            // Verified on a copy: the light client takes the header only once the witness has
            // accepted the checkpoint (`accepted`), so a commit-signed checkpoint the witness then
            // refuses (an inconsistent log: 409, 422) cannot make it refuse the real chain later.
            var trial = c
            do { try trial.verifyNext(header, certificate: opened.commit) }
            catch { throw NoteError("checkpoint.bad_commit", "\(error)") }
        }
    }

    /// The witness cosigned `note`: its header, at the next height, becomes the verified head.
    public func accepted(_ note: SignedNote) {
        let opened: ChainCheckpoint
        do { opened = try ChainCheckpoint(opening: note, chainID: chainID, genesis: genesisHash) } catch { return }   // authenticated just before: it opens
        client.withLock { c in
            guard opened.header.height == c.head.height + 1 else { return }
            // Verified on a copy just before, under the witness's lock: it verifies again.
            do { try c.verifyNext(opened.header, certificate: opened.commit) } catch { return }
        }
    }
}
