import Gzip

/// A response body as sent: gzip-compressed when the client accepts gzip and the body is large
/// enough to gain. The availability bodies are compressed once per cached body, not by nginx on
/// every response (browsers always accept gzip; a large catalog shrinks about 80-fold).
struct EncodedBody {
    let bytes: [UInt8]
    let isGzip: Bool
    /// The same bytes as a file that nginx sends itself, for large bodies not in gzip.
    let file: LargeBodyFiles.File?

    /// Smaller bodies go as they are (nginx's own `gzip_min_length`).
    static let minimumGzipBytes = 1024

    /// `body`, compressed when `gzip` and it is large enough (as it is if zlib fails); `file`
    /// holds the body as it is.
    init(_ body: [UInt8], gzip: Bool, file: LargeBodyFiles.File? = nil) {
        if gzip, body.count >= Self.minimumGzipBytes, let compressed = Gzip.compress(body) {
            (bytes, isGzip, self.file) = (compressed, true, nil)
        } else {
            (bytes, isGzip, self.file) = (body, false, file)
        }
    }

    /// Whether an `Accept-Encoding` header accepts gzip (RFC 9110, 12.5.3): `gzip` (or `x-gzip`)
    /// with a weight above zero, or else `*` with one. Names are case-insensitive; a weight that
    /// is not a number counts as zero.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzipWeight: Double?
        var anyWeight: Double?
        for member in header.lowercased().split(separator: ",") {
            let parts = member.split(separator: ";").map(trimmed)
            guard let coding = parts.first else { continue }
            var weight = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                weight = Double(parameter.dropFirst(2)).flatMap { (0...1).contains($0) ? $0 : nil } ?? 0
            }
            switch coding {
            case "gzip", "x-gzip": gzipWeight = weight
            case "*": anyWeight = weight
            default: break
            }
        }
        return (gzipWeight ?? anyWeight ?? 0) > 0
    }
}

/// `text` without the spaces and tabs around it.
private func trimmed(_ text: Substring) -> Substring {
    var text = text
    while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
    while let last = text.last, last == " " || last == "\t" { text.removeLast() }
    return text
}
