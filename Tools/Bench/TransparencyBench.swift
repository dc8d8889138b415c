import Foundation
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianStorage
import MeridianTransparency

/// The witnessed audit log's costs (issue 23, item 8): verifying inclusion and consistency proofs in a
/// log of a million entries, making a block's checkpoint note and a witness's cosignature, a witness's
/// add-checkpoint decisions per second (in memory: the durable replace adds one fsync each), and the
/// bytes of tlog-tiles a million entries take.
struct TransparencyFigures {
    var inclusionP50 = 0.0, inclusionP99 = 0.0, consistencyP50 = 0.0, consistencyP99 = 0.0
    var cosignP50 = 0.0, noteP50 = 0.0
    var addCheckpointsPerSecond = 0.0
    var entries = 0
    var tileBytesPerMillion = 0.0, bundleBytesPerMillion = 0.0
    /// Measured over real blocks of access requests (each appends one audit entry): the bytes the
    /// node's log columns take per entry (keys and values as `AuditLogStore` writes them), and the
    /// growth of the RocksDB state directory per entry (the entry, its indexes, the access's other
    /// writes and the Merkle nodes they rehash).
    var logBytesPerEntry = 0.0, stateBytesPerEntry = 0.0, growthEntries = 0
}

/// Bytes of every file under `url` (RocksDB's SST files, WAL and manifest).
func directoryBytes(_ url: URL) -> Double {
    guard let files = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.fileSizeKey]) else { return 0 }
    var total = 0.0
    for case let f as URL in files {
        do { total += Double(try f.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0) } catch { continue }   // a file RocksDB removed meanwhile
    }
    return total
}

/// Runs blocks of 1,000 access requests on a RocksDB state and measures what the audit log and the
/// state add per audit entry.
func auditLogGrowth(quick: Bool, directory: URL) throws -> (logBytes: Double, stateBytes: Double, entries: Int) {
    let chain = try ContractBenchChain(patients: 1000, storage: try RocksDBStateStorage(path: directory.path))
    let reader = CommittedStateReader(chain.state)
    let firstEntries = try AuditLog.frontier(in: reader).size
    let before = directoryBytes(directory)
    var nonce: UInt64 = 0
    var logBytes = 0.0
    for _ in 0..<(quick ? 2 : 10) {
        let executed = try chain.block(try chain.requests(count: 1000, nonce: &nonce, plainOnly: true))
        let log = executed.auditLog
        // AuditLogStore: hashes (1-byte level + 8-byte index → 32), entries (8 → 32), positions (32 → 8).
        logBytes += Double(log.stored.count * (9 + 32) + log.entryHashes.count * (8 + 32) + log.entryHashes.count * (32 + 8))
    }
    let entries = Int(try AuditLog.frontier(in: reader).size - firstEntries)
    return (logBytes / Double(entries), (directoryBytes(directory) - before) / Double(entries), entries)
}

