import JSON
import Logging
import Testing

@testable import JSONLog

/// The server's log lines: one JSON object per line, UTC to the millisecond.
@Suite struct JSONLogHandlerTests {
    @Test func aLineIsOneJSONObjectWithTheTimeLevelMessageAndMetadata() throws {
        let line = JSONLogHandler.line(
            time: (1_796_243_465, 7), level: .warning, message: "store unavailable:\n\tserver closed the connection \"now\"",
            label: "booking-server", metadata: ["request_id": "a1b2", "attempts": .stringConvertible(3), "ids": .array(["x", "y"])])
        #expect(line.last == 10 && line.dropLast().allSatisfy { $0 != 10 }, "one line, whatever the message holds")
        let object = try JSONParser.parse(Array(line.dropLast()))
        #expect(
            object
                == .object([
                    "time": .string("2026-12-02T20:31:05.007Z"), "level": .string("warning"),
                    "message": .string("store unavailable:\n\tserver closed the connection \"now\""), "logger": .string("booking-server"),
                    "request_id": .string("a1b2"), "attempts": .string("3"), "ids": .array([.string("x"), .string("y")]),
                ]))
    }

    @Test func theFixedMembersComeFirstAndTheMetadataFollowsInKeyOrder() {
        let line = JSONLogHandler.line(
            time: (1_796_243_465, 120), level: .info, message: "booking cancelled", label: "booking-server",
            metadata: ["slot": "2031-01-01T09:00:00Z", "booking_id": "b-1", "time": "not the time", "request_id": "r", "n": .stringConvertible(2)])
        #expect(
            String(decoding: line, as: UTF8.self)
                == #"{"time":"2026-12-02T20:31:05.120Z","level":"info","message":"booking cancelled","logger":"booking-server","#
                + #""booking_id":"b-1","n":"2","request_id":"r","slot":"2031-01-01T09:00:00Z"}"# + "\n")
    }

    @Test(arguments: [
        ((Int64(0), 0), "1970-01-01T00:00:00.000Z"), ((Int64(951_782_400), 999), "2000-02-29T00:00:00.999Z"),
        ((Int64(1_796_243_465), 120), "2026-12-02T20:31:05.120Z"),
    ])
    func timesAreUTCToTheMillisecond(time: (Int64, Int), spelled: String) {
        #expect(JSONLogHandler.timestamp(time) == spelled)
    }
}
