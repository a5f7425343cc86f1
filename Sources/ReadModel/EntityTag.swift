import Gzip

/// The validator of an availability body (`ETag`), the same whichever way the body is sent.
///
/// nginx tags the files it sends itself (the published catalog, large bodies) with
/// `"{modification time}-{size}"` in hexadecimal; the workers set those files' modification time
/// to a time derived from the body's bytes (its CRC-32, as seconds after 2000-01-01), and tag the
/// bodies they send themselves the same way. So the same bytes carry the same tag from nginx and
/// from the workers, on every host, in every second the catalog is published again, and each
/// form (plain or gzip) has its own, as HTTP asks. Requests with `If-None-Match` always reach the
/// workers (nginx serves files only to requests without preconditions), which answer 304 when a
/// tag matches. The files' Last-Modified (that derived time) is not sent.
struct EntityTag {
    /// The derived modification time of a body, in seconds since 1970.
    static func contentTime(of body: [UInt8]) -> Int64 {
        946_684_800 + Int64(Gzip.crc32(body) & 0x3FFF_FFFF)
    }

    /// The tag nginx gives a file of `size` bytes modified at `contentTime`.
    static func value(contentTime: Int64, size: Int) -> String {
        "\"\(String(contentTime, radix: 16))-\(String(size, radix: 16))\""
    }
}
