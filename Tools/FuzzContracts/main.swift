// libFuzzer target over the policy-contract upload check and, for what it accepts, the engine:
// every input is refused with a reason or accepted; an accepted module is parsed by WasmKit and
// run (evaluate and update, 10,000 fuel each) with the real host functions. A crash, a trap that
// escapes as a crash, or a hang stops the fuzzer with the input saved. `make fuzz-contracts`.
import Foundation
import MeridianCore
import MeridianModules
import MeridianFuzzing

let limits = ContractCheck.Limits(maxBytes: 65_536, maxMemoryPages: 4)
let request = ContractRequest(purpose: .treat, category: .summary, breakGlass: true, requesterCountry: CountryCode("JP"), custodianCountry: CountryCode("PT"),
                              time: Timestamp(unixMilliseconds: 1_800_000_000_000), height: 7, organization: OrganizationID("sakura-general")!,
                              coSignedAt: Timestamp(unixMilliseconds: 1_799_999_990_000),
                              requester: try! PrivateKey(secret: SHA256.hash([1])).publicKey, patient: try! PrivateKey(secret: SHA256.hash([2])).publicKey)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard (try? ContractCheck.check(bytes, limits: limits)) != nil, let runner = try? ContractRunner(code: bytes, limits: limits) else { return 0 }
    var storage: [[UInt8]: [UInt8]] = [:]
    let params: [String: [UInt8]] = ["grace-days": Array("3".utf8), "organization": Array("sakura-general".utf8), "limit": Array("2".utf8)]
    let outcome = runner.evaluate(request, parameters: params, storage: { storage[$0] }, fuel: 10_000)
    if outcome.fuelUsed > 10_000 { fatalError("used \(outcome.fuelUsed) fuel of 10,000") }
    for (k, v) in outcome.writes { storage[k] = v }
    _ = runner.update(Array(bytes.prefix(64)), parameters: params, storage: { storage[$0] }, fuel: 10_000)
    return 0
}

/// The built policies as seeds.
func seeds() -> [[UInt8]] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return ["TravelWindow", "SecondOpinion", "TwoPersonBreakGlass"].compactMap {
        FileManager.default.contents(atPath: root.appendingPathComponent("Contracts/build/\($0).wasm").path).map(Array.init)
    }
}

/// Takes `-meridian_seeds=DIR` (writes the seeds into DIR).
func configure() -> [String] {
    var rest: [String] = []
    for a in CommandLine.arguments {
        if a.hasPrefix("-meridian_seeds=") {
            let dir = String(a.dropFirst("-meridian_seeds=".count))
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (i, s) in seeds().enumerated() { FileManager.default.createFile(atPath: "\(dir)/seed-\(i)", contents: Data(s)) }
        } else { rest.append(a) }
    }
    return rest
}

let arguments = configure()
#if !FUZZING
if arguments.count == 1 {
    for s in seeds() { _ = s.withUnsafeBufferPointer { fuzzOne($0.baseAddress!, $0.count) } }
    print("seeds ok")
}
#endif
FuzzDriver.run(arguments: arguments, fuzzOne)
