import CFastCGI
import Logging
import PosixThread
import Testing

@testable import FastCGI

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct FastCGITests {
    func header(_ parameter: String) -> (String, String)? {
        parameter.withCString { Worker.header($0).map { ($0.name, $0.value) } }
    }

    @Test func requestHeadersComeFromHTTPParameters() {
        #expect(header("HTTP_AUTHORIZATION=Bearer x=y") ?? ("", "") == ("authorization", "Bearer x=y"))
        #expect(header("HTTP_X_REQUEST_ID=42") ?? ("", "") == ("x-request-id", "42"))
        #expect(header("HTTP_ACCEPT=") ?? ("", "x") == ("accept", ""))
        #expect(header("CONTENT_TYPE=application/json") == nil)
        #expect(header("HTTP") == nil)
        #expect(header("HTTP_NOVALUE") == nil)
        #expect(header("") == nil)
    }

    @Test func theResponseHeadCarriesStatusHeadersAndLength() {
        let response = Response(status: 201, headers: [("Content-Type", "application/json"), ("Location", "/x")], body: Array("{}".utf8))
        #expect(
            String(decoding: response.head(), as: UTF8.self)
                == "Status: 201 Created\r\nContent-Type: application/json\r\nLocation: /x\r\nContent-Length: 2\r\n\r\n")
        #expect(response.header("location") == "/x")
        #expect(String(decoding: Response(status: 404).head(), as: UTF8.self) == "Status: 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func aLargeBodyGoesOutAsWholeStdoutRecords() throws {
        var descriptors: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &descriptors) == 0)
        let (readEnd, writeEnd) = (descriptors[0], descriptors[1])
        defer { close(readEnd) }
        let body = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        // A reader thread, so that the writer meets a full socket buffer and resumes partial writes.
        let reader = PosixThread.start {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                if count <= 0 { break }
                received += buffer[0..<count]
            }
            ReceivedBytes.value = received
        }
        #expect(Worker.writeStdout(body, requestID: 0x0102, to: writeEnd))
        close(writeEnd)
        pthread_join(reader, nil)
        var stream = ReceivedBytes.value[...]
        var content: [UInt8] = []
        var lengths: [Int] = []
        while stream.count >= 8 {
            let header = Array(stream.prefix(8))
            #expect(header[0...3] == [1, 6, 0x01, 0x02] && header[6...7] == [0, 0], "version 1, FCGI_STDOUT, request 0x0102, no padding")
            let length = Int(header[4]) << 8 | Int(header[5])
            lengths.append(length)
            content += stream.dropFirst(8).prefix(length)
            stream = stream.dropFirst(8 + length)
        }
        #expect(stream.isEmpty && content == body)
        #expect(lengths == [65_528, 65_528, 150_000 - 2 * 65_528])
    }

    @Test func failuresToAcceptAreLoggedOnceASecond() {
        let pool = WorkerPool(count: 8)
        let logged = (0..<8).map { _ in pool.shouldLogFailure(atSecond: 100) }
        #expect(logged.filter { $0 }.count == 1)
        #expect(!pool.shouldLogFailure(atSecond: 100))
        #expect(pool.shouldLogFailure(atSecond: 101))
        #expect(!pool.shouldLogFailure(atSecond: 99), "a second that has passed")
    }

    @Test func aUnixSocketListenerNamesItsPath() {
        #expect(FastCGIServer.socketPath(of: .unixSocket(path: "/run/booking/booking.sock", mode: 0o660)) == "/run/booking/booking.sock")
    }
}

/// What the reader thread of `aLargeBodyGoesOutAsWholeStdoutRecords` read (joined before use).
private enum ReceivedBytes {
    nonisolated(unsafe) static var value: [UInt8] = []
}

/// Worker threads on a real unix socket, driven as nginx drives them.
@Suite(.serialized) struct KeptConnectionTests {
    /// Answers with the request's path; `/slow` takes 300 ms.
    struct EchoPath: Responder {
        func respond(to request: Request) -> Response {
            if request.path == "/slow" { usleep(300_000) }
            return Response(status: 200, body: Array(request.path.utf8))
        }
    }

    func startWorkers(threads: Int, maximumBodyBytes: Int = 1 << 20) throws -> (WorkerThreads, String) {
        let path = "/tmp/fastcgi-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let socket = FCGX_OpenSocket(path, 64)
        try #require(socket >= 0)
        let configuration = FastCGIConfiguration(
            listener: .unixSocket(path: path, mode: 0o600), processes: 1, threads: threads,
            maximumBodyBytes: maximumBodyBytes)
        let workers = try WorkerThreads(
            socket: socket, configuration: configuration, logger: Logger(label: "test"),
            makeResponder: { EchoPath() })
        return (workers, path)
    }

    @Test func idleKeptConnectionsHoldNoThread() throws {
        let (workers, path) = try startWorkers(threads: 2)
        defer { workers.stop(); unlink(path) }
        // Four kept connections, twice as many as there are threads, each used and then left idle.
        let kept = try (0..<4).map { index in
            let client = try #require(FastCGIClient(path: path))
            #expect(client.exchange(path: "/kept/\(index)", keep: true) == .answered("/kept/\(index)", open: true))
            return client
        }
        // A new connection is served at once (a thread per kept connection would leave none).
        let fresh = try #require(FastCGIClient(path: path))
        #expect(fresh.exchange(path: "/fresh", keep: false) == .answered("/fresh", open: false))
        fresh.close()  // as nginx does: libfcgi's lingering close waits for it
        // Kept connections carry further requests, in any order.
        for (index, client) in kept.enumerated().reversed() {
            #expect(client.exchange(path: "/again/\(index)", keep: true) == .answered("/again/\(index)", open: true))
        }
        // nginx closing a kept connection ends it without disturbing the others.
        kept[0].close()
        #expect(kept[1].exchange(path: "/after-close", keep: true) == .answered("/after-close", open: true))
        for client in kept.dropFirst() { client.close() }
    }

