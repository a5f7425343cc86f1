import DocumentStore

/// The input rules shared by every operation.
enum Validation {
    static let maximumIDLength = 128
    static let maximumNameLength = 200
    static let maximumSlotsPerService = 5000

    /// An id is 1–128 characters, free of `/` and control characters, and acceptable to Firestore.
    ///
    /// Lengths count Unicode code points, as JSON Schema's `maxLength` (the OpenAPI description)
    /// and Python do, not Swift's grapheme clusters: one cluster may hold any number of combining
    /// marks, and an id of 128 such clusters passed here while its slot claims' ids (the id, `@`
    /// and a 20-byte slot) exceeded Firestore's 1,500 bytes, so every booking of it failed.
    /// 128 code points are at most 512 bytes.
    static func id(_ id: String, field: String) throws(BookingError) -> String {
        guard !id.isEmpty else { throw .invalidField(field, "must not be empty") }
        guard id.unicodeScalars.count <= maximumIDLength else { throw .invalidField(field, "must be at most \(maximumIDLength) characters") }
        guard !id.unicodeScalars.contains(where: { $0 == "/" || $0.properties.generalCategory == .control }) else {
            throw .invalidField(field, "must not contain '/' or control characters")
        }
        guard DocumentPath.isValidID(id) else { throw .invalidField(field, "is a reserved id") }
        return id
    }

    /// A name is 1–200 characters (code points, as for ids) after trimming white space, without
    /// control characters.
    static func name(_ name: String, field: String) throws(BookingError) -> String {
        let trimmed = trimmed(name)
        guard !trimmed.isEmpty else { throw .invalidField(field, "must not be blank") }
        guard trimmed.unicodeScalars.count <= maximumNameLength else { throw .invalidField(field, "must be at most \(maximumNameLength) characters") }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidField(field, "must not contain control characters")
        }
        return trimmed
    }
}

/// The text without leading and trailing white space (Unicode's definition).
func trimmed(_ text: String) -> String {
    var characters = Substring(text)
    while characters.first?.isWhitespace == true { characters.removeFirst() }
    while characters.last?.isWhitespace == true { characters.removeLast() }
    return String(characters)
}
