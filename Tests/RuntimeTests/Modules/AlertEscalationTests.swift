import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// A hospital's alert escalation order: set by its admin, naming only its own clinicians, with a
/// bounded delay; an empty order removes it.
@Suite(.timeLimit(.minutes(5))) struct AlertEscalationTests {
    @Test func anAdminSetsAnOrderOfItsOwnCliniciansAndOthersCannot() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let admin = DemoCast.staff("sakura-general", "admin")
        let first = DemoCast.staff("sakura-general", "clinician").publicKey, second = DemoCast.staff("sakura-general", "second-clinician").publicKey
        let sakura = OrganizationID("sakura-general")!
        let refused: [(PrivateKey, AlertEscalation, String)] = [
            (DemoCast.staff("sakura-general", "clinician"), AlertEscalation(recipients: [first], afterSeconds: 300), "identity.missing_role"),
            (maria, AlertEscalation(recipients: [first], afterSeconds: 300), "identity.not_a_member"),
            (admin, AlertEscalation(recipients: [first], afterSeconds: 29), "alert.escalation_delay"),
            (admin, AlertEscalation(recipients: [first], afterSeconds: 86_401), "alert.escalation_delay"),
            (admin, AlertEscalation(recipients: [first, first], afterSeconds: 300), "alert.escalation_duplicate"),
            (admin, AlertEscalation(recipients: [DemoCast.staff("klinikum-spree", "clinician").publicKey], afterSeconds: 300), "alert.escalation_recipient"),
            (admin, AlertEscalation(recipients: [admin.publicKey], afterSeconds: 300), "alert.escalation_recipient"),
            (DemoCast.regulator("PT"), AlertEscalation(recipients: [first], afterSeconds: 300), "alert.escalation_not_a_hospital"),   // a regulator's admin
        ]
        for (signer, order, code) in refused {
            #expect(try chain.submit(signer, .setAlertEscalation(order)).error?.code == code, "\(code)")
        }
        #expect(try Audit.escalation(of: sakura, in: chain.reader) == nil)
        let order = AlertEscalation(recipients: [second, first], afterSeconds: 120)
        let r = try chain.submit(admin, .setAlertEscalation(order))
        #expect(r.succeeded, "\(String(describing: r.error))")
        #expect(try Audit.escalation(of: sakura, in: chain.reader) == order)
        #expect(try Audit.escalation(of: OrganizationID("klinikum-spree")!, in: chain.reader) == nil)
        #expect(try chain.submit(admin, .setAlertEscalation(AlertEscalation(recipients: [], afterSeconds: 0))).succeeded)
        #expect(try Audit.escalation(of: sakura, in: chain.reader) == nil)
        // The encoding round-trips and refuses more than eight recipients.
        let bytes = order.canonicalBytes
        #expect(try AlertEscalation(canonicalBytes: bytes) == order)
        var w = CanonicalWriter()
        w.write(varint: 9)
        for _ in 0..<9 { w.write(first) }
        w.write(UInt32(60))
        #expect(throws: CodecError.self) { _ = try AlertEscalation(canonicalBytes: w.bytes) }
    }
}
