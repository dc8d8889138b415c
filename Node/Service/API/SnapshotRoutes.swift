import Foundation
public import Hummingbird
import NIOCore
import MeridianCore
import MeridianState

/// State snapshots for nodes joining by state sync (`SnapshotService`, `StateSyncer`). Signed by
/// another node of the network only: a snapshot is the whole state, every patient's pseudonymous
/// audit trail in it.
extension NodeAPI {
    func snapshotRoutes() -> [Route] {
        [
            .signed(.get, "v1/snapshots", .networkNode) { _, _, _ in
                struct List: Encodable { let snapshots: [SnapshotService.Offer] }
                return try json(List(snapshots: try snapshots().offers()))
            },
            .signed(.get, "v1/snapshots/:height/chunks/:index", .networkNode) { _, context, _ in
                let height = try pathInteger(context.parameters.require("height"), "height", 1...UInt64.max)
                let index = try pathInteger(context.parameters.require("index"), "index", 0...UInt64(1 << StateSnapshot.maxDepth) - 1)
                let chunk: StateSnapshot.Chunk
                do { chunk = try snapshots().chunk(at: height, index: Int(index)) }
                catch let e as SnapshotUnavailable { throw APIError(.notFound, "snapshot.not_served", e.description) }
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: chunk.canonicalBytes)))
            },
            .signed(.get, "v1/snapshots/:height/auditlog/:part", .networkNode) { _, context, _ in
                let height = try pathInteger(context.parameters.require("height"), "height", 1...UInt64.max)
                let part = try pathInteger(context.parameters.require("part"), "part", 0...UInt64(Int32.max))
                let bytes: [UInt8]
                do { bytes = try snapshots().auditLog(at: height, part: Int(part)) }
                catch let e as SnapshotUnavailable { throw APIError(.notFound, "snapshot.not_served", e.description) }
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            },
        ]
    }

    func snapshots() throws(APIError) -> SnapshotService {
        guard let s = services.snapshots else { throw APIError(.notFound, "snapshot.not_served", "this node serves no snapshots") }
        return s
    }

    func pathInteger(_ text: String, _ name: String, _ range: ClosedRange<UInt64>) throws(APIError) -> UInt64 {
        guard let v = UInt64(text), range.contains(v) else { throw APIError.badRequest("\(name).invalid", "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)") }
        return v
    }
}
