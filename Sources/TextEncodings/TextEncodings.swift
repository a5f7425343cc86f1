/// base64url (RFC 4648 §5): the URL- and file-name-safe alphabet, for tokens in URLs and ids.
public enum Base64URL {
    /// `bytes` in base64url without padding (RFC 4648 §5).
    public static func encode(_ bytes: [UInt8]) -> String {
        base64(bytes, alphabet: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8), padded: false)
    }

    /// The bytes of base64url text, padded or not; nil for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(byte - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(byte - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(byte - 48 + 52)
            case UInt8(ascii: "-"): values.append(62)
            case UInt8(ascii: "_"): values.append(63)
            case UInt8(ascii: "="): continue
            default: return nil
            }
        }
        guard values.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        var index = 0
        while index < values.count {
            let chunk = values[index..<min(index + 4, values.count)]
            var word = 0
            for (offset, value) in chunk.enumerated() { word |= Int(value) << (18 - 6 * offset) }
            for position in 0..<(chunk.count - 1) { output.append(UInt8((word >> (16 - 8 * position)) & 255)) }
            index += 4
        }
        return output
    }
}

/// base64 (RFC 4648 §4), padded: for MIME parts and encoded words in email.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        base64(bytes, alphabet: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8), padded: true)
    }
}

/// `bytes` in base64 with the 64 characters of `alphabet`, with `=` padding or without.
private func base64(_ bytes: [UInt8], alphabet: [UInt8], padded: Bool) -> String {
    var output: [UInt8] = []
    output.reserveCapacity((bytes.count + 2) / 3 * 4)
    var index = 0
    while index < bytes.count {
        let chunk = bytes[index..<min(index + 3, bytes.count)]
        var word = 0
        for (offset, byte) in chunk.enumerated() { word |= Int(byte) << (16 - 8 * offset) }
        for position in 0...chunk.count { output.append(alphabet[(word >> (18 - 6 * position)) & 63]) }
        if padded { output += Array(repeating: UInt8(ascii: "="), count: 3 - chunk.count) }
        index += 3
    }
    return String(decoding: output, as: UTF8.self)
}

/// Lower-case hexadecimal, for digests kept as text.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 15)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// Percent-encoding (RFC 3986) of one URL path segment or query value: every byte but letters,
/// digits and `-._~` as `%XX`.
public enum PercentEncoding {
    public static func encode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                encoded += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return encoded
    }
}
