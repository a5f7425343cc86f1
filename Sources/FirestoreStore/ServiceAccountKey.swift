import JSON

/// The fields of a Google service-account key file that the token exchange needs.
public struct ServiceAccountKey: Sendable, Equatable {
    public let projectID: String?
    public let privateKeyID: String?
    /// PEM, PKCS#8 as Google issues it.
    public let privateKey: String
    public let clientEmail: String
    public let tokenURI: String

    public init(
        projectID: String?, privateKeyID: String?, privateKey: String, clientEmail: String,
        tokenURI: String = "https://oauth2.googleapis.com/token"
    ) {
        self.projectID = projectID
        self.privateKeyID = privateKeyID
        self.privateKey = privateKey
        self.clientEmail = clientEmail
        self.tokenURI = tokenURI
    }

    /// Reads a key file's JSON; nil unless it is a `service_account` key with the fields needed.
    public init?(json bytes: [UInt8]) {
        guard let json = try? JSONParser.parse(bytes), json["type"]?.stringValue == "service_account",
            let privateKey = json["private_key"]?.stringValue, let clientEmail = json["client_email"]?.stringValue
        else { return nil }
        self.init(
            projectID: json["project_id"]?.stringValue, privateKeyID: json["private_key_id"]?.stringValue,
            privateKey: privateKey, clientEmail: clientEmail,
            tokenURI: json["token_uri"]?.stringValue ?? "https://oauth2.googleapis.com/token")
    }
}
