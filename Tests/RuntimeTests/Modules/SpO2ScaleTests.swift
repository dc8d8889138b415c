import Testing
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime
import MeridianDemo

/// SpO2 scale 2 is a clinician's decision on chain: only a clinician of a hospital the patient's
/// consent covers for vital signs and treatment sets it; every attempt is on the trail.
@Suite(.timeLimit(.minutes(5))) struct SpO2ScaleTests {
    @Test func aCoveredClinicianSetsScaleTwoAndItIsOnTheTrail() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let sakura = DemoCast.staff("sakura-general", "clinician")
        // No consent yet: refused, recorded, nothing set.
        let refused = try #require(try chain.submit(sakura, .setSpO2Scale(.init(patient: maria.publicKey, scale: 2))).decision)
        #expect(try !refused.allowed && Clinical.spo2Scale(of: maria.publicKey, in: chain.reader) == nil)
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], categories: [.vitalSigns], countries: ["JP"])))
        let set = try chain.submit(sakura, .setSpO2Scale(.init(patient: maria.publicKey, scale: 2)))
        #expect(set.decision?.allowed == true, "\(String(describing: set.error))")
        let d = try #require(try Clinical.spo2Scale(of: maria.publicKey, in: chain.reader))
        #expect(d.scale == 2 && d.clinician == sakura.publicKey && d.organization.value == "sakura-general")
        let trail = try Audit.byPatient(maria.publicKey, in: chain.reader).entries.filter { $0.kind == .clinicalDecision }
        #expect(trail.count == 2 && !trail[0].allowed && trail[1].allowed && trail[1].actor == sakura.publicKey && trail[1].category == .vitalSigns)
        #expect(trail[1].kind.name == "clinical-decision")
    }

    @Test func whatIsNotAClinicalDecisionIsRefused() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let admin = DemoCast.staff("hospital-ribeira", "admin"), clinician = DemoCast.staff("hospital-ribeira", "clinician")
        #expect(try chain.submit(maria, .setSpO2Scale(.init(patient: maria.publicKey, scale: 2))).error?.code == "identity.not_a_member")
        #expect(try chain.submit(admin, .setSpO2Scale(.init(patient: maria.publicKey, scale: 2))).error?.code == "identity.missing_role")
        #expect(try chain.submit(clinician, .setSpO2Scale(.init(patient: maria.publicKey, scale: 3))).error?.code == "spo2.scale")
        #expect(try chain.submit(clinician, .setSpO2Scale(.init(patient: DemoCast.key("nobody").publicKey, scale: 2))).error?.code == "spo2.unknown_patient")
    }
}
