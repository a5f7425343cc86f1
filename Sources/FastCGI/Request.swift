/// One request as the web server passed it over FastCGI.
public struct Request: Sendable {
    public enum Body: Sendable, Equatable {
        case bytes([UInt8])
        /// The declared body is larger than the configured limit; it was not read.
        case tooLarge(declaredLength: Int)

        var wasLeftUnread: Bool {
            if case .tooLarge = self { return true }
            return false
        }
    }

    public let method: String
    /// The decoded path without the query string (nginx's `DOCUMENT_URI`).
    public let path: String
    public let query: String
    /// Request headers by lower-case name with dashes (`authorization`, `x-request-id`).
    public let headers: [String: String]
    public let contentType: String?
    public let body: Body

    public init(
        method: String, path: String, query: String = "", headers: [String: String] = [:],
        contentType: String? = nil, body: Body = .bytes([])
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.contentType = contentType
        self.body = body
    }
}

/// What to send back: a status, headers and a body.
public struct Response: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// RFC 9110's reason phrase for `status`: nginx copies it into its HTTP/1.1 status line, and
    /// strict clients refuse a status line without one.
    static func reasonPhrase(of status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 422: "Unprocessable Content"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error"
        }
    }

    /// The CGI response head: the `Status:` line and the headers, up to the blank line. Appended
    /// piece by piece, not through string interpolation: every response has one.
    func head() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        output.append(contentsOf: "Status: ".utf8)
        output.append(contentsOf: String(status).utf8)  // small strings: no allocation
        output.append(UInt8(ascii: " "))
        output.append(contentsOf: Self.reasonPhrase(of: status).utf8)
        output.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            output.append(contentsOf: name.utf8)
            output.append(contentsOf: ": ".utf8)
            output.append(contentsOf: value.utf8)
            output.append(contentsOf: "\r\n".utf8)
        }
        output.append(contentsOf: "Content-Length: ".utf8)
        output.append(contentsOf: String(body.count).utf8)
        output.append(contentsOf: "\r\n\r\n".utf8)
        return output
    }
}

/// Answers requests. Each worker thread makes its own responder, so an implementation may
/// hold per-thread state such as a database connection without locking.
public protocol Responder {
    func respond(to request: Request) -> Response
}
