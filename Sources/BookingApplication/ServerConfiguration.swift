import FastCGI
import Logging
import MetricsExposition
import Notifications
import ReadModel
import StoreConfiguration

#if canImport(Glibc)
    import Glibc
#endif

/// Everything the server reads from its environment, read once and checked at start-up
/// (`settings` lists every variable, for `--help`).
public struct ServerConfiguration: Sendable {
    /// Every variable the server reads: its own, then the store's and the data's.
    public static let settings =
        [
            Setting(
                "FCGI_SOCKET", "the unix socket to create and listen on",
                default: "systemd's socket (LISTEN_FDS), else the listening socket on fd 0 (spawn-fcgi, systemd StandardInput=socket)"),
            Setting("FCGI_SOCKET_MODE", "octal permission bits of that socket", default: "0660"),
            Setting(
                "FCGI_ADDRESS",
                "host:port to listen on with TCP instead, for nginx on other hosts: plain FastCGI, so on a private network only",
                default: "none"),
            Setting(
                "FCGI_WEB_SERVER_ADDRS", "comma-separated IP addresses of the web servers: the only peers a TCP connection is taken from",
                default: "any peer"),
            Setting("WORKERS", "worker processes (1-256)", default: "the number of cores, at least 2"),
            Setting("THREADS", "worker threads per process (1-1024)", default: "8"),
            Setting("MAX_BODY_BYTES", "the largest request body accepted", default: "65536"),
            Setting(
                "READ_CACHE_SECONDS", "how long cached reads are served at most: the bound for changes made on other hosts (0.1-3600)",
                default: "1"),
            Setting(
                "LARGE_BODY_DIR", "a folder for large read bodies that nginx sends itself (X-Accel-Redirect)", default: "none: all through FastCGI"),
            Setting(
                "PUBLISH_DIR",
                "a folder where the catalog is published each second for nginx to serve itself (needs READ_CACHE_SECONDS of at least 1)",
                default: "none: not published"),
            Setting(
                "ADMIN_TOKEN",
                "the bearer token of the business's requests (creating and changing services, listing bookings); at least 32 characters",
                default: "none: those requests are refused", requiredWhen: "for the business's requests"),
            Setting("LOG_LEVEL", "trace, debug, info, notice, warning, error or critical", default: "info"),
            Setting(
                "METRICS_ADDRESS", "host:port where Prometheus metrics are served (GET /metrics), or off; keep it private",
                default: "127.0.0.1:9464"),
            Setting(
                "WEBHOOK_URL", "an http(s) URL the business's receiver takes a signed POST at for each booking change", default: "none"),
            Setting(
                "WEBHOOK_SECRET", "the key of the messages' HMAC-SHA256 signature (X-Booking-Signature); at least 16 characters",
                default: "none", requiredWhen: "with WEBHOOK_URL"),
            Setting("WEBHOOK_INCLUDE_CONTACT", "1: the messages hold the customer's email, phone and notes too", default: "0"),
            Setting(
                "SMTP_URL",
                "the mail server customers' emails go through: smtp://[user:password@]host[:port] (STARTTLS; required with a password) or smtps://...",
                default: "none: no emails"),
            Setting(
                "MAIL_FROM", "the emails' sender: bookings@example.com or Example Bookings <bookings@example.com>", default: "none",
                requiredWhen: "with SMTP_URL"),
            Setting(
                "PUBLIC_URL", "where customers reach the booking page, for the manage link in emails: https://host[:port]", default: "none",
                requiredWhen: "with SMTP_URL"),
            Setting("SMTP_CA_FILE", "certificates to trust for the mail server's TLS instead of the system's", default: "the system's"),
            Setting(
                "DRAIN_SECONDS",
                "after SIGTERM, how long to go on serving while GET /readyz answers 503, so a load balancer stops sending first (0-300)",
                default: "0"),
        ] + StoreConfiguration.settings + DataSettings.settings

