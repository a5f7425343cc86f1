/// The entity tags an `If-None-Match` header names (RFC 9110, section 13.1.2): `*`, or a
/// comma-separated list of tags, each strong (`"x"`) or weak (`W/"x"`).
struct EntityTagList {
    private let anything: Bool
    private let opaqueTags: [Substring]

    init(_ header: String) {
        let members = header.split(separator: ",").map { $0.trimmingPrefix(while: { $0 == " " || $0 == "\t" }) }
            .map { member in member[..<(member.lastIndex { $0 != " " && $0 != "\t" }.map(member.index(after:)) ?? member.startIndex)] }
        anything = members.contains("*")
        // Weak comparison: W/ is dropped; a member that is not a quoted tag names nothing.
        opaqueTags = members.map { $0.hasPrefix("W/") ? $0.dropFirst(2) : $0 }.filter { $0.count >= 2 && $0.first == "\"" && $0.last == "\"" }
    }

    /// Whether the list names `entityTag` (a strong tag, quoted), weakly compared, or is `*`.
    func matches(_ entityTag: String) -> Bool {
        anything || opaqueTags.contains { $0 == entityTag[...] }
    }
}
