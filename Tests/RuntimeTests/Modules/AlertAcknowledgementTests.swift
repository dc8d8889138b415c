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

    /// In a node's console: the node's worker signs, carrying the clinician's sign-in for that node;
    /// the entry names the clinician. A sign-in for another node, an expired session, a key that is
    /// no clinician, or a signer that is no worker is refused, and nothing reaches the trail.
    @Test func aClinicianAcknowledgesInTheConsoleOnlyWithTheirOwnSignInForThatNode() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], categories: [.vitalSigns], countries: ["JP"])))
        let worker = DemoCast.staff("hospital-ribeira", "worker"), otherNode = DemoCast.staff("klinikum-spree", "worker")
        let alert = SHA256.hash(Array("an alert".utf8))
        #expect(try chain.submit(worker, .recordAlertDelivery(AlertDelivery(patient: maria.publicKey, recipient: OrganizationID("sakura-general")!,
                                                                          alert: alert, purpose: .treat))).decision?.allowed == true)
        let clinician = DemoCast.staff("sakura-general", "clinician"), admin = DemoCast.staff("sakura-general", "admin")
        let later = chain.time.adding(milliseconds: 3_600_000)
        func signIn(_ k: PrivateKey, for node: PublicKey, expires: Timestamp = later) throws -> ConsoleSignIn {
            ConsoleSignIn(code: "AB12-CD34-EF56", expires: expires,
                          signature: try k.sign(ConsoleSignIn.message(chainID: DemoCast.chainID, code: "AB12-CD34-EF56", audience: node, expires: expires)))
        }
        let ack = AlertAcknowledgement(patient: maria.publicKey, alert: alert)
        let before = try Audit.head(of: maria.publicKey, in: chain.reader).count
        let refused: [(PrivateKey, ConsoleAlertAcknowledgement, String)] = [
            (worker, ConsoleAlertAcknowledgement(clinician: clinician.publicKey, signIn: try signIn(clinician, for: otherNode.publicKey), acknowledgement: ack), "console.bad_sign_in"),
            (worker, ConsoleAlertAcknowledgement(clinician: clinician.publicKey, signIn: try signIn(admin, for: worker.publicKey), acknowledgement: ack), "console.bad_sign_in"),
            (worker, ConsoleAlertAcknowledgement(clinician: clinician.publicKey, signIn: try signIn(clinician, for: worker.publicKey, expires: .zero), acknowledgement: ack), "console.session_expired"),
            (worker, ConsoleAlertAcknowledgement(clinician: admin.publicKey, signIn: try signIn(admin, for: worker.publicKey), acknowledgement: ack), "identity.missing_role"),
            (admin, ConsoleAlertAcknowledgement(clinician: clinician.publicKey, signIn: try signIn(clinician, for: admin.publicKey), acknowledgement: ack), "console.not_a_worker"),
            (worker, ConsoleAlertAcknowledgement(clinician: clinician.publicKey, signIn: try signIn(clinician, for: worker.publicKey),
                                                 acknowledgement: AlertAcknowledgement(patient: maria.publicKey, alert: SHA256.hash([2]))), "alert.not_delivered"),
        ]
        for (signer, c, code) in refused {
            #expect(try chain.submit(signer, .acknowledgeAlertInConsole(c)).error?.code == code, "\(code)")
        }
        #expect(try Audit.head(of: maria.publicKey, in: chain.reader).count == before)
        let good = ConsoleAlertAcknowledgement(clinician: clinician.publicKey, signIn: try signIn(clinician, for: worker.publicKey), acknowledgement: ack)
        let r = try chain.submit(worker, .acknowledgeAlertInConsole(good))
        #expect(r.succeeded, "\(String(describing: r.error))")
        let e = try #require(try Audit.byPatient(maria.publicKey, in: chain.reader).entries.last)
        #expect(e.kind == .alertAcknowledgement && e.actor == clinician.publicKey && e.organization.value == "sakura-general" && e.record == alert)
        #expect(try chain.submit(worker, .acknowledgeAlertInConsole(good)).error?.code == "alert.already_acknowledged")
        #expect(try chain.submit(clinician, .acknowledgeAlert(ack)).error?.code == "alert.already_acknowledged")
    }
}
