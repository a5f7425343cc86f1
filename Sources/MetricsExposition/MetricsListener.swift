import Logging
import PosixThread
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// A host and port to listen on for scrapes (`METRICS_ADDRESS`): `127.0.0.1:9464`,
/// `[::1]:9464`, or a name that resolves to one address.
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: UInt16

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Reads `host:port`; throws with the reason when it is not one.
    public init(parsing text: String) throws(MetricsError) {
        let problem = MetricsError("METRICS_ADDRESS must be host:port, such as 127.0.0.1:9464 or [::1]:9464, or off; not \(text.prefix(64))")
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else { throw problem }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:".contains($0)) }) else { throw problem }
        self.host = host
        self.port = port
    }
}

/// Answers `GET /metrics` over HTTP on its own address (not the public site's), one connection at
/// a time on a thread of its own: its client is one Prometheus server on a private network.
///
/// Hand-written rather than built on SwiftNIO, which would add minutes to every build for one
/// path and one client; a request head is read for at most 2 s, and every answer closes the
/// connection.
public final class MetricsListener: Sendable {
    private let socket: Int32
    /// The resolved address `start` binds (a `sockaddr` of its family's length).
    private let boundAddress: [UInt8]
    private let exposition: @Sendable () -> String
    public let address: MetricsAddress
    /// How long a taken address is tried again: the server this one replaces (`deploy/up` run
    /// again starts the new one before it stops the old) holds it until it stops.
    static let takenAddressRetrySeconds = 30

    /// Resolves `address` and makes the socket (an address that does not resolve fails here, at
    /// start-up); `start` binds it.
    /// - Parameter exposition: the text of a scrape, made when one comes.
    public init(address: MetricsAddress, exposition: @escaping @Sendable () -> String) throws(MetricsError) {
        self.address = address
        self.exposition = exposition
        let resolved = try Self.resolve(address)
        defer { freeaddrinfo(resolved) }
        let descriptor = Glibc.socket(resolved.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw MetricsError("cannot listen for metrics on \(address): \(SystemError.last())") }
        boundAddress = Array(UnsafeRawBufferPointer(start: resolved.pointee.ai_addr, count: Int(resolved.pointee.ai_addrlen)))
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        socket = descriptor
    }

    private static func resolve(_ address: MetricsAddress) throws(MetricsError) -> UnsafeMutablePointer<addrinfo> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(address.host, "\(address.port)", &hints, &found)
        guard resolved == 0, let found else {
            throw MetricsError("cannot listen for metrics on \(address): \(String(cString: gai_strerror(resolved)))")
        }
        return found
    }

    /// Listens and serves scrapes on a thread of its own until the process exits. An address in
    /// use is tried again each 200 ms for `takenAddressRetrySeconds`, then given up with an
    /// error logged (the server goes on without metrics).
    public func start(logger: Logger) {
        pthread_detach(
            PosixThread.start { [self] in
                guard listen(logger: logger) else { return }
                logger.info("serving metrics", metadata: ["address": "\(address)", "path": "/metrics"])
                serve()
            })
    }

    private func listen(logger: Logger) -> Bool {
        func bound() -> Bool {
            boundAddress.withUnsafeBytes { bytes in
                bind(socket, bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(bytes.count)) == 0
            }
        }
        var waited = 0
        while !bound() {
            let error = SystemError.last()
            guard error.number == EADDRINUSE, waited < Self.takenAddressRetrySeconds * 5 else {
                logger.error(
                    "cannot listen for metrics on \(address): \(error); set METRICS_ADDRESS to a free address, or to off (serving on without metrics)"
                )
                return false
            }
            if waited == 0 { logger.notice("metrics address in use; trying again", metadata: ["address": "\(address)"]) }
            waited += 1
            usleep(200_000)
        }
        return Glibc.listen(socket, 64) == 0
    }

    private func serve() {
        while true {
            let connection = accept(socket, nil, nil)  // (accept4 is not in Glibc's Swift module)
            guard connection >= 0 else {
                if errno != EINTR && errno != ECONNABORTED { usleep(100_000) }
                continue
            }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)  // not into a worker started meanwhile
            answer(connection)
            close(connection)
        }
    }

    private func answer(_ connection: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let head = Self.readHead(connection) else { return }
        let words = (head.split(whereSeparator: \.isNewline).first ?? "").split(separator: " ")  // "\r\n" is one Character
        guard words.count == 3, words[2].hasPrefix("HTTP/1.") else {
            return send(connection, status: "400 Bad Request", body: "a request line such as GET /metrics HTTP/1.1\n")
        }
        let path = words[1].prefix { $0 != "?" }
        guard path == "/metrics" else { return send(connection, status: "404 Not Found", body: "only /metrics is here\n") }
        guard words[0] == "GET" || words[0] == "HEAD" else {
            return send(connection, status: "405 Method Not Allowed", body: "GET or HEAD\n", extra: "Allow: GET, HEAD\r\n")
        }
        send(connection, status: "200 OK", body: exposition(), contentType: Exposition.contentType, headOnly: words[0] == "HEAD")
    }

    /// The request's head (up to its blank line, at most 8 KB), or nil when it does not come.
    private static func readHead(_ connection: Int32) -> String? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while bytes.count < 8192 {
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            bytes += buffer[..<count]
            if bytes.suffix(4).elementsEqual([13, 10, 13, 10]) || bytes.suffix(2).elementsEqual([10, 10]) { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func send(
        _ connection: Int32, status: String, body: String, contentType: String = "text/plain; charset=utf-8", extra: String = "",
        headOnly: Bool = false
    ) {
        let bodyBytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(bodyBytes.count)\r\n\(extra)Connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !headOnly { bytes += bodyBytes }
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }
}
