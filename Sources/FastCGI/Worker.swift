import CFastCGI
import Logging
import SystemError

#if canImport(Glibc)
    import Glibc
#endif

/// One worker thread's loop: take a connection with a request waiting, read the request,
/// respond, finish, and hand a kept connection back to the queue.
struct Worker: Sendable {
    let queue: ConnectionQueue
    let pool: WorkerPool
    let maximumBodyBytes: Int
    let makeResponder: @Sendable () -> any Responder
    let logger: Logger

    func run() {
        defer { pool.workerExited() }
        // Made here, on the worker's own thread, so per-thread state never crosses threads.
        let responder = makeResponder()
        var request = FCGX_Request()
        // No listening socket: libfcgi never accepts; this loop gives it each connection.
        guard FCGX_InitRequest(&request, -1, 0) == 0 else {
            logger.error("FCGX_InitRequest failed")
            return
        }
        defer { FCGX_Free(&request, 1) }
        while pool.beginWaiting() {
            let next = queue.next(wait: true)
            pool.endWaiting()
            switch next {
            case .connection(let connection): serve(connection, with: responder, using: &request)
            case .interrupted, .empty: continue
            case .failed(let error):
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                if pool.shouldLogFailure(atSecond: now.tv_sec) {
                    logger.error("accepting a connection failed (logged once a second)", metadata: ["error": "\(error)"])
                }
                usleep(100_000)
            }
        }
        // Stopping: pass the wake-up on to the next waiting thread, answer what nginx has already
        // sent on kept connections, then close the idle ones.
        queue.wakeOne()
        while true {
            switch queue.next(wait: false) {
            case .connection(let connection): serve(connection, with: responder, using: &request)
            case .interrupted: continue
            case .empty, .failed:
                queue.closeIdle()
                return
            }
        }
    }

    /// Serves one request on `connection`. libfcgi closes the connection when the web server
    /// did not ask to keep it, on errors, and when the web server has closed it (then there is
    /// no request); a kept connection goes back to the queue.
    private func serve(_ connection: Int32, with responder: any Responder, using request: inout FCGX_Request) {
        request.ipcFd = connection
        request.keepConnection = 1  // so that FCGX_Accept_r's finishing of the last request leaves it open
        guard FCGX_Accept_r(&request) >= 0 else { return }
        let incoming = read(&request)
        write(responder.respond(to: incoming), to: &request)
        // The next request on a kept connection must start at a record boundary: the input is
        // read up to its end record first, and a body left unread ends the connection instead.
        if request.keepConnection != 0 && (incoming.body.wasLeftUnread || !Self.readToEnd(request.in)) {
            request.keepConnection = 0
        }
        FCGX_Finish_r(&request)
        if request.ipcFd >= 0 {
            let kept = request.ipcFd
            request.ipcFd = -1
            queue.keep(kept)
        }
    }

    private func read(_ request: inout FCGX_Request) -> Request {
        let environment = request.envp
        func parameter(_ name: String) -> String? {
            FCGX_GetParam(name, environment).map { String(cString: $0) }
        }
        var headers: [String: String] = [:]
        headers.reserveCapacity(16)
        var entry = environment
        while let pointer = entry?.pointee {
            if let header = Self.header(pointer) { headers[header.name] = header.value }
            entry = entry?.advanced(by: 1)
        }
        let declaredLength = parameter("CONTENT_LENGTH").flatMap { Int($0) } ?? 0
        let body: Request.Body
        if declaredLength > maximumBodyBytes {
            body = .tooLarge(declaredLength: declaredLength)
        } else {
            body = .bytes(readBody(length: declaredLength, from: request.in))
        }
        let uri = parameter("REQUEST_URI") ?? "/"
        let path = parameter("DOCUMENT_URI") ?? String(uri.prefix { $0 != "?" })
        return Request(
            method: parameter("REQUEST_METHOD") ?? "GET", path: path, query: parameter("QUERY_STRING") ?? "",
            headers: headers, contentType: parameter("CONTENT_TYPE").flatMap { $0.isEmpty ? nil : $0 }, body: body)
    }

