import Foundation
import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// API reads on the audit trail: recorded in the reader's name only with the reader's own signed
/// request to the node that records them (this chain, that node, recent), and with what the chain
/// decides for a clinician at the block.
@Suite(.timeLimit(.minutes(5))) struct APIReadTests {
    let node = DemoCast.staff("sakura-general", "worker")

    /// A signature base as `SignedRequests` builds it (RFC 9421 §2.5), signed by `reader`.
    func request(_ reader: PrivateKey, path: String, created: Timestamp, chainID: String = DemoCast.chainID,
                 audience: PublicKey? = nil) throws -> (String, Bytes64) {
        let base = """
            "@method": GET
            "@target-uri": http://node.example\(path)
            "content-digest": sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:
            "meridian-chain": \(chainID)
            "meridian-audience": \(Address(audience ?? node.publicKey))
            "@signature-params": ("@method" "@target-uri" "content-digest" "meridian-chain" "meridian-audience");created=\(created.unixMilliseconds / 1000);nonce="abcdefghijklmnopqrstuv";alg="bip340";keyid="\(Address(reader.publicKey))"
            """
        return (base, try reader.sign(SHA256.hash(Array(base.utf8))))
    }

    func read(_ reader: PrivateKey, _ standing: APIRead.Standing, _ patients: [PublicKey], category: DataCategory = .problems,
              purpose: PurposeOfUse = .treat, signed: (String, Bytes64)) -> APIRead {
        APIRead(reader: reader.publicKey, standing: standing, patients: patients, category: category, purpose: purpose,
                custodian: OrganizationID("hospital-ribeira")!, signatureBase: signed.0, signature: signed.1)
    }

    @Test func aClinicianReadIsAnAccessWithTheChainsDecision() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let clinician = DemoCast.staff("sakura-general", "clinician")
        let path = "/v1/records/x"
        // No consent yet: the read is recorded, as denied.
        let denied = try chain.submit(node, .recordAPIRead(read(clinician, .clinician, [maria.publicKey], signed: try request(clinician, path: path, created: chain.time))))
        #expect(denied.succeeded, "\(String(describing: denied.error))")
        var e = try #require(try Audit.byPatient(maria.publicKey, in: chain.reader).entries.last)
        #expect(e.kind == .apiRead && e.action == .read && e.actor == clinician.publicKey && !e.allowed && e.organization.value == "sakura-general")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"])))
        let allowed = try chain.submit(node, .recordAPIRead(read(clinician, .clinician, [maria.publicKey], signed: try request(clinician, path: path, created: chain.time))))
        #expect(allowed.succeeded)
        e = try #require(try Audit.byPatient(maria.publicKey, in: chain.reader).entries.last)
        #expect(e.kind == .apiRead && e.allowed && e.decision.reason == .allowedByConsent && e.category == .problems && e.purpose == .treat)
        #expect(e.kind.name == "api-read")
    }

    @Test func anAuditReadIsRecordedOnEachPatientsTrail() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria"), hans = try chain.registerPatient("hans")
        let officer = DemoCast.regulator("PT")
        let r = try chain.submit(node, .recordAPIRead(read(officer, .regulator, [maria.publicKey, hans.publicKey], category: .auditTrail,
                                                            purpose: .compliance, signed: try request(officer, path: "/v1/audit", created: chain.time))))
        #expect(r.succeeded, "\(String(describing: r.error))")
        for p in [maria, hans] {
            let e = try #require(try Audit.byPatient(p.publicKey, in: chain.reader).entries.last)
            #expect(e.kind == .apiRead && e.category == .auditTrail && e.purpose == .compliance && e.decision.reason == .allowedAsRegulator)
            #expect(e.organization == OrganizationID(DemoCast.regulatorID("PT"))!)
        }
    }

    @Test func forgedOrOverreachingReadsAreRefused() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria"), hans = try chain.registerPatient("hans")
        let clinician = DemoCast.staff("sakura-general", "clinician")
        let officer = DemoCast.regulator("PT"), admin = DemoCast.staff("hospital-ribeira", "admin")
        let now = chain.time
        let good = try request(clinician, path: "/v1/vitals/m", created: now)
        var tampered = good; tampered.0 = good.0.replacingOccurrences(of: "/v1/vitals/m", with: "/v1/vitals/n")
        let cases: [(PrivateKey, APIRead, String)] = [
            // Signed by someone else, for another node or chain, altered, too old, from the future.
            (node, read(officer, .clinician, [maria.publicKey], signed: good), "api_read.bad_signature"),
            (node, read(clinician, .clinician, [maria.publicKey], signed: tampered), "api_read.bad_signature"),
            (node, read(clinician, .clinician, [maria.publicKey], signed: try request(clinician, path: "/", created: now, audience: DemoCast.staff("klinikum-spree", "worker").publicKey)), "api_read.wrong_audience"),
            (node, read(clinician, .clinician, [maria.publicKey], signed: try request(clinician, path: "/", created: now, chainID: "other-chain")), "api_read.wrong_chain"),
            (node, read(clinician, .clinician, [maria.publicKey], signed: try request(clinician, path: "/", created: Timestamp(unixMilliseconds: now.unixMilliseconds - APIRead.maxAgeMilliseconds - 60_000))), "api_read.stale"),
            (node, read(clinician, .clinician, [maria.publicKey], signed: try request(clinician, path: "/", created: now.adding(milliseconds: 3_600_000))), "api_read.stale"),
            // A standing the reader does not hold; several patients for one clinician's read.
            (node, read(admin, .regulator, [maria.publicKey], category: .auditTrail, purpose: .compliance, signed: try request(admin, path: "/", created: now)), "api_read.no_standing"),
            (node, read(officer, .hospitalOperator, [maria.publicKey], category: .auditTrail, purpose: .operations, signed: try request(officer, path: "/", created: now)), "api_read.no_standing"),
            (node, read(clinician, .clinician, [maria.publicKey, hans.publicKey], signed: good), "api_read.one_patient"),
            // Not a node's worker (its audience is itself); no patient; an unknown patient.
            (admin, read(clinician, .clinician, [maria.publicKey], signed: try request(clinician, path: "/", created: now, audience: admin.publicKey)), "api_read.not_a_worker"),
            (node, read(clinician, .clinician, [], signed: good), "api_read.no_patient"),
            (node, read(clinician, .clinician, [DemoCast.key("nobody").publicKey], signed: good), "api_read.unknown_patient"),
        ]
        let before = try Audit.head(of: maria.publicKey, in: chain.reader).count
        for (signer, r, code) in cases {
            #expect(try chain.submit(signer, .recordAPIRead(r)).error?.code == code, "\(code)")
        }
        #expect(try Audit.head(of: maria.publicKey, in: chain.reader).count == before)
    }

    @Test func theRecordRoundTripsAndRefusesOversizedFields() throws {
        let clinician = DemoCast.staff("sakura-general", "clinician")
        let r = read(clinician, .clinician, [clinician.publicKey], signed: try request(clinician, path: "/", created: Timestamp(unixMilliseconds: 1_800_000_000_000)))
        let call = Call.recordAPIRead(r)
        #expect(try Call(canonicalBytes: call.canonicalBytes) == call)
        let huge = APIRead(reader: r.reader, standing: .clinician, patients: r.patients, category: r.category, purpose: r.purpose, custodian: r.custodian,
                           signatureBase: String(repeating: "x", count: APIRead.maxRequestBytes + 1), signature: r.signature)
        #expect(throws: CodecError.self) { try Call(canonicalBytes: Call.recordAPIRead(huge).canonicalBytes) }
    }
}
