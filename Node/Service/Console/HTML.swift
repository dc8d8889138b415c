import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import MeridianCore

/// Server-rendered HTML for the console. Written by hand rather than with a template engine: the
/// pages are small, every dynamic value goes through `escape` (one rule, easy to review), and the
/// node gains no template parser to keep safe. Nothing here runs in the browser.
enum HTML {
    /// Text for an HTML text node or a quoted attribute value (control characters, which could hide
    /// text, shown as U+FFFD).
    static func escape(_ s: String) -> String { MarkupEscape.text(s, apostrophe: true, replacingControls: true) }

    /// A query string from (name, value) pairs, percent-encoded.
    static func query(_ items: [(String, String)]) -> String {
        var c = URLComponents()
        c.queryItems = items.map { URLQueryItem(name: $0.0, value: $0.1) }
        return c.percentEncodedQuery ?? ""
    }

    /// A table with a caption, column headers (scope=col) and rows of already-escaped cells. A
    /// `liveBody` id keeps the table even when empty (a live view adds rows to that `tbody`).
    static func table(caption: String, headers: [String], rows: [[String]], empty: String = "Nothing to show.", liveBody: String? = nil) -> String {
        let emptyNote = "<p class=\"empty\"\(liveBody == nil ? "" : " id=\"\(liveBody!)-empty\"")>\(escape(empty))</p>"
        guard !rows.isEmpty || liveBody != nil else { return emptyNote }
        var s = "<div class=\"table-scroll\" tabindex=\"0\" role=\"region\" aria-label=\"\(escape(caption))\"><table><caption>\(escape(caption))</caption><thead><tr>"
        for h in headers { s += "<th scope=\"col\">\(escape(h))</th>" }
        s += liveBody.map { "</tr></thead><tbody id=\"\($0)\" aria-live=\"polite\">" } ?? "</tr></thead><tbody>"
        for r in rows { s += "<tr>" + r.map { "<td>\($0)</td>" }.joined() + "</tr>" }
        return s + "</tbody></table></div>" + (rows.isEmpty ? emptyNote : "")
    }

    /// A definition list of (term, escaped value).
    static func facts(_ items: [(String, String)]) -> String {
        "<dl class=\"facts\">" + items.map { "<dt>\(escape($0.0))</dt><dd>\($0.1)</dd>" }.joined() + "</dl>"
    }

    static func link(_ href: String, _ text: String) -> String { "<a href=\"\(escape(href))\">\(escape(text))</a>" }

    /// A shortened hex value with the whole value as its accessible name.
    static func short(_ hex: String, _ n: Int = 12) -> String {
        hex.count <= n ? "<code>\(escape(hex))</code>" : "<code title=\"\(escape(hex))\">\(escape(String(hex.prefix(n))))…</code>"
    }
}

/// The headers every console response carries: no caching of personal data, no framing, no
/// script or style from anywhere but the node itself.
enum ConsoleHeaders {
    static let securityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func apply(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] = securityPolicy
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
    }

    static func html(_ body: String, status: HTTPResponse.Status = .ok, extra: [HTTPField] = []) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        apply(&headers)
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func file(_ bytes: [UInt8], contentType: String, status: HTTPResponse.Status = .ok, download: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: contentType]
        apply(&headers)
        if let download { headers[.contentDisposition] = "attachment; filename=\"\(download)\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func redirect(_ location: String, extra: [HTTPField] = []) -> Response {
        var headers: HTTPFields = [.location: location]
        apply(&headers)
        headers.append(contentsOf: extra)
        return Response(status: .seeOther, headers: headers)
    }

    /// A `Set-Cookie` for the console's path: HttpOnly, SameSite=Strict, and Secure when the node
    /// serves HTTPS (the browser then never sends it in the clear); `maxAge` 0 deletes it.
    static func cookie(_ name: String, _ value: String, maxAge: Int, secure: Bool) -> HTTPField {
        HTTPField(name: .setCookie, value: "\(name)=\(value); Path=/console; Max-Age=\(maxAge); HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")")
    }

    /// The value of one cookie in a `Cookie` header (for the WebSocket upgrade, which has no `Request`).
    static func cookie(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == name { return String(kv[1]).trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}
