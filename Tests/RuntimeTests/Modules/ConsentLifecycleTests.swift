import Testing
import MeridianCore
import MeridianState
@testable import MeridianModules
import MeridianRuntime
import MeridianDemo

@Suite(.timeLimit(.minutes(5))) struct ConsentLifecycleTests {
    /// Hans grants Clínica Sol TREAT access; a request is allowed; he revokes; the next request
    /// is denied; both are on his audit trail, chained.
    @Test func grantAllowRevokeDenyBothAudited() throws {
        let chain = try TestChain()
        let hans = try chain.registerPatient("hans", enrolledAt: "klinikum-spree")
        let record = try chain.registerRecord(patient: hans.publicKey, category: .medications, custodian: "klinikum-spree")
        let grant = try chain.submit(hans, .grantConsent(chain.terms(to: ["clinica-sol"], countries: ["ES"], until: "2027-03-31")))
        #expect(grant.succeeded)
        let consentID = try #require(grant.createdID)

        let sol = DemoCast.staff("clinica-sol", "clinician")
        let allowed = try chain.submit(sol, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        #expect(allowed.succeeded)
        #expect(allowed.decision?.reason == .allowedByConsent)
        #expect(allowed.decision?.consent == consentID)
        #expect(allowed.decision?.transferBasis == .freeFlowZone)

        #expect(try chain.submit(hans, .revokeConsent(consentID)).succeeded)
        let denied = try chain.submit(sol, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        #expect(denied.succeeded, "a denied request is still recorded on chain")
        #expect(denied.decision?.reason == .noConsent)

        let trail = try Audit.byPatient(hans.publicKey, in: chain.reader)
        // Registration (C), the allowed read, the denied read.
        #expect(trail.entries.map(\.kind) == [.recordRegistration, .accessRequest, .accessRequest])
        #expect(trail.entries[1].allowed && !trail.entries[2].allowed)
        #expect(trail.entries[1].organization.value == "clinica-sol")
        #expect(trail.entries[2].previousHash == trail.entries[1].hash)
        #expect(try Audit.verifyChain(of: hans.publicKey, in: chain.reader) == nil)
        #expect(try Audit.deniedCount(OrganizationID("clinica-sol")!, in: chain.reader) == 1)

        // The revoked consent keeps its history: version 1 (active) superseded by version 2 (revoked).
        let stored = try #require(try Consent.consent(consentID, patient: hans.publicKey, in: chain.reader))
        #expect(stored.status == .revoked && stored.version == 2)
        let history = try chain.state.storage.scan(prefix: Consent.historyPrefix(of: consentID), from: nil, limit: 10)
        #expect(try history.map { try ConsentRecord(canonicalBytes: $0.value) }.map(\.status) == [.active])
    }

    @Test func revokedConsentDeniesAccessInTheSameBlock() throws {
        let chain = try TestChain()
        let hans = try chain.registerPatient("hans", enrolledAt: "klinikum-spree")
        let record = try chain.registerRecord(patient: hans.publicKey, category: .medications, custodian: "klinikum-spree")
        let id = try #require(try chain.submit(hans, .grantConsent(chain.terms(to: ["clinica-sol"], countries: ["ES"]))).createdID)
        let sol = DemoCast.staff("clinica-sol", "clinician")
        let receipts = try chain.block([
            try chain.tx(sol, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))),
            try chain.tx(hans, .revokeConsent(id)),
            try chain.tx(sol, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))),
        ])
        #expect(receipts.map { $0.decision?.allowed } == [true, nil, false])
    }

    @Test func amendmentNarrowsWhatIsAllowed() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let id = try #require(try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], categories: [.problems, .medications], countries: ["JP"]))).createdID)
        let request = AccessRequest(requester: DemoCast.staff("sakura-general", "clinician").publicKey, patient: maria.publicKey,
                                    category: .medications, purpose: .treat, custodian: OrganizationID("hospital-ribeira")!)
        #expect(try Authorization.authorize(request, at: chain.date("2027-04-01"), in: chain.reader).allowed)
        #expect(try chain.submit(maria, .amendConsent(.init(consent: id, terms: chain.terms(to: ["sakura-general"], categories: [.problems], countries: ["JP"])))).succeeded)
        let after = try Authorization.authorize(request, at: chain.date("2027-04-01"), in: chain.reader)
        #expect(after.reason == .categoryNotCovered)
        #expect(try Consent.consent(id, patient: maria.publicKey, in: chain.reader)?.version == 2)
    }

    @Test func onlyThePatientChangesItsConsents() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let hans = try chain.registerPatient("hans")
        let id = try #require(try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"]))).createdID)
        #expect(try chain.submit(hans, .revokeConsent(id)).error?.code == "consent.not_found")
        #expect(try chain.submit(DemoCast.staff("sakura-general", "clinician"), .revokeConsent(id)).error?.code == "identity.not_a_patient")
    }

    @Test func invalidTermsAreRefusedWithTheReason() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        #expect(try chain.submit(maria, .grantConsent(chain.terms(to: ["no-such-hospital"], countries: ["JP"]))).error?.code == "consent.unknown_grantee")
        #expect(try chain.submit(maria, .grantConsent(chain.terms(to: ["dpa-pt"], countries: ["PT"]))).error?.code == "consent.grantee_not_provider")
        #expect(try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"], from: "2027-05-01", until: "2027-04-01"))).error?.code == "consent.bad_period")
        #expect(try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"], explicit: ["TH"]))).error?.code == "consent.explicit_outside_countries")
        #expect(try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], categories: [], countries: ["JP"]))).error?.code == "consent.no_category")
    }

    @Test func consentExportsAsFHIRConsent() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let id = try #require(try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], purposes: [.treat, .emergencyTreatment], countries: ["JP"], emergency: true))).createdID)
        let consent = try #require(try Consent.consent(id, patient: maria.publicKey, in: chain.reader))
        let json = try FHIRExport.consent(consent)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"resourceType\":\"Consent\""))
        #expect(text.contains("\"status\":\"active\""))
        #expect(text.contains("ETREAT"))
        #expect(text.contains("http://loinc.org"))
        #expect(text.contains("11450-4"))
    }
}
