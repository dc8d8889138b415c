import Testing
import Synchronization
import MeridianCore
import MeridianModules
import MeridianRuntime
import MeridianMempool
import MeridianDemo

/// A committed state as the mempool sees it: nonces and registered accounts.
final class FakeAccounts: AccountView {
    let state = Mutex<(nonces: [PublicKey: UInt64], registered: Set<PublicKey>)>(([:], []))
    func nonce(of key: PublicKey) throws -> UInt64 { state.withLock { $0.nonces[key] ?? 0 } }
    func isRegistered(_ key: PublicKey) throws -> Bool { state.withLock { $0.registered.contains(key) } }
    /// The demo's providers: their clinicians.
    func isProvider(_ key: PublicKey) throws -> Bool { DemoCast.hospitals.contains { DemoCast.staff($0.id, "clinician").publicKey == key } }
    func register(_ keys: [PrivateKey]) { state.withLock { for k in keys { $0.registered.insert(k.publicKey) } } }
    func setNonce(_ key: PrivateKey, _ n: UInt64) { state.withLock { $0.nonces[key.publicKey] = n } }
}

@Suite(.timeLimit(.minutes(5))) struct MempoolTests {
    let clinician = DemoCast.staff("hospital-ribeira", "clinician")

    func tx(_ key: PrivateKey, nonce: UInt64, chain: String = DemoCast.chainID, salt: UInt8 = 0) throws -> SignedTransaction {
        try SignedTransaction(signing: Transaction(chainID: chain, signer: key.publicKey, nonce: nonce,
            call: .registerRecord(.init(commitment: SHA256.hash([salt, UInt8(nonce & 0xff)]), patient: DemoCast.patient("maria").publicKey, category: .problems))), with: key)
    }

    func admit(_ m: Mempool, _ stx: SignedTransaction, _ a: FakeAccounts) throws {
        try m.admit(stx, size: stx.canonicalBytes.count, accounts: a)
    }

    /// The admission error's code, nil when admitted.
    func code(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as AdmissionError { return e.code } catch { return "unexpected: \(error)" }
    }

    @Test func admitsOnlyRightChainValidSignatureRegisteredNextNonce() throws {
        let accounts = FakeAccounts(); accounts.register([clinician])
        let m = Mempool(chainID: DemoCast.chainID, limits: MempoolLimits())
        #expect(code { try admit(m, try! tx(clinician, nonce: 0, chain: "other"), accounts) } == "tx.wrong_chain")
        let good = try tx(clinician, nonce: 0)
        var sig = good.signature.bytes; sig[5] ^= 1
        #expect(code { try admit(m, SignedTransaction(transaction: good.transaction, signature: Bytes64(sig)!), accounts) } == "tx.bad_signature")
        #expect(code { try admit(m, try! tx(DemoCast.key("stranger"), nonce: 0), accounts) } == "tx.unregistered_signer")
        #expect(code { try admit(m, try! tx(clinician, nonce: 1), accounts) } == "tx.future_nonce")
        #expect(code { try admit(m, good, accounts) } == nil)
        #expect(code { try admit(m, good, accounts) } == "tx.duplicate")
        #expect(code { try admit(m, try! tx(clinician, nonce: 0, salt: 9), accounts) } == "tx.replayed_nonce")
        #expect(code { try admit(m, try! tx(clinician, nonce: 1), accounts) } == nil)
        #expect(m.count == 2)
    }

    @Test func boundsPerAccountCountAndBytes() throws {
        let keys = (0..<4).map { DemoCast.key("mempool/\($0)") }
        let accounts = FakeAccounts(); accounts.register(keys)
        var limits = MempoolLimits(); limits.maxPerAccount = 3; limits.maxTransactions = 5
        let m = Mempool(chainID: DemoCast.chainID, limits: limits)
        for n in 0..<3 { try admit(m, try tx(keys[0], nonce: UInt64(n)), accounts) }
        #expect(code { try admit(m, try! tx(keys[0], nonce: 3), accounts) } == "mempool.account_quota")
        try admit(m, try tx(keys[1], nonce: 0), accounts)
        try admit(m, try tx(keys[1], nonce: 1), accounts)
        #expect(code { try admit(m, try! tx(keys[2], nonce: 0), accounts) } == "mempool.full")
        let size = try tx(keys[3], nonce: 0).canonicalBytes.count
        var byteLimits = MempoolLimits(); byteLimits.maxBytes = size * 2
        let small = Mempool(chainID: DemoCast.chainID, limits: byteLimits)
        try admit(small, try tx(keys[3], nonce: 0), accounts)
        try admit(small, try tx(keys[3], nonce: 1), accounts)
        #expect(code { try admit(small, try! tx(keys[3], nonce: 2), accounts) } == "mempool.full")
        #expect(small.bytes == size * 2)
    }

    /// A proposal after an undecided round leaves out that round's transactions and their signers'
    /// later ones (no nonce gap reaches a block); a poison transaction evicted with its signer's
    /// later ones is refused if gossip brings it back.
    @Test func reapExcludesWithTheSignersLaterOnesAndEvictionQuarantines() throws {
        let other = DemoCast.staff("klinikum-spree", "clinician")
        let accounts = FakeAccounts(); accounts.register([clinician, other])
        let m = Mempool(chainID: DemoCast.chainID, limits: MempoolLimits())
        let a0 = try tx(clinician, nonce: 0), a1 = try tx(clinician, nonce: 1), b0 = try tx(other, nonce: 0), a2 = try tx(clinician, nonce: 2)
        for t in [a0, b0, a1, a2] { try admit(m, t, accounts) }
        #expect(m.reap(maxCount: 10, maxBytes: 1 << 20, excluding: [a1.hash]).map(\.hash) == [a0.hash, b0.hash])
        #expect(m.reap(maxCount: 10, maxBytes: 1 << 20, excluding: [a0.hash]).map(\.hash) == [b0.hash])
        #expect(m.reap(maxCount: 10, maxBytes: 1 << 20).count == 4)
        // A probe of suspects takes only those, in order, never one behind a signer's earlier outsider.
        #expect(m.reap(maxCount: 10, maxBytes: 1 << 20, only: [a1.hash, b0.hash]).map(\.hash) == [b0.hash])
        #expect(m.reap(maxCount: 10, maxBytes: 1 << 20, only: [a0.hash, a1.hash, b0.hash]).map(\.hash) == [a0.hash, b0.hash, a1.hash])
        #expect(m.reap(maxCount: 2, maxBytes: 1 << 20, only: [a0.hash, a1.hash, b0.hash]).map(\.hash) == [a0.hash, b0.hash])
        #expect(Set(m.evict(a1.hash)) == [a1.hash, a2.hash])
        #expect(m.count == 2 && m.evict(a1.hash).isEmpty)
        #expect(code { try admit(m, a1, accounts) } == "tx.quarantined")
        let resigned = try tx(clinician, nonce: 1, salt: 9)   // a new transaction for the same nonce is welcome
        #expect(code { try admit(m, resigned, accounts) } == nil)
    }

    /// A registration that would fail never enters the mempool (so it is never gossiped nor
    /// proposed): a non-provider attestor, an attestation for another key or chain, a key already
    /// registered. A valid one is admitted.
    @Test func aRegistrationIsCheckedBeforeAdmission() throws {
        let accounts = FakeAccounts()
        let m = Mempool(chainID: DemoCast.chainID, limits: MempoolLimits())
        let stranger = try PrivateKey.generate(), provider = clinician, admin = DemoCast.staff("hospital-ribeira", "admin")
        func registration(_ attestor: PrivateKey, for patient: PublicKey, chain: String = DemoCast.chainID) throws -> SignedTransaction {
            let attestation = try attestor.sign(Identity.enrolmentMessage(chainID: chain, patient: patient))
            return try SignedTransaction(signing: Transaction(chainID: DemoCast.chainID, signer: stranger.publicKey, nonce: 0,
                                                              call: .registerPatient(.init(attestor: attestor.publicKey, attestation: attestation))), with: stranger)
        }
        #expect(code { try admit(m, try registration(admin, for: stranger.publicKey), accounts) } == "identity.bad_attestor")
        #expect(code { try admit(m, try registration(provider, for: DemoCast.patient("maria").publicKey), accounts) } == "identity.bad_attestation")
        #expect(code { try admit(m, try registration(provider, for: stranger.publicKey, chain: "another-chain"), accounts) } == "identity.bad_attestation")
        #expect(m.count == 0)
        accounts.register([stranger])
        #expect(code { try admit(m, try registration(provider, for: stranger.publicKey), accounts) } == "identity.already_registered")
        accounts.state.withLock { _ = $0.registered.remove(stranger.publicKey) }
        #expect(code { try admit(m, try registration(provider, for: stranger.publicKey), accounts) } == nil)
        #expect(m.count == 1)
    }

    @Test func reapKeepsArrivalOrderAndBounds() throws {
        let keys = (0..<3).map { DemoCast.key("reap/\($0)") }
        let accounts = FakeAccounts(); accounts.register(keys)
        let m = Mempool(chainID: DemoCast.chainID, limits: MempoolLimits())
        var order: [Bytes32] = []
        for n in 0..<3 { for k in keys { let t = try tx(k, nonce: UInt64(n)); try admit(m, t, accounts); order.append(t.hash) } }
        #expect(m.reap(maxCount: 100, maxBytes: 1 << 20).map(\.hash) == order)
        #expect(m.reap(maxCount: 4, maxBytes: 1 << 20).map(\.hash) == Array(order.prefix(4)))
        let one = try tx(keys[0], nonce: 0).canonicalBytes.count
        #expect(m.reap(maxCount: 100, maxBytes: one * 2 + 1).count == 2)
    }

    /// After a block: included transactions leave, the next nonce follows the state even while
    /// consumed transactions are still pending, and the re-check drops what the state made invalid.
    @Test func afterABlockNoncesFollowTheStateAndRecheckDropsStaleTransactions() throws {
        let key = DemoCast.key("after-block")
        let accounts = FakeAccounts(); accounts.register([key])
        let m = Mempool(chainID: DemoCast.chainID, limits: MempoolLimits())
        let txs = try (0..<4).map { try tx(key, nonce: UInt64($0)) }
        for t in txs { try admit(m, t, accounts) }
        // A block consumed nonces 0 and 1; they are still pending for an instant.
        accounts.setNonce(key, 2)
        #expect(code { try admit(m, try! tx(key, nonce: 4), accounts) } == nil, "next after the last pending, not state + count")
        m.removeIncluded([txs[0].hash, txs[1].hash])
        #expect(m.count == 3)
        // Another node's block consumed nonce 2 with a different transaction: 2 is stale, and 3, 4 still follow.
        accounts.setNonce(key, 3)
        m.recheck(accounts: accounts)
        #expect(!m.contains(txs[2].hash) && m.contains(txs[3].hash) && m.count == 2)
        // Re-checking only other accounts leaves this one alone; re-checking it drops what a gap
        // (the state jumped past 3) left behind.
        accounts.setNonce(key, 5)
        m.recheck(accounts: accounts, only: [DemoCast.key("someone-else").publicKey])
        #expect(m.count == 2)
        m.recheck(accounts: accounts, only: [key.publicKey])
        #expect(m.count == 0 && m.bytes == 0)
    }

    /// The invariants (bounds, one arrival slot per transaction, the quarantine's bound) hold after
    /// every operation of a seeded random mix of admissions, inclusions, evictions and rechecks
    /// against tight limits; `admit` enforces them itself (a violation stops the process, naming it).
    @Test func invariantsHoldUnderARandomMixOfOperations() throws {
        let keys = (0..<6).map { DemoCast.key("mempool-mix/\($0)") }
        let accounts = FakeAccounts(); accounts.register(keys)
        var limits = MempoolLimits(); limits.maxPerAccount = 4; limits.maxTransactions = 12
        limits.maxBytes = try tx(keys[0], nonce: 0).canonicalBytes.count * 10
        let m = Mempool(chainID: DemoCast.chainID, limits: limits)
        var rng = SeededRandom(seed: 0x4D45_4D50)
        var next = [UInt64](repeating: 0, count: keys.count)
        var admitted: [Bytes32] = []
        for _ in 0..<2_000 {
            let k = Int(rng.next() % UInt64(keys.count))
            switch rng.next() % 4 {
            case 0, 1:
                if code({ try admit(m, try tx(keys[k], nonce: next[k]), accounts) }) == nil {
                    admitted.append(try tx(keys[k], nonce: next[k]).hash); next[k] += 1
                }
            case 2:
                guard !admitted.isEmpty else { continue }
                let h = admitted.remove(at: Int(rng.next() % UInt64(admitted.count)))
                if rng.next() % 2 == 0 { m.removeIncluded([h]) } else { m.evict(h) }
            default:
                accounts.setNonce(keys[k], next[k])
                m.recheck(accounts: accounts)
            }
            try m.checkInvariants()
            #expect(m.count <= limits.maxTransactions && m.bytes <= limits.maxBytes)
        }
    }
}
