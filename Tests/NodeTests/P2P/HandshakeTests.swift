import Testing
import MeridianCore
import MeridianP2P

/// The P2P handshake and session, without sockets.
@Suite(.timeLimit(.minutes(5))) struct HandshakeTests {
    let a = try! PrivateKey(secret: SHA256.hash(Array("p2p/a".utf8)))
    let b = try! PrivateKey(secret: SHA256.hash(Array("p2p/b".utf8)))

    /// Runs both sides; returns their sessions.
    func connect(_ x: PrivateKey, _ y: PrivateKey, chainX: String = "c", chainY: String = "c",
                 allowX: Set<PublicKey>? = nil, allowY: Set<PublicKey>? = nil) throws -> (SecureSession, SecureSession) {
        var hx = try Handshake(nodeKey: x, chainID: chainX), hy = try Handshake(nodeKey: y, chainID: chainY)
        let authX = try hx.receiveHello(hy.hello), authY = try hy.receiveHello(hx.hello)
        let sx = try hx.receiveAuth(authY) { (allowX ?? [y.publicKey]).contains($0) }
        let sy = try hy.receiveAuth(authX) { (allowY ?? [x.publicKey]).contains($0) }
        return (sx, sy)
    }

    func code(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as P2PError { return e.code } catch { return "\(error)" }
    }

    @Test func bothSidesAuthenticateAndExchangeFramesBothWays() throws {
        var (sa, sb) = try connect(a, b)
        #expect(sa.peer == b.publicKey && sb.peer == a.publicKey)
        for i in 0..<5 {
            let m = Array("frame \(i)".utf8)
            #expect(try sb.open(try sa.seal(m)) == m)
            #expect(try sa.open(try sb.seal(m + m)) == m + m)
        }
    }

    @Test func anUnlistedKeyWrongChainOrTamperedAuthIsRefused() throws {
        #expect(code { _ = try connect(a, b, allowX: []) } == "p2p.not_allowed")
        #expect(code { _ = try connect(a, b, chainX: "one", chainY: "two") } == "p2p.wrong_chain")
        #expect(code { _ = try connect(a, a, allowX: [a.publicKey], allowY: [a.publicKey]) } == "p2p.self")
        var hx = try Handshake(nodeKey: a, chainID: "c"), hy = try Handshake(nodeKey: b, chainID: "c")
        var authY = try hy.receiveHello(hx.hello)
        _ = try hx.receiveHello(hy.hello)
        authY[3] ^= 1
        #expect(code { _ = try hx.receiveAuth(authY) { _ in true } } == "p2p.bad_frame")
        var garbled = try Handshake(nodeKey: a, chainID: "c")
        #expect(code { _ = try garbled.receiveHello([1, 2, 3]) } != nil)
    }

    /// A node that relays someone else's authentication into its own session fails the signature:
    /// the signature binds the node key to this session's ephemeral keys.
    @Test func aRecordedAuthenticationCannotBeReplayedIntoAnotherSession() throws {
        var h1 = try Handshake(nodeKey: a, chainID: "c"), h2 = try Handshake(nodeKey: b, chainID: "c")
        _ = try h1.receiveHello(h2.hello)
        let recorded = try h2.receiveHello(h1.hello)
        var victim = try Handshake(nodeKey: a, chainID: "c")
        _ = try victim.receiveHello(h2.hello)   // the attacker replays b's hello ...
        #expect(code { _ = try victim.receiveAuth(recorded) { _ in true } } != nil, "... and b's recorded authentication")
    }

    @Test func framesCannotBeReplayedReorderedOrOversized() throws {
        var (sa, sb) = try connect(a, b)
        let f0 = try sa.seal([1]), f1 = try sa.seal([2])
        #expect(code { _ = try sb.open(f1) } == "p2p.bad_frame", "out of order")
        var (sa2, sb2) = try connect(a, b)
        let g0 = try sa2.seal([1])
        _ = try sb2.open(g0)
        #expect(code { _ = try sb2.open(g0) } == "p2p.bad_frame", "replayed")
        #expect(code { _ = try sa2.seal([UInt8](repeating: 0, count: SecureSession.maxFrameBytes + 1)) } == "p2p.frame_too_large")
        _ = f0; _ = sb
    }
}