    private func readBody(length: Int, from stream: UnsafeMutablePointer<FCGX_Stream>?) -> [UInt8] {
        guard length > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: length)
        var filled = 0
        bytes.withUnsafeMutableBufferPointer { buffer in
            while filled < length {
                let count = FCGX_GetStr(
                    UnsafeMutableRawPointer(buffer.baseAddress! + filled).assumingMemoryBound(to: CChar.self),
                    Int32(length - filled), stream)
                if count <= 0 { break }
                filled += Int(count)
            }
        }
        if filled < length { bytes.removeSubrange(filled...) }  // a short body: keep what came
        return bytes
    }

    /// Writes the head and then the body (not copied: cached bodies are shared). A body larger
    /// than libfcgi's 8 KB stream buffer goes out as records of up to 64 KB written straight
    /// from its bytes: through the stream, every 8 KB was copied and written on its own (about
    /// 290 copies and system calls for a 2.3 MB catalog).
    private func write(_ response: Response, to request: inout FCGX_Request) {
        let stream = request.out
        func put(_ bytes: [UInt8]) -> Bool {
            bytes.isEmpty
                || bytes.withUnsafeBufferPointer { buffer in
                    buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                        FCGX_PutStr($0, Int32(buffer.count), stream) >= 0
                    }
                }
        }
        let written: Bool
        if response.body.count > Self.streamBufferBytes {
            written =
                put(response.head()) && FCGX_FFlush(stream) == 0
                && Self.writeStdout(response.body, requestID: request.requestId, to: request.ipcFd)
        } else {
            written = put(response.head()) && put(response.body)
        }
        if !written {
            // The client or nginx went away; this request is over, the worker carries on.
            logger.debug("response write failed", metadata: ["status": "\(response.status)"])
        }
    }
}

extension Worker {
    /// Reads what is left of a request's input, normally only the empty record that ends it
    /// (libfcgi leaves it unread once the body's declared length is read, and does not skip it
    /// when the next request on the connection begins). False when the input did not end
    /// within `limit` more bytes or failed.
    static func readToEnd(_ stream: UnsafeMutablePointer<FCGX_Stream>?, limit: Int = 65_536) -> Bool {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { scratch in
            var left = limit
            while left >= 0 {
                let count = FCGX_GetStr(scratch.baseAddress, Int32(scratch.count), stream)
                if count <= 0 { return FCGX_HasSeenEOF(stream) != 0 && FCGX_GetError(stream) == 0 }
                left -= Int(count)
            }
            return false
        }
    }

    /// The size of libfcgi's output stream buffer (fixed in FCGX_Accept_r).
    static let streamBufferBytes = 8192

    /// Writes `body` as FastCGI STDOUT records (content of at most 65,535 bytes each) on
    /// `descriptor`; libfcgi then ends the stream and the request as usual.
    static func writeStdout(_ body: [UInt8], requestID: Int32, to descriptor: Int32) -> Bool {
        let chunkBytes = 65_528  // the largest multiple of 8 a record holds, so no padding is needed
        return body.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let length = min(chunkBytes, bytes.count - offset)
                let header: [UInt8] = [
                    1, 6, UInt8(truncatingIfNeeded: requestID >> 8), UInt8(truncatingIfNeeded: requestID),
                    UInt8(length >> 8), UInt8(length & 0xFF), 0, 0,
                ]  // version 1, FCGI_STDOUT
                let sent = header.withUnsafeBytes { head in
                    writeAll(descriptor, [head, UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])])
                }
                guard sent else { return false }
                offset += length
            }
            return true
        }
    }

    /// Writes every byte of `parts` in order, resuming after partial writes and interruptions.
    private static func writeAll(_ descriptor: Int32, _ parts: [UnsafeRawBufferPointer]) -> Bool {
        var vectors = parts.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        var first = 0
        while first < vectors.count {
            let count = vectors[first...].withUnsafeBufferPointer { writev(descriptor, $0.baseAddress, Int32($0.count)) }
            if count < 0 {
                if SystemError.last().number == EINTR { continue }
                return false
            }
            var remaining = count
            while first < vectors.count && remaining >= vectors[first].iov_len {
                remaining -= vectors[first].iov_len
                first += 1
            }
            if remaining > 0 {
                vectors[first].iov_base += remaining
                vectors[first].iov_len -= remaining
            }
        }
        return true
    }

    /// A request header from an `HTTP_NAME=value` parameter, named as HTTP spells it in lower
    /// case (`HTTP_X_REQUEST_ID` → `x-request-id`); nil for other parameters. Works on the bytes,
    /// since most parameters are not headers.
    static func header(_ parameter: UnsafePointer<CChar>) -> (name: String, value: String)? {
        let bytes = UnsafeRawPointer(parameter).assumingMemoryBound(to: UInt8.self)
        // "HTTP_", compared byte by byte: a mismatch (the terminating NUL included) stops it.
        guard bytes[0] == 0x48, bytes[1] == 0x54, bytes[2] == 0x54, bytes[3] == 0x50, bytes[4] == 0x5F else { return nil }
        let start = 5
        var end = start
        while bytes[end] != 0 && bytes[end] != UInt8(ascii: "=") { end += 1 }
        guard bytes[end] == UInt8(ascii: "=") else { return nil }
        let name = String(unsafeUninitializedCapacity: end - start) { buffer in
            for offset in 0..<(end - start) {
                let byte = bytes[start + offset]
                buffer[offset] = byte == UInt8(ascii: "_") ? UInt8(ascii: "-") : (byte >= 65 && byte <= 90 ? byte + 32 : byte)
            }
            return end - start
        }
        return (name, String(cString: parameter + end + 1))
    }
}
