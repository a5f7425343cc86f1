@testable import FastCGI
import Testing

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
        #expect(String(decoding: response.head(), as: UTF8.self)
            == "Status: 201\r\nContent-Type: application/json\r\nLocation: /x\r\nContent-Length: 2\r\n\r\n")
        #expect(response.header("location") == "/x")
    }

    @Test func aLargeBodyGoesOutAsWholeStdoutRecords() throws {
        var descriptors: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &descriptors) == 0)
        let (readEnd, writeEnd) = (descriptors[0], descriptors[1])
        defer { close(readEnd) }
        let body = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        // A reader thread, so that the writer meets a full socket buffer and resumes partial writes.
        let reader = Thread.start {
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

    @Test func aUnixSocketListenerNamesItsPath() {
        #expect(FastCGIServer.socketPath(of: .unixSocket(path: "/run/booking/booking.sock", mode: 0o660)) == "/run/booking/booking.sock")
    }
}

/// What the reader thread of `aLargeBodyGoesOutAsWholeStdoutRecords` read (joined before use).
private enum ReceivedBytes {
    nonisolated(unsafe) static var value: [UInt8] = []
}
