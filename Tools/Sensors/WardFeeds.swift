// The hospital side of the simulation: the ward's systems that send vital signs in the other
// formats a node takes (a FHIR feed, an HL7 v2 bedside-monitor gateway over MLLP, a Holter
// recorder's WFDB record), and a clinician at the receiving hospital watching its alert stream.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Synchronization
import NIOCore
import NIOPosix
import NIOSSL
import HummingbirdWSClient
import MeridianCore
import MeridianModules
import MeridianClient
import HTTPTypes
import MeridianDemo
import MeridianVitals
import MeridianIngest

/// A FHIR R4 Bundle (collection) of vital-signs Observations, as the ward's EHR sends them.
func fhirBundle(_ readings: [VitalReading], patient: PublicKey, idPrefix: String) -> [UInt8] {
    let entries = readings.enumerated().map { i, r in
        "{\"resource\":" + String(decoding: FHIRObservation.encode(r, patient: patient, id: "\(idPrefix)-\(i)"), as: UTF8.self) + "}"
    }
    return Array("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[\(entries.joined(separator: ","))]}".utf8)
}

/// An HL7 v2.6 ORU^R01 from a bedside-monitor gateway (IHE PCD-01 style): one OBX per reading,
/// MDC codes, UCUM units. `garble` writes a non-numeric value into the first OBX (answered AE).
func oruMessage(_ readings: [VitalReading], patient: PublicKey, controlID: String, garble: Bool) -> [UInt8] {
    func hl7Time(_ t: Timestamp) -> String {
        let f = DateFormatter(); f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyyMMddHHmmss"
        return f.string(from: Date(timeIntervalSince1970: Double(t.unixMilliseconds) / 1000)) + "+0000"
    }
    let time = hl7Time(readings.first?.time ?? .zero)
    var m = "MSH|^~\\&|MONITOR-GW|WARD7|MERIDIAN|HOSPITAL|\(time)||ORU^R01^ORU_R01|\(controlID)|P|2.6|||NE|AL||UNICODE UTF-8|||PCD_DEC_001\r"
    m += "PID|||\(patient.hex)^^^MERIDIAN\rOBR|1|\(controlID)|\(controlID)|182777000^monitoring of patient^SCT|||\(time)\r"
    for (k, r) in readings.enumerated() {
        let value = garble && k == 0 ? "n/a" : r.value.description
        m += "OBX|\(k + 1)|NM|\(r.sign.mdcCodes.first ?? 0)^MDC^MDC|1.1.1.\(k)|\(value)|\(r.sign.canonicalUnit)^\(r.sign.canonicalUnit)^UCUM|||||F|||\(time)\r"
    }
    return Array(m.utf8)
}

/// One MLLP connection to the node's HL7 listener: sends a message, waits for its acknowledgement
/// and returns MSA-1 (AA, AE or AR).
final class MLLPConnection {
    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var decoder = MLLPDecoder()
    private var pending: [[UInt8]] = []

    /// Plain TCP, or TLS with `tls` (a client certificate the node has registered for the feed,
    /// and the CA the node's certificate must chain to).
    init(address: String, tls: TLSConfiguration? = nil) async throws {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw SensorsError("MLLP address '\(address)': expected HOST:PORT") }
        let host = String(parts[0])
        let context = try tls.map { try NIOSSLContext(configuration: $0) }
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: port) { ch in
            ch.eventLoop.makeCompletedFuture {
                if let context {
                    // An IP address is checked against the certificate's IP names (SNI carries host names only).
                    let isIP = host.allSatisfy { $0.isNumber || $0 == "." } || host.contains(":")
                    try ch.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: isIP ? nil : host))
                }
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch)
            }
        }
        inbound = channel.inbound.makeAsyncIterator()
        outbound = channel.outbound
    }

    func send(_ message: [UInt8]) async throws -> String {
        try await outbound.write(ByteBuffer(bytes: MLLPDecoder.frame(message)))
        while pending.isEmpty {
            guard let chunk = try await inbound.next() else { throw SensorsError("the MLLP listener closed the connection") }
            pending += try decoder.feed(chunk.readableBytesView)
        }
        let ack = try HL7Message(parsing: pending.removeFirst())
        guard let msa = ack.segments.first(where: { $0.name == "MSA" }) else { throw SensorsError("an acknowledgement without MSA") }
        return msa.value(1)
    }

    func close() async { outbound.finish() }
}

