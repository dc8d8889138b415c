import Testing
@testable import MeridianCore

@Suite(.timeLimit(.minutes(5))) struct CanonicalCodecTests {
    @Test func varintsAreMinimalAndBounded() throws {
        for v: UInt64 in [0, 1, 127, 128, 255, 300, 1 << 32, .max] {
            var w = CanonicalWriter(); w.write(varint: v)
            var r = CanonicalReader(w.bytes)
            #expect(try r.readVarint() == v)
            try r.finish()
        }
        var r1 = CanonicalReader([0x80, 0x00])  // 0 with a needless zero group
        #expect(throws: CodecError(.nonMinimalInteger, field: "", offset: 0)) { try r1.readVarint() }
        var r2 = CanonicalReader([0x81, 0x80, 0x00])
        #expect(throws: CodecError(.nonMinimalInteger, field: "", offset: 0)) { try r2.readVarint() }
        var r3 = CanonicalReader([UInt8](repeating: 0xff, count: 9) + [0x02])  // 2^64 or more
        #expect(throws: CodecError(.integerOverflow, field: "", offset: 0)) { try r3.readVarint() }
        var r4 = CanonicalReader([0x80])
        #expect(throws: CodecError(.truncated, field: "", offset: 0)) { try r4.readVarint() }
        var r5 = CanonicalReader([0xff, 0x01])  // 255 as u8 ok, 256 not
        #expect(try r5.readUInt8() == 255)
        var r6 = CanonicalReader([0x80, 0x02])
        #expect(throws: CodecError(.integerOverflow, field: "", offset: 0)) { try r6.readUInt8() }
    }

    @Test func booleansOptionalsAndStringsRejectOtherBytes() {
        var r = CanonicalReader([2])
        #expect(throws: CodecError(.invalidBoolean, field: "", offset: 0)) { try r.readBool() }
        var o = CanonicalReader([2])
        #expect(throws: CodecError(.unknownVariant, field: "", offset: 0)) { try o.readOptional(UInt64.self) }
        var s = CanonicalReader([2, 0xc3, 0x28])
        #expect(throws: CodecError(.invalidUTF8, field: "", offset: 0)) { try s.readString() }
        var big = CanonicalReader([0xff, 0xff, 0x03] + [UInt8](repeating: 0x41, count: 10))
        #expect(throws: CodecError(.lengthTooLarge, field: "", offset: 0)) { try big.readString(max: 100) }
        var short = CanonicalReader([10, 0x41])
        #expect(throws: CodecError(.truncated, field: "", offset: 0)) { try short.readString() }
    }

    @Test func setsMustBeStrictlyIncreasing() throws {
        var w = CanonicalWriter(); w.write([UInt64(3), 1])
        var r = CanonicalReader(w.bytes)
        #expect(throws: CodecError(.notSorted, field: "", offset: 0)) { try r.readSortedSet(UInt64.self, "s", max: 10) }
        var w2 = CanonicalWriter(); w2.write([UInt64(1), 1])
        var r2 = CanonicalReader(w2.bytes)
        #expect(throws: CodecError(.notSorted, field: "", offset: 0)) { try r2.readSortedSet(UInt64.self, "s", max: 10) }
        #expect([UInt64(5), 1, 5, 3].canonicalSet == [1, 3, 5])
    }

    @Test func wholeValuesRefuseTrailingBytes() throws {
        let header = BlockHeader(chainID: "meridian-test", height: 7, time: Timestamp(unixSeconds: 1_800_000_000),
                                 parentHash: SHA256.hash([1]), lastCommitHash: .zero, transactionsRoot: SHA256.hash([2]),
                                 receiptsRoot: SHA256.hash([3]), stateRoot: SHA256.hash([4]), validatorsHash: SHA256.hash([5]),
                                 proposer: testKey(1).publicKey)
        let bytes = header.canonicalBytes
        #expect(try BlockHeader(canonicalBytes: bytes) == header)
        #expect(throws: CodecError(.trailingBytes, field: "", offset: 0)) { try BlockHeader(canonicalBytes: bytes + [0]) }
        for cut in 0..<bytes.count {
            #expect(throws: CodecError.self) { try BlockHeader(canonicalBytes: bytes[0..<cut]) }
        }
    }

    @Test func publicKeysOffTheCurveAreRefused() throws {
        // x = 5 is not the x coordinate of any secp256k1 point (BIP-340 vector 5's key is another).
        let bad = try #require(Bytes32(hex: "eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34"))
        #expect(throws: KeyError(.invalidPublicKey)) { try PublicKey(bad) }
        var w = CanonicalWriter(); w.write(bad)
        #expect(throws: CodecError(.invalidValue, field: "", offset: 0)) { try PublicKey(canonicalBytes: w.bytes) }
    }

    @Test func countryCodesAreOnlyAssignedOnes() throws {
        #expect(CountryCode("PT") != nil && CountryCode("JP") != nil && CountryCode("TH") != nil)
        #expect(CountryCode("XX") == nil && CountryCode("pt") == nil && CountryCode("PRT") == nil)
        #expect(CountryCode.assigned.count == 249)
        let pt = CountryCode("PT")!
        #expect(try CountryCode(canonicalBytes: pt.canonicalBytes) == pt)
    }
}
