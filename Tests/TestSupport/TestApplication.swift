import BookingAPI
import BookingApplication
import DocumentStore
import FastCGI
import JSON
import Logging
import ReadModel

/// The application as the server composes it, on an in-memory store with hand-stepped clocks.
public struct TestApplication {
    public let clock: ManualClock
    public let database: MemoryDatabase
    public let application: Application
    public let responder: BookingResponder

    public init(
        settings: Application.Settings = Application.Settings(adminToken: "admin", maximumBodyBytes: 1024),
        clock: ManualClock = ManualClock()
    ) {
        self.clock = clock
        let database = MemoryDatabase(clock: { clock.now() })
        self.database = database
        application = Application(
            settings: settings, makeStore: { database.makeStore() }, now: { clock.now() },
            readClock: clock.readClock, logger: Logger(label: "test"))
        responder = application.makeResponder()
    }

    /// Sends a request to this thread's responder; a query string in `path` goes as the query.
    public func send(
        _ method: String, _ path: String, json: String? = nil, contentType: String? = "application/json",
        headers: [String: String] = [:]
    ) -> Response {
        let parts = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return responder.respond(
            to: Request(
                method: method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "", headers: headers,
                contentType: json == nil ? nil : contentType, body: .bytes(Array((json ?? "").utf8))))
    }
}

/// The error code of a response in the API's one error shape (`{"error": {"code", "message"}}`
/// with a JSON content type and a message); nil when it is not that shape.
public func errorCode(of response: Response) -> String? {
    guard response.header("Content-Type") == "application/json; charset=utf-8",
        case .object(let top)? = try? JSONParser.parse(response.body), top.count == 1, case .object(let error)? = top["error"],
        error.count == 2, case .string(let code)? = error["code"], case .string(let message)? = error["message"], !message.isEmpty
    else { return nil }
    return code
}
