import TextEncodings

/// The API's endpoints, matched from a request path.
public enum Route: Equatable, Sendable {
    case health
    case readiness
    case services
    case service(id: String)
    case book
    case bookings
    case booking(id: String)
    case reschedule(bookingID: String)

    /// The route for `path`, or nil when no endpoint has that path. Compared on the path's bytes,
    /// without splitting it: every request comes this way.
    public init?(path: String) {
        switch path {
        case "/healthz": self = .health
        case "/readyz": self = .readiness
        case "/services": self = .services
        case "/book": self = .book
        case "/bookings": self = .bookings
        default:
            if let id = Self.segment(of: path, after: "/services/") {
                self = .service(id: id)
            } else if let id = Self.segment(of: path, after: "/bookings/") {
                self = .booking(id: id)
            } else if let id = Self.segment(of: path, after: "/bookings/", before: "/reschedule") {
                self = .reschedule(bookingID: id)
            } else {
                return nil
            }
        }
    }

    /// What lies between `prefix` and `suffix` in `path`, when that is one non-empty segment (no
    /// `/`), byte for byte.
    private static func segment(of path: String, after prefix: String, before suffix: String = "") -> String? {
        guard path.utf8.starts(with: prefix.utf8), path.utf8.reversed().starts(with: suffix.utf8.reversed()) else { return nil }
        let rest = path.utf8.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count)
        guard !rest.isEmpty, !rest.contains(UInt8(ascii: "/")) else { return nil }
        return String(Substring(rest))
    }

    /// `id` as one path segment, percent-encoded (RFC 3986: every byte but letters, digits and
    /// `-._~`), for a `Location` header: ids may hold spaces and any other character but `/`.
    public static func encodedSegment(_ id: String) -> String { PercentEncoding.encode(id) }

    /// The methods the endpoint answers; HEAD goes wherever GET does.
    public var allowedMethods: [String] {
        switch self {
        case .health, .readiness, .bookings: ["GET", "HEAD"]
        case .service: ["GET", "HEAD", "PATCH", "DELETE"]
        case .services: ["GET", "HEAD", "POST"]
        case .booking: ["GET", "HEAD", "DELETE"]
        case .book, .reschedule: ["POST"]
        }
    }

    /// The number of `index` values: one per endpoint.
    public static let count = 8

    /// The endpoint's place among them, for per-endpoint arrays (no hashing per request).
    public var index: Int {
        switch self {
        case .health: 0
        case .readiness: 1
        case .services: 2
        case .service: 3
        case .book: 4
        case .bookings: 5
        case .booking: 6
        case .reschedule: 7
        }
    }

    /// The endpoint's name in metrics: one per route, whatever the ids in its path.
    public var name: String {
        switch self {
        case .health: "healthz"
        case .readiness: "readyz"
        case .services: "services"
        case .service: "service"
        case .book: "book"
        case .bookings: "bookings"
        case .booking: "booking"
        case .reschedule: "reschedule"
        }
    }
}
