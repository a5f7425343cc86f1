import DocumentStore

/// The input rules shared by every operation.
enum Validation {
    static let maximumIDLength = 128
    static let maximumNameLength = 200
    static let maximumSlotsPerService = 5000

    /// An id is 1–128 characters, free of `/` and control characters, and acceptable to Firestore.
    static func id(_ id: String, field: String) throws(BookingError) -> String {
        guard !id.isEmpty else { throw .invalidField(field, "must not be empty") }
        guard id.count <= maximumIDLength else { throw .invalidField(field, "must be at most \(maximumIDLength) characters") }
        guard !id.unicodeScalars.contains(where: { $0 == "/" || $0.properties.generalCategory == .control }) else {
            throw .invalidField(field, "must not contain '/' or control characters")
        }
        guard DocumentPath.isValidID(id) else { throw .invalidField(field, "is a reserved id") }
        return id
    }

    /// A name is 1–200 characters after trimming white space, without control characters.
    static func name(_ name: String, field: String) throws(BookingError) -> String {
        let trimmed = trimmed(name)
        guard !trimmed.isEmpty else { throw .invalidField(field, "must not be blank") }
        guard trimmed.count <= maximumNameLength else { throw .invalidField(field, "must be at most \(maximumNameLength) characters") }
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