    public var fastCGI: FastCGIConfiguration
    public var store: StoreConfiguration
    public var readCacheLifetime: Double
    public var largeBodyDirectory: String?
    public var publishDirectory: String?
    public var adminToken: String?
    public var logLevel: Logger.Level
    /// Where metrics are served; nil: not at all.
    public var metricsAddress: MetricsAddress?
    public var data: DataSettings
    /// Where booking changes are sent; nil: nowhere (and no webhook events are written).
    public var webhook: WebhookSettings?
    /// How customers are emailed; nil: not at all (and no email events are written).
    public var email: EmailSettings?

    public init(environment: [String: String]) throws(ConfigurationError) {
        let listener = try Self.listener(environment)
        fastCGI = FastCGIConfiguration(
            listener: listener,
            processes: try Self.integer(environment, "WORKERS", default: max(2, sysconf(Int32(_SC_NPROCESSORS_ONLN))), in: 1...256),
            threads: try Self.integer(environment, "THREADS", default: 8, in: 1...1024),
            maximumBodyBytes: try Self.integer(environment, "MAX_BODY_BYTES", default: 65536, in: 1024...(64 << 20)))
        do {
            store = try StoreConfiguration(environment: environment)
        } catch {
            throw ConfigurationError(error.description)
        }
        readCacheLifetime = try Self.seconds(environment, "READ_CACHE_SECONDS", default: ReadModel.Settings.defaultLifetime, in: 0.1...3600)
        largeBodyDirectory = environment["LARGE_BODY_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        publishDirectory = environment["PUBLISH_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        if publishDirectory != nil && readCacheLifetime < 1 {
            throw ConfigurationError("PUBLISH_DIR needs READ_CACHE_SECONDS of at least 1 (nginx serves a published body for up to a second)")
        }
        adminToken = environment["ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if let token = adminToken, token.count < Self.minimumAdminTokenLength {
            throw ConfigurationError(
                "ADMIN_TOKEN must be at least \(Self.minimumAdminTokenLength) characters (for example from openssl rand -hex 24), not \(token.count)")
        }
        let level = environment["LOG_LEVEL"].flatMap { $0.isEmpty ? nil : $0 } ?? "info"
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ConfigurationError(
                "LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not \(level.prefix(32))")
        }
        self.logLevel = logLevel
        let metrics = environment["METRICS_ADDRESS"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:9464"
        do {
            metricsAddress = metrics == "off" ? nil : try MetricsAddress(parsing: metrics)
        } catch {
            throw ConfigurationError(error.description)
        }
        fastCGI.drainSeconds = try Self.seconds(environment, "DRAIN_SECONDS", default: 0, in: 0...300)
        webhook = try Self.webhook(environment)
        email = try Self.email(environment)
        if let peers = environment["FCGI_WEB_SERVER_ADDRS"].flatMap({ $0.isEmpty ? nil : $0 }) {
            let addresses = peers.split(separator: ",").map { String($0.filter { $0 != " " }) }
            guard addresses.allSatisfy(FastCGIConfiguration.isIPAddress) else {
                throw ConfigurationError("FCGI_WEB_SERVER_ADDRS must be IP addresses separated by commas, not \(peers.prefix(64))")
            }
            fastCGI.allowedPeers = addresses
        }
        do {
            data = try DataSettings(environment: environment, store: store)
        } catch {
            throw ConfigurationError(error.description)
        }
    }

    /// The webhook receiver and its secret, when WEBHOOK_URL is set.
    private static func webhook(_ environment: [String: String]) throws(ConfigurationError) -> WebhookSettings? {
        guard let url = environment["WEBHOOK_URL"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.count > 8, !url.contains(where: { $0.isWhitespace }) else {
            throw ConfigurationError("WEBHOOK_URL must be an http:// or https:// URL, not \(url.prefix(64))")
        }
        guard let secret = environment["WEBHOOK_SECRET"], secret.count >= WebhookSettings.minimumSecretLength else {
            throw ConfigurationError("WEBHOOK_SECRET must be set, of at least \(WebhookSettings.minimumSecretLength) characters, with WEBHOOK_URL")
        }
        let include = environment["WEBHOOK_INCLUDE_CONTACT"] ?? "0"
        guard include == "0" || include == "1" else { throw ConfigurationError("WEBHOOK_INCLUDE_CONTACT must be 0 or 1") }
        return WebhookSettings(url: url, secret: Array(secret.utf8), includeContact: include == "1")
    }

    /// The mail server, sender and page address, when SMTP_URL is set.
    private static func email(_ environment: [String: String]) throws(ConfigurationError) -> EmailSettings? {
        guard let url = environment["SMTP_URL"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://"), url.count > 9, !url.contains(where: { $0.isWhitespace }) else {
            throw ConfigurationError("SMTP_URL must be an smtp:// or smtps:// URL, not \(url.prefix(9))...")
        }
        let from = environment["MAIL_FROM"] ?? ""
        let publicURL = environment["PUBLIC_URL"] ?? ""
        let caFile = environment["SMTP_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        if let caFile, access(caFile, R_OK) != 0 { throw ConfigurationError("SMTP_CA_FILE cannot be read: \(caFile.prefix(200))") }
        guard let settings = EmailSettings(smtpURL: url, from: from, publicURL: publicURL, caFile: caFile) else {
            throw ConfigurationError(
                "with SMTP_URL, MAIL_FROM must be an address (bookings@example.com or Name <bookings@example.com>), not \"\(from.prefix(64))\", "
                    + "and PUBLIC_URL the booking page's http(s):// address, not \"\(publicURL.prefix(64))\"")
        }
        return settings
    }

    /// Where to listen: FCGI_SOCKET or FCGI_ADDRESS (not both), else the socket systemd passed
    /// this process (LISTEN_FDS, on fd 3), else the one on fd 0.
    private static func listener(_ environment: [String: String]) throws(ConfigurationError) -> FastCGIConfiguration.Listener {
        let path = environment["FCGI_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        let address = environment["FCGI_ADDRESS"].flatMap { $0.isEmpty ? nil : $0 }
        switch (path, address) {
        case (.some, .some):
            throw ConfigurationError("FCGI_SOCKET and FCGI_ADDRESS are both set; give one")
        case (let path?, nil):
            let modeText = environment["FCGI_SOCKET_MODE"] ?? "0660"
            guard let mode = UInt32(modeText, radix: 8), mode <= 0o777 else {
                throw ConfigurationError("FCGI_SOCKET_MODE must be octal permission bits such as 0660, not \(modeText)")
            }
            return .unixSocket(path: path, mode: mode)
        case (nil, let address?):
            guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]), port > 0,
                !address[..<colon].contains(":")
            else {
                throw ConfigurationError(
                    "FCGI_ADDRESS must be host:port with an IPv4 address or a name, such as 10.0.0.2:9000, not \(address.prefix(64))")
            }
            return .tcp(address: address)
        case (nil, nil):
            // systemd's socket activation (sd_listen_fds): the sockets start at fd 3 and are meant
            // for the process LISTEN_PID names.
            if let count = environment["LISTEN_FDS"], environment["LISTEN_PID"] == String(getpid()) {
                guard count == "1" else { throw ConfigurationError("LISTEN_FDS must be 1 (one socket in the .socket unit), not \(count.prefix(16))") }
                return .inherited(descriptor: 3)
            }
            return .inherited(descriptor: 0)
        }
    }

    /// The shortest `ADMIN_TOKEN` accepted: 32 characters, 128 bits or more from a random source.
    static let minimumAdminTokenLength = 32

    private static func integer(
        _ environment: [String: String], _ name: String, default value: Int,
        in range: ClosedRange<Int>
    ) throws(ConfigurationError) -> Int {
        try number(environment, name, default: value, in: range, kind: "a whole number")
    }

    private static func seconds(
        _ environment: [String: String], _ name: String, default value: Double,
        in range: ClosedRange<Double>
    ) throws(ConfigurationError) -> Double {
        try number(environment, name, default: value, in: range, kind: "a number of seconds")
    }

    /// The variable's value, or `value` when it is unset or empty.
    private static func number<Number: LosslessStringConvertible & Comparable>(
        _ environment: [String: String], _ name: String, default value: Number, in range: ClosedRange<Number>, kind: String
    ) throws(ConfigurationError) -> Number {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let number = Number(text), range.contains(number) else {
            throw ConfigurationError("\(name) must be \(kind) from \(range.lowerBound) to \(range.upperBound), not \(text)")
        }
        return number
    }
}

/// A setting in the environment that cannot be used, in words for the operator.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
