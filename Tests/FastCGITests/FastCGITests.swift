@testable import FastCGI
import Testing

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

    @Test func aUnixSocketListenerNamesItsPath() {
        #expect(FastCGIServer.socketPath(of: .unixSocket(path: "/run/booking/booking.sock", mode: 0o660)) == "/run/booking/booking.sock")
    }
}
