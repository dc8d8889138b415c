// libFuzzer target over every canonical decoder of the runtime.
//
// The first input byte picks a decoder; the rest is its input. A decoder must either refuse the
// bytes with a typed error or accept them; when it accepts, encoding the value again must give
// back exactly the input (one encoding per value). Anything else — a crash, a trap, a
// non-canonical acceptance — stops the fuzzer with the input saved.
import MeridianCore
import MeridianState
import MeridianModules
import MeridianRuntime

@inline(never)
func roundTrip<T: Canonical>(_ type: T.Type, _ bytes: [UInt8]) {
    guard let value = try? T(canonicalBytes: bytes) else { return }
    let again = value.canonicalBytes
    if again != bytes {
        fatalError("non-canonical acceptance for \(T.self): \(Hex.encode(bytes)) re-encodes as \(Hex.encode(again))")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch selector % 16 {
    case 0: roundTrip(SignedTransaction.self, bytes)
    case 1: roundTrip(Block.self, bytes)
    case 2: roundTrip(BlockHeader.self, bytes)
    case 3: roundTrip(CommitCertificate.self, bytes)
    case 4: roundTrip(StateProof.self, bytes)
    case 5: roundTrip(KeyEnvelope.self, bytes)
    case 6: roundTrip(Receipt.self, bytes)
    case 7: roundTrip(AuditEntry.self, bytes)
    case 8: roundTrip(ConsentRecord.self, bytes)
    case 9: roundTrip(Proposal.self, bytes)
    case 10: roundTrip(RuntimeEvent.self, bytes)
    case 11: roundTrip(Call.self, bytes)
    case 12: roundTrip(RecordEntry.self, bytes)
    case 13: roundTrip(TransferRule.self, bytes)
    case 14: _ = Address(String(decoding: bytes, as: UTF8.self))
    default: _ = try? GenesisSpec.parse(bytes)
    }
    return 0
}

#if FUZZING
// Built with -sanitize=fuzzer -DFUZZING (make fuzz-codec): libFuzzer drives the function.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
_ = LLVMFuzzerRunDriver(&argc, &argv, fuzzOne)
#else
// Built normally: replays the inputs named on the command line (e.g. a crash file), so a
// failure found by the fuzzer can be reproduced and debugged without the sanitizer build.
import Foundation
for path in CommandLine.arguments.dropFirst() {
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write(Data("cannot read \(path)\n".utf8)); exit(66)
    }
    let bytes = [UInt8](data)
    _ = bytes.withUnsafeBufferPointer { fuzzOne($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
    print("\(path): ok")
}
#endif
