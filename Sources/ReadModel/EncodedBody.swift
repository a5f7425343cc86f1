import Gzip

/// A response body as sent: gzip-compressed when the client accepts gzip and the body is large
/// enough to gain. The availability bodies are compressed once per cached body, not by nginx on
/// every response (browsers always accept gzip; a large catalog shrinks about 80-fold).
struct EncodedBody {
    let bytes: [UInt8]
    let isGzip: Bool
    /// The same bytes as a file that nginx sends itself, for large bodies not in gzip.
    let file: LargeBodyFiles.File?
    /// Its validator (see `EntityTag`).
    let entityTag: String

    /// Smaller bodies go as they are (nginx's own `gzip_min_length`).
    static let minimumGzipBytes = 1024

    /// `body`, compressed when `gzip` and it is large enough (as it is if zlib fails); `file`
    /// holds the body as it is. `contentTime` is the body's (see `EntityTag`).
    init(_ body: [UInt8], gzip: Bool, contentTime: Int64, file: LargeBodyFiles.File? = nil) {
        if gzip, body.count >= Self.minimumGzipBytes, let compressed = Gzip.compress(body) {
            (bytes, isGzip, self.file) = (compressed, true, nil)
        } else {
            (bytes, isGzip, self.file) = (body, false, file)
        }
        entityTag = EntityTag.value(contentTime: contentTime, size: bytes.count)
    }
}
