/// One environment variable the programs read: its name, what it does, its default, and when
/// it must be set. The lists of them (`ServerConfiguration.settings` and those it includes) are
/// what `booking-server --help` prints, so the help and the code name the same settings.
public struct Setting: Sendable {
    public let name: String
    public let meaning: String
    public let defaultValue: String
    /// When it must be set; nil: never (it has a default or is optional).
    public let requiredWhen: String?

    public init(_ name: String, _ meaning: String, default defaultValue: String, requiredWhen: String? = nil) {
        self.name = name
        self.meaning = meaning
        self.defaultValue = defaultValue
        self.requiredWhen = requiredWhen
    }
}

/// The version of booking-server and bookingctl (`--version`).
public enum Version {
    public static let number = "0.6.0"
}
