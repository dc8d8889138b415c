import Foundation
import Testing
import MeridianCore
@testable import MeridianModules

/// The three policies of `Contracts/`, run by WasmKit as the runtime runs them: a table of
/// decisions each, the fuel each call used pinned (an engine upgrade that changes them fails
/// here), and hostile code stopped with its reason.
@Suite(.timeLimit(.minutes(5))) struct PolicyContractTests {
    static let limits = ContractCheckTests.limits
    static let fuel: UInt64 = 1_000_000
    static func runner(_ name: String) throws -> ContractRunner { try ContractRunner(code: try ContractCheckTests.built(name), limits: limits) }
    static func t(_ s: String) -> Timestamp { Timestamp(iso8601: s)! }

    static func request(_ purpose: PurposeOfUse = .treat, from country: String = "JP", at time: String = "2027-04-10", org: String = "sakura-general",
                        breakGlass: Bool = false, coSignedAt: String? = nil, stay: TravelItinerary.Opening? = nil) -> ContractRequest {
        ContractRequest(purpose: purpose, category: .summary, breakGlass: breakGlass, requesterCountry: CountryCode(country), custodianCountry: CountryCode("PT"),
                        time: t(time), height: 42, organization: OrganizationID(org)!, coSignedAt: coSignedAt.map(t),
                        requester: try! PrivateKey(secret: SHA256.hash([1])).publicKey, patient: try! PrivateKey(secret: SHA256.hash([2])).publicKey,
                        evidence: stay?.bytes ?? [])
    }

    /// Contract storage in memory, with each call's writes applied (as a committed transaction would).
    final class Storage: @unchecked Sendable {
        var values: [[UInt8]: [UInt8]] = [:]
        func apply(_ o: ContractRunner.Outcome) { for (k, v) in o.writes { values[k] = v } }
        var reader: ([UInt8]) -> [UInt8]? { { [unowned self] in self.values[$0] } }
    }

    /// A stay with a fixed salt (tests are reproducible; the wallet draws a random one).
    static func opening(_ country: String, _ from: String, _ until: String, salt: UInt8 = 7) -> TravelItinerary.Opening {
        TravelItinerary.Opening(stay: .init(country: CountryCode(country)!, from: t(from), until: t(until)), salt: [UInt8](repeating: salt, count: 16))
    }
    /// The `update` message committing to one stay.
    static func stay(_ country: String, _ from: String, _ until: String) -> [UInt8] { TravelItinerary.message([opening(country, from, until)]) }

    @Test func travelWindow() throws {
        let c = try Self.runner("TravelWindow")
        let storage = Storage()
        var params: [String: [UInt8]] = [:]
        func decide(_ r: ContractRequest) -> ContractRunner.Outcome.Result { c.evaluate(r, parameters: params, storage: storage.reader, fuel: Self.fuel).result }
        let japan = Self.opening("JP", "2027-04-01", "2027-04-20"), thailand = Self.opening("TH", "2027-04-21", "2027-04-23")
        #expect(decide(Self.request(stay: japan)) == .denied(reason: -2), "no itinerary yet")
        let set = c.update(TravelItinerary.message([japan, thailand]), parameters: params, storage: storage.reader, fuel: Self.fuel)
        #expect(set.result == .allowed && set.writes.count == 1)
        storage.apply(set)
        // What is stored: the two commitments, nothing of the countries or dates.
        #expect(storage.values.values.first == japan.commitment.bytes + thailand.commitment.bytes)
        for bad in [[1, 2, 3], [UInt8](repeating: 1, count: 33), [UInt8](repeating: 1, count: 32 * 9)] as [[UInt8]] {
            #expect(c.update(bad, parameters: params, storage: storage.reader, fuel: Self.fuel).result == .denied(reason: 0), "\(bad.count) bytes: not 1 to 8 commitments")
        }
        let forged = TravelItinerary.Opening(stay: .init(country: CountryCode("JP")!, from: Self.t("2027-01-01"), until: Self.t("2027-12-31")), salt: japan.salt)
        let table: [(ContractRequest, ContractRunner.Outcome.Result)] = [
            (Self.request(at: "2027-04-10", stay: japan), .allowed),                        // in Japan during the stay
            (Self.request(at: "2027-04-01", stay: japan), .allowed),                        // the first day
            (Self.request(at: "2027-03-31", stay: japan), .denied(reason: -1)),             // before it
            (Self.request(at: "2027-04-25", stay: japan), .denied(reason: -1)),             // after it, no grace
            (Self.request(from: "TH", at: "2027-04-10", stay: japan), .denied(reason: -1)), // Japan's stay from Thailand
            (Self.request(from: "TH", at: "2027-04-22", stay: thailand), .allowed),         // the second stay
            (Self.request(at: "2027-04-10"), .denied(reason: -8)),                          // no stay token
            (Self.request(at: "2027-04-10", stay: forged), .denied(reason: -8)),            // dates the patient never committed to
            (Self.request(at: "2027-04-10", stay: Self.opening("JP", "2027-04-01", "2027-04-20", salt: 8)), .denied(reason: -8)),   // a guessed salt
            (Self.request(.emergencyTreatment, at: "2027-05-30"), .allowed),                // ETREAT: per the grant
            (Self.request(.research, at: "2027-05-30"), .allowed),                          // other purposes: per the grant
        ]
        for (r, expected) in table { #expect(decide(r) == expected, "\(r.purpose.code) from \(r.requesterCountry!.code) at \(r.time.iso8601)") }
        params["grace-days"] = Array("7".utf8)
        #expect(decide(Self.request(at: "2027-04-25", stay: japan)) == .allowed)
        #expect(decide(Self.request(at: "2027-04-28", stay: japan)) == .denied(reason: -1))
        params["grace-days"] = Array("seven".utf8)
        #expect(decide(Self.request(at: "2027-04-10", stay: japan)) == .denied(reason: -7))
    }

    /// The stay token round-trips, and what is not one is refused.
    @Test func stayOpenings() {
        let o = Self.opening("JP", "2027-04-01", "2027-04-20")
        #expect(o.bytes.count == TravelItinerary.openingBytes && TravelItinerary.Opening(bytes: o.bytes) == o)
        #expect(TravelItinerary.Opening(bytes: Array(o.bytes.dropLast())) == nil)
        #expect(TravelItinerary.Opening(bytes: Self.opening("JP", "2027-04-20", "2027-04-01").bytes) == nil, "ends before it starts")
        #expect(TravelItinerary.Opening.random(o.stay).salt != TravelItinerary.Opening.random(o.stay).salt)
    }

    @Test func secondOpinion() throws {
        let c = try Self.runner("SecondOpinion")
        let storage = Storage()
        let params: [String: [UInt8]] = ["organization": Array("clinique-leman".utf8), "limit": Array("2".utf8)]
        func ask(_ org: String) -> ContractRunner.Outcome {
            let o = c.evaluate(Self.request(org: org), parameters: params, storage: storage.reader, fuel: Self.fuel)
            storage.apply(o)
            return o
        }
        #expect(ask("clinique-leman").result == .allowed)
        #expect(ask("sakura-general").result == .allowed && storage.values.count == 1, "another organisation is not counted")
        #expect(ask("clinique-leman").result == .allowed)
        let third = ask("clinique-leman")
        #expect(third.result == .denied(reason: -3) && third.writes.isEmpty)
        #expect(ask("clinique-leman").result == .denied(reason: -3))
        #expect(c.evaluate(Self.request(org: "clinique-leman"), parameters: [:], storage: storage.reader, fuel: Self.fuel).result == .denied(reason: -7))
        #expect(c.evaluate(Self.request(org: "clinique-leman"), parameters: ["organization": Array("clinique-leman".utf8), "limit": Array("0".utf8)],
                           storage: Storage().reader, fuel: Self.fuel).result == .denied(reason: -7))
    }

    @Test func twoPersonBreakGlass() throws {
        let c = try Self.runner("TwoPersonBreakGlass")
        func decide(_ r: ContractRequest, _ params: [String: [UInt8]] = [:]) -> ContractRunner.Outcome.Result {
            c.evaluate(r, parameters: params, storage: { _ in nil }, fuel: Self.fuel).result
        }
        let now = "2027-04-10T12:00:00Z"
        #expect(decide(Self.request(.emergencyTreatment, at: now)) == .allowed)                                          // no break-glass
        #expect(decide(Self.request(.emergencyTreatment, at: now, breakGlass: true)) == .denied(reason: -5))           // no co-signature
        #expect(decide(Self.request(.emergencyTreatment, at: now, breakGlass: true, coSignedAt: "2027-04-10T11:55:00Z")) == .allowed)
        #expect(decide(Self.request(.emergencyTreatment, at: now, breakGlass: true, coSignedAt: "2027-04-10T11:40:00Z")) == .denied(reason: -6))
        #expect(decide(Self.request(.emergencyTreatment, at: now, breakGlass: true, coSignedAt: "2027-04-10T11:40:00Z"),
                       ["window-minutes": Array("30".utf8)]) == .allowed)
        #expect(decide(Self.request(.emergencyTreatment, at: now, breakGlass: true, coSignedAt: "2027-04-10T12:05:00Z")) == .denied(reason: -6),
                "a co-signature after the decision's block does not count")
        #expect(decide(Self.request(.emergencyTreatment, at: now, breakGlass: true), ["window-minutes": Array("0".utf8)]) == .denied(reason: -7))
    }

    /// The fuel each policy uses for one decision, pinned: WasmKit's fuel schedule is part of
    /// consensus, so a dependency upgrade that changes these must fail loudly here.
    @Test func fuelIsDeterministicAndPinned() throws {
        let travel = try Self.runner("TravelWindow"), storage = Storage()
        storage.apply(travel.update(Self.stay("JP", "2027-04-01", "2027-04-20"), parameters: [:], storage: storage.reader, fuel: Self.fuel))
        let stay = Self.opening("JP", "2027-04-01", "2027-04-20")
        let a = travel.evaluate(Self.request(stay: stay), parameters: [:], storage: storage.reader, fuel: Self.fuel)
        let b = travel.evaluate(Self.request(stay: stay), parameters: [:], storage: storage.reader, fuel: Self.fuel)
        #expect(a.result == .allowed)
        #expect(a == b, "same request, same outcome and fuel")
        let second = try Self.runner("SecondOpinion").evaluate(Self.request(org: "clinique-leman"),
            parameters: ["organization": Array("clinique-leman".utf8), "limit": Array("2".utf8)], storage: { _ in nil }, fuel: Self.fuel)
        let two = try Self.runner("TwoPersonBreakGlass").evaluate(Self.request(.emergencyTreatment, at: "2027-04-10T12:00:00Z", breakGlass: true,
            coSignedAt: "2027-04-10T11:55:00Z"), parameters: [:], storage: { _ in nil }, fuel: Self.fuel)
        #expect([a.fuelUsed, second.fuelUsed, two.fuelUsed] == GoldenFuel.figures, "fuel used: \([a.fuelUsed, second.fuelUsed, two.fuelUsed])")
    }

    @Test func hostileCodeIsStoppedWithItsReason() throws {
        typealias M = ContractCheckTests.Module
        func run(_ m: M, fuel: UInt64 = 100_000) throws -> ContractRunner.Outcome {
            try ContractRunner(code: m.bytes, limits: Self.limits).evaluate(Self.request(), parameters: [:], storage: { _ in nil }, fuel: fuel)
        }
        var m = M(); m.body = [0x03, 0x40, 0x0C, 0x00, 0x0B, 0x41, 1]            // loop { br 0 }
        let loop = try run(m)
        #expect(loop.result == .failed(.outOfFuel) && loop.fuelUsed == 100_000, "\(loop)")
        m = M(); m.body = [0x20, 0x00, 0x20, 0x01, 0x10, 0x00]                   // evaluate calls itself forever
        let recursion = try run(m, fuel: 10_000_000)
        #expect(recursion.result == .failed(.stackExhausted), "unbounded recursion is stopped by the engine's stack: \(recursion)")
        m = M(); m.body = [0x03, 0x40, 0x41, 0x01, 0x40, 0x00, 0x1A, 0x0C, 0x00, 0x0B, 0x41, 1]   // memory.grow bomb in a loop
        let grow = try run(m)
        #expect(grow.result == .failed(.outOfFuel), "\(grow)")
        m = M(); m.body = [0x00]                                                    // unreachable
        #expect(try run(m).result == .failed(.unreachable))
        // Out-of-range pointers to every host function.
        for (name, type) in [("storage_get", 0), ("storage_set", 0), ("param_get", 0), ("emit", 1)] {
            m = M()
            m.types.append([0x60, 4, 0x7F, 0x7F, 0x7F, 0x7F, 1, 0x7F]); m.types.append([0x60, 2, 0x7F, 0x7F, 1, 0x7F])
            m.imports = [M.name("env") + M.name(name) + [0x00, UInt8(1 + type)]]
            let far: [UInt8] = [0x41, 0xF0, 0xFF, 0x03]                               // i32.const 65520
            let big: [UInt8] = [0x41, 0x80, 0x80, 0x04]                               // i32.const 65536
            m.body = type == 0 ? far + big + far + big + [0x10, 0x00] : far + big + [0x10, 0x00]
            let o = try run(m)
            #expect(o.result == .failed(.hostPointerOutOfRange), "\(name): \(o)")
        }
        // A malformed answer (2 is neither allow nor a deny reason).
        m = M(); m.body = [0x41, 0x02]
        #expect(try run(m).result == .failed(.malformedAnswer))
    }
}