func transparencyBench(quick: Bool) throws -> TransparencyFigures {
    var f = TransparencyFigures()
    let n = quick ? 1 << 16 : 1 << 20
    f.entries = n
    let leaves = (0..<n).map { i in MerkleTree.leafHash(SHA256.hash(withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) }).bytes) }
    let root = MerkleTree.root(leafHashes: leaves)
    var generator = SystemRandomNumberGenerator()
    let samples = quick ? 200 : 1000

    // Inclusion: the proofs are made first; only verification is timed.
    let indices = (0..<samples).map { _ in Int.random(in: 0..<n, using: &generator) }
    let proofs = indices.map { MerkleTree.inclusionProof(index: $0, leafHashes: leaves) }
    var times: [Double] = []
    for (i, proof) in zip(indices, proofs) {
        let t0 = now()
        precondition(MerkleTree.verifyInclusion(leafHash: leaves[i], index: i, treeSize: n, proof: proof, root: root))
        times.append(Double(now() - t0) / 1000)
    }
    (f.inclusionP50, f.inclusionP99) = (median(times), percentile(times, 0.99))

    // Consistency from a random older size to the full log.
    let olds = (0..<min(samples, 100)).map { _ in Int.random(in: 1..<n, using: &generator) }
    times = []
    for old in olds {
        let proof = MerkleTree.consistencyProof(oldSize: old, leafHashes: leaves)
        let oldRoot = MerkleTree.root(leafHashes: Array(leaves.prefix(old)))
        let t0 = now()
        precondition(MerkleTree.verifyConsistency(oldSize: old, newSize: n, proof: proof, oldRoot: oldRoot, newRoot: root))
        times.append(Double(now() - t0) / 1000)
    }
    (f.consistencyP50, f.consistencyP99) = (median(times), percentile(times, 0.99))

    // A checkpoint note (the text the log signs) and one witness's cosignature of it.
    let cosigner = try Cosigner.generate(name: "dpa.pt.example/witness").0
    let signer = try NoteSigner(name: "bench.example/log", seed: Array(SHA256.hash(Array("bench log".utf8)).bytes))
    times = []
    var noteTimes: [Double] = []
    for size in 1...samples {
        let t0 = now()
        let cp = Checkpoint(origin: "bench.example/log", size: UInt64(size), root: leaves[size])
        let note = SignedNote(text: cp.text, signatures: [try signer.sign(cp.text)])
        let t1 = now()
        _ = try cosigner.cosign(checkpointText: note.text, timestamp: 1_800_000_000)
        noteTimes.append(Double(t1 - t0) / 1000)
        times.append(Double(now() - t1) / 1000)
    }
    (f.noteP50, f.cosignP50) = (median(noteTimes), median(times))

    // A witness deciding add-checkpoint requests: each new checkpoint a few entries larger, with its
    // consistency proof from the last cosigned one (note signature, proof and cosignature checked/made).
    let witness = TlogWitness(cosigner: cosigner, logs: [NoteKeyAuthority(origin: "bench.example/log", keys: [signer.verifierKey])],
                              storage: InMemoryWitnessStorage(), clock: { 1_800_000_000 })
    let steps = quick ? 200 : 2000
    let prefix = Array(leaves.prefix(steps * 8 + 1))
    var bodies: [[UInt8]] = []
    var last = 0
    for step in 1...steps {
        let size = step * 8
        let cp = Checkpoint(origin: "bench.example/log", size: UInt64(size), root: MerkleTree.root(leafHashes: Array(prefix.prefix(size))))
        let note = SignedNote(text: cp.text, signatures: [try signer.sign(cp.text)])
        let proof = last == 0 ? [] : MerkleTree.consistencyProof(oldSize: last, leafHashes: Array(prefix.prefix(size)))
        bodies.append(AddCheckpointRequest(oldSize: UInt64(last), proof: proof, checkpoint: note.bytes).body)
        last = size
    }
    let t0 = now()
    for body in bodies { precondition(witness.addCheckpoint(body).status == 200) }
    f.addCheckpointsPerSecond = Double(bodies.count) / (Double(now() - t0) / 1e9)

    // tlog-tiles: full hash tiles hold 256 hashes of 32 bytes at each level (level 0 one per 256
    // entries, level 1 one per 65,536, …); an entry bundle holds 256 entries, each a 2-byte length and
    // the entry (here a 32-byte entry hash).
    let million = 1_000_000.0
    var tileBytes = 0.0
    var width = million
    while width >= 1 {
        tileBytes += width * 32   // every hash of the level is in some tile (partial tiles included)
        width = (width / 256).rounded(.down)
    }
    f.tileBytesPerMillion = tileBytes
    f.bundleBytesPerMillion = million * (2 + 32)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-bench-log-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    (f.logBytesPerEntry, f.stateBytesPerEntry, f.growthEntries) = try auditLogGrowth(quick: quick, directory: dir)
    return f
}
