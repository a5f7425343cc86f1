import DocumentStore
import JSON
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// swift-log's handler for the server: one JSON object per line on standard error, with the
/// time in UTC to the millisecond, the level, the message and the metadata
/// (`{"time":"2026-12-02T20:31:05.123Z","level":"info","message":"booking created","request_id":...}`).
///
/// JSON rather than logfmt: every log pipeline (journald exports, Vector, Loki, Elastic) parses
/// it without a pattern, and its escaping leaves no doubt where a value ends, whatever a store's
/// error message holds (libpq's have line breaks and quotes). Each line is one `write(2)`, so lines
/// from the threads and processes that share the stream do not interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let descriptor: Int32
    private let clock: @Sendable () -> (seconds: Int64, milliseconds: Int)

    /// - Parameters:
    ///   - descriptor: where lines go (standard error).
    ///   - clock: the wall clock (seconds since 1970 and the millisecond); the system's by default.
    public init(
        label: String, level: Logger.Level, descriptor: Int32 = 2,
        clock: @escaping @Sendable () -> (seconds: Int64, milliseconds: Int) = JSONLogHandler.systemClock
    ) {
        self.label = label
        self.logLevel = level
        self.descriptor = descriptor
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata.merging(event.metadata ?? [:]) { $1 }
        if let error = event.error { fields["error"] = "\(error)" }
        let bytes = Self.line(time: clock(), level: event.level, message: "\(event.message)", label: label, metadata: fields)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // nowhere to say that the log cannot be written
                }
            }
        }
    }

    /// One line: the object, keys in order, and a newline.
    static func line(
        time: (seconds: Int64, milliseconds: Int), level: Logger.Level, message: String, label: String, metadata: Logger.Metadata
    ) -> [UInt8] {
        var members: [String: JSON] = metadata.mapValues(json)
        members["time"] = .string(timestamp(time))
        members["level"] = .string(level.rawValue)
        members["message"] = .string(message)
        members["logger"] = .string(label)
        var bytes = JSON.object(members).serialized()
        bytes.append(10)
        return bytes
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSON {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let values): .object(values.mapValues(json))
        }
    }

    /// RFC 3339 in UTC with milliseconds, always three digits: `2026-12-02T20:31:05.123Z`
    /// (Timestamp's spelling of the whole second, then the milliseconds).
    static func timestamp(_ time: (seconds: Int64, milliseconds: Int)) -> String {
        let milliseconds = String(time.milliseconds)
        return Timestamp(seconds: time.seconds).rfc3339.dropLast() + "." + String(repeating: "0", count: 3 - milliseconds.count) + milliseconds + "Z"
    }

    /// The system's wall clock.
    public static let systemClock: @Sendable () -> (seconds: Int64, milliseconds: Int) = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return (Int64(now.tv_sec), Int(now.tv_nsec / 1_000_000))
    }
}
