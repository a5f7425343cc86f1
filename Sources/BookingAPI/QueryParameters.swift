import DocumentStore

/// A request's query string as named values: percent-decoded UTF-8, each name at most once.
/// A `+` stays a `+` (RFC 3986 queries, not HTML forms): the API's values never hold spaces,
/// and an offset such as `+01:00` typed unencoded means what it says.
struct QueryParameters {
    private let values: [String: String]

    init(_ query: String) throws(APIError) {
        var values: [String: String] = [:]
        for pair in query.utf8.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decoded(parts[0]), let value = Self.decoded(parts.count > 1 ? Array(parts[1]) : []) else {
                throw .invalidRequest("the query string is not valid percent-encoded UTF-8")
            }
            guard values.updateValue(value, forKey: name) == nil else { throw .invalidRequest("the query parameter \(name) is given twice") }
        }
        self.values = values
    }

    subscript(name: String) -> String? { values[name] }

    /// Whether any of `names` is given.
    func hasAny(of names: [String]) -> Bool { names.contains { values[$0] != nil } }

    /// An RFC 3339 date-time, when given.
    func timestamp(_ name: String) throws(APIError) -> Timestamp? {
        guard let text = values[name] else { return nil }
        guard let time = Timestamp(rfc3339: text) else {
            throw .invalidRequest("\(name) must be an RFC 3339 date-time such as 2031-03-01T09:00:00Z")
        }
        return time
    }

    /// A whole number, when given.
    func integer(_ name: String) throws(APIError) -> Int? {
        guard let text = values[name] else { return nil }
        guard text.utf8.count <= 9, let number = Int(text) else { throw .invalidRequest("\(name) must be a whole number") }
        return number
    }

    private static func decoded(_ bytes: some Collection<UInt8>) -> String? {
        var output: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                guard first < bytes.endIndex, bytes.index(after: first) < bytes.endIndex,
                    let high = hexValue(bytes[first]), let low = hexValue(bytes[bytes.index(after: first)])
                else { return nil }
                output.append(high << 4 | low)
                index = bytes.index(first, offsetBy: 2)
            } else {
                output.append(byte)
                index = bytes.index(after: index)
            }
        }
        return String(validating: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - 48
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - 87
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - 55
        default: nil
        }
    }
}
