import DocumentStore
import JSON
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// swift-log's handler for the server: one JSON object per line on standard error, with the
/// time in UTC to the millisecond, the level, the message and the metadata
/// (`{"time":"2026-12-02T20:31:05.123Z","level":"info","message":"booking created","logger":"booking-server","booking_id":...}`).
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
        var fields = metadata.isEmpty ? event.metadata ?? [:] : metadata.merging(event.metadata ?? [:]) { $1 }
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

    /// The members every line has, first and in this order; metadata of these names is left out.
    static let fixedMembers: Set<String> = ["time", "level", "message", "logger"]

    /// One line: the time, level, message and logger, then the metadata in key order, and a
    /// newline. Written straight into the line's bytes: a line is written for every change a
    /// client makes, and building it as a tree of dictionaries first cost the workers 2-3% more
    /// CPU per cancelled or moved booking.
    static func line(
        time: (seconds: Int64, milliseconds: Int), level: Logger.Level, message: String, label: String, metadata: Logger.Metadata
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes.append(contentsOf: #"{"time":""#.utf8)
        appendTimestamp(time, to: &bytes)
        bytes.append(contentsOf: #"","level":""#.utf8)
        bytes.append(contentsOf: level.rawValue.utf8)
        bytes.append(contentsOf: #"","message":"#.utf8)
        JSON.writeString(message, to: &bytes)
        bytes.append(contentsOf: #","logger":"#.utf8)
        JSON.writeString(label, to: &bytes)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where !fixedMembers.contains(key) {
            bytes.append(UInt8(ascii: ","))
            JSON.writeString(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            writeValue(value, to: &bytes)
        }
        bytes.append(contentsOf: "}\n".utf8)
        return bytes
    }

    private static func writeValue(_ value: Logger.Metadata.Value, to bytes: inout [UInt8]) {
        switch value {
        case .string(let text): JSON.writeString(text, to: &bytes)
        case .stringConvertible(let convertible): JSON.writeString(convertible.description, to: &bytes)
        case .array(let values): JSON.writeArray(values, to: &bytes, writeElement: writeValue)
        case .dictionary(let values): JSON.writeObject(values, to: &bytes, writeValue: writeValue)
        }
    }

    /// RFC 3339 in UTC with milliseconds, always three digits: `2026-12-02T20:31:05.123Z`
    /// (Timestamp's spelling of the whole second, then the milliseconds).
    static func timestamp(_ time: (seconds: Int64, milliseconds: Int)) -> String {
        var bytes: [UInt8] = []
        appendTimestamp(time, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func appendTimestamp(_ time: (seconds: Int64, milliseconds: Int), to bytes: inout [UInt8]) {
        Timestamp(seconds: time.seconds).appendRFC3339(to: &bytes)
        bytes.removeLast()  // its Z, which follows the milliseconds
        bytes.append(UInt8(ascii: "."))
        for divisor in [100, 10, 1] { bytes.append(UInt8(ascii: "0") + UInt8(time.milliseconds / divisor % 10)) }
        bytes.append(UInt8(ascii: "Z"))
    }

    /// The system's wall clock.
    public static let systemClock: @Sendable () -> (seconds: Int64, milliseconds: Int) = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return (Int64(now.tv_sec), Int(now.tv_nsec / 1_000_000))
    }
}
