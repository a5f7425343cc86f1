/// Where a document lives: a top-level collection and an id within it.
public struct DocumentPath: Hashable, Sendable, CustomStringConvertible {
    public let collection: String
    public let id: String

    public init(_ collection: String, _ id: String) {
        self.collection = collection
        self.id = id
    }

    public var description: String { "\(collection)/\(id)" }

    /// Whether Firestore accepts `id` as a document id: 1 to 1,500 bytes of UTF-8, no `/`,
    /// not `.` or `..`, and not of the reserved form `__…__`. Every store enforces this, so
    /// data stays portable between them.
    /// Checked on the UTF-8 bytes: every commit checks each path it writes.
    public static func isValidID(_ id: String) -> Bool {
        let bytes = id.utf8
        let length = bytes.count
        guard length >= 1, length <= 1500, !bytes.contains(UInt8(ascii: "/")), id != ".", id != ".." else { return false }
        let underscore = UInt8(ascii: "_")
        return !(length >= 4 && bytes.starts(with: [underscore, underscore]) && bytes.reversed().starts(with: [underscore, underscore]))
    }
}

/// A stored document: its fields and the times the store gave it.
public struct Document: Equatable, Sendable {
    public let path: DocumentPath
    public let fields: [String: Value]
    public let createTime: Timestamp
    public let updateTime: Timestamp

    public init(path: DocumentPath, fields: [String: Value], createTime: Timestamp, updateTime: Timestamp) {
        self.path = path
        self.fields = fields
        self.createTime = createTime
        self.updateTime = updateTime
    }

    public subscript(field: String) -> Value? { fields[field] }
}

/// A document's id and the time it last changed, without its fields.
public struct DocumentVersion: Equatable, Sendable {
    public let id: String
    public let updateTime: Timestamp

    public init(id: String, updateTime: Timestamp) {
        self.id = id
        self.updateTime = updateTime
    }
}

/// What a collection gained or changed from a time on, as the store saw it at `asOf` (its own
/// clock, taken when it began to look): a later look from a little before `asOf` misses nothing
/// that was visible by then.
public struct WrittenDocuments: Equatable, Sendable {
    /// The documents created or updated from the time asked for, in id order.
    public let documents: [DocumentVersion]
    public let asOf: Timestamp

    public init(documents: [DocumentVersion], asOf: Timestamp) {
        self.documents = documents
        self.asOf = asOf
    }
}

/// The document ids from `lowerBound` (included) to `upperBound` (excluded), in the order every
/// store keeps ids: by their UTF-8 bytes. Both bounds must be valid document ids.
public struct DocumentIDRange: Equatable, Sendable {
    public let lowerBound: String
    public let upperBound: String

    public init(from lowerBound: String, before upperBound: String) {
        self.lowerBound = lowerBound
        self.upperBound = upperBound
    }

    /// Throws `invalidArgument` unless both bounds are valid ids, as each store requires.
    public func validate() throws(StoreError) {
        guard DocumentPath.isValidID(lowerBound), DocumentPath.isValidID(upperBound) else {
            throw .invalidArgument("invalid document id range \(lowerBound) ..< \(upperBound)")
        }
    }
}

/// One page of a collection listing, in document-id order.
public struct DocumentPage: Sendable {
    public let documents: [Document]
    /// Pass back to `list` for the next page; nil on the last page.
    public let nextPageToken: String?

    public init(documents: [Document], nextPageToken: String?) {
        self.documents = documents
        self.nextPageToken = nextPageToken
    }
}
