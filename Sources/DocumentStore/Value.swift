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
    /// A value of a kind the booking model never reads (bytes, a reference, a geo point, or a
    /// kind newer than this code), kept exactly as Firestore encodes it (`{"geoPointValue": ...}`)
    /// so that it is carried unchanged wherever its document goes and never makes it unreadable.
    case uninterpreted(JSON)

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
    /// Appends Firestore's REST encoding of the value (`{"stringValue":"..."}`, integers as
    /// strings, ...) as compact JSON. Both stores use it: the Firestore API speaks it and
    /// PostgreSQL keeps fields in it, so data moves between the two unchanged. Written straight
    /// to bytes: a commit's JSON is built on every booking.
    public func writeFirestoreJSON(to output: inout [UInt8]) {
        func tagged(_ kind: String, _ payload: JSON) {
            output.append(contentsOf: "{\"\(kind)\":".utf8)
            payload.write(to: &output)
            output.append(UInt8(ascii: "}"))
        }
        switch self {
        case .null: tagged("nullValue", .string("NULL_VALUE"))  // the discovery document's enum; responses may say null
        case .boolean(let value): tagged("booleanValue", .bool(value))
        case .integer(let value): tagged("integerValue", .string(String(value)))
        case .double(let value): tagged("doubleValue", .double(value))
        case .timestamp(let value): tagged("timestampValue", .string(value.rfc3339))
        case .string(let value): tagged("stringValue", .string(value))
        // Empty lists and maps are written without their member, as proto3 JSON (and Firestore) writes them.
        case .array(let values):
            output.append(contentsOf: #"{"arrayValue":{"#.utf8)
            if !values.isEmpty {
                output.append(contentsOf: #""values":"#.utf8)
                JSON.writeArray(values, to: &output) { value, output in value.writeFirestoreJSON(to: &output) }
            }
            output.append(contentsOf: "}}".utf8)
        case .uninterpreted(let encoded): encoded.write(to: &output)
        case .map(let fields):
            output.append(contentsOf: #"{"mapValue":{"#.utf8)
            if !fields.isEmpty {
                output.append(contentsOf: #""fields":"#.utf8)
                Value.writeFirestoreJSON(fields, to: &output)
            }
            output.append(contentsOf: "}}".utf8)
        }
    }

    /// Decodes Firestore's REST encoding; nil when it is not a tagged value at all. A value of
    /// a kind the model does not interpret, or one whose payload this code cannot read, is kept
    /// `uninterpreted`: one odd field must not make its document unreadable.
    public init?(firestoreJSON json: JSON) {
        guard case .object(let members) = json, members.count == 1, let (kind, payload) = members.first else { return nil }
        guard let value = Value(kind: kind, payload: payload) else {
            self = .uninterpreted(json)
            return
        }
        self = value
    }

    private init?(kind: String, payload: JSON) {
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

    /// Appends a document's fields as Firestore's `fields` map, names in sorted order.
    public static func writeFirestoreJSON(_ fields: [String: Value], to output: inout [UInt8]) {
        JSON.writeObject(fields, to: &output) { value, output in value.writeFirestoreJSON(to: &output) }
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
