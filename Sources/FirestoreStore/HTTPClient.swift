import CCurl

/// A minimal blocking HTTP client on one libcurl easy handle, which keeps connections alive
/// between requests. One per worker thread, like the store that owns it.
final class HTTPClient {
    struct Response {
        let status: Int
        let body: [UInt8]
    }

    /// The request did not produce an HTTP response.
    struct TransportError: Error, CustomStringConvertible {
        let description: String
        let timedOut: Bool
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    private let handle: UnsafeMutableRawPointer
    private let timeoutMilliseconds: Int
    private let connectTimeoutMilliseconds: Int

    init(timeoutMilliseconds: Int, connectTimeoutMilliseconds: Int) {
        _ = Self.globalInit
        handle = curl_easy_init()
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    }

    deinit { curl_easy_cleanup(handle) }

    func send(_ method: String, _ url: String, headers: [String] = [], body: [UInt8]? = nil) throws(TransportError) -> Response {
        curl_easy_reset(handle)
        booking_curl_set_string(handle, CURLOPT_URL, url)
        booking_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        booking_curl_set_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        booking_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds)
        booking_curl_set_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        booking_curl_set_string(handle, CURLOPT_ACCEPT_ENCODING, "")
        booking_curl_set_string(handle, CURLOPT_USERAGENT, "booking-firestore-gateway/1")
        switch method {
        case "GET": booking_curl_set_long(handle, CURLOPT_HTTPGET, 1)
        case "POST": booking_curl_set_long(handle, CURLOPT_POST, 1)
        default: booking_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, method)
        }
        if let body {
            booking_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
            // COPYPOSTFIELDS copies the bytes at once; an empty body still needs a valid pointer.
            (body.isEmpty ? [0] : body).withUnsafeBufferPointer { buffer in
                _ = booking_curl_set_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress!))
            }
        }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for header in headers + (body == nil ? [] : ["Expect:"]) { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        booking_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list.map { UnsafeMutableRawPointer($0) })

        let sink = Sink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        booking_curl_set_pointer(handle, CURLOPT_WRITEDATA, sinkPointer)
        booking_curl_set_write_function(handle) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            data?.withMemoryRebound(to: UInt8.self, capacity: length) { sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length)) }
            return length
        }
        let result = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        guard result == CURLE_OK else {
            throw TransportError(description: "\(method) \(url): \(String(cString: curl_easy_strerror(result)))",
                                 timedOut: result == CURLE_OPERATION_TIMEDOUT)
        }
        var status = 0
        booking_curl_response_code(handle, &status)
        return Response(status: status, body: sink.bytes)
    }

    private final class Sink {
        var bytes: [UInt8] = []
    }
}

/// Percent-encodes `text` for one URL path segment or query value (RFC 3986 unreserved kept).
func percentEncoded(_ text: String) -> String {
    var output = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            output.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".unicodeScalars)
            output.unicodeScalars.append("%")
            output.unicodeScalars.append(hex[Int(byte >> 4)])
            output.unicodeScalars.append(hex[Int(byte & 0xF)])
        }
    }
    return output
}
