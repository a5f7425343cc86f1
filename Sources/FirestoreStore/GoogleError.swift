import CurlClients
import DocumentStore
import JSON

/// Google's error body, `{"error": {"code", "message", "status"}}`, turned into a `StoreError`
/// by its `status`.
struct GoogleError: CustomStringConvertible {
    let httpStatus: Int
    let status: String
    let message: String

    init(_ response: HTTPClient.Response) {
        let json = try? JSONParser.parse(response.body)
        let error = json?["error"]
        httpStatus = response.status
        status = error?["status"]?.stringValue ?? GoogleError.status(forHTTP: response.status)
        message = error?["message"]?.stringValue ?? String(decoding: response.body.prefix(200), as: UTF8.self)
    }

    var description: String { "Firestore \(status) (HTTP \(httpStatus)): \(message)" }

    /// The error for a status that is not retried; `ALREADY_EXISTS`, `NOT_FOUND` and
    /// `FAILED_PRECONDITION` name the document when the message does.
    var storeError: StoreError {
        let path = documentPath()
        switch status {
        case "ALREADY_EXISTS": return .alreadyExists(path)
        case "NOT_FOUND": return .notFound(path)
        case "FAILED_PRECONDITION": return .failedPrecondition(path)
        case "INVALID_ARGUMENT", "OUT_OF_RANGE": return .invalidArgument(description)
        case "ABORTED", "UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL": return .unavailable(description)
        default: return .internalError(description)
        }
    }

    /// The `collection/id` a message such as "Document already exists: projects/p/databases/d/documents/c/id" names.
    private func documentPath() -> DocumentPath {
        guard let range = message.range(of: "/documents/") else { return DocumentPath("", "") }
        let rest = message[range.upperBound...].prefix { $0 != " " && $0 != "\"" && $0 != "'" && $0 != "," }
        let parts = rest.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return DocumentPath("", "") }
        return DocumentPath(String(parts[0]), String(parts[1]))
    }

    private static func status(forHTTP code: Int) -> String {
        switch code {
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 409: "ABORTED"
        case 412: "FAILED_PRECONDITION"
        case 429: "RESOURCE_EXHAUSTED"
        case 501: "UNIMPLEMENTED"
        case 503: "UNAVAILABLE"
        case 504: "DEADLINE_EXCEEDED"
        default: code >= 500 ? "INTERNAL" : "UNKNOWN"
        }
    }
}
