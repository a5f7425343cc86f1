import _CryptoExtras
import DocumentStore
import DocumentStoreConformance
@testable import FirestoreStore
import JSON
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Firestore test server the test command started (FIRESTORE_EMULATOR_HOST).
let emulatorHost = getenv("FIRESTORE_EMULATOR_HOST").map { String(cString: $0) } ?? "127.0.0.1:18085"

func emulatorStore(project: String = "conformance") -> DocumentStoreFactory {
    let configuration = FirestoreConfiguration.emulator(host: emulatorHost, projectID: project)
    let tokens = FirestoreStore.TokenCache(credentials: configuration.credentials)
    return { FirestoreStore(configuration: configuration, tokens: tokens) }
}

@Suite struct FirestoreStoreConformanceTests {
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
        let exists = #"{"error": {"code": 409, "message": "Document already exists: projects/p/databases/(default)/documents/slot_claims/a@2031-01-01T00:00:00Z", "status": "ALREADY_EXISTS"}}"#
        #expect(classify(409, exists) == .alreadyExists(DocumentPath("slot_claims", "a@2031-01-01T00:00:00Z")))
        guard case .unavailable = classify(409, #"{"error": {"code": 409, "message": "Transaction aborted", "status": "ABORTED"}}"#) else {
            Issue.record("ABORTED must be transient")
            return
        }
        #expect(classify(404, #"{"error": {"code": 404, "message": "No document to update: projects/p/databases/(default)/documents/c/x", "status": "NOT_FOUND"}}"#)
            == .notFound(DocumentPath("c", "x")))
        #expect(classify(400, #"{"error": {"code": 400, "message": "stored version mismatch: projects/p/databases/d/documents/c/y", "status": "FAILED_PRECONDITION"}}"#)
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
    @Test(arguments: [("service_id", "service_id"), ("a1_B", "a1_B"), ("1a", "`1a`"), ("a.b", "`a.b`"), ("a`b", "`a\\`b`"), ("é", "`é`")])
    func fieldPathsAreQuotedUnlessSimple(_ field: String, _ path: String) {
        #expect(FirestoreStore.fieldPath(field) == path)
    }

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
        let key = ServiceAccountKey(projectID: "p", privateKeyID: "kid-1", privateKey: privateKey.pemRepresentation,
                                    clientEmail: "svc@p.iam.gserviceaccount.com", tokenURI: "https://oauth2.example/token")
        let jwt = try AccessTokens.signedJWT(for: key, now: 1_800_000_000)
        let parts = jwt.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        let claims = try JSONParser.parse(decode(parts[1]))
        #expect(claims == .object([
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
