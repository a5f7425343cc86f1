import CurlClients
import DocumentStore
import DocumentStoreConformance
import JSON
import TestSupport
import Testing
import _CryptoExtras

@testable import FirestoreStore

#if canImport(Glibc)
    import Glibc
#endif

/// The Firestore test server the test command started (FIRESTORE_EMULATOR_HOST).
let emulatorHost = TestEnvironment.firestoreHost ?? ""

func emulatorStore(project: String = "conformance") -> DocumentStoreFactory {
    let configuration = FirestoreConfiguration.emulator(host: emulatorHost, projectID: project)
    let tokens = FirestoreStore.TokenCache(credentials: configuration.credentials)
    return { FirestoreStore(configuration: configuration, tokens: tokens) }
}

@Suite(.enabled(if: TestEnvironment.firestoreHost != nil, Comment(rawValue: TestEnvironment.noFirestore)))
struct FirestoreStoreConformanceTests {
    @Test(arguments: DocumentStoreConformance.checks.keys.sorted())
    func conformance(_ check: String) throws {
        try DocumentStoreConformance.checks[check]!(emulatorStore())
    }

    @Test func anUnreachableEmulatorIsUnavailableAfterBoundedRetries() throws {
        var configuration = FirestoreConfiguration.emulator(host: "127.0.0.1:1", projectID: "p")
        configuration.timeoutMilliseconds = 500
        let store = FirestoreStore(configuration: configuration, tokens: .init(credentials: .emulator))
        let start = Timestamp.now()
        do {
            try store.commit([.create(DocumentPath("c", "d"), [:])])
            Issue.record("commit succeeded without a server")
        } catch {
            guard case .unavailable = error else { Issue.record("expected unavailable, got \(error)"); return }
        }
        #expect(Timestamp.now().seconds - start.seconds < 5)
    }
}

@Suite struct GoogleErrorTests {
    func classify(_ status: Int, _ body: String) -> StoreError {
        GoogleError(HTTPClient.Response(status: status, body: Array(body.utf8))).storeError
    }

    @Test func classifiesOnTheStatusNotTheHTTPCode() {
        let exists =
            #"{"error": {"code": 409, "message": "Document already exists: projects/p/databases/(default)/documents/slot_claims/a@2031-01-01T00:00:00Z", "status": "ALREADY_EXISTS"}}"#
        #expect(classify(409, exists) == .alreadyExists(DocumentPath("slot_claims", "a@2031-01-01T00:00:00Z")))
        guard case .unavailable = classify(409, #"{"error": {"code": 409, "message": "Transaction aborted", "status": "ABORTED"}}"#) else {
            Issue.record("ABORTED must be transient")
            return
        }
        #expect(
            classify(
                404,
                #"{"error": {"code": 404, "message": "No document to update: projects/p/databases/(default)/documents/c/x", "status": "NOT_FOUND"}}"#)
                == .notFound(DocumentPath("c", "x")))
        #expect(
            classify(
                400,
                #"{"error": {"code": 400, "message": "stored version mismatch: projects/p/databases/d/documents/c/y", "status": "FAILED_PRECONDITION"}}"#
            )
                == .failedPrecondition(DocumentPath("c", "y")))
        guard case .invalidArgument = classify(400, #"{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}"#) else {
            Issue.record("INVALID_ARGUMENT")
            return
        }
        guard case .internalError = classify(403, #"{"error": {"code": 403, "message": "no", "status": "PERMISSION_DENIED"}}"#) else {
            Issue.record("PERMISSION_DENIED")
            return
        }
    }

    @Test func aBodyWithoutStatusFallsBackToTheHTTPCode() {
        guard case .unavailable = classify(503, "<html>Service Unavailable</html>") else {
            Issue.record("503 without a Google body must be transient")
            return
        }
    }
}

@Suite struct EncodingTests {
    @Test func base64URLHasNoPadding() {
        #expect(Base64URL.encode(Array("".utf8)) == "")
        #expect(Base64URL.encode(Array("f".utf8)) == "Zg")
        #expect(Base64URL.encode(Array("fo".utf8)) == "Zm8")
        #expect(Base64URL.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
    }

    @Test func documentNamesMapToPaths() {
        let parent = "projects/p/databases/(default)/documents"
        #expect(DocumentPath(name: "\(parent)/services/haircut", under: parent) == DocumentPath("services", "haircut"))
        #expect(DocumentPath(name: "\(parent)/a/b/c/d", under: parent) == nil)
        #expect(DocumentPath(name: "projects/q/databases/(default)/documents/a/b", under: parent) == nil)
    }

