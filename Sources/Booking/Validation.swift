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
        guard !id.unicodeScalars.contains(where: { $0 == "/" || isRefusedOnOneLine($0) }) else {
            throw .invalidField(field, "must not contain '/', control characters, bidirectional controls or line separators")
        }
        guard !id.unicodeScalars.allSatisfy(isInvisible) else { throw .invalidField(field, "must not be blank") }
        guard DocumentPath.isValidID(id) else { throw .invalidField(field, "is a reserved id") }
        return id
    }

    /// A name is 1–200 characters (code points, as for ids) after trimming white space, with at
    /// least one visible character, and none of the characters refused on one line.
    static func name(_ name: String, field: String) throws(BookingError) -> String {
        let trimmed = trimmed(name)
        guard !trimmed.unicodeScalars.allSatisfy(isInvisible) else { throw .invalidField(field, "must not be blank") }
        guard trimmed.unicodeScalars.count <= maximumNameLength else { throw .invalidField(field, "must be at most \(maximumNameLength) characters") }
        guard !trimmed.unicodeScalars.contains(where: isRefusedOnOneLine) else {
            throw .invalidField(field, "must not contain control characters, bidirectional controls or line separators")
        }
        return trimmed
    }

    /// Whether a character shows nothing by itself: white space, and Unicode's default-ignorable
    /// code points (zero-width space and joiners, word joiner, byte order mark, soft hyphen,
    /// variation selectors). A name of only these looks blank wherever it is shown. (Inside a
    /// name they stay: joiners are part of emoji and of several scripts.)
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || scalar.properties.isDefaultIgnorableCodePoint
    }

    /// Whether a character is refused in one-line text (names and ids): control characters;
    /// bidirectional controls, which reorder the text around them on screen (U+202E makes
    /// "Ann\u{202E}nimda" show as "Annadmin" reversed, a name that is not what it seems); and the
    /// line and paragraph separators U+2028 and U+2029, line breaks in a one-line field.
    static func isRefusedOnOneLine(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: scalar.properties.isBidiControl
        }
    }
}

extension Validation {
    static let maximumEmailLength = 254
    static let maximumPhoneLength = 32
    static let maximumNotesLength = 1000

    /// Contact details as stored: each field trimmed, empty ones absent, the rest checked.
    static func contact(_ contact: Contact) throws(BookingError) -> Contact {
        func present(_ text: String?) -> String? { text.map(trimmed).flatMap { $0.isEmpty ? nil : $0 } }
        let email = try present(contact.email).map { text throws(BookingError) in try Self.email(text) }
        let phone = try present(contact.phone).map { text throws(BookingError) in try Self.phone(text) }
        let notes = try present(contact.notes).map { text throws(BookingError) in try Self.notes(text) }
        return Contact(email: email, phone: phone, notes: notes)
    }

    /// An address of the form `local@domain`: at most 254 characters (RFC 5321's path limit), a
    /// local part of 1–64 printable ASCII characters without white space, and a domain of dot-separated
    /// labels of letters, digits and hyphens (or any non-ASCII letters: internationalised
    /// domains) with at least one dot. What mail systems accept, not the whole of RFC 5322,
    /// whose quoted forms no booking form needs.
    static func email(_ email: String) throws(BookingError) -> String {
        let problem = BookingError.invalidField("email", "must be an address such as ann@example.com, at most \(maximumEmailLength) characters")
        guard email.unicodeScalars.count <= maximumEmailLength, let at = email.lastIndex(of: "@") else { throw problem }
        let local = email[..<at], domain = email[email.index(after: at)...]
        guard !local.isEmpty, local.utf8.count <= 64,
            local.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 && !"@()<>[]:;,\\\"".unicodeScalars.contains($0) }),
            !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..")
        else { throw problem }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2,
            labels.allSatisfy({ label in
                !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.unicodeScalars.allSatisfy { $0 == "-" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
            })
        else { throw problem }
        return email
    }

    /// A telephone number as people write it: at most 32 characters of digits, spaces, `+`, `-`,
    /// `(` and `)`, with at least one digit.
    static func phone(_ phone: String) throws(BookingError) -> String {
        guard phone.utf8.count <= maximumPhoneLength, phone.utf8.contains(where: { (48...57).contains($0) }),
            phone.utf8.allSatisfy({ (48...57).contains($0) || " +-()".utf8.contains($0) })
        else {
            throw .invalidField("phone", "must be at most \(maximumPhoneLength) characters of digits, spaces, +, -, ( and )")
        }
        return phone
    }

    /// Notes: at most 1,000 characters (code points); line breaks and tabs allowed, other control
    /// characters not.
    static func notes(_ notes: String) throws(BookingError) -> String {
        try text(notes, field: "notes", maximumLength: maximumNotesLength)
    }

    /// Free text (notes, descriptions): at most `maximumLength` code points; line breaks and
    /// tabs allowed, other control characters not.
    static func text(_ text: String, field: String, maximumLength: Int) throws(BookingError) -> String {
        guard text.unicodeScalars.count <= maximumLength else {
            throw .invalidField(field, "must be at most \(maximumLength) characters")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && !"\n\r\t".unicodeScalars.contains($0) }) else {
            throw .invalidField(field, "must not contain control characters other than line breaks and tabs")
        }
        return text
    }
}

/// The text without leading and trailing white space (Unicode's definition).
func trimmed(_ text: String) -> String {
    var characters = Substring(text)
    while characters.first?.isWhitespace == true { characters.removeFirst() }
    while characters.last?.isWhitespace == true { characters.removeLast() }
    return String(characters)
}
