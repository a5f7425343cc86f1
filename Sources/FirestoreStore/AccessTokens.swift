import CurlClients
import DocumentStore
import JSON
import Synchronization
import TextEncodings
import _CryptoExtras

#if canImport(Glibc)
    import Glibc
#endif

/// OAuth2 access tokens for the Firestore API, fetched when first needed, shared by every
/// thread of the process, and fetched anew five minutes before they expire (or at once when
/// Firestore answers UNAUTHENTICATED).
final class AccessTokens: Sendable {
    static let scope = "https://www.googleapis.com/auth/datastore"
    static let refreshMargin: Int64 = 300

    private struct Cached {
        var token: String
        var expiresAt: Int64
    }

    private let credentials: FirestoreConfiguration.Credentials
    private let cache = Mutex<Cached?>(nil)

    init(credentials: FirestoreConfiguration.Credentials) {
        self.credentials = credentials
    }

    /// The bearer token to send, fetching one with `client` when none is fresh.
    func token(using client: HTTPClient) throws(StoreError) -> String {
        if case .emulator = credentials { return "owner" }
        let now = Timestamp.now().seconds
        if let cached = cache.withLock({ $0 }), cached.expiresAt - Self.refreshMargin > now { return cached.token }
        let fetched = try fetch(using: client, now: now)
        cache.withLock { $0 = fetched }
        return fetched.token
    }

    /// Forgets the cached token, after Firestore refused it.
    func invalidate() { cache.withLock { $0 = nil } }

    private func fetch(using client: HTTPClient, now: Int64) throws(StoreError) -> Cached {
        let (method, url, headers, body): (String, String, [String], [UInt8]?)
        switch credentials {
        case .emulator:
            return Cached(token: "owner", expiresAt: .max)
        case .serviceAccount(let key):
            let assertion = try Self.signedJWT(for: key, now: now)
            let form = "grant_type=\(PercentEncoding.encode("urn:ietf:params:oauth:grant-type:jwt-bearer"))&assertion=\(assertion)"
            (method, url, headers, body) = ("POST", key.tokenURI, ["Content-Type: application/x-www-form-urlencoded"], Array(form.utf8))
        case .metadataServer(let host):
            (method, url, headers, body) = (
                "GET", "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token",
                ["Metadata-Flavor: Google"], nil
            )
        }
        let response: HTTPClient.Response
        do {
            response = try client.send(method, url, headers: headers, body: body)
        } catch {
            throw .unavailable("access token: \(error)")
        }
        guard response.status == 200, let json = try? JSONParser.parse(response.body),
            let token = json["access_token"]?.stringValue, case .integer(let lifetime)? = json["expires_in"]
        else {
            let detail = String(decoding: response.body.prefix(300), as: UTF8.self)
            throw response.status >= 500
                ? .unavailable("access token: HTTP \(response.status)") : .internalError("access token refused: HTTP \(response.status) \(detail)")
        }
        return Cached(token: token, expiresAt: now + lifetime)
    }

    /// An RS256 JWT asserting the service account, for Google's token endpoint.
    static func signedJWT(for key: ServiceAccountKey, now: Int64) throws(StoreError) -> String {
        var header: [String: JSON] = ["alg": .string("RS256"), "typ": .string("JWT")]
        if let kid = key.privateKeyID { header["kid"] = .string(kid) }
        let claims: JSON = .object([
            "iss": .string(key.clientEmail), "scope": .string(scope), "aud": .string(key.tokenURI),
            "iat": .integer(now), "exp": .integer(now + 3600),
        ])
        let signingInput = Base64URL.encode(JSON.object(header).serialized()) + "." + Base64URL.encode(claims.serialized())
        do {
            let privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: key.privateKey)
            let signature = try privateKey.signature(for: Array(signingInput.utf8), padding: .insecurePKCS1v1_5)
            return signingInput + "." + Base64URL.encode(Array(signature.rawRepresentation))
        } catch {
            throw .internalError("cannot sign with the service-account key: \(error)")
        }
    }
}

/// Base64 with the URL alphabet and no padding, as JWTs use it (RFC 7515).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0...chunk.count {
                output.append(alphabet[Int(value >> (18 - 6 * UInt32(position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
