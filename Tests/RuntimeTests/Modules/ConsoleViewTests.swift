import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Console views on the audit trail: recorded in the viewer's name only with the viewer's own
/// sign-in signature for the node that records them, and only for the standing the viewer holds.
@Suite(.timeLimit(.minutes(5))) struct ConsoleViewTests {
    let node = DemoCast.staff("hospital-ribeira", "worker")

    func signIn(_ viewer: PrivateKey, audience: PublicKey, expires: Timestamp, chainID: String = DemoCast.chainID) throws -> ConsoleSignIn {
        let code = "AB12-CD34-EF56"
        return ConsoleSignIn(code: code, expires: expires,
                             signature: try viewer.sign(ConsoleSignIn.message(chainID: chainID, code: code, audience: audience, expires: expires)))
    }

    @Test func viewsAreRecordedOnEachPatientsTrail() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria"), hans = try chain.registerPatient("hans")
        let officer = DemoCast.regulator("PT")
        let later = chain.time.adding(milliseconds: 3_600_000)
        let view = ConsoleView(viewer: officer.publicKey, standing: .regulator, signIn: try signIn(officer, audience: node.publicKey, expires: later),
                               patients: [maria.publicKey, hans.publicKey])
        let r = try chain.submit(node, .recordConsoleView(view))
        #expect(r.succeeded, "\(String(describing: r.error))")
        for p in [maria.publicKey, hans.publicKey] {
            let e = try #require(try Audit.byPatient(p, in: chain.reader).entries.last)
            #expect(e.kind == .consoleView && e.action == .read && e.category == .auditTrail)
            #expect(e.actor == officer.publicKey && e.organization == OrganizationID(DemoCast.regulatorID("PT"))!)
            #expect(e.purpose == .compliance && e.decision.reason == .allowedAsRegulator)
        }
        // A patient's own view: PATRQT, on the serving node's organisation.
        let own = ConsoleView(viewer: maria.publicKey, standing: .patient, signIn: try signIn(maria, audience: node.publicKey, expires: later), patients: [maria.publicKey])
        #expect(try chain.submit(node, .recordConsoleView(own)).succeeded)
        let e = try #require(try Audit.byPatient(maria.publicKey, in: chain.reader).entries.last)
        #expect(e.purpose == .patientRequest && e.actor == maria.publicKey && e.organization.value == "hospital-ribeira")
    }

    @Test func forgedOrOverreachingViewsAreRefused() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria"), hans = try chain.registerPatient("hans")
        let officer = DemoCast.regulator("PT")
        let admin = DemoCast.staff("hospital-ribeira", "admin")
        let later = chain.time.adding(milliseconds: 3_600_000)
        let good = try signIn(officer, audience: node.publicKey, expires: later)
        let otherNode = DemoCast.staff("klinikum-spree", "worker")
        let cases: [(PrivateKey, ConsoleView, String)] = [
            // Signed for another node, another chain, by someone else, or long expired.
            (node, ConsoleView(viewer: officer.publicKey, standing: .regulator, signIn: try signIn(officer, audience: otherNode.publicKey, expires: later), patients: [maria.publicKey]), "console.bad_sign_in"),
            (node, ConsoleView(viewer: officer.publicKey, standing: .regulator, signIn: try signIn(officer, audience: node.publicKey, expires: later, chainID: "other"), patients: [maria.publicKey]), "console.bad_sign_in"),
            (node, ConsoleView(viewer: officer.publicKey, standing: .regulator, signIn: try signIn(admin, audience: node.publicKey, expires: later), patients: [maria.publicKey]), "console.bad_sign_in"),
            (node, ConsoleView(viewer: officer.publicKey, standing: .regulator, signIn: try signIn(officer, audience: node.publicKey, expires: .zero), patients: [maria.publicKey]), "console.session_expired"),
            // A standing the viewer does not hold.
            (node, ConsoleView(viewer: officer.publicKey, standing: .hospitalOperator, signIn: good, patients: [maria.publicKey]), "console.not_an_operator"),
            (node, ConsoleView(viewer: admin.publicKey, standing: .regulator, signIn: try signIn(admin, audience: node.publicKey, expires: later), patients: [maria.publicKey]), "console.not_a_regulator"),
            (node, ConsoleView(viewer: maria.publicKey, standing: .patient, signIn: try signIn(maria, audience: node.publicKey, expires: later), patients: [hans.publicKey]), "console.not_the_patient"),
            // Not a node's worker; no patient; an unknown patient.
            (admin, ConsoleView(viewer: officer.publicKey, standing: .regulator, signIn: try signIn(officer, audience: admin.publicKey, expires: later), patients: [maria.publicKey]), "console.not_a_worker"),
            (node, ConsoleView(viewer: officer.publicKey, standing: .regulator, signIn: good, patients: []), "console.no_patient"),
            (node, ConsoleView(viewer: officer.publicKey, standing: .regulator, signIn: good, patients: [DemoCast.key("nobody").publicKey]), "console.unknown_patient"),
        ]
        let before = try Audit.head(of: maria.publicKey, in: chain.reader).count
        for (signer, view, code) in cases {
            #expect(try chain.submit(signer, .recordConsoleView(view)).error?.code == code, "\(code)")
        }
        #expect(try Audit.head(of: maria.publicKey, in: chain.reader).count == before)
    }

    @Test func theAuditTrailIsNoGrantableCategory() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let r = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], categories: [.auditTrail], countries: ["JP"])))
        #expect(r.error?.code == "consent.category_not_grantable")
    }
}
