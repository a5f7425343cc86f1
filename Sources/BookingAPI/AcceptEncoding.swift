/// What a client accepts, read from its request headers.
enum AcceptEncoding {
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
