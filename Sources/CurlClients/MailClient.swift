import CCurl

/// A minimal blocking SMTP client on one libcurl easy handle: hands one message to the mail
/// server (relay) that `SMTP_URL` names. libcurl speaks the protocol (EHLO, STARTTLS, AUTH, the
/// dot-stuffing of DATA); this sets it up and reads its outcome. One per thread.
public final class MailClient {
    /// `smtp://[user:password@]host[:port]` (STARTTLS when the server offers it; required when
    /// the URL has credentials, so that a password never travels in the clear) or
    /// `smtps://...` (TLS from the first byte).
    private let url: String
    private let caFile: String?
    private let timeoutMilliseconds: Int
    private let handle: UnsafeMutableRawPointer?

    /// - Parameter caFile: the certificates to trust instead of the system's (a relay with a
    ///   private CA); nil for the system's.
    public init(url: String, caFile: String?, timeoutMilliseconds: Int) {
        self.url = url
        self.caFile = caFile
        self.timeoutMilliseconds = timeoutMilliseconds
        handle = HTTPClient.globalInit == CURLE_OK ? curl_easy_init() : nil
    }

    deinit { curl_easy_cleanup(handle) }

    /// Whether the URL names a user (and so TLS is required before AUTH).
    static func hasCredentials(_ url: String) -> Bool {
        authority(of: url)?.contains("@") ?? false
    }

    /// The URL's authority: from after `://` to the next `/` or `?`.
    private static func authority(of url: String) -> Substring? {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return nil }
        return url[url.index(colon, offsetBy: 3)...].prefix { $0 != "/" && $0 != "?" }
    }

    /// Sends `message` (the whole RFC 5322 message, CRLF line ends) from `sender` to
    /// `recipient` (bare addresses, for the envelope). Throws when the server did not accept it;
    /// `permanent` when it refused for good (a 5xx reply other than to authentication).
    public func send(from sender: String, to recipient: String, message: [UInt8]) throws(HTTPClient.TransportError) {
        let what = "mail to \(recipient) via \(Self.redacted(url))"
        guard let handle else { throw HTTPClient.TransportError(description: "\(what): libcurl cannot start", timedOut: false) }
        curl_easy_reset(handle)
        let options = CurlOptions(handle: handle, request: what)
        try options.set(CURLOPT_URL, url)
        try options.set(CURLOPT_NOSIGNAL, 1)
        try options.set(CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        try options.set(CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMilliseconds, 10_000))
        if url.hasPrefix("smtp://") {
            try options.set(CURLOPT_USE_SSL, Int(Self.hasCredentials(url) ? CURLUSESSL_ALL.rawValue : CURLUSESSL_TRY.rawValue))
        }
        if let caFile { try options.set(CURLOPT_CAINFO, caFile) }
        try options.set(CURLOPT_MAIL_FROM, "<\(sender)>")
        guard let recipients = curl_slist_append(nil, "<\(recipient)>") else {
            throw HTTPClient.TransportError(description: "\(what): out of memory", timedOut: false)
        }
        defer { curl_slist_free_all(recipients) }
        try options.set(CURLOPT_MAIL_RCPT, pointer: UnsafeMutableRawPointer(recipients))
        try options.set(CURLOPT_UPLOAD, 1)
        try options.set(CURLOPT_INFILESIZE, message.count)
        let source = Source(bytes: message)
        try options.set(CURLOPT_READDATA, pointer: Unmanaged.passUnretained(source).toOpaque())
        try options.check(
            booking_curl_set_read_function(handle) { buffer, size, count, context in
                let source = Unmanaged<Source>.fromOpaque(context!).takeUnretainedValue()
                let length = min(size * count, source.bytes.count - source.offset)
                source.bytes.withUnsafeBufferPointer { bytes in
                    buffer?.withMemoryRebound(to: UInt8.self, capacity: length) {
                        $0.update(from: bytes.baseAddress! + source.offset, count: length)
                    }
                }
                source.offset += length
                return length
            }, "CURLOPT_READFUNCTION")
        let result = withExtendedLifetime(source) { curl_easy_perform(handle) }
        guard result != CURLE_OK else { return }
        var reply = 0
        _ = booking_curl_response_code(handle, &reply)
        var failure = HTTPClient.TransportError(
            description: "\(what): \(String(cString: curl_easy_strerror(result)))\(reply > 0 ? " (last reply \(reply))" : "")",
            timedOut: result == CURLE_OPERATION_TIMEDOUT)
        failure.permanent = (500..<600).contains(reply) && result != CURLE_LOGIN_DENIED
        throw failure
    }

    /// The URL without its password, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard let authority = authority(of: url), let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<authority.startIndex]) + "…" + String(url[at...])
    }

    private final class Source {
        let bytes: [UInt8]
        var offset = 0

        init(bytes: [UInt8]) { self.bytes = bytes }
    }
}