    @Test func aKeptConnectionCarriesOnAfterABodyWhoseEndCameLate() throws {
        let (workers, path) = try startWorkers(threads: 1, maximumBodyBytes: 2_000)
        defer { workers.stop(); unlink(path) }
        let client = try #require(FastCGIClient(path: path))
        // The body is read in full before its end record arrives; the next request must not
        // meet that record first.
        client.send(path: "/posted", keep: true, body: Array(repeating: 0x7B, count: 1_000), endDelay: 100_000)
        #expect(client.receive() == .answered("/posted", open: true))
        #expect(client.exchange(path: "/next", keep: true) == .answered("/next", open: true))
        client.close()
        // A body over the limit is answered unread, and its connection ends with it.
        let large = try #require(FastCGIClient(path: path))
        large.send(path: "/too-large", keep: true, body: Array(repeating: 0x7B, count: 3_000))
        #expect(large.receive() == .answered("/too-large", open: false))
        large.close()
    }

    @Test func stoppingAnswersRequestsAlreadySentOnKeptConnections() throws {
        let (workers, path) = try startWorkers(threads: 1)
        defer { unlink(path) }
        let waiting = try #require(FastCGIClient(path: path))
        #expect(waiting.exchange(path: "/first", keep: true) == .answered("/first", open: true))
        let busy = try #require(FastCGIClient(path: path))
        busy.send(path: "/slow", keep: true)  // holds the only thread for 300 ms
        usleep(50_000)
        waiting.send(path: "/queued", keep: true)  // sent before the stop, answered by no thread yet
        usleep(50_000)
        workers.stop()
        // Both answered in full, then closed, so that nginx sends nothing more to this process.
        #expect(busy.receive() == .answered("/slow", open: false))
        #expect(waiting.receive() == .answered("/queued", open: false))
        busy.close()
        waiting.close()
    }
}

/// A FastCGI client speaking as nginx does: one request at a time per connection, with or
/// without FCGI_KEEP_CONN. Reads give up after 2 s, so a stalled server fails the test.
final class FastCGIClient {
    enum Outcome: Equatable {
        /// The STDOUT body after the head, and whether the connection stayed open after END_REQUEST.
        case answered(String, open: Bool)
        case failed
    }

    private let descriptor: Int32

    init?(path: String) {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if connected != 0 {
            Glibc.close(descriptor)
            return nil
        }
    }

    func close() { Glibc.close(descriptor) }

    func exchange(path: String, keep: Bool) -> Outcome {
        send(path: path, keep: keep)
        return receive()
    }

    /// Sends a request; a body makes it a POST. With `endDelay`, the empty record that ends the
    /// body follows that many microseconds after the rest.
    func send(path: String, keep: Bool, body: [UInt8] = [], endDelay: UInt32 = 0) {
        var fields = [("REQUEST_METHOD", body.isEmpty ? "GET" : "POST"), ("DOCUMENT_URI", path), ("REQUEST_URI", path)]
        if !body.isEmpty { fields.append(("CONTENT_LENGTH", "\(body.count)")) }
        var parameters: [UInt8] = []
        for (name, value) in fields {
            parameters += [UInt8(name.utf8.count), UInt8(value.utf8.count)] + Array(name.utf8) + Array(value.utf8)
        }
        var bytes = Self.record(type: 1, content: [0, 1, keep ? 1 : 0, 0, 0, 0, 0, 0])  // BEGIN_REQUEST, responder
        bytes += Self.record(type: 4, content: parameters) + Self.record(type: 4, content: [])
        if !body.isEmpty { bytes += Self.record(type: 5, content: body) }  // STDIN
        let end = Self.record(type: 5, content: [])  // the empty STDIN record
        if endDelay == 0 {
            put(bytes + end)
        } else {
            put(bytes)
            usleep(endDelay)
            put(end)
        }
    }

    private func put(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    func receive() -> Outcome {
        var output: [UInt8] = []
        while true {
            guard let header = read(count: 8) else { return .failed }
            let length = Int(header[4]) << 8 | Int(header[5])
            guard let content = read(count: length + Int(header[6])) else { return .failed }
            switch header[1] {
            case 6: output += content.prefix(length)
            case 3:
                let separator = Array("\r\n\r\n".utf8)
                let headEnd = (0...max(0, output.count - separator.count)).first { Array(output[$0..<min(output.count, $0 + 4)]) == separator }
                let body = headEnd.map { String(decoding: output[($0 + 4)...], as: UTF8.self) } ?? ""
                return .answered(body, open: !isClosed())
            default: continue
            }
        }
    }

    private func read(count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, count - filled) }
            if got <= 0 { return nil }
            filled += got
        }
        return bytes
    }

    /// Whether the server has closed its end (a read returns end of file within 100 ms).
    private func isClosed() -> Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 100) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    private static func record(type: UInt8, content: [UInt8]) -> [UInt8] {
        [1, type, 0, 1, UInt8(content.count >> 8), UInt8(content.count & 0xFF), 0, 0] + content
    }
}
