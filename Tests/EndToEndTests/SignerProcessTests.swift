import Foundation
import Testing
import MeridianCore
import MeridianConsensus
import MeridianConsensusDriver
import MeridianRuntime
import MeridianModules
import MeridianP2P
import MeridianSigner
import MeridianDemo
import MeridianTestSupport

/// The validator key in its own process (issue 24 item 4, the tmkms pattern): `meridian-signer`
/// signs over an authenticated Unix socket only what its own signing guard allows, for the one
/// client key it was given, and a validator whose node holds no key still votes through it.
@Suite(.serialized, .timeLimit(.minutes(10))) struct SignerProcessTests {
    static let chain = DemoCast.chainID
    static var validator: PublicKey { DemoCast.staff("hospital-ribeira", "validator").publicKey }

    /// Starts `meridian-signer run` for Ribeira's validator key.
    static func startSigner(in dir: TemporaryDirectory, socket: String, client: PublicKey, extra: [String] = [], log: String = "signer.log") async throws -> BackgroundProcess {
        try await BackgroundProcess(try Binaries.path("meridian-signer"),
                                    ["run", "--keystore", try DemoKeys.keystore("hospital-ribeira/validator"), "--state-dir", dir.path("signer-state"),
                                     "--socket", socket, "--chain-id", chain, "--client", client.hex] + extra,
                                    environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], logFile: dir.path(log))
    }

    /// Waits until the signer accepts `remote` (or fails for another reason than not listening yet).
    static func connect(_ remote: RemoteSigner, _ signer: BackgroundProcess) async throws {
        while true {
            switch Result(catching: { () throws(SignerError) in try remote.connect() }) {
            case .success: return
            case .failure(let e) where e.code == "signer.unreachable" && signer.isRunning:
                try stillWaiting("the signer's socket: \(e)")
                try await Task.sleep(for: .milliseconds(50))
            case .failure(let e): throw e
            }
        }
    }

    static func code(_ body: () throws -> Bytes64) -> String? {
        do { _ = try body(); return nil } catch let e as SignerError { return e.code } catch { return "\(error)" }
    }

    @Test func theSignerSignsOnlyWhatItsGuardAllowsAndOnlyForItsClient() async throws {
        let dir = try TemporaryDirectory("signer")
        let socket = dir.path("s.sock")
        let clientKey = try PrivateKey.generate()
        var signer = try await Self.startSigner(in: dir, socket: socket, client: clientKey.publicKey)
        defer { signer.send(SIGKILL) }
        let remote = RemoteSigner(socketPath: socket, chainID: Self.chain, validator: Self.validator, clientKey: clientKey)
        try await Self.connect(remote, signer)
        let v = Self.validator, value = SHA256.hash(Array("block-a".utf8)), other = SHA256.hash(Array("block-b".utf8))

        // A vote: signed, and the signature is the validator key's over the vote's signing hash.
        let prevote = Vote(kind: .prevote, height: 5, round: 0, value: value, validator: v)
        let signature = try remote.sign(vote: prevote, chainID: Self.chain)
        #expect(v.verify(signature, message: voteSigningHash(prevote, chainID: Self.chain)))
        // The same vote again is allowed (a restarted node replaying its WAL); a different one at the
        // same step is not, nor a step behind the last, nor another validator's message.
        #expect(Self.code { try remote.sign(vote: prevote, chainID: Self.chain) } == nil)
        #expect(Self.code { try remote.sign(vote: Vote(kind: .prevote, height: 5, round: 0, value: other, validator: v), chainID: Self.chain) } == "guard.double_sign")
        #expect(Self.code { try remote.sign(vote: Vote(kind: .prevote, height: 5, round: 0, value: nil, validator: v), chainID: Self.chain) } == "guard.double_sign")
        #expect(Self.code { try remote.sign(vote: Vote(kind: .precommit, height: 5, round: 0, value: value, validator: v), chainID: Self.chain) } == nil)
        #expect(Self.code { try remote.sign(vote: Vote(kind: .prevote, height: 4, round: 3, value: value, validator: v), chainID: Self.chain) } == "guard.regression")
        let stranger = DemoCast.staff("klinikum-spree", "validator").publicKey
        #expect(Self.code { try remote.sign(vote: Vote(kind: .prevote, height: 9, round: 0, value: value, validator: stranger), chainID: Self.chain) } == "signer.not_this_validator")
        let proposal = Proposal(height: 6, round: 1, value: value, validRound: -1, proposer: v)
        let proposed = try remote.sign(proposal: proposal, chainID: Self.chain)
        #expect(v.verify(proposed, message: proposalSigningHash(proposal, chainID: Self.chain)))
        #expect(Self.code { try remote.sign(proposal: Proposal(height: 6, round: 1, value: other, validRound: -1, proposer: v), chainID: Self.chain) } == "guard.double_sign")

        // Transactions: consensus evidence only, and only the validator's own on this chain.
        let a = Vote(kind: .prevote, height: 2, round: 0, value: value, validator: stranger), b = Vote(kind: .prevote, height: 2, round: 0, value: other, validator: stranger)
        func recorded(_ x: Vote) -> SignedConsensusVote { SignedConsensusVote(kind: x.kind.rawValue, height: x.height, round: x.round, value: x.value, validator: x.validator, signature: Bytes64(high: value, low: other)) }
        let evidence = Transaction(chainID: Self.chain, signer: v, nonce: 3, call: .submitEvidence(EquivocationEvidence(first: recorded(a), second: recorded(b))))
        let evidenceSignature = try remote.sign(transaction: evidence)
        #expect(v.verify(evidenceSignature, message: evidence.signingHash))
        #expect(Self.code { try remote.sign(transaction: Transaction(chainID: Self.chain, signer: v, nonce: 4, call: .deployContract([0, 97, 115, 109]))) } == "signer.not_evidence")
        #expect(Self.code { try remote.sign(transaction: Transaction(chainID: "another-chain", signer: v, nonce: 4, call: evidence.call)) } == "signer.wrong_chain")

        // A P2P handshake: the signer derives the transcript itself from the two ephemerals.
        let e1 = try PrivateKey.generate().publicKey.bytes32, e2 = try PrivateKey.generate().publicKey.bytes32
        let (low, high) = e1.bytes.lexicographicallyPrecedes(e2.bytes) ? (e1, e2) : (e2, e1)
        let handshake = try remote.signHandshake(chainID: Self.chain, low: low, high: high)
        #expect(v.verify(handshake, message: Handshake.transcript(chainID: Self.chain, low: low, high: high)))
        #expect(Self.code { try remote.signHandshake(chainID: Self.chain, low: high, high: low) } == "signer.bad_handshake")

        // Authentication: another client key, a node expecting another validator or chain.
        let intruder = RemoteSigner(socketPath: socket, chainID: Self.chain, validator: v, clientKey: try PrivateKey.generate())
        #expect(Self.code { try intruder.connect(); return Bytes64(high: value, low: value) } == "signer.client_refused")
        let confused = RemoteSigner(socketPath: socket, chainID: Self.chain, validator: stranger, clientKey: clientKey)
        #expect(Self.code { try confused.connect(); return Bytes64(high: value, low: value) } == "signer.wrong_validator")
        let elsewhere = RemoteSigner(socketPath: socket, chainID: "another-chain", validator: v, clientKey: clientKey)
        #expect(Self.code { try elsewhere.connect(); return Bytes64(high: value, low: value) } == "signer.wrong_chain")

        // Hostile bytes on the socket: a garbled authentication, an oversized frame. The signer
        // closes those connections and goes on serving.
        let raw = try UnixSocket.connect(path: socket, timeoutSeconds: 5)
        _ = try raw.readFrame()
        try raw.writeFrame([0xFF, 0x00, 0x13])
        #expect(throws: SignerError.self) { _ = try raw.readFrame() }
        let huge = try UnixSocket.connect(path: socket, timeoutSeconds: 5)
        _ = try huge.readFrame()
        let header: [UInt8] = [0x7F, 0xFF, 0xFF, 0xFF]
        _ = header.withUnsafeBytes { send(huge.fd, $0.baseAddress, 4, Int32(MSG_NOSIGNAL)) }
        #expect(throws: SignerError.self) { _ = try huge.readFrame() }
        #expect(Self.code { try remote.sign(vote: Vote(kind: .prevote, height: 7, round: 0, value: value, validator: v), chainID: Self.chain) } == nil)

        // Killed and restarted on the same state: the guard remembers; the node's client reconnects.
        signer.send(SIGKILL)
        _ = await signer.waitForExit()
        signer = try await Self.startSigner(in: dir, socket: socket, client: clientKey.publicKey, log: "signer-2.log")
        let again = RemoteSigner(socketPath: socket, chainID: Self.chain, validator: v, clientKey: clientKey)
        try await Self.connect(again, signer)
        #expect(Self.code { try remote.sign(vote: Vote(kind: .prevote, height: 7, round: 0, value: other, validator: v), chainID: Self.chain) } == "guard.double_sign")
        #expect(Self.code { try remote.sign(vote: Vote(kind: .prevote, height: 7, round: 0, value: value, validator: v), chainID: Self.chain) } == nil)
        #expect(Self.code { try remote.sign(vote: Vote(kind: .prevote, height: 6, round: 0, value: value, validator: v), chainID: Self.chain) } == "guard.regression")

        // Only the allowed users' processes are served (SO_PEERCRED): not even the hello is sent.
        let guarded = dir.path("u.sock")
        let strict = try await Self.startSigner(in: dir, socket: guarded, client: clientKey.publicKey, extra: ["--allow-uid", String(getuid() &+ 4242)], log: "signer-uid.log")
        defer { strict.send(SIGKILL) }
        let refusedUser = RemoteSigner(socketPath: guarded, chainID: Self.chain, validator: v, clientKey: clientKey)
        var refusal: SignerError?
        waiting: while true {
            switch Result(catching: { () throws(SignerError) in try refusedUser.connect() }) {
            case .success: break waiting   // served: the expectation below fails
            case .failure(let e) where e.code == "signer.unreachable" && strict.isRunning:
                try stillWaiting("the second signer's socket"); try await Task.sleep(for: .milliseconds(50))
            case .failure(let e): refusal = e; break waiting
            }
        }
        #expect(refusal?.code == "signer.closed", "\(String(describing: refusal))")
        while !(String(decoding: FileManager.default.contents(atPath: dir.path("signer-uid.log")) ?? Data(), as: UTF8.self).contains("signer.user_refused")) {
            try stillWaiting("the signer's log of the refused user"); try await Task.sleep(for: .milliseconds(50))
        }

        // Bad input to the command: a clear message and a non-zero exit.
        let badClient = try await run("meridian-signer", ["run", "--keystore", try DemoKeys.keystore("hospital-ribeira/validator"), "--state-dir", dir.path("x"),
                                                          "--socket", dir.path("x.sock"), "--chain-id", Self.chain, "--client", "not-a-key"],
                                      environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], in: dir)
        #expect(badClient.status != 0 && badClient.stderr.contains("--client"), "\(badClient)")
        let notASocket = dir.path("plain-file")
        FileManager.default.createFile(atPath: notASocket, contents: Data("keep me".utf8))
        let clobber = try await run("meridian-signer", ["run", "--keystore", try DemoKeys.keystore("hospital-ribeira/validator"), "--state-dir", dir.path("y"),
                                                        "--socket", notASocket, "--chain-id", Self.chain, "--client", clientKey.publicKey.hex],
                                    environment: ["MERIDIAN_PASSPHRASE": NodeProcess.passphrase], in: dir)
        #expect(clobber.status != 0 && clobber.stderr.contains("not a socket"), "\(clobber)")
        #expect(FileManager.default.contents(atPath: notASocket) == Data("keep me".utf8))
    }

    /// Hospital Ribeira's validator votes through its signer on a 4-validator localnet: its node's
    /// data directory holds no validator keystore; certificates carry its signature; with the
    /// signer down the node misses its votes (and says so) while the other three go on; with the
    /// signer back it signs again, and all four agree.
    @Test func aValidatorWhoseKeyIsInASignerVotesAndItsNodeHoldsNoKey() async throws {
        let dir = try TemporaryDirectory("signer-net")
        let socket = dir.path("s.sock")
        let net = try await Localnet(label: "signer", signerSockets: [0: socket])
        defer { for n in net.nodes { n.terminate() } }
        let node = net.nodes[0].dataDir
        let files = try FileManager.default.contentsOfDirectory(atPath: node + "/keys")
        #expect(!files.contains { $0.hasPrefix("validator") }, "the node's keys/ holds a validator keystore: \(files)")
        let sealed = try JSONDecoder().decode(Keystore.self, from: Data(contentsOf: URL(fileURLWithPath: node + "/keys/signer-client.json")))
        let client = try sealed.open(passphrase: NodeProcess.passphrase).publicKey
        var signer = try await Self.startSigner(in: dir, socket: socket, client: client)
        defer { signer.send(SIGKILL) }
        while !FileManager.default.fileExists(atPath: socket) { try stillWaiting("the signer's socket"); try await Task.sleep(for: .milliseconds(50)) }
        try await net.start()
        let ribeira = Address(Self.validator).description
        func signers(_ height: Int) async throws -> Set<String> {
            let block = try await http(try net.nodes[1].api(), "GET", "/v1/blocks/\(height)").1
            let commit = try #require(block["commit"] as? [String: Any], "block \(height): \(block)")
            return Set((commit["signatures"] as? [[String: Any]] ?? []).compactMap { $0["validator"] as? String })
        }
        /// The first height from `from` whose certificate carries Ribeira's signature.
        func signedByRibeira(from: Int) async throws -> Int {
            var h = from
            while true {
                try stillWaiting("a certificate with Ribeira's signature from height \(from)")
                try await net.waitHeight(h, nodes: [1])
                if try await signers(h).contains(ribeira) { return h }
                h += 1
            }
        }
        _ = try await signedByRibeira(from: 1)
        let status = try await http(try net.nodes[0].api(), "GET", "/v1/status").1
        #expect(status["validatorKeys"] as? Int == 0, "the node holds no validator key: \(status)")

        // The signer down: the other three go on; Ribeira's node counts the votes it could not sign.
        signer.send(SIGKILL)
        _ = await signer.waitForExit()
        let down = try await net.height(1)
        try await net.waitHeight(down + 4, nodes: [1, 2, 3])
        var failures = 0
        while failures == 0 {
            try stillWaiting("Ribeira's node to count the votes its signer did not sign")
            failures = (try await net.consensusStatus(0)["signerFailures"] as? Int) ?? 0
            if failures == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(net.nodes[0].logText.contains("the signer did not sign"))

        // Back on the same state: Ribeira signs again, and everyone agrees.
        signer = try await Self.startSigner(in: dir, socket: socket, client: client, log: "signer-2.log")
        let back = try await signedByRibeira(from: try await net.height(1) + 1)
        try await net.waitHeight(back + 2, nodes: [0, 1, 2, 3])
        try await net.checkAgreement(upTo: back + 2, nodes: [0, 1, 2, 3])
    }
}
