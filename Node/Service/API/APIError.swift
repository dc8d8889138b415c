import Foundation
public import Hummingbird
import MeridianCore
import MeridianModules
import MeridianMempool

/// An API error: HTTP status, a stable code and a message, rendered as
/// `{"error": {"code": "...", "message": "..."}}`. Bad input is always a 4xx.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status; self.code = code; self.message = message
    }

    public static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    public static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", "\(what) not found") }

    struct Body: Encodable { let error: Inner; struct Inner: Encodable { let code: String; let message: String } }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(Body(error: .init(code: code, message: message)))
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Turns every error into a JSON error response: framework errors keep their status, runtime
/// errors become 400 with their code, and nothing escapes as a bare 500 without a body.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            throw e
        } catch let e as HTTPError {
            let code = e.status == .notFound ? "not_found" : "http.\(e.status.code)"
            throw APIError(e.status, code, e.body ?? e.status.reasonPhrase)
        } catch let e as RuntimeError {
            throw APIError(.badRequest, e.code, e.message)
        } catch let e as CodecError {
            throw APIError(.badRequest, e.code.rawValue, e.description)
        } catch let e as AdmissionError {
            throw APIError(e.code.hasPrefix("mempool.") ? .serviceUnavailable : .badRequest, e.code, e.message)
        } catch let e as DecodingError {
            throw APIError(.badRequest, "json.invalid", "\(e)")
        } catch let e as any HTTPResponseError {
            throw APIError(e.status, "http.\(e.status.code)", e.status.reasonPhrase)
        } catch {
            throw APIError(.internalServerError, "internal", "\(error)")
        }
    }
}