/// A Holter recorder's ECG as a WFDB record (header and format-212 signal file), 360 Hz, one lead:
/// a synthetic beat train at `heartRate`. Returned as the files' contents.
func holterRecord(name: String, seconds: Int, heartRate: Int) -> (header: String, signal: [UInt8]) {
    let frequency = 360, count = seconds * frequency
    var samples: [Int] = []
    samples.reserveCapacity(count)
    let beat = frequency * 60 / heartRate
    for i in 0..<count {
        let phase = i % beat
        // A narrow QRS spike on a small baseline wave, in ADC units (gain 200/mV, zero 0).
        let qrs = phase < 8 ? [0, 40, 160, 220, 120, -60, -20, 0][phase] : 0
        let t = phase > beat / 3 && phase < beat / 3 + 40 ? 30 : 0
        samples.append(qrs + t)
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count * 3 / 2 + 3)
    // Format 212: two 12-bit two's-complement samples in three bytes.
    for pair in stride(from: 0, to: count, by: 2) {
        let a = samples[pair] & 0xFFF, b = (pair + 1 < count ? samples[pair + 1] : 0) & 0xFFF
        bytes += [UInt8(a & 0xFF), UInt8((a >> 8) | ((b >> 4) & 0xF0)), UInt8(b & 0xFF)]
    }
    let checksum = Int(Int16(truncatingIfNeeded: samples.reduce(0, +)))   // the 16-bit sum, as WFDB writes it
    let header = "\(name) 1 \(frequency) \(count)\n\(name).dat 212 200 12 0 \(samples[0]) \(checksum) 0 MLII\n"
    return (header, bytes)
}

/// A clinician of `hospital` watching its alert stream (`/v1/alerts`, a request signed with the
/// clinician's key):
/// prints each alert as it arrives and counts them.
final class AlertWatch: Sendable {
    private final class Lines: Sendable { let lines = Mutex<[String]>([]) }
    private let received = Lines()
    private let task: Task<Void, any Error>

    init(node: URL, ca: String?, hospital: String, clinician: PrivateKey) throws {
        guard let organization = OrganizationID(hospital) else { throw SensorsError("no alert stream for \(hospital) at \(node)") }
        let received = self.received
        var logger = Logger(label: "meridian-sensors"); logger.logLevel = .warning
        let path = "/v1/alerts?organization=\(organization.value)"
        let client = try NodeClient(node.absoluteString, ca: ca).signed(by: clinician)
        task = Task {
            var headers = HTTPFields()
            for (name, value) in try await client.signatureHeaders("GET", path, body: nil) { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
            _ = try await WebSocketClient.connect(url: client.webSocketURL(path), configuration: WebSocketClientConfiguration(additionalHeaders: headers),
                                                  tlsConfiguration: try client.tlsConfiguration(), logger: logger) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    struct A: Decodable { let patient: String; let news2: Int; let band: String; let reasons: [String]; let modelRisk: Double? }
                    guard let a = try? JSONDecoder().decode(A.self, from: Data(text.utf8)) else { continue }
                    let line = "alert     -> \(hospital) (WebSocket): \(a.patient.prefix(20))…  NEWS2 \(a.news2) (\(a.band)), \(a.reasons.joined(separator: ", "))"
                        + (a.modelRisk.map { String(format: ", 10-year CVD risk %.0f%%", $0 * 100) } ?? "")
                    print(line)
                    received.lines.withLock { $0.append(line) }
                }
            }
        }
    }

    var count: Int { received.lines.withLock { $0.count } }
    func stop() { task.cancel() }
}

struct SensorsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
