import Booking
import BookingFormats
import FastCGI
import Idempotency
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
    private let keys: IdempotencyKeys
    private let adminToken: [UInt8]?
    private let maximumBodyBytes: Int
    private let version: String
    private let metrics = RequestMetrics()
    private let logger: Logger

    /// - Parameters:
    ///   - reads: this responder's reader of the read model (one responder per thread).
    ///   - keys: the idempotency keys, on the desk's store connection.
    ///   - adminToken: the bearer token the business's endpoints require; nil refuses every caller.
    ///   - version: the server's, for `/healthz`.
    public init(
        desk: BookingDesk, reads: ReadModel.Reader, keys: IdempotencyKeys, adminToken: String?, maximumBodyBytes: Int, version: String,
        logger: Logger
    ) {
        self.desk = desk
        self.reads = reads
        self.keys = keys
        self.adminToken = adminToken.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.maximumBodyBytes = maximumBodyBytes
        self.version = version
        self.logger = logger
    }

    public func respond(to request: Request) -> Response {
        let started = ContinuousClock.now
        let route = Route(path: request.path)
        let response = answer(request, route)
        metrics.record(route, response, took: started.duration(to: .now))
        return response
    }

    private func answer(_ request: Request, _ route: Route?) -> Response {
        do {
            return try handle(request, route)
        } catch {
            if error.status >= 500 {
                logger.log(
                    level: error.status == 503 ? .warning : .error, "request failed",
                    metadata: [
                        "request_id": "\(Self.requestID(request))", "method": "\(request.method)", "path": "\(request.path)",
                        "status": "\(error.status)", "code": "\(error.code)", "reason": "\(error.message)",
                    ])
            }
            return Self.json(error.status, JSONBodies.error(error), headers: error.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
    }

    private func handle(_ request: Request, _ route: Route?) throws(APIError) -> Response {
        guard let route else { throw .notFound() }
        guard route.allowedMethods.contains(request.method) else { throw .methodNotAllowed(route.allowedMethods) }
        switch (route, request.method) {
        case (.health, _):
            let roundTrip = storeRoundTrip()
            return Self.json(
                roundTrip == nil ? 503 : 200,
                JSONBodies.health(backend: desk.backendName, version: version, roundTripMilliseconds: roundTrip),
                headers: roundTrip == nil ? [("Retry-After", "1")] : [])
        case (.readiness, _):
            if FastCGIServer.isDraining { return Self.json(503, JSONBodies.readiness("draining"), headers: [("Retry-After", "5")]) }
            guard storeRoundTrip() != nil else { return Self.json(503, JSONBodies.readiness("unavailable"), headers: [("Retry-After", "1")]) }
            return Self.json(200, JSONBodies.readiness("ready"))
        case (.services, "POST"):
            try authorize(request)
            let newService = try JSONBodies.newService(from: jsonBody(request))
            return try idempotent(request) { record throws(APIError) in
                try booking { () throws(BookingError) in try desk.createService(newService, recording: record) }
            } respond: { service in
                Self.json(201, ServiceJSON.service(service), headers: [("Location", "/services/" + Route.encodedSegment(service.service.id))])
            } changed: { service in
                reads.recordChange(.services)
                log("service created", request, ["service_id": .string(service.service.id)])
            }
        case (.services, _):
            let query = try QueryParameters(request.query)
            if let range = try Self.slotRange(query) {
                let body = ServiceJSON.services(try booking { () throws(BookingError) in try desk.services(within: range) })
                return Self.availability(request, body, gzip: false, entityTag: ReadModel.entityTag(of: body))
            }
            return try availability(request, key: "/services") { () throws(APIError) in
                ServiceJSON.services(try booking { () throws(BookingError) in try desk.services() }, fragment: reads.catalogFragment)
            }
        case (.service(let id), "PATCH"):
            try authorize(request)
            let patch = try jsonBody(request, mergePatch: true)
            let cancelling = try Self.cancellingBookings(request)
            let change = try changingService(id: id, request: request, event: "service changed") { stored throws(APIError) in
                let replacement = try JSONBodies.patchedService(stored.service, patch: patch)
                return try booking { () throws(BookingError) in
                    try desk.updateService(stored, to: replacement, cancellingHeldBookings: cancelling)
                }
            }
            guard let availability = change.availability else { throw .notFound() }
            return Self.json(200, ServiceJSON.service(availability))
        case (.service(let id), "DELETE"):
            try authorize(request)
            let cancelling = try Self.cancellingBookings(request)
            let change = try changingService(id: id, request: request, event: "service retired") { stored throws(APIError) in
                try booking { () throws(BookingError) in try desk.retireService(stored, cancellingHeldBookings: cancelling) }
            }
            return Self.json(200, JSONBodies.retired(serviceID: id, change))
        case (.service(let id), _):
            let query = try QueryParameters(request.query)
            if let range = try Self.slotRange(query) {
                let body = ServiceJSON.service(try booking { () throws(BookingError) in try desk.service(id: id, within: range) })
                return Self.availability(request, body, gzip: false, entityTag: ReadModel.entityTag(of: body))
            }
            return try availability(request, key: "/services/\(id)") { () throws(APIError) in
                ServiceJSON.service(try booking { () throws(BookingError) in try desk.service(id: id) })
            }
        case (.book, _):
            let bookingRequest = try JSONBodies.bookingRequest(from: jsonBody(request))
            return try idempotent(request) { record throws(APIError) in
                try booking { () throws(BookingError) in try desk.book(bookingRequest, recording: record) }
            } respond: { made in
                Self.json(
                    201,
                    BookingJSON.booking(
                        made.booking, contact: true, manageToken: made.manageToken, emailQueued: self.desk.emailsCustomer(of: made.booking)),
                    headers: [("Location", "/bookings/" + Route.encodedSegment(made.booking.id))])
            } changed: { made in
                reads.recordChange(.availability)
                log("booking created", request, made.booking)
            }
        case (.booking(let id), "DELETE"):
            let authority = try bookingAuthority(request)
            return try idempotent(request) { record throws(APIError) in
                try booking { () throws(BookingError) in try desk.cancel(id: id, by: authority, recording: record) }
            } respond: { cancelled in
                Self.json(200, BookingJSON.booking(cancelled, contact: true))
            } changed: { cancelled in
                reads.recordChange(.availability)
                log("booking cancelled", request, cancelled)
            }
        case (.booking(let id), _):
            guard request.headers["authorization"] != nil else {
                return Self.json(200, BookingJSON.booking(try booking { () throws(BookingError) in try desk.booking(id: id) }))
            }
            let authority = try bookingAuthority(request)
            return Self.json(
                200, BookingJSON.booking(try booking { () throws(BookingError) in try desk.booking(id: id, by: authority) }, contact: true))
        case (.reschedule(let id), _):
            let authority = try bookingAuthority(request)
            let slot = try JSONBodies.rescheduleSlot(from: jsonBody(request))
            return try idempotent(request) { record throws(APIError) in
                try booking { () throws(BookingError) in try desk.reschedule(id: id, to: slot, by: authority, recording: record) }
            } respond: { moved in
                Self.json(200, BookingJSON.booking(moved, contact: true))
            } changed: { moved in
                reads.recordChange(.availability)
                log("booking rescheduled", request, moved)
            }
        case (.bookings, _):
            try authorize(request)
            let query = try QueryParameters(request.query)
            let status = try query["status"].map { text throws(APIError) in
                guard let status = BookingStatus(rawValue: text) else { throw .invalidRequest("status must be confirmed or cancelled") }
                return status
            }
            let cursor = try query["page_token"].map { token throws(APIError) in
                try booking { () throws(BookingError) in try BookingCursor(token: token) }
            }
            let bookingQuery = BookingQuery(
                serviceID: query["service_id"], slots: try Self.slotRange(query) ?? TimeRange(), status: status,
                limit: try query.integer("limit") ?? BookingQuery.defaultLimit, after: cursor)
            let page = try booking { () throws(BookingError) in try desk.bookings(bookingQuery) }
            guard Self.prefersCSV(request.headers["accept"]) else { return Self.json(200, BookingJSON.bookings(page)) }
            return Response(
                status: 200,
                headers: [("Content-Type", "text/csv; charset=utf-8; header=present"), ("Cache-Control", "no-store")]
                    + (page.next.map { [("Next-Page-Token", $0.token)] } ?? []),
                body: BookingsCSV.document(page.bookings))
        }
    }

    /// How long the store took to answer a ping, in milliseconds, or nil when it did not.
    private func storeRoundTrip() -> Double? {
        let started = ContinuousClock.now
        do {
            try desk.checkHealth()
        } catch {
            return nil
        }
        let (seconds, attoseconds) = started.duration(to: .now).components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    /// Makes a change of the service `id` from its stored definition, again from a fresh read
    /// when the service changed meanwhile (up to five times), and records it in the read model.
    private func changingService(
        id: String, request: Request, event: String, change: (StoredService) throws(APIError) -> ServiceChange
    ) throws(APIError) -> ServiceChange {
        for attempt in 1...5 {
            let stored = try booking { () throws(BookingError) in try desk.storedService(id: id) }
            do {
                let made = try change(stored)
                reads.recordChange(.services)
                if !made.cancelled.isEmpty { reads.recordChange(.availability) }
                log(event, request, ["service_id": .string(id), "cancelled_bookings": .stringConvertible(made.cancelled.count)])
                for booking in made.cancelled { log("booking cancelled", request, booking) }
                return made
            } catch  where error.code == BookingError.serviceChanged.code && attempt < 5 {
                continue
            }
        }
        throw APIError(BookingError.serviceChanged)
    }

    /// Whether a change of a service may cancel the bookings it would leave without their slot
    /// or seat (`cancel_bookings=true`); `false` or absent: such a change is refused.
    private static func cancellingBookings(_ request: Request) throws(APIError) -> Bool {
        switch try QueryParameters(request.query)["cancel_bookings"] {
        case nil, "false": return false
        case "true": return true
        default: throw .invalidRequest("cancel_bookings must be true or false")
        }
    }

    /// The slots a listing is restricted to by its `from` and `to` parameters; nil when neither is given.
    private static func slotRange(_ query: QueryParameters) throws(APIError) -> TimeRange? {
        guard query.hasAny(of: ["from", "to"]) else { return nil }
        return TimeRange(from: try query.timestamp("from"), to: try query.timestamp("to"))
    }

    /// Whether the client asked for CSV (`Accept: text/csv`) rather than JSON.
    static func prefersCSV(_ accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { range in
            range.split(separator: ";").first.map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() == "text/csv" } ?? false
        }
    }

    /// Runs a change once per idempotency key (`Idempotency-Key`), or without one: a repeat of a
    /// request with its key gets the first response again (with `Idempotent-Replayed: true`).
    /// The change's response is kept in the change's own commit (`ChangeRecord`); an answer that
    /// changed nothing (a refusal, or a booking already cancelled) is kept after it. A failure of
    /// the service (5xx) keeps nothing and gives the key up, so that a repeat runs again; a
    /// request whose key a repeat took over meanwhile (its writes refused) answers as a repeat
    /// that finds its key in use does.
    /// `changed` runs after a change that this request committed, before its answer is sent.
    private func idempotent<Result>(
        _ request: Request, change: (ChangeRecord<Result>?) throws(APIError) -> Result, respond: @escaping (Result) -> Response,
        changed: (Result) -> Void
    ) throws(APIError) -> Response {
        guard let key = request.headers["idempotency-key"] else {
            let result = try change(nil)
            let response = respond(result)
            changed(result)
            return response
        }
        guard IdempotencyKeys.isValid(key) else { throw .invalidIdempotencyKey() }
        let claim: IdempotencyKeys.Claim
        switch try idempotency({ () throws(IdempotencyError) in
            try keys.start(key: key, caller: request.headers["authorization"] ?? "", request: Self.fingerprint(of: request))
        }) {
        case .replay(let kept):
            return Self.json(
                kept.status, kept.body, headers: [("Idempotent-Replayed", "true")] + (kept.location.map { [("Location", $0)] } ?? []))
        case .execute(let held):
            claim = held
        }
        var response: Response? = nil
        let record = ChangeRecord<Result> { result in
            let answer = respond(result)
            response = answer
            return [self.keys.completion(of: claim, with: Self.kept(answer))]
        }
        do {
            let result = try change(record)
            let answer = response ?? respond(result)
            changed(result)
            if !record.committed { try? keys.complete(claim, with: Self.kept(answer)) }
            return answer
        } catch {
            if error.status >= 500 {
                // Taken over by a repeat (this request outlived its lease, or was thought gone):
                // its writes were refused, and the repeat's answer is the one to get.
                guard keys.abandon(claim) else { throw APIError(IdempotencyError.inProgress) }
            } else {
                try? keys.complete(claim, with: KeptResponse(status: error.status, location: nil, body: JSONBodies.error(error)))
            }
            throw error
        }
    }

    /// Logs a change this request made: what happened and the ids it concerns, with the request's
    /// id (never names, contact details or tokens).
    private func log(_ event: String, _ request: Request, _ ids: Logger.Metadata) {
        var metadata = ids
        metadata["request_id"] = .string(Self.requestID(request))
        logger.info("\(event)", metadata: metadata)
    }

    /// Logs a change of `booking`: its id, service and slot.
    private func log(_ event: String, _ request: Request, _ booking: Booking) {
        log(event, request, ["booking_id": .string(booking.id), "service_id": .string(booking.serviceID), "slot": .stringConvertible(booking.slot)])
    }

    /// The id nginx gave the request (`X-Request-ID`, passed to the workers); `-` without one.
    static func requestID(_ request: Request) -> String {
        request.headers["x-request-id"].map { String($0.prefix(128)) } ?? "-"
    }

    /// What identifies a request for its idempotency key: method, path, caller and body.
    private static func fingerprint(of request: Request) -> [UInt8] {
        var material = Array("\(request.method)\u{0}\(request.path)\u{0}\(request.headers["authorization"] ?? "")\u{0}".utf8)
        if case .bytes(let body) = request.body { material += body }
        return material
    }

    private static func kept(_ response: Response) -> KeptResponse {
        KeptResponse(status: response.status, location: response.header("Location"), body: response.body)
    }

    private func idempotency<T>(_ operation: () throws(IdempotencyError) -> T) throws(APIError) -> T {
        do {
            return try operation()
        } catch {
            if case .storeFailure(let detail) = error { logger.error("store failure", metadata: ["detail": "\(detail)"]) }
            throw APIError(error)
        }
    }

    /// An availability body from the read model, in gzip for clients that accept it. A large
    /// body that has a file goes as the file's name, for nginx to send (it adds `Vary` and the
    /// file's `ETag`), unless the request has preconditions: nginx evaluates those for files,
    /// never for FastCGI responses, so such requests get the body (or 304) through FastCGI.
    private func availability(_ request: Request, key: String, build: () throws(APIError) -> [UInt8]) throws(APIError) -> Response {
        let accepted = Accepted(
            gzip: AcceptEncoding.acceptsGzip(request.headers["accept-encoding"]),
            file: !Self.preconditions.contains { request.headers[$0] != nil })
        switch try reads.body(for: key, accepting: accepted, build: build) {
        case .file(let uri):
            return Self.json(200, [], headers: [("X-Accel-Redirect", uri)], cacheControl: Self.revalidate)
        case .inline(let bytes, let gzip, let entityTag):
            return Self.availability(request, bytes, gzip: gzip, entityTag: entityTag)
        }
    }

    /// An availability body with its `ETag`, or 304 when `If-None-Match` names it (or is `*`).
    /// Stored by caches only to be revalidated (`no-cache`): what is free changes at any time.
    private static func availability(_ request: Request, _ body: [UInt8], gzip: Bool, entityTag: String) -> Response {
        let headers = [("ETag", entityTag), ("Vary", "Accept-Encoding")]
        if let tags = request.headers["if-none-match"], EntityTagList(tags).matches(entityTag) {
            return Response(status: 304, headers: [("Cache-Control", revalidate)] + headers, body: [])
        }
        return json(200, body, headers: headers + (gzip ? [("Content-Encoding", "gzip")] : []), cacheControl: revalidate)
    }

    private static let revalidate = "no-cache"

    private static let preconditions = ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]

    /// The body of a request that must carry JSON (or, for `mergePatch`, a JSON merge patch):
    /// 413 when too large, 415 when not JSON.
    private func jsonBody(_ request: Request, mergePatch: Bool = false) throws(APIError) -> [UInt8] {
        switch request.body {
        case .tooLarge: throw .payloadTooLarge(limit: maximumBodyBytes)
        case .bytes(let bytes):
            guard let type = request.contentType, Self.isJSON(type) || (mergePatch && Self.mediaType(type) == "application/merge-patch+json")
            else { throw .unsupportedMediaType() }
            return bytes
        }
    }

    /// `application/json`, with or without parameters such as `charset=utf-8`.
    static func isJSON(_ contentType: String) -> Bool {
        if contentType == "application/json" || contentType.hasPrefix("application/json;") { return true }
        return mediaType(contentType) == "application/json"
    }

    /// A Content-Type's media type, without parameters or white space, in lower case.
    private static func mediaType(_ contentType: String) -> String {
        contentType.prefix { $0 != ";" }.filter { $0 != " " && $0 != "\t" }.lowercased()
    }

    /// The bearer token of `Authorization`, if the header has that form.
    private static func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers["authorization"] else { return nil }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else { return nil }
        return String(header.dropFirst(prefix.count))
    }

    /// Requires the admin token.
    private func authorize(_ request: Request) throws(APIError) {
        guard let adminToken, let token = Self.bearerToken(request), constantTimeEqual(Array(token.utf8), adminToken) else {
            throw .unauthorized()
        }
    }

    /// Who the bearer token says the caller is: the admin, or whoever holds this token (which the
    /// booking rules compare with the booking's manage token). No token is 401.
    private func bookingAuthority(_ request: Request) throws(APIError) -> BookingAuthority {
        guard let token = Self.bearerToken(request), !token.isEmpty else { throw .unauthorized("manage token or admin token") }
        if let adminToken, constantTimeEqual(Array(token.utf8), adminToken) { return .admin }
        return .manageToken(token)
    }

    private func booking<T>(_ operation: () throws(BookingError) -> T) throws(APIError) -> T {
        do {
            return try operation()
        } catch {
            if case .storeFailure(let detail) = error { logger.error("store failure", metadata: ["detail": "\(detail)"]) }
            throw APIError(error)
        }
    }

    static func json(_ status: Int, _ body: [UInt8], headers: [(String, String)] = [], cacheControl: String = "no-store") -> Response {
        Response(
            status: status, headers: [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", cacheControl)] + headers,
            body: body)
    }
}
