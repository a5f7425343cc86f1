/// The API's endpoints, matched from a request path.
public enum Route: Equatable, Sendable {
    case health
    case services
    case service(id: String)
    case book
    case booking(id: String)

    /// The route for `path`, or nil when no endpoint has that path.
    public init?(path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.hasPrefix("/") else { return nil }
        switch (parts.count, parts.first) {
        case (1, "healthz"): self = .health
        case (1, "services"): self = .services
        case (2, "services") where !parts.last!.isEmpty: self = .service(id: String(parts.last!))
        case (1, "book"): self = .book
        case (2, "bookings") where !parts.last!.isEmpty: self = .booking(id: String(parts.last!))
        default: return nil
        }
    }

    /// The methods the endpoint answers; HEAD goes wherever GET does.
    public var allowedMethods: [String] {
        switch self {
        case .health, .service, .booking: ["GET", "HEAD"]
        case .services: ["GET", "HEAD", "POST"]
        case .book: ["POST"]
        }
    }
}
