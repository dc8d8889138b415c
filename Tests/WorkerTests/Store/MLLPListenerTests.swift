import Foundation
import Testing
import Logging
import NIOCore
import NIOPosix
import MeridianCore
import MeridianIngest
import MeridianWorkers

@Suite(.timeLimit(.minutes(5))) struct MLLPListenerTests {
    /// A gateway's connection: messages go in MLLP frames, each answered in order with an ACK.
    static func exchange(port: Int, _ payload: [UInt8], expectACKs: Int) async throws -> [HL7Message] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { ch in
            ch.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch) }
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: payload))
            var decoder = MLLPDecoder()
            var acks: [HL7Message] = []
            for try await buffer in inbound {
                for m in try decoder.feed(buffer.readableBytesView) { acks.append(try HL7Message(parsing: m)) }
                if acks.count >= expectACKs { break }
            }
            return acks
        }
    }

    @Test func eachMessageIsAcknowledgedInOrderAfterItsReadingsAreStored() async throws {
        let tmp = ReadingStoreTests.TempDB()
        let ingestor = try VitalsIngestorTests.ingestor(tmp)
        var logger = Logger(label: "mllp-test"); logger.logLevel = .critical
        let listener = MLLPListener(ingestor: ingestor, facility: "HOSP", logger: logger)
        let (portStream, continuation) = AsyncStream<Int>.makeStream()
        let server = Task { try await listener.listen(host: "127.0.0.1", port: 0) { continuation.yield($0) } }
        defer { server.cancel() }
        var ports = portStream.makeAsyncIterator()
        let port = try #require(await ports.next())

        let good = Array(HL7Tests.pcd01.replacingOccurrences(of: "PID|||\(Fixtures.key(21).publicKey.hex)^^^MERIDIAN\r", with: "PID|||\(HL7Tests.patientHex)^^^MERIDIAN\r").utf8)
        let unknownPatient = Array(HL7Tests.pcd01.replacingOccurrences(of: "MSG00042", with: "MSG00043").utf8)   // its second PID is not registered
        let badValue = Array(HL7Tests.pcd01.replacingOccurrences(of: "MSG00042", with: "MSG00044").replacingOccurrences(of: "|94|", with: "|9x4|").utf8)
        let adt = Array(HL7Tests.pcd01.replacingOccurrences(of: "ORU^R01^ORU_R01", with: "ADT^A01").utf8)
        let acks = try await Self.exchange(port: port, [good, unknownPatient, badValue, adt, good].flatMap(MLLPDecoder.frame), expectACKs: 5)
        let codes = acks.map { $0.segments(named: "MSA")[0].value(1) }
        #expect(codes == ["AA", "AE", "AE", "AR", "AA"])
        #expect(acks.map { $0.segments(named: "MSA")[0].value(2) } == ["MSG00042", "MSG00043", "MSG00044", "MSG00042", "MSG00042"])
        #expect(acks[1].segments(named: "ERR")[0].value(3) == "204")
        #expect(acks[2].segments(named: "ERR")[0].value(2, component: 1) == "OBX" && acks[2].segments(named: "ERR")[0].value(3) == "102")
        // Stored once: the resent message is a duplicate, still acknowledged AA.
        let stored = try ingestor.store.batches(patient: Fixtures.patient.publicKey)
        #expect(stored.count == 2 && stored.map(\.readings.count).reduce(0, +) == 5, "two patient groups of one message, stored once")

        // A warning-only message (a rhythm row the node does not read): AA, with an ERR of severity W.
        let rhythm = Array(HL7Tests.pcd01.replacingOccurrences(of: "MSG00042", with: "MSG00045")
            .replacingOccurrences(of: "OBX|5|ST|80288-4^Level of consciousness^LN||A||||||F", with: "OBX|5|CWE|8884-9^Heart rhythm^LN||52753-4^Sinus rhythm^LN||||||F")
            .replacingOccurrences(of: "PID|||\(Fixtures.key(21).publicKey.hex)^^^MERIDIAN\r", with: "PID|||\(HL7Tests.patientHex)^^^MERIDIAN\r").utf8)
        let warned = try await Self.exchange(port: port, MLLPDecoder.frame(rhythm), expectACKs: 1)
        #expect(warned.first?.segments(named: "MSA").first?.value(1) == "AA")
        #expect(warned.first?.segments(named: "ERR").first?.value(4) == "W" && warned.first?.segments(named: "ERR").first?.value(2, component: 1) == "OBX")

        // Bytes that are not MLLP get an AR and the connection is closed.
        let garbage = try await Self.exchange(port: port, Array("GET / HTTP/1.1\r\n\r\n".utf8), expectACKs: 1)
        #expect(garbage.first?.segments(named: "MSA").first?.value(1) == "AR")
    }

    /// The listener's access rule is applied to each connection before a byte is read: a refused
    /// address gets no acknowledgement, its connection is closed.
    @Test func aConnectionTheRuleRefusesIsClosedUnread() async throws {
        let tmp = ReadingStoreTests.TempDB()
        let ingestor = try VitalsIngestorTests.ingestor(tmp)
        var logger = Logger(label: "mllp-test"); logger.logLevel = .critical
        let listener = MLLPListener(ingestor: ingestor, facility: "HOSP", logger: logger, admits: { _ in false })
        let (portStream, continuation) = AsyncStream<Int>.makeStream()
        let server = Task { try await listener.listen(host: "127.0.0.1", port: 0) { continuation.yield($0) } }
        defer { server.cancel() }
        var ports = portStream.makeAsyncIterator()
        let port = try #require(await ports.next())
        let acks = try await Self.exchange(port: port, MLLPDecoder.frame(Array(HL7Tests.pcd01.utf8)), expectACKs: 1)
        #expect(acks.isEmpty, "refused before reading: no ACK")
        #expect(try ingestor.store.batches(patient: Fixtures.patient.publicKey).isEmpty)
    }
}