/// Instances are reused between calls (WasmKit compiles per instance); nothing a call leaves in
/// memory, in a mutable global or in a grown memory reaches the next call.
@Suite(.timeLimit(.minutes(5))) struct ContractIsolationTests {
    typealias M = ContractCheckTests.Module
    static func run(_ runner: ContractRunner) -> ContractRunner.Outcome.Result {
        runner.evaluate(PolicyContractTests.request(), parameters: [:], storage: { _ in nil }, fuel: 100_000).result
    }

    @Test func memoryAndGlobalsAreBackToTheirInitialValuesAtEveryCall() throws {
        var m = M()
        m.globals = [[0x7F, 0x01, 0x41, 0x00, 0x0B]]                          // (global (mut i32) (i32.const 0))
        m.locals = [0x01, 0x01, 0x7F]                                          // one i32 local (index 2)
        m.body = [0x41, 0xE4, 0x00, 0x28, 0x02, 0x00, 0x23, 0x00, 0x6A, 0x21, 0x02,   // v = mem[100] + g
                  0x41, 0xE4, 0x00, 0x41, 0x01, 0x36, 0x02, 0x00,                     // mem[100] = 1
                  0x41, 0x01, 0x24, 0x00,                                             // g = 1
                  0x41, 0x00, 0x20, 0x02, 0x6B]                                       // answer 0 - v
        let runner = try ContractRunner(code: m.bytes, limits: ContractCheckTests.limits)
        for _ in 0..<5 { #expect(Self.run(runner) == .denied(reason: 0), "a previous call's memory or global leaked") }
    }

    @Test func aGrownMemoryIsNeverReused() throws {
        var m = M()
        m.memory = [0x01, 1, 2]
        m.locals = [0x01, 0x01, 0x7F]
        m.body = [0x3F, 0x00, 0x21, 0x02,                 // pages before
                  0x41, 0x01, 0x40, 0x00, 0x1A,           // memory.grow 1
                  0x41, 0x00, 0x20, 0x02, 0x6B]           // answer 0 - pages before
        let runner = try ContractRunner(code: m.bytes, limits: ContractCheckTests.limits)
        for _ in 0..<3 { #expect(Self.run(runner) == .denied(reason: -1), "the memory grown by a previous call was reused") }
    }

    @Test func anInstanceIsDroppedAfterATrapAndTheNextCallIsClean() throws {
        var m = M()
        m.globals = [[0x7F, 0x01, 0x41, 0x00, 0x0B]]
        // if g == 0 { g = 1; unreachable } else { answer -9 }: a reused trapped instance would answer -9.
        m.body = [0x23, 0x00, 0x45, 0x04, 0x40, 0x41, 0x01, 0x24, 0x00, 0x00, 0x0B, 0x41, 0x77]
        let runner = try ContractRunner(code: m.bytes, limits: ContractCheckTests.limits)
        for _ in 0..<3 {
            guard case .failed(let why) = Self.run(runner) else { Issue.record("the trap did not happen: a trapped instance was reused"); continue }
            #expect(why == .unreachable)
        }
    }

    /// Recursion 152 deep (the request's length counted down) fits the default 64 KiB engine stack
    /// (`ChainParameters.contractStackBytes`) and traps in a 4 KiB one: depth is bounded by genesis.
    @Test func recursionDepthIsBoundedByTheStackParameter() throws {
        var m = M()
        m.body = [0x20, 0x01, 0x45, 0x04, 0x7F, 0x41, 0x01, 0x05,             // if len == 0 { 1 } else {
                  0x20, 0x00, 0x20, 0x01, 0x41, 0x01, 0x6B, 0x10, 0x00, 0x0B]   //   evaluate(ptr, len - 1) }
        let roomy = try ContractRunner(code: m.bytes, limits: ContractCheckTests.limits, stackBytes: Int(ChainParameters().contractStackBytes))
        #expect(Self.run(roomy) == .allowed)
        let tight = try ContractRunner(code: m.bytes, limits: ContractCheckTests.limits, stackBytes: 4096)
        guard case .failed(let why) = Self.run(tight) else { Issue.record("152 frames fitted in 4 KiB"); return }
        #expect(why == .stackExhausted, "\(why)")
    }

    @Test func bulkMemoryTableAndReferenceInstructionsAreRefusedAtUpload() throws {
        for body: [UInt8] in [[0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 0x0B, 0x00, 0x41, 1],   // memory.fill
                              [0xFC, 0x09, 0x00, 0x41, 1],                               // data.drop
                              [0xD0, 0x70, 0x1A, 0x41, 1],                               // ref.null
                              [0x41, 0, 0x25, 0x00, 0x1A, 0x41, 1]] {                    // table.get
            var m = M(); m.body = body
            do { _ = try ContractCheck.check(m.bytes, limits: ContractCheckTests.limits); Issue.record("accepted \(body)") }
            catch { #expect(error.code == "contract.feature" || error.code == "contract.malformed", "\(error)") }
        }
        var m = M(); m.exports.append(M.export("__meridian_global_0", kind: 0, index: 0))
        do { _ = try ContractCheck.check(m.bytes, limits: ContractCheckTests.limits); Issue.record("a reserved export name was accepted") }
        catch { #expect(error.code == "contract.export") }
    }
}

/// Fuel of one decision of TravelWindow, SecondOpinion and TwoPersonBreakGlass under WasmKit 0.4.2.
enum GoldenFuel {
    static let figures: [UInt64] = [2112, 1450, 276]
    /// The fuel of each decision of `PolicyAuthorizationTests.twoRuntimesAgreeOnDecisionsFuelAndStateRoots`.
    static let inAuthorize: [UInt64] = [2212, 1450, 2212, 1482, 109, 1482, 2212, 1174, 2212, 1174, 109, 1174]
}

/// Uploading contracts through transactions: checked under the chain's limits, stored by code hash.
@Suite(.timeLimit(.minutes(5))) struct ContractDeploymentTests {
    @Test func aCheckedContractIsStoredByItsHashAndAHostileOneIsRefusedWithTheReason() throws {
        let chain = try TestChain()
        let maria = try chain.registerPatient("maria")
        let code = try ContractCheckTests.built("TravelWindow")
        let deployed = try chain.submit(maria, .deployContract(code))
        #expect(deployed.succeeded && deployed.createdID == SHA256.hash(code))
        #expect(deployed.events.contains(.contractDeployed(code: SHA256.hash(code), deployer: maria.publicKey)))
        let stored = try #require(try Contracts.contract(SHA256.hash(code), in: chain.reader))
        #expect(stored.code == code && stored.deployer == maria.publicKey)
        #expect(try chain.submit(maria, .deployContract(code)).error?.code == "contract.duplicate")
        var m = ContractCheckTests.Module(); m.start = true
        #expect(try chain.submit(maria, .deployContract(m.bytes)).error?.code == "contract.start")
        m = ContractCheckTests.Module(); m.memory = [0x01, 1, 5]
        #expect(try chain.submit(maria, .deployContract(m.bytes)).error?.code == "contract.memory", "over the genesis limit of 4 pages")
    }
}
