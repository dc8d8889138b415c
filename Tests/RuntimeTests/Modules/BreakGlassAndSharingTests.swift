import Testing
import MeridianCore
@testable import MeridianModules
import MeridianRuntime
import MeridianDemo

@Suite(.timeLimit(.minutes(5))) struct BreakGlassAndSharingTests {
    /// Maria allows emergency access; a clinician anywhere can break the glass for ETREAT; every
    /// attempt, allowed or not, is marked, counted per organisation and exported as a FHIR security alert.
    @Test func breakGlassIsAllowedWhenPermittedAndAlwaysMarked() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], purposes: [.treat, .emergencyTreatment], countries: ["JP"], emergency: true)))
        let chao = DemoCast.staff("chao-phraya", "clinician")
        let wrongPurpose = try chain.submit(chao, .requestAccess(.init(record: record, purpose: .treat, breakGlass: true)))
        #expect(wrongPurpose.decision?.reason == .breakGlassRequiresEmergencyPurpose)
        let emergency = try chain.submit(chao, .requestAccess(.init(record: record, purpose: .emergencyTreatment, breakGlass: true)))
        #expect(emergency.decision?.reason == .allowedByBreakGlass)
        #expect(emergency.decision?.transferBasis == .vitalInterests)
        let org = OrganizationID("chao-phraya")!
        // Both attempts are marked: the one refused for its purpose and the one allowed.
        #expect(try Audit.breakGlassCount(org, in: chain.reader) == 2)
        let page = try Audit.byOrganization(org, in: chain.reader)
        #expect(page.entries.map(\.breakGlass) == [true, true])
        #expect(page.entries.map(\.decision.allowed) == [false, true])
        let fhir = String(decoding: try FHIRExport.auditEvent(page.entries[1]), as: UTF8.self)
        #expect(fhir.contains("\"code\":\"110113\"") && fhir.contains("\"code\":\"110127\"") && fhir.contains("\"action\":\"E\""))
        #expect(fhir.contains("vital-interests"))
    }

    @Test func breakGlassIsDeniedWithoutEmergencyPermission() throws {
        let chain = try TestChain()
        let hans = try chain.registerPatient("hans", enrolledAt: "klinikum-spree")
        let record = try chain.registerRecord(patient: hans.publicKey, category: .medications, custodian: "klinikum-spree")
        _ = try chain.submit(hans, .grantConsent(chain.terms(to: ["clinica-sol"], countries: ["ES"], emergency: false)))
        let r = try chain.submit(DemoCast.staff("chao-phraya", "clinician"), .requestAccess(.init(record: record, purpose: .emergencyTreatment, breakGlass: true)))
        #expect(r.decision?.reason == .emergencyAccessNotAllowed)
        // The denied attempt keeps its break-glass mark: in the entry, the organisation's counter
        // and the event the search and reports read.
        let entry = try #require(try Audit.byPatient(hans.publicKey, in: chain.reader).entries.last)
        #expect(entry.breakGlass && !entry.decision.allowed)
        #expect(try Audit.breakGlassCount(OrganizationID("chao-phraya")!, in: chain.reader) == 1)
        #expect(r.events.contains { if case .accessRecorded(_, _, _, false, true) = $0 { true } else { false } }, "\(r.events)")
    }

    /// A break-glass request under an emergency permission that has expired says so (not "no
    /// emergency access"); one whose country the law does not let the record reach says that.
    @Test func anExpiredEmergencyPermissionIsReportedAsExpired() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], purposes: [.treat, .emergencyTreatment], countries: ["JP"],
                                                              from: "2026-01-01", until: "2026-01-02", emergency: true)))
        chain.time = chain.date("2026-03-01")
        let chao = DemoCast.staff("chao-phraya", "clinician")
        let r = try chain.submit(chao, .requestAccess(.init(record: record, purpose: .emergencyTreatment, breakGlass: true)))
        #expect(r.decision?.reason == .outsideValidityPeriod, "\(String(describing: r.decision))")
        #expect(try Audit.byPatient(maria.publicKey, in: chain.reader).entries.last?.breakGlass == true)
    }

    /// The custodian shares a record with a key envelope only the recipient can open; a share the
    /// recipient may not receive stores nothing and is audited as denied.
    @Test func sharingWrapsTheKeyForTheRecipientOnly() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .allergies, custodian: "hospital-ribeira")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"])))
        let sakura = DemoCast.staff("sakura-general", "clinician")
        let recordKey = SHA256.hash(Array("record key".utf8))
        let envelope = try KeyEnvelope.seal(recordKey: recordKey, for: sakura.publicKey, context: record.bytes)
        let ribeira = DemoCast.staff("hospital-ribeira", "clinician")
        let shared = try chain.submit(ribeira, .shareRecord(.init(record: record, recipient: sakura.publicKey, purpose: .treat, breakGlass: false, envelope: envelope)))
        #expect(shared.decision?.reason == .allowedByConsent)
        let stored = try #require(try Sharing.share(record, to: OrganizationID("sakura-general")!, in: chain.reader))
        #expect(try stored.envelope.open(with: sakura, context: record.bytes) == recordKey)
        #expect(throws: (any Error).self) { try stored.envelope.open(with: DemoCast.staff("chao-phraya", "clinician"), context: record.bytes) }

        let chao = DemoCast.staff("chao-phraya", "clinician")
        let env2 = try KeyEnvelope.seal(recordKey: recordKey, for: chao.publicKey, context: record.bytes)
        let refused = try chain.submit(ribeira, .shareRecord(.init(record: record, recipient: chao.publicKey, purpose: .treat, breakGlass: false, envelope: env2)))
        #expect(refused.succeeded && refused.decision?.allowed == false)
        #expect(try Sharing.share(record, to: OrganizationID("chao-phraya")!, in: chain.reader) == nil)
        let trail = try Audit.byPatient(maria.publicKey, in: chain.reader).entries
        #expect(trail.map(\.kind) == [.recordRegistration, .disclosure, .disclosure])
        #expect(trail.map(\.allowed) == [true, true, false])

        let env3 = try KeyEnvelope.seal(recordKey: recordKey, for: chao.publicKey, context: record.bytes)
        #expect(try chain.submit(sakura, .shareRecord(.init(record: record, recipient: chao.publicKey, purpose: .treat, breakGlass: false, envelope: env3))).error?.code == "sharing.not_custodian")
    }

    /// A share may address the key to the recipient organisation's node (its worker key), which
    /// fetches the body for its clinician; never to a node of another organisation, nor may a
    /// custodian's node share a record it does not hold.
    @Test func aShareMayAddressTheKeyToANodeOfTheRecipientsOrganisation() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .summary, custodian: "hospital-ribeira")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], categories: [.summary], countries: ["JP"])))
        let sakura = DemoCast.staff("sakura-general", "clinician"), sakuraNode = DemoCast.staff("sakura-general", "worker")
        let ribeiraNode = DemoCast.staff("hospital-ribeira", "worker")
        let recordKey = SHA256.hash(Array("record key".utf8))
        let wrongNode = try KeyEnvelope.seal(recordKey: recordKey, for: DemoCast.staff("chao-phraya", "worker").publicKey, context: record.bytes)
        #expect(try chain.submit(ribeiraNode, .shareRecord(.init(record: record, recipient: sakura.publicKey, purpose: .treat, breakGlass: false,
                                                                 envelope: wrongNode))).error?.code == "sharing.envelope_recipient")
        let toNode = try KeyEnvelope.seal(recordKey: recordKey, for: sakuraNode.publicKey, context: record.bytes)
        let shared = try chain.submit(ribeiraNode, .shareRecord(.init(record: record, recipient: sakura.publicKey, purpose: .treat, breakGlass: false, envelope: toNode)))
        #expect(shared.decision?.reason == .allowedByConsent)
        let stored = try #require(try Sharing.share(record, to: OrganizationID("sakura-general")!, in: chain.reader))
        #expect(try stored.envelope.open(with: sakuraNode, context: record.bytes) == recordKey)
        #expect(throws: (any Error).self) { try stored.envelope.open(with: sakura, context: record.bytes) }
        #expect(try chain.submit(DemoCast.staff("klinikum-spree", "worker"), .shareRecord(.init(record: record, recipient: sakura.publicKey, purpose: .treat,
                                                                 breakGlass: false, envelope: toNode))).error?.code == "sharing.not_custodian")
    }

    /// The patient or the custodian erases a record: it is marked erased (the commitment and the
    /// trail stay and still prove), the erasure is on the trail, and later requests are denied
    /// as erased and audited. No one else may erase, and a record is erased once.
    @Test func aRecordIsErasedByThePatientOrTheCustodianAndLaterAccessIsDeniedAndAudited() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let hans = try chain.registerPatient("hans", enrolledAt: "klinikum-spree")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .summary, custodian: "hospital-ribeira")
        let other = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira", salt: 2)
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], categories: [.summary, .problems], countries: ["JP"])))
        let sakura = DemoCast.staff("sakura-general", "clinician")
        #expect(try chain.submit(sakura, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false))).decision?.allowed == true)
        #expect(try chain.submit(hans, .eraseRecord(record)).error?.code == "sharing.not_allowed_to_erase")
        #expect(try chain.submit(sakura, .eraseRecord(record)).error?.code == "sharing.not_allowed_to_erase")
        let erased = try chain.submit(maria, .eraseRecord(record))
        #expect(erased.succeeded)
        #expect(erased.events.contains(.recordErased(record: record, patient: maria.publicKey, custodian: OrganizationID("hospital-ribeira")!)))
        #expect(try Sharing.record(record, in: chain.reader)?.erased == true)
        #expect(try chain.submit(maria, .eraseRecord(record)).error?.code == "sharing.already_erased")
        let later = try chain.submit(sakura, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)))
        #expect(later.decision?.reason == .recordErased)
        #expect(try chain.submit(DemoCast.staff("hospital-ribeira", "clinician"), .eraseRecord(other)).succeeded)
        let trail = try Audit.byPatient(maria.publicKey, in: chain.reader).entries
        #expect(trail.map(\.kind) == [.recordRegistration, .recordRegistration, .accessRequest, .erasure, .accessRequest, .erasure])
        #expect(trail[3].decision.reason == .allowedAsPatient && trail[5].decision.reason == .allowedAsCustodian)
        #expect(try Audit.verifyChain(of: maria.publicKey, in: chain.reader) == nil)
        for e in trail {
            let k = Audit.entryKey(maria.publicKey, e.sequence).bytes
            let (value, proof, root) = try chain.state.proof(k)
            #expect(proof.verify(root: root, key: k, value: value) && value == e.canonicalBytes)
        }
    }

    @Test func auditQueriesPageByTimeRange() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let record = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira")
        _ = try chain.submit(maria, .grantConsent(chain.terms(to: ["sakura-general"], countries: ["JP"])))
        let sakura = DemoCast.staff("sakura-general", "clinician")
        for _ in 0..<10 { try chain.submit(sakura, .requestAccess(.init(record: record, purpose: .treat, breakGlass: false)), advance: 60_000) }
        let all = try Audit.byPatient(maria.publicKey, in: chain.reader).entries
        #expect(all.count == 11)
        let from = all[4].time, until = all[8].time
        let ranged = try Audit.byPatient(maria.publicKey, from: from, until: until, in: chain.reader).entries
        #expect(ranged.map(\.sequence) == [4, 5, 6, 7])
        let first = try Audit.byPatient(maria.publicKey, limit: 3, in: chain.reader)
        #expect(first.entries.map(\.sequence) == [0, 1, 2] && first.next == 3)
        let second = try Audit.byPatient(maria.publicKey, start: first.next!, limit: 3, in: chain.reader)
        #expect(second.entries.map(\.sequence) == [3, 4, 5])
        let org = try Audit.byOrganization(OrganizationID("sakura-general")!, from: from, in: chain.reader).entries
        #expect(org.count == 7 && org.allSatisfy { $0.time >= from })
    }

    /// Every audit entry is a state entry: it proves against the state root.
    @Test func auditEntriesProveAgainstTheStateRoot() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        _ = try chain.registerRecord(patient: maria.publicKey, category: .problems, custodian: "hospital-ribeira")
        let key = Audit.entryKey(maria.publicKey, 0).bytes
        let (value, proof, root) = try chain.state.proof(key)
        let entry = try AuditEntry(canonicalBytes: try #require(value))
        #expect(entry.kind == .recordRegistration)
        #expect(proof.verify(root: root, key: key, value: value))
        var forged = value!; forged[forged.count - 1] ^= 1
        #expect(!proof.verify(root: root, key: key, value: forged))
    }
}