    @Test func theJWTIsSignedWithTheKeyAndCarriesGooglesClaims() throws {
        let privateKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let key = ServiceAccountKey(
            projectID: "p", privateKeyID: "kid-1", privateKey: privateKey.pemRepresentation,
            clientEmail: "svc@p.iam.gserviceaccount.com", tokenURI: "https://oauth2.example/token")
        let jwt = try AccessTokens.signedJWT(for: key, now: 1_800_000_000)
        let parts = jwt.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        let claims = try JSONParser.parse(decode(parts[1]))
        #expect(
            claims
                == .object([
                    "iss": .string("svc@p.iam.gserviceaccount.com"), "scope": .string("https://www.googleapis.com/auth/datastore"),
                    "aud": .string("https://oauth2.example/token"), "iat": .integer(1_800_000_000), "exp": .integer(1_800_003_600),
                ]))
        #expect(try JSONParser.parse(decode(parts[0])) == .object(["alg": .string("RS256"), "typ": .string("JWT"), "kid": .string("kid-1")]))
        let signature = _RSA.Signing.RSASignature(rawRepresentation: decode(parts[2]))
        #expect(privateKey.publicKey.isValidSignature(signature, for: Array("\(parts[0]).\(parts[1])".utf8), padding: .insecurePKCS1v1_5))
        #expect(!privateKey.publicKey.isValidSignature(signature, for: Array("\(parts[0]).x".utf8), padding: .insecurePKCS1v1_5))
    }

    private func decode(_ text: String) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var bits: UInt32 = 0
        var count = 0
        var output: [UInt8] = []
        for character in text.utf8 {
            bits = bits << 6 | UInt32(alphabet.firstIndex(of: character)!)
            count += 6
            if count >= 8 {
                count -= 8
                output.append(UInt8(truncatingIfNeeded: bits >> UInt32(count)))
            }
        }
        return output
    }
}

/// Production authentication against the test server's token endpoint, which verifies the JWT
/// with the key's public half and refuses API calls without a token it issued.
@Suite(.serialized, .enabled(if: TestEnvironment.firestoreHost != nil, Comment(rawValue: TestEnvironment.noFirestore)))
struct TokenFlowTests {
    let server = "http://\(emulatorHost)"
    let control = HTTPClient(timeoutMilliseconds: 5000, connectTimeoutMilliseconds: 2000)
    let privateKey: _RSA.Signing.PrivateKey
    let project = "auth-\(UInt32.random(in: 0...UInt32.max))"
    let clientEmail: String

    init() throws {
        privateKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        clientEmail = "booking@\(project).iam.gserviceaccount.com"
    }

    func post(_ path: String, _ body: JSON) throws -> HTTPClient.Response {
        try control.send("POST", "\(server)/_test/\(path)", headers: ["Content-Type: application/json"], body: body.serialized())
    }

    func tokenRequests() throws -> [JSON] {
        let all = try JSONParser.parse(control.send("GET", "\(server)/_test/token-requests").body).arrayValue ?? []
        return all.filter { $0["claims"]?["iss"] == .string(clientEmail) }
    }

    func store(registered: Bool = true, lifetime: Int64) throws -> FirestoreStore {
        let kid = "key-\(project)"
        if registered { _ = try post("keys", .object(["kid": .string(kid), "pem": .string(privateKey.publicKey.pemRepresentation)])) }
        _ = try post("auth", .object(["project": .string(project), "token_lifetime": .integer(lifetime)]))
        let key = ServiceAccountKey(
            projectID: project, privateKeyID: kid, privateKey: privateKey.pemRepresentation,
            clientEmail: clientEmail, tokenURI: "\(server)/_test/token")
        let configuration = FirestoreConfiguration(projectID: project, endpoint: server, credentials: .serviceAccount(key))
        return FirestoreStore(configuration: configuration, tokens: .init(credentials: configuration.credentials))
    }

    @Test func aTokenIsFetchedOnceAndReused() throws {
        let store = try store(lifetime: 3600)
        try store.commit([.create(DocumentPath("c", "a"), ["v": .integer(1)])])
        _ = try store.get(DocumentPath("c", "a"))
        _ = try store.list(collection: "c", pageSize: 10, pageToken: nil)
        let requests = try tokenRequests()
        #expect(requests.count == 1)
        #expect(requests.first?["problems"] == .array([]))
        #expect(requests.first?["header"]?["kid"] == .string("key-\(project)"))
    }

    @Test func aTokenIsRefreshedBeforeItExpires() throws {
        let store = try store(lifetime: AccessTokens.refreshMargin + 2)  // fresh for 2 s only
        try store.ping()
        try store.ping()
        #expect(try tokenRequests().count == 1)
        sleep(3)
        try store.ping()
        #expect(try tokenRequests().count == 2)
    }

    @Test func aRefusedTokenIsReplacedOnce() throws {
        let store = try store(lifetime: 3600)
        try store.ping()
        _ = try post("revoke", .object([:]))
        try store.ping()  // UNAUTHENTICATED, a new token, and the call again
        #expect(try tokenRequests().count == 2)
    }

    @Test func onAGoogleCloudHostTheMetadataServerGivesTheToken() throws {
        _ = try post("auth", .object(["project": .string(project), "token_lifetime": .integer(3600)]))
        let configuration = FirestoreConfiguration(projectID: project, endpoint: server, credentials: .metadataServer(host: emulatorHost))
        let store = FirestoreStore(configuration: configuration, tokens: .init(credentials: configuration.credentials))
        try store.commit([.create(DocumentPath("c", "m"), [:])])
        #expect(try store.get(DocumentPath("c", "m")) != nil)
        let unauthenticated = FirestoreStore(
            configuration: FirestoreConfiguration.emulator(host: emulatorHost, projectID: project),
            tokens: .init(credentials: .emulator))
        #expect(throws: StoreError.self) { try unauthenticated.get(DocumentPath("c", "m")) }
    }

    @Test func aKeyTheTokenEndpointDoesNotKnowFailsWithoutRetrying() throws {
        let store = try store(registered: false, lifetime: 3600)
        do {
            try store.ping()
            Issue.record("an unknown key was accepted")
        } catch {
            guard case .internalError(let message) = error else { Issue.record("expected internalError, got \(error)"); return }
            #expect(message.contains("invalid_grant"))
        }
    }
}
