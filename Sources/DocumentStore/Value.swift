import JSON

/// A typed field value, as Firestore types them.
public enum Value: Equatable, Sendable {
    case null
    case boolean(Bool)
    case integer(Int64)
    case double(Double)
    case timestamp(Timestamp)
    case string(String)
    case array([Value])
    case map([String: Value])

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var arrayValue: [Value]? {
        if case .array(let value) = self { return value }
        return nil
    }
}

extension Value {
    /// Firestore's REST encoding of a value (`{"stringValue": "..."}`, integers as strings, ...).
    /// Both stores use it: the Firestore API speaks it and PostgreSQL keeps fields in it, so data
    /// moves between the two unchanged.
    public var firestoreJSON: JSON {
        switch self {
        case .null: return .object(["nullValue": .string("NULL_VALUE")])  // the discovery document's enum; responses may say null
        case .boolean(let value): return .object(["booleanValue": .bool(value)])
        case .integer(let value): return .object(["integerValue": .string(String(value))])
        case .double(let value): return .object(["doubleValue": .double(value)])
        case .timestamp(let value): return .object(["timestampValue": .string(value.rfc3339)])
        case .string(let value): return .object(["stringValue": .string(value)])
        // Empty lists and maps are written without their member, as proto3 JSON (and Firestore) writes them.
        case .array(let values):
            return .object(["arrayValue": .object(values.isEmpty ? [:] : ["values": .array(values.map(\.firestoreJSON))])])
        case .map(let fields):
            return .object(["mapValue": .object(fields.isEmpty ? [:] : ["fields": Value.firestoreJSON(fields)])])
        }
    }

    /// Decodes Firestore's REST encoding; nil when it is not a value Firestore would send.
    public init?(firestoreJSON json: JSON) {
        guard case .object(let members) = json, members.count == 1, let (kind, payload) = members.first else { return nil }
        switch (kind, payload) {
        case ("nullValue", .null), ("nullValue", .string("NULL_VALUE")): self = .null
        case ("booleanValue", .bool(let value)): self = .boolean(value)
        case ("integerValue", .string(let text)):
            guard let value = Int64(text) else { return nil }
            self = .integer(value)
        case ("integerValue", .integer(let value)): self = .integer(value)
        case ("doubleValue", .double(let value)): self = .double(value)
        case ("doubleValue", .integer(let value)): self = .double(Double(value))
        case ("timestampValue", .string(let text)):
            guard let value = Timestamp(rfc3339: text) else { return nil }
            self = .timestamp(value)
        case ("stringValue", .string(let value)): self = .string(value)
        case ("arrayValue", .object(let array)):
            var values: [Value] = []
            for element in array["values"]?.arrayValue ?? [] {
                guard let value = Value(firestoreJSON: element) else { return nil }
                values.append(value)
            }
            self = .array(values)
        case ("mapValue", .object(let map)):
            guard let fields = Value.fields(firestoreJSON: map["fields"] ?? .object([:])) else { return nil }
            self = .map(fields)
        default: return nil
        }
    }

    /// Encodes a document's fields as Firestore's `fields` map.
    public static func firestoreJSON(_ fields: [String: Value]) -> JSON {
        .object(fields.mapValues(\.firestoreJSON))
    }

    /// Decodes a Firestore `fields` map; nil if any value is malformed.
    public static func fields(firestoreJSON json: JSON) -> [String: Value]? {
        guard case .object(let members) = json else { return nil }
        var fields: [String: Value] = [:]
        for (name, encoded) in members {
            guard let value = Value(firestoreJSON: encoded) else { return nil }
            fields[name] = value
        }
        return fields
    }
}
