/// A JSON value.
///
/// The service's one JSON representation, used for request bodies, response bodies and
/// Firestore-typed document fields. Objects keep their members as a dictionary; the
/// serializer writes keys in sorted order so output is deterministic.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// The member named `key` when this is an object.
    public subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSON]? {
        if case .object(let value) = self { return value }
        return nil
    }
}

extension JSON {
    /// This value with a JSON merge patch (RFC 7396) applied: an object patch sets, replaces or
    /// (with null) removes members, recursively; any other patch replaces the value.
    public func mergePatched(with patch: JSON) -> JSON {
        guard case .object(let changes) = patch else { return patch }
        var members = objectValue ?? [:]
        for (name, change) in changes {
            if change == .null {
                members[name] = nil
            } else {
                members[name] = (members[name] ?? .null).mergePatched(with: change)
            }
        }
        return .object(members)
    }
}
