import Testing
import Foundation
import Dispatch
import Synchronization
import MeridianCore
import MeridianTransparency
import MeridianTestSupport

/// Cosignatures (c2sp.org/tlog-cosignature, Ed25519 type 0x04) checked both ways against Python's
/// `cryptography` (an Ed25519 no one here wrote, with the signed message built in Python from the
/// specification), and the witness protocol (c2sp.org/tlog-witness) status by status.
@Suite(.timeLimit(.minutes(5))) struct CosignatureTests {
    static let checkpointText = "meridian.example/audit\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

    @Test func pythonVerifiesOurCosignatureAndWeVerifyPythons() async throws {
        let cosigner = try Cosigner(name: "dpa.pt.example/w1", seed: Array(SHA256.hash(Array("witness seed".utf8)).bytes))
        let line = try cosigner.cosign(checkpointText: Self.checkpointText, timestamp: 1_679_315_147).line
        // Python: check our line, then make one of its own with a fresh key for us to check.
        let script = """
        import base64, hashlib, json, sys
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey, Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization
        req = json.loads(sys.stdin.read())
        text = req["text"].encode()
        name, b64 = req["line"].rstrip("\\n").split(" ")[1:3]
        blob = base64.b64decode(b64)
        pub = base64.b64decode(req["pub"])
        assert blob[:4] == hashlib.sha256(name.encode() + b"\\n" + b"\\x04" + pub).digest()[:4], "key id"
        ts = int.from_bytes(blob[4:12], "big")
        Ed25519PublicKey.from_public_bytes(pub).verify(blob[12:], b"cosignature/v1\\ntime %d\\n" % ts + text)
        k = Ed25519PrivateKey.generate()
        kpub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kname = "dpa.de.example/w1"
        kid = hashlib.sha256(kname.encode() + b"\\n" + b"\\x04" + kpub).digest()[:4]
        sig = k.sign(b"cosignature/v1\\ntime 1700000000\\n" + text)
        print(json.dumps({"ts": ts, "vkey": kname + "+" + kid.hex() + "+" + base64.b64encode(b"\\x04" + kpub).decode(),
                          "line": "\\u2014 " + kname + " " + base64.b64encode(kid + (1700000000).to_bytes(8, "big") + sig).decode() + "\\n"}))
        """
        let input = try JSONSerialization.data(withJSONObject: ["text": Self.checkpointText, "line": line, "pub": Data(cosigner.key.publicKey).base64EncodedString()])
        let r = try await ChildProcess.run("python3", ["-c", script], input: Array(input))
        try #require(r.status == 0, "python3 with PyPI 'cryptography' is needed (make setup installs it): \(r.stderr)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(answer["ts"] as? Int == 1_679_315_147)
        let theirKey = try CosignerKey(parsing: try #require(answer["vkey"] as? String))
        let theirs = try SignedNote(parsing: Array((Self.checkpointText + "\n" + (try #require(answer["line"] as? String))).utf8))
        let found = try theirs.cosigners(among: [theirKey, cosigner.key])
        #expect(found.count == 1 && found[0].key == theirKey && found[0].timestamp == 1_700_000_000)
    }

    @Test func cosignerKeysAreNotNoteKeysAndBadCosignaturesAreRefused() throws {
        let seed = [UInt8](repeating: 9, count: 32)
        let cosigner = try Cosigner(name: "dpa.fr.example/w1", seed: seed)
        let noteKey = try NoteSigner(name: "dpa.fr.example/w1", seed: seed).verifierKey
        #expect(cosigner.key.keyID != noteKey.keyID)
        #expect(try CosignerKey(parsing: cosigner.key.encoded) == cosigner.key)
        #expect(try Cosigner(parsing: cosigner.encodedPrivateKey(seed: seed)).key == cosigner.key)
        // A plain note key (type 0x01) is not a cosigner key, and a wrong key ID is refused.
        #expect(throws: NoteError.self) { try CosignerKey(parsing: noteKey.encoded) }
        var wrongID = cosigner.key.encoded
        wrongID.replaceSubrange(wrongID.range(of: "+")!.upperBound..<wrongID.index(wrongID.range(of: "+")!.upperBound, offsetBy: 8), with: "00000000")
        #expect(throws: NoteError.self) { try CosignerKey(parsing: wrongID) }

        let good = try cosigner.cosign(checkpointText: CosignatureTests.checkpointText, timestamp: 1_700_000_000)
        #expect(cosigner.key.verify(good, checkpointText: CosignatureTests.checkpointText) == 1_700_000_000)
        // Another checkpoint, another time, a cut signature: none verifies.
        #expect(cosigner.key.verify(good, checkpointText: CosignatureTests.checkpointText.replacingOccurrences(of: "20852163", with: "20852164")) == nil)
        var otherTime = good.signature
        otherTime[7] ^= 1
        #expect(cosigner.key.verify(NoteSignature(name: good.name, keyID: good.keyID, signature: otherTime), checkpointText: CosignatureTests.checkpointText) == nil)
        #expect(cosigner.key.verify(NoteSignature(name: good.name, keyID: good.keyID, signature: Array(good.signature.prefix(71))), checkpointText: CosignatureTests.checkpointText) == nil)
        #expect(throws: NoteError.self) { try cosigner.cosign(checkpointText: CosignatureTests.checkpointText, timestamp: 0) }
        #expect(throws: NoteError.self) { try cosigner.cosign(checkpointText: CosignatureTests.checkpointText, timestamp: UInt64(Int64.max) + 1) }
        // A line naming a known cosigner that does not verify makes the note malformed.
        let forged = SignedNote(text: CosignatureTests.checkpointText, signatures: [NoteSignature(name: good.name, keyID: good.keyID, signature: otherTime)])
        let error = #expect(throws: NoteError.self) { try forged.cosigners(among: [cosigner.key]) }
        #expect(error?.code == "cosignature.invalid")
    }
}

/// A log of `n` leaves signed by its note key, for the witness tests.
struct TestLog {
    static let origin = "meridian.example/audit-log"
    let signer = try! NoteSigner(name: TestLog.origin, seed: Array(SHA256.hash(Array("log".utf8)).bytes))
    var leaves: [Bytes32] = []

    mutating func grow(to n: Int, salt: String = "") {
        while leaves.count < n { leaves.append(MerkleTree.leafHash(Array("entry \(leaves.count)\(salt)".utf8))) }
    }
    func checkpoint(_ size: Int, signer other: NoteSigner? = nil) -> [UInt8] {
        let cp = Checkpoint(origin: Self.origin, size: UInt64(size), root: size == 0 ? MerkleTree.emptyRoot : MerkleTree.root(leafHashes: Array(leaves.prefix(size))))
        return SignedNote(text: cp.text, signatures: [try! (other ?? signer).sign(cp.text)]).bytes
    }
    func request(old: Int, new: Int, proof: [Bytes32]? = nil, signer other: NoteSigner? = nil) -> [UInt8] {
        let p = proof ?? (old == 0 || old == new ? [] : MerkleTree.consistencyProof(oldSize: old, leafHashes: Array(leaves.prefix(new))))
        return AddCheckpointRequest(oldSize: UInt64(old), proof: p, checkpoint: checkpoint(new, signer: other)).body
    }
}

@Suite(.timeLimit(.minutes(5))) struct TlogWitnessTests {
    static func witness(storage: InMemoryWitnessStorage = InMemoryWitnessStorage(), log: TestLog) throws -> TlogWitness {
        TlogWitness(cosigner: try Cosigner(name: "dpa.ch.example/witness", seed: [UInt8](repeating: 3, count: 32)),
                    logs: [NoteKeyAuthority(origin: TestLog.origin, keys: [log.signer.verifierKey])], storage: storage, clock: { 1_800_000_000 })
    }

    @Test func everyStatusOfAddCheckpointAsSpecified() throws {
        var log = TestLog()
        log.grow(to: 40)
        let w = try Self.witness(log: log)
        // First contact: old size 0, no proof.
        let first = w.addCheckpoint(log.request(old: 0, new: 5))
        #expect(first.status == 200, "\(first.reason)")
        let line = String(decoding: first.body, as: UTF8.self)
        #expect(line.hasPrefix("\u{2014} dpa.ch.example/witness ") && line.hasSuffix("\n"))
        // The answer is a cosignature on exactly the submitted checkpoint.
        let cosigned = try SignedNote(parsing: log.checkpoint(5) + Array(line.utf8))
        #expect(try cosigned.cosigners(among: [w.cosigner.key]).map(\.timestamp) == [1_800_000_000])

        #expect(w.addCheckpoint(log.request(old: 5, new: 9)).status == 200)
        // A stale old size: 409 with the latest size as text/x.tlog.size.
        let stale = w.addCheckpoint(log.request(old: 5, new: 12))
        #expect(stale.status == 409 && stale.contentType == "text/x.tlog.size" && stale.body == Array("9\n".utf8))
        // Old size above the checkpoint's: 400.
        #expect(w.addCheckpoint(log.request(old: 12, new: 9, proof: [])).status == 400)
        // A proof that does not verify: 422.
        var proof = MerkleTree.consistencyProof(oldSize: 9, leafHashes: Array(log.leaves.prefix(12)))
        proof[0] = SHA256.hash(proof[0].bytes)
        #expect(w.addCheckpoint(log.request(old: 9, new: 12, proof: proof)).status == 422)
        // A split view: a validly signed tree of 12 whose first 9 leaves differ.
        var other = TestLog()
        other.grow(to: 12, salt: "x")
        #expect(w.addCheckpoint(other.request(old: 9, new: 12)).status == 422)
        // Same size: same root 200, another root 422.
        #expect(w.addCheckpoint(log.request(old: 9, new: 9)).status == 200)
        #expect(w.addCheckpoint(other.request(old: 9, new: 9)).status == 422)
        // Unknown origin 404; no signature by the log's key 403; a failing one 403.
        let stranger = try NoteSigner(name: "elsewhere.example/log", seed: [UInt8](repeating: 5, count: 32))
        let foreign = SignedNote(text: Checkpoint(origin: "elsewhere.example/log", size: 1, root: log.leaves[0]).text, signatures: [])
        let foreignNote = SignedNote(text: foreign.text, signatures: [try stranger.sign(foreign.text)])
        #expect(w.addCheckpoint(AddCheckpointRequest(oldSize: 0, proof: [], checkpoint: foreignNote.bytes).body).status == 404)
        let impostor = try NoteSigner(name: "someone.example", seed: [UInt8](repeating: 6, count: 32))
        #expect(w.addCheckpoint(log.request(old: 9, new: 12, signer: impostor)).status == 403)
        var badSignature = try SignedNote(parsing: log.checkpoint(12)).signatures[0]
        badSignature = NoteSignature(name: badSignature.name, keyID: badSignature.keyID, signature: badSignature.signature.reversed())
        let forged = SignedNote(text: try SignedNote(parsing: log.checkpoint(12)).text, signatures: [badSignature])
        let proof12 = MerkleTree.consistencyProof(oldSize: 9, leafHashes: Array(log.leaves.prefix(12)))
        #expect(w.addCheckpoint(AddCheckpointRequest(oldSize: 9, proof: proof12, checkpoint: forged.bytes).body).status == 403)
        // Nothing above moved the witness: 9 → 40 still verifies.
        #expect(w.addCheckpoint(log.request(old: 9, new: 40)).status == 200)
        // The monitoring endpoint serves the latest checkpoint with the log's signature and the cosignature.
        let latest = w.checkpoint(originHash: SHA256.hash(Array(TestLog.origin.utf8)).hex)
        #expect(latest.status == 200)
        let served = try SignedNote(parsing: latest.body)
        #expect(try Checkpoint(parsing: served.text).size == 40)
        #expect(try served.verified(by: [log.signer.verifierKey]).count == 1 && (try served.cosigners(among: [w.cosigner.key])).count == 1)
        #expect(w.checkpoint(originHash: String(repeating: "0", count: 64)).status == 404)
    }

    @Test func emptyTreesAndProofsFromSizeZero() throws {
        var log = TestLog()
        log.grow(to: 4)
        let w = try Self.witness(log: log)
        // A size-0 checkpoint must carry the empty tree's root.
        let wrongEmpty = Checkpoint(origin: TestLog.origin, size: 0, root: log.leaves[0])
        let wrongNote = SignedNote(text: wrongEmpty.text, signatures: [try log.signer.sign(wrongEmpty.text)])
        #expect(w.addCheckpoint(AddCheckpointRequest(oldSize: 0, proof: [], checkpoint: wrongNote.bytes).body).status == 422)
        #expect(w.addCheckpoint(log.request(old: 0, new: 0)).status == 200)
        // From size 0 the proof is empty.
        #expect(w.addCheckpoint(log.request(old: 0, new: 4, proof: [log.leaves[1]])).status == 422)
        #expect(w.addCheckpoint(log.request(old: 0, new: 4)).status == 200)
    }

    @Test(arguments: [
        ("no old line", "\n", 400),
        ("old with a leading zero", "old 05\n\n", 400),
        ("old without a number", "old \n\n", 400),
        ("a proof line that is not 32 bytes", "old 5\nAAAA\n\n", 400),
        ("no empty line", "old 5\n", 400),
        ("nothing after the empty line", "old 0\n\n", 400),
        ("a checkpoint that is not a note", "old 0\n\nnot a note\n", 400),
    ])
    func malformedRequestsAre400(_ c: (String, String, Int)) throws {
        let log = TestLog()
        #expect(try Self.witness(log: log).addCheckpoint(Array(c.1.utf8)).status == c.2, "\(c.0)")
    }

    @Test func moreThan63ProofLinesAre400() throws {
        let lines = String(repeating: Data(repeating: 1, count: 32).base64EncodedString() + "\n", count: 64)
        #expect(try Self.witness(log: TestLog()).addCheckpoint(Array(("old 5\n" + lines + "\n").utf8)).status == 400)
        let parsed = try AddCheckpointRequest(parsing: Array(("old 5\n" + String(repeating: Data(repeating: 1, count: 32).base64EncodedString() + "\n", count: 63) + "\nx\n").utf8))
        #expect(parsed.proof.count == 63 && parsed.oldSize == 5 && parsed.checkpoint == Array("x\n".utf8))
    }

    /// Requests racing from the same old size: exactly one is cosigned; the others get 409 and the
    /// stored size is the winner's (checking and storing happen together).
    @Test func racingRequestsCannotRollTheLogBack() throws {
        var log = TestLog()
        log.grow(to: 64)
        let storage = InMemoryWitnessStorage()
        let w = try Self.witness(storage: storage, log: log)
        #expect(w.addCheckpoint(log.request(old: 0, new: 10)).status == 200)
        let bodies = (11...42).map { log.request(old: 10, new: $0) }
        let statuses = Mutex([Int](repeating: 0, count: bodies.count))
        DispatchQueue.concurrentPerform(iterations: bodies.count) { i in
            let s = w.addCheckpoint(bodies[i]).status
            statuses.withLock { $0[i] = s }
        }
        let result = statuses.withLock { $0 }
        #expect(result.filter { $0 == 200 }.count == 1)
        #expect(result.filter { $0 == 409 }.count == bodies.count - 1)
        let winner = 11 + result.firstIndex(of: 200)!
        #expect(storage.latest(origin: TestLog.origin)?.size == UInt64(winner))
    }
}

@Suite(.timeLimit(.minutes(5))) struct WitnessPolicyTests {
    static let dpas = ["pt", "de", "fr", "ch"].map { try! Cosigner(name: "dpa.\($0).example/witness", seed: Array(SHA256.hash(Array("dpa \($0)".utf8)).bytes)) }

    static func policy(_ extra: String = "") -> String {
        let log = TestLog().signer.verifierKey.encoded
        return """
        # the demo: any two of the four data-protection authorities
        log \(log) https://node.example/audit
        witness PT \(dpas[0].key.encoded)
        witness DE \(dpas[1].key.encoded)
        \twitness FR  \(dpas[2].key.encoded)
        witness CH \(dpas[3].key.encoded) https://dpa.ch.example/witness

        group DPAs 2 PT DE FR CH
        quorum DPAs
        \(extra)
        """
    }

    @Test func aQuorumOfTwoOfFourDPAs() throws {
        let policy = try WitnessPolicy(parsing: Self.policy())
        #expect(policy.witnesses.map(\.name) == ["PT", "DE", "FR", "CH"] && policy.quorum == "DPAs" && policy.logs.count == 1)
        #expect(policy.witnesses[3].url == "https://dpa.ch.example/witness")
        #expect(!policy.isSatisfied(by: ["PT"]) && policy.isSatisfied(by: ["PT", "CH"]))
        #expect(policy.missing(from: ["PT"])?.contains("2 of 4 in DPAs (have 1: PT)") == true)
        var log = TestLog()
        log.grow(to: 3)
        let note = try SignedNote(parsing: log.checkpoint(3))
        let one = note.adding([try Self.dpas[0].cosign(checkpointText: note.text, timestamp: 1)])
        let error = #expect(throws: NoteError.self) { try policy.verify(one) }
        #expect(error?.code == "policy.no_quorum" && error?.message.contains("DE") == true)
        let two = one.adding([try Self.dpas[2].cosign(checkpointText: note.text, timestamp: 2)])
        #expect(try policy.verify(two) == ["PT", "FR"])
        // Signed by another log: refused even with the quorum.
        let stranger = try NoteSigner(name: TestLog.origin, seed: [UInt8](repeating: 8, count: 32))
        let foreign = SignedNote(text: note.text, signatures: [try stranger.sign(note.text)] + Array(two.signatures.dropFirst()))
        #expect(throws: NoteError.self) { try policy.verify(foreign) }
    }

    @Test func nestedGroupsAndNone() throws {
        let text = """
        witness PT \(Self.dpas[0].key.encoded)
        witness DE \(Self.dpas[1].key.encoded)
        witness FR \(Self.dpas[2].key.encoded)
        witness CH \(Self.dpas[3].key.encoded)
        group EU any PT DE FR
        group ALL all EU CH
        quorum ALL
        """
        let p = try WitnessPolicy(parsing: text)
        #expect(!p.isSatisfied(by: ["PT", "DE"]) && p.isSatisfied(by: ["FR", "CH"]))
        #expect(try WitnessPolicy(parsing: "quorum none\n").isSatisfied(by: []))
    }

    @Test(arguments: [
        ("an undefined member", "group G any XX\nquorum G", "not defined"),
        ("a member twice", "group G any PT\ngroup H any PT\nquorum G", "already a group member"),
        ("k above n", "group G 5 PT DE\nquorum G", "threshold"),
        ("k of zero", "group G 0 PT DE\nquorum G", "threshold"),
        ("two quorums", "quorum PT\nquorum DE", "exactly one quorum"),
        ("none as a member", "group G any none\nquorum G", "'none' cannot"),
        ("an unknown keyword", "witnesses X", "unknown keyword"),
        ("a name defined twice", "group PT any DE\nquorum PT", "already defined"),
    ])
    func invalidPoliciesAreRefusedWithTheLine(_ c: (String, String, String)) throws {
        let base = """
        witness PT \(Self.dpas[0].key.encoded)
        witness DE \(Self.dpas[1].key.encoded)

        """
        let error = #expect(throws: NoteError.self, "\(c.0)") { try WitnessPolicy(parsing: base + c.1 + "\n") }
        #expect(error?.message.contains(c.2) == true, "\(c.0): \(error?.message ?? "")")
        #expect(error?.message.hasPrefix("line ") == true)
    }

    @Test func keysAndCharactersAreChecked() throws {
        let duplicate = "witness A \(Self.dpas[0].key.encoded)\nwitness B \(Self.dpas[0].key.encoded)\nquorum A\n"
        #expect(throws: NoteError.self) { try WitnessPolicy(parsing: duplicate) }
        #expect(throws: NoteError.self) { try WitnessPolicy(parsing: "witness A \(Self.dpas[0].key.encoded)\r\nquorum A\n") }
        #expect(throws: NoteError.self) { try WitnessPolicy(parsing: "witness A \(TestLog().signer.verifierKey.encoded)\nquorum A\n") }
        #expect(throws: NoteError.self) { try WitnessPolicy(parsing: "# no quorum\n") }
    }
}
