import Foundation

/// The one driver of Meridian's libFuzzer targets (FuzzCodec, FuzzWorkers). Each target's
/// `main.swift` defines `@_cdecl("LLVMFuzzerTestOneInput")` (libFuzzer only finds it there) and
/// hands it here. Built with `-sanitize=fuzzer -DFUZZING` (the make targets), libFuzzer runs it;
/// built normally, the inputs named on the command line are replayed through it (a crash file found
/// by the fuzzer reproduces and debugs without the sanitizer build).
public enum FuzzDriver {
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>, Int) -> Int32

    /// Runs libFuzzer (fuzz builds) or replays `arguments` after the program name (normal builds).
    public static func run(arguments: [String], _ body: TestOneInput) -> Never {
        #if FUZZING
        var cArgs: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var argc = Int32(arguments.count)
        let status = cArgs.withUnsafeMutableBufferPointer { buffer in
            var argv = buffer.baseAddress!
            return LLVMFuzzerRunDriver(&argc, &argv, body)
        }
        exit(status)
        #else
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8)); exit(66)
            }
            let bytes = [UInt8](data)
            _ = bytes.withUnsafeBufferPointer { body($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
            print("\(path): ok")
        }
        exit(0)
        #endif
    }
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32
#endif
