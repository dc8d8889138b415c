import Foundation
import Testing
import MeridianVitals
import MeridianIngest

@Suite(.timeLimit(.minutes(5))) struct WFDBTests {
    @Test func headersParseAndUnsupportedFeaturesAreRefusedByName() throws {
        let h = try WFDBHeader(parsing: "# a comment\nrec 2 360 4\nrec.dat 212 200(1024)/mV 12 0 975 5363 0 MLII lead\nrec.dat 212 100/uV 12 0\n")
        #expect(h.name == "rec" && h.samplingFrequency == 360 && h.sampleCount == 4 && h.signals.count == 2)
        #expect(h.signals[0].baseline == 1024 && h.signals[0].gain == 200 && h.signals[0].description == "MLII lead")
        #expect(h.signals[1].baseline == 0 && h.signals[1].units == "uV" && h.signals[1].checksum == nil)
        func refusal(_ t: String) -> VitalsError.Code? { do { _ = try WFDBHeader(parsing: t); return nil } catch { return error.code } }
        #expect(refusal("") == .malformed)
        #expect(refusal("rec 2 360\nrec.dat 16\n") == .malformed, "one signal line for two signals")
        #expect(refusal("rec 1 360\nrec.dat 80\n") == .unsupported, "format 80")
        #expect(refusal("rec/2 1 360\nrec.dat 16\n") == .unsupported, "multi-segment")
        #expect(refusal("rec 1 360\n../etc/passwd 16\n") == .unsupported, "a path")
        #expect(refusal("rec 1 -5\nrec.dat 16\n") == .malformed, "frequency")
        #expect(refusal("rec 1 360\nrec.dat 16 200(x)/mV\n") == .malformed, "baseline")
        #expect(refusal("rec 100 360\n") == .malformed, "too many signals")
    }

    @Test func format212AndFormat16DecodeAndCheckTheirChecksums() throws {
        // Two signals, format 212: samples (1, -1), (2047, -2048) packed as two 3-byte pairs.
        let h = try WFDBHeader(parsing: "r 2 100 2\nr.dat 212 200 12 0 1 2048\nr.dat 212 200 12 0 -1 -2049\n")
        let bytes: [UInt8] = [0x01, 0xF0, 0xFF, 0xFF, 0x87, 0x00]
        let s = try WFDBSignals.decode(header: h, file: "r.dat", bytes: bytes)
        #expect(s[0].samples == [1, 2047] && s[1].samples == [-1, -2048])
        var bad = bytes; bad[0] = 0x02
        #expect(throws: VitalsError(.malformed, "")) { try WFDBSignals.decode(header: h, file: "r.dat", bytes: bad) }   // initial value and checksum
        #expect(throws: VitalsError(.malformed, "")) { try WFDBSignals.decode(header: h, file: "r.dat", bytes: Array(bytes.dropLast(2))) }
        let h16 = try WFDBHeader(parsing: "r 1 100\nr.dat 16 200(0)/mV\n")
        let s16 = try WFDBSignals.decode(header: h16, file: "r.dat", bytes: [0x2C, 0x01, 0x38, 0xFF])
        #expect(s16[0].samples == [300, -200] && s16[0].physical(0).description == "1.5" && s16[0].physical(1).description == "-1")
        #expect(throws: VitalsError(.malformed, "")) { try WFDBSignals.decode(header: h16, file: "r.dat", bytes: [0x2C, 0x01, 0x38]) }
    }

    /// Records that `wfdb.wrsamp` (PyPI `wfdb`, written elsewhere) writes from real ECG data (MIT-BIH
    /// record 208, lead MLII, shipped in scipy 1.11.4's wheel as misc/ecg.dat) decode sample for
    /// sample as `wfdb.rdrecord` reads them: format 212 and 16, one and two signals, odd length.
    @Test func recordsWrittenByWfdbDecodeSampleForSampleAsWfdbReadsThem() async throws {
        let wheel = try await WFDBReference.scipyWheel()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-wfdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = """
            import io, os, sys, zipfile, numpy as np, wfdb
            wheel, out = sys.argv[1], sys.argv[2]
            ecg = np.load(io.BytesIO(zipfile.ZipFile(wheel).read('scipy/misc/ecg.dat')))['ecg'].astype(np.float64)
            mv = ((ecg - 1024) / 200.0).reshape(-1, 1)
            os.chdir(out)
            records = [
                ('one212', [mv], ['212'], [200], [1024]),
                ('two16', [mv, -mv * 0.5], ['16', '16'], [200, 400], [0, 10]),
                ('two212', [mv, mv[::-1]], ['212', '212'], [200, 200], [1024, 0]),
                ('odd212', [mv[:10001]], ['212'], [200], [1024]),
            ]
            for name, sigs, fmt, gain, base in records:
                wfdb.wrsamp(name, fs=360, units=['mV'] * len(sigs), sig_name=['s%d' % i for i in range(len(sigs))],
                            p_signal=np.hstack(sigs), fmt=fmt, adc_gain=gain, baseline=base)
                d = wfdb.rdrecord(name, physical=False).d_signal.astype('<i4')
                d.T.tofile(name + '.expected')
                print(name, d.shape[0], d.shape[1])
            """
        let lines = try await PythonReference.run(script, input: Data(), package: "wfdb", arguments: [wheel.path, dir.path])
        #expect(lines.count == 4)
        var compared = 0
        for line in lines {
            let parts = line.split(separator: " "), name = String(parts[0]), frames = Int(parts[1])!, signals = Int(parts[2])!
            let header = try WFDBHeader(parsing: String(contentsOf: dir.appendingPathComponent("\(name).hea"), encoding: .utf8))
            let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("\(name).dat")))
            let decoded = try WFDBSignals.decode(header: header, file: "\(name).dat", bytes: bytes)
            let expected = [UInt8](try Data(contentsOf: dir.appendingPathComponent("\(name).expected")))
            #expect(decoded.count == signals)
            for (k, signal) in decoded.enumerated() {
                #expect(signal.samples.count == frames, "\(name) signal \(k)")
                var mismatches = 0
                for i in 0..<min(frames, signal.samples.count) {
                    let at = (k * frames + i) * 4
                    let theirs = Int32(bitPattern: UInt32(expected[at]) | UInt32(expected[at + 1]) << 8 | UInt32(expected[at + 2]) << 16 | UInt32(expected[at + 3]) << 24)
                    if theirs != signal.samples[i] { mismatches += 1 }
                    compared += 1
                }
                #expect(mismatches == 0, "\(name) signal \(k): \(mismatches) samples differ")
            }
        }
        #expect(compared > 500_000)
    }
}

/// scipy 1.11.4's wheel (its misc/ecg.dat is real ECG data), fetched once by `make setup` into .build/reference.
enum WFDBReference {
    static let wheelName = "scipy-1.11.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    static func scipyWheel() async throws -> URL {
        let dir = Fixtures.repositoryRoot.appendingPathComponent(".build/reference")
        if let found = try? FileManager.default.contentsOfDirectory(atPath: dir.path).first(where: { $0.hasPrefix("scipy-1.11.4-") && $0.hasSuffix(".whl") }) {
            return dir.appendingPathComponent(found)
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        _ = try await PythonReference.run("import subprocess, sys; subprocess.check_call([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary', ':all:', 'scipy==1.11.4', '-d', sys.argv[1]])",
                                    input: Data(), package: "scipy 1.11.4 wheel", arguments: [dir.path])
        guard let found = try FileManager.default.contentsOfDirectory(atPath: dir.path).first(where: { $0.hasPrefix("scipy-1.11.4-") && $0.hasSuffix(".whl") }) else {
            throw PythonReference.Unavailable(description: "scipy 1.11.4 wheel not downloaded")
        }
        return dir.appendingPathComponent(found)
    }
}
