import Booking
import FastCGI
import Logging
import ReadModel

/// The booking API over HTTP: routes a request to its handler, turns JSON into booking
/// calls and their results (or refusals) back into JSON responses.
///
/// Reads go through the read model; every mutation records its change there after the booking
/// rules committed it and before its 2xx is written (one `reads.recordChange` line per route).
public final class BookingResponder: Responder {
    private let desk: BookingDesk
    private let reads: ReadModel.Reader
    private let adminToken: [UInt8]?
    private let maximumBodyBytes: Int
    private let logger: Logger

    /// - Parameters:
    ///   - reads: this responder's reader of the read model (one responder per thread).
    ///   - adminToken: the bearer token `POST /services` requires; nil refuses every caller.
    public init(desk: BookingDesk, reads: ReadModel.Reader, adminToken: String?, maximumBodyBytes: Int, logger: Logger) {
        self.desk = desk
        self.reads = reads
        self.adminToken = adminToken.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.maximumBodyBytes = maximumBodyBytes
        self.logger = logger
    }

    public func respond(to request: Request) -> Response {
        do {
            return try handle(request)
        } catch {
            if error.status >= 500 {
                logger.log(
                    level: error.status == 503 ? .warning : .error, "request failed",
                    metadata: ["path": "\(request.path)", "code": "\(error.code)", "message": "\(error.message)"])
            }
            return Self.json(error.status, JSONBodies.error(error), headers: error.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
    }

    private func handle(_ request: Request) throws(APIError) -> Response {
        guard let route = Route(path: request.path) else { throw .notFound() }
        guard route.allowedMethods.contains(request.method) else { throw .methodNotAllowed(route.allowedMethods) }
        switch (route, request.method) {
        case (.health, _):
            do {
                try desk.checkHealth()
                return Self.json(200, JSONBodies.health(backend: desk.backendName, healthy: true))
            } catch {
                return Self.json(503, JSONBodies.health(backend: desk.backendName, healthy: false), headers: [("Retry-After", "1")])
            }
        case (.services, "POST"):
            try authorize(request)
            let newService = try JSONBodies.newService(from: jsonBody(request))
            let service = try booking { () throws(BookingError) in try desk.createService(newService) }
            reads.recordChange(.services)
            return Self.json(201, JSONBodies.service(service), headers: [("Location", "/services/\(service.service.id)")])
        case (.services, _):
            return try availability(request, key: "/services") { () throws(APIError) in
                JSONBodies.services(try booking { () throws(BookingError) in try desk.services() })
            }
        case (.service(let id), _):
            return try availability(request, key: "/services/\(id)") { () throws(APIError) in
                JSONBodies.service(try booking { () throws(BookingError) in try desk.service(id: id) })
            }
        case (.book, _):
            let bookingRequest = try JSONBodies.bookingRequest(from: jsonBody(request))
            let booking = try booking { () throws(BookingError) in try desk.book(bookingRequest) }
            reads.recordChange(.availability)
            return Self.json(201, JSONBodies.booking(booking), headers: [("Location", "/bookings/\(booking.id)")])
        case (.booking(let id), _):
            return Self.json(200, JSONBodies.booking(try booking { () throws(BookingError) in try desk.booking(id: id) }))
        }
    }

    /// An availability body from the read model, in gzip for clients that accept it. A large
    /// body that has a file goes as the file's name, for nginx to send (it adds `Vary`), unless
    /// the request has preconditions: nginx evaluates those for files, never for FastCGI
    /// responses, so such requests get the body through FastCGI and the same answer as always.
    private func availability(_ request: Request, key: String, build: () throws(APIError) -> [UInt8]) throws(APIError) -> Response {
        let accepted = Accepted(
            gzip: AcceptEncoding.acceptsGzip(request.headers["accept-encoding"]),
            file: !Self.preconditions.contains { request.headers[$0] != nil })
        switch try reads.body(for: key, accepting: accepted, build: build) {
        case .file(let uri):
            return Self.json(200, [], headers: [("X-Accel-Redirect", uri)])
        case .inline(let bytes, let gzip):
            return Self.json(200, bytes, headers: [("Vary", "Accept-Encoding")] + (gzip ? [("Content-Encoding", "gzip")] : []))
        }
    }

    private static let preconditions = ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]

    /// The body of a request that must carry JSON: 413 when too large, 415 when not JSON.
    private func jsonBody(_ request: Request) throws(APIError) -> [UInt8] {
        switch request.body {
        case .tooLarge: throw .payloadTooLarge(limit: maximumBodyBytes)
        case .bytes(let bytes):
            guard let type = request.contentType, Self.isJSON(type) else { throw .unsupportedMediaType() }
            return bytes
        }
    }

    /// `application/json`, with or without parameters such as `charset=utf-8`.
    static func isJSON(_ contentType: String) -> Bool {
        if contentType == "application/json" || contentType.hasPrefix("application/json;") { return true }
        let mediaType = contentType.prefix { $0 != ";" }.filter { $0 != " " && $0 != "\t" }.lowercased()
        return mediaType == "application/json"
    }

    private func authorize(_ request: Request) throws(APIError) {
        guard let adminToken, let header = request.headers["authorization"] else { throw .unauthorized() }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix,
            Self.constantTimeEqual(Array(header.dropFirst(prefix.count).utf8), adminToken)
        else { throw .unauthorized() }
    }

    /// Compares without an early exit, so the time taken does not reveal how much matched.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
        for index in 0..<max(lhs.count, rhs.count) {
            difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
        }
        return difference == 0
    }

    private func booking<T>(_ operation: () throws(BookingError) -> T) throws(APIError) -> T {
        do {
            return try operation()
        } catch {
            if case .storeFailure(let detail) = error { logger.error("store failure", metadata: ["detail": "\(detail)"]) }
            throw APIError(error)
        }
    }

    static func json(_ status: Int, _ body: [UInt8], headers: [(String, String)] = []) -> Response {
        Response(
            status: status, headers: [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store")] + headers,
            body: body)
    }
}
