import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// Acknowledging a clinical alert: only a clinician of an organisation the alert was delivered to,
/// once per organisation, on the patient's trail.
@Suite(.timeLimit(.minutes(5))) struct AlertAcknowledgementTests {
    @Test func aRecipientsClinicianAcknowledgesOnceAndOthersCannot() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], categories: [.vitalSigns], countries: ["JP"])))
        let worker = DemoCast.staff("hospital-ribeira", "worker")
        let alert = SHA256.hash(Array("an alert".utf8))
        let delivered = try chain.submit(worker, .recordAlertDelivery(AlertDelivery(patient: maria.publicKey, recipient: OrganizationID("sakura-general")!,
                                                                                     alert: alert, purpose: .treat)))
        #expect(delivered.decision?.allowed == true, "\(String(describing: delivered.error))")
        let sakura = DemoCast.staff("sakura-general", "clinician"), spree = DemoCast.staff("klinikum-spree", "clinician")
        #expect(try chain.submit(spree, .acknowledgeAlert(.init(patient: maria.publicKey, alert: alert))).error?.code == "alert.not_delivered")
        #expect(try chain.submit(sakura, .acknowledgeAlert(.init(patient: maria.publicKey, alert: SHA256.hash([1])))).error?.code == "alert.not_delivered")
        #expect(try chain.submit(DemoCast.staff("sakura-general", "admin"), .acknowledgeAlert(.init(patient: maria.publicKey, alert: alert))).error?.code
                == "identity.missing_role")
        let ack = try chain.submit(sakura, .acknowledgeAlert(.init(patient: maria.publicKey, alert: alert)))
        #expect(ack.succeeded, "\(String(describing: ack.error))")
        let e = try #require(try Audit.byPatient(maria.publicKey, in: chain.reader).entries.last)
        #expect(e.kind == .alertAcknowledgement && e.actor == sakura.publicKey && e.record == alert && e.organization.value == "sakura-general")
        #expect(try Audit.acknowledgement(of: alert, by: OrganizationID("sakura-general")!, in: chain.reader)?.clinician == sakura.publicKey)
        #expect(try chain.submit(DemoCast.staff("sakura-general", "second-clinician"), .acknowledgeAlert(.init(patient: maria.publicKey, alert: alert))).error?.code
                == "alert.already_acknowledged")
    }
}
