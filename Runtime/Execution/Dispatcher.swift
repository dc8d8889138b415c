import MeridianCore
import MeridianModules

/// Routes a call to its module. The only switch over all calls in the runtime.
enum Dispatcher {
    static func dispatch(_ call: Call, _ ctx: ExecutionContext) throws(RuntimeError) -> (AccessDecision?, Bytes32?) {
        switch call {
        case .registerPatient(let c): try Identity.registerPatient(c, ctx)
        case .pairDevice(let c): try Identity.pairDevice(c, ctx)
        case .unpairDevice(let k): try Identity.unpairDevice(k, ctx)
        case .addMember(let c): try Identity.addMember(c, ctx)
        case .removeMember(let k): try Identity.removeMember(k, ctx)
        case .grantConsent(let t): return (nil, try Consent.grant(t, ctx))
        case .amendConsent(let c): try Consent.amend(c, ctx)
        case .revokeConsent(let id): try Consent.revoke(id, ctx)
        case .registerRecord(let c): try Sharing.registerRecord(c, ctx)
        case .requestAccess(let c): return (try Sharing.requestAccess(c, ctx), nil)
        case .shareRecord(let c): return (try Sharing.shareRecord(c, ctx), nil)
        case .eraseRecord(let c): try Sharing.eraseRecord(c, ctx)
        case .propose(let a): return (nil, try Governance.propose(a, ctx))
        case .vote(let v): try Governance.vote(v, ctx)
        case .submitEvidence(let e): try Evidence.submit(e, ctx)
        case .submitAnchor(let a): try Anchoring.submit(a, ctx)
        case .recordAlertDelivery(let d): return (try Audit.recordAlertDelivery(d, ctx), nil)
        case .recordConsoleView(let v): return (try Audit.recordConsoleView(v, ctx), nil)
        case .recordAPIRead(let v): return (try Audit.recordAPIRead(v, ctx), nil)
        case .setSpO2Scale(let c): return (try Clinical.setSpO2Scale(c, ctx), nil)
        case .acknowledgeAlert(let a): return (try Audit.acknowledgeAlert(a, ctx), nil)
        case .acknowledgeAlertInConsole(let a): return (try Audit.acknowledgeAlertInConsole(a, ctx), nil)
        case .setAlertEscalation(let e): try Audit.setAlertEscalation(e, ctx)
        case .deployContract(let code): return (nil, try Contracts.deploy(code, ctx))
        case .updatePolicy(let u): return (nil, try Policies.update(u, ctx))
        case .rotateKey(let k): try KeyRotations.rotate(k, ctx)
        }
        return (nil, nil)
    }
}
