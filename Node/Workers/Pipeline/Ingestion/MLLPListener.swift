public import NIOCore
import NIOPosix
public import NIOSSL
public import Logging
public import MeridianCore
import MeridianVitals
import MeridianIngest

/// HL7 v2 over MLLP (TCP), as a bedside-monitor gateway sends ORU^R01 under IHE PCD-01. Each
/// message on a connection is answered, in order, with an original-mode ACK: AA once its readings
/// are persisted; AE (content to fix, or the node busy: resend) or AR (not a message this node
/// takes) with an ERR segment saying what and where. A connection that sends bytes outside MLLP
/// framing, or a frame over the size limit, is answered with an AR and closed.
public struct MLLPListener: Sendable {
    let ingestor: VitalsIngestor
    let facility: String
    let logger: Logger
    /// Whether a connection from this address is read at all (the node's `ListenerAccess.mllp` rule).
    let admits: @Sendable (SocketAddress?) -> Bool
    /// TLS with client certificates (nil: plain TCP).
    let tls: TLS?
    /// Bound on one framed message (a monitor's ORU is a few kilobytes).
    public static let maxMessageBytes = 256 * 1024

    /// MLLP over TLS: the server context (which requires a client certificate) and the registered
    /// senders, SHA-256 of the certificate's DER (hex) → feed name. A handshake whose client
    /// certificate is not registered fails before any HL7 is read.
    public struct TLS: Sendable {
        public let context: NIOSSLContext
        public let senders: [String: String]
        public init(context: NIOSSLContext, senders: [String: String]) { self.context = context; self.senders = senders }

        /// SHA-256 of a certificate's DER encoding, lower-case hex (`openssl x509 -outform der | sha256sum`).
        public static func fingerprint(_ certificate: NIOSSLCertificate) throws -> String {
            SHA256.hash(try certificate.toDERBytes()).hex
        }

        /// The feed a client certificate is registered for, if any.
        public func sender(of certificate: NIOSSLCertificate?) -> String? {
            guard let certificate else { return nil }
            // A certificate that cannot be re-encoded is no registered sender: refused.
            do { return senders[try Self.fingerprint(certificate)] } catch { return nil }
        }
    }

    public init(ingestor: VitalsIngestor, facility: String, logger: Logger, tls: TLS? = nil, admits: @escaping @Sendable (SocketAddress?) -> Bool = { _ in true }) {
        self.ingestor = ingestor; self.facility = facility; self.logger = logger; self.tls = tls; self.admits = admits
    }

    /// Listens on host:port (0: any free port), calls `bound` with the port, and serves until cancelled.
    public func listen(host: String, port: Int, bound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { [tls, logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let remote = channel.remoteAddress
                        // The client's certificate is checked here, during the handshake: only a
                        // registered sender's completes it.
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context) { certificates, promise in
                            if let feed = tls.sender(of: certificates.first) {
                                logger.debug("MLLP sender authenticated", metadata: ["feed": "\(feed)"])
                                promise.succeed(.certificateVerified)
                            } else {
                                logger.warning("MLLP connection refused: its client certificate is not registered for a feed", metadata: ["remote": "\(remote.map { "\($0)" } ?? "unknown")"])
                                promise.succeed(.failed)
                            }
                        })
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        bound(server.channel.localAddress?.port ?? port)
        try await withThrowingDiscardingTaskGroup { tasks in
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    let remote = connection.channel.remoteAddress
                    guard admits(remote) else {
                        // Refused before a byte is read: closed, and said in the log.
                        logger.warning("MLLP connection refused by the listener's access rule", metadata: ["remote": "\(remote.map { "\($0)" } ?? "unknown")"])
                        tasks.addTask {
                            do { try await connection.executeThenClose { _, _ in } }   // closes it (an async channel must be closed through it)
                            catch { logger.debug("MLLP: closing a refused connection", metadata: ["error": "\(error)"]) }
                        }
                        continue
                    }
                    tasks.addTask { await self.serve(connection) }
                }
            }
        }
    }

    func serve(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        var decoder = MLLPDecoder(maxMessageBytes: Self.maxMessageBytes)
        var acknowledged = 0
        do {
            try await channel.executeThenClose { inbound, outbound in
                for try await buffer in inbound {
                    let messages: [[UInt8]]
                    do throws(VitalsError) { messages = try decoder.feed(buffer.readableBytesView) }
                    catch {
                        // Not MLLP, or a frame too large: say so once, then close.
                        let ack = Acknowledgement.build(for: nil, code: .reject, error: HL7Error(.applicationError, reason: error.description),
                                                        sendingFacility: facility, now: ingestor.now(), ackID: "\(acknowledged + 1)")
                        try await outbound.write(ByteBuffer(bytes: MLLPDecoder.frame(ack)))
                        return
                    }
                    for m in messages {
                        acknowledged += 1
                        let ack = await acknowledge(m, ackID: "\(acknowledged)")
                        try await outbound.write(ByteBuffer(bytes: MLLPDecoder.frame(ack)))
                    }
                }
            }
        } catch {
            logger.debug("MLLP connection closed", metadata: ["error": "\(error)"])
        }
    }

    /// Parses, ingests and builds the acknowledgement of one message.
    public func acknowledge(_ bytes: [UInt8], ackID: String) async -> [UInt8] {
        let now = ingestor.now()
        let message: HL7Message
        do throws(HL7Error) { message = try HL7Message(parsing: bytes) }
        catch { return Acknowledgement.build(for: nil, code: .reject, error: error, sendingFacility: facility, now: now, ackID: ackID) }
        let read: ObservationResult.Result
        do throws(HL7Error) { read = try ObservationResult.read(message) }
        catch { return Acknowledgement.build(for: message, code: error.code.rejects ? .reject : .error, error: error, sendingFacility: facility, now: now, ackID: ackID) }
        let batches = read.batches
        let outcomes: [VitalsIngestor.Outcome]
        do { outcomes = try await ingestor.ingest(feedBatches: batches) }
        catch {
            logger.error("MLLP: readings could not be stored", metadata: ["error": "\(error)"])
            return Acknowledgement.build(for: message, code: .error, error: HL7Error(.applicationError, reason: "storage failed; resend"), sendingFacility: facility, now: now, ackID: ackID)
        }
        if let refused = outcomes.first(where: { $0.status == .refused }) {
            let reason = refused.reason ?? "refused"
            let code: HL7Error.Code = reason.hasPrefix("vitals.unknown_patient") ? .unknownKey : .applicationError
            return Acknowledgement.build(for: message, code: .error, error: HL7Error(code, location: code == .unknownKey ? "PID-3" : "", reason: reason),
                                         sendingFacility: facility, now: now, ackID: ackID)
        }
        if outcomes.contains(where: { $0.status == .busy }) {
            return Acknowledgement.build(for: message, code: .error, error: HL7Error(.applicationError, reason: "vitals.busy: the node is busy; resend later"),
                                         sendingFacility: facility, now: now, ackID: ackID)
        }
        return Acknowledgement.build(for: message, code: .accept, error: nil, warnings: read.warnings, unnamedWarnings: read.skipped - read.warnings.count,
                                     sendingFacility: facility, now: now, ackID: ackID)
    }

}
