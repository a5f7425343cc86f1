import CCurl

/// A minimal blocking HTTP client on one libcurl easy handle, which keeps connections alive
/// between requests. One per thread, like the store or the sender that owns it.
public final class HTTPClient {
    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]

        public init(status: Int, body: [UInt8]) {
            self.status = status
            self.body = body
        }
    }

    /// The request did not produce a response (HTTP), or the message was not accepted (SMTP).
    public struct TransportError: Error, CustomStringConvertible {
        public let description: String
        public let timedOut: Bool
        /// The server refused for good (an SMTP 5xx reply): sending again gets the same answer.
        public var permanent = false
    }

    static let globalInit = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    /// nil when libcurl could not make one (every request then fails with the reason).
    private let handle: UnsafeMutableRawPointer?
    private let timeoutMilliseconds: Int
    private let connectTimeoutMilliseconds: Int
    private let userAgent: String

    /// - Parameter userAgent: the `User-Agent` of every request.
    public init(timeoutMilliseconds: Int, connectTimeoutMilliseconds: Int, userAgent: String = "booking-firestore-gateway/1") {
        self.userAgent = userAgent
        handle = Self.globalInit == CURLE_OK ? curl_easy_init() : nil
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    }

    deinit { curl_easy_cleanup(handle) }

    public func send(_ method: String, _ url: String, headers: [String] = [], body: [UInt8]? = nil) throws(TransportError) -> Response {
        guard let handle else {
            let reason = Self.globalInit == CURLE_OK ? "curl_easy_init failed" : String(cString: curl_easy_strerror(Self.globalInit))
            throw TransportError(description: "\(method) \(url): libcurl cannot start: \(reason)", timedOut: false)
        }
        curl_easy_reset(handle)
        let options = CurlOptions(handle: handle, request: "\(method) \(url)")
        try options.set(CURLOPT_URL, url)
        try options.set(CURLOPT_NOSIGNAL, 1)
        try options.set(CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        try options.set(CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds)
        try options.set(CURLOPT_TCP_KEEPALIVE, 1)
        try options.set(CURLOPT_ACCEPT_ENCODING, "")
        try options.set(CURLOPT_USERAGENT, userAgent)
        switch method {
        case "GET": try options.set(CURLOPT_HTTPGET, 1)
        case "POST": try options.set(CURLOPT_POST, 1)
        default: try options.set(CURLOPT_CUSTOMREQUEST, method)
        }
        if let body {
            try options.set(CURLOPT_POSTFIELDSIZE, body.count)
            // COPYPOSTFIELDS copies the bytes at once; an empty body still needs a valid pointer.
            try (body.isEmpty ? [0] : body).withUnsafeBufferPointer { buffer throws(TransportError) in
                try options.set(CURLOPT_COPYPOSTFIELDS, pointer: UnsafeMutableRawPointer(mutating: buffer.baseAddress!))
            }
        }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(list) }
        for header in headers + (body == nil ? [] : ["Expect:"]) {
            guard let longer = curl_slist_append(list, header) else {
                throw TransportError(description: "\(method) \(url): libcurl cannot add a header (out of memory)", timedOut: false)
            }
            list = longer
        }
        try options.set(CURLOPT_HTTPHEADER, pointer: list.map { UnsafeMutableRawPointer($0) })

        let sink = Sink()
        try options.set(CURLOPT_WRITEDATA, pointer: Unmanaged.passUnretained(sink).toOpaque())
        try options.check(
            booking_curl_set_write_function(handle) { data, size, count, context in
                let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                data?.withMemoryRebound(to: UInt8.self, capacity: length) {
                    sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
                return length
            }, "CURLOPT_WRITEFUNCTION")
        let result = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        guard result == CURLE_OK else {
            throw TransportError(
                description: "\(method) \(url): \(String(cString: curl_easy_strerror(result)))",
                timedOut: result == CURLE_OPERATION_TIMEDOUT)
        }
        var status = 0
        try options.check(booking_curl_response_code(handle, &status), "CURLINFO_RESPONSE_CODE")
        return Response(status: status, body: sink.bytes)
    }

    private final class Sink {
        var bytes: [UInt8] = []
    }
}
