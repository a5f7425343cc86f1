import CZlib
import Gzip
import Testing

@Suite struct GzipTests {
    @Test(arguments: [0, 1, 1000, 300_000])
    func compressedBytesInflateToTheOriginal(_ count: Int) {
        var generator = SystemRandomNumberGenerator()
        // Half repetitive JSON, half random bytes: both what compresses and what does not.
        let text = Array(String(repeating: #"{"slot":"2031-01-01T09:00:00Z"},"#, count: count / 64 + 1).utf8.prefix(count / 2))
        let noise = (0..<(count - text.count)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let original = text + noise
        let compressed = Gzip.compress(original) ?? []
        #expect(compressed.starts(with: [0x1F, 0x8B]), "the gzip magic number")
        #expect(inflate(compressed) == original)
    }

    @Test func repetitiveJSONShrinksManyTimes() {
        let catalog = Array(String(repeating: #""2031-01-01T09:00:00Z","#, count: 10_000).utf8)
        let compressed = Gzip.compress(catalog) ?? []
        #expect(!compressed.isEmpty && compressed.count * 50 < catalog.count)
        #expect(compressed.capacity * 50 < catalog.count, "kept at its size, not in a buffer as large as the input")
    }

    /// zlib's inflate, as a client would decode the body.
    private func inflate(_ bytes: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        guard booking_inflate_init_gzip(&stream) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = bytes
        var status = Z_OK
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            while status == Z_OK {
                chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    output += out.prefix(out.count - Int(stream.avail_out))
                }
            }
        }
        return status == Z_STREAM_END ? output : nil
    }
}
