import Crypto
import TextEncodings

/// The secret that lets a customer see and change their booking without an account.
///
/// 192 random bits from the system's generator, spelled in base64url (32 characters, no
/// padding): unguessable, and safe in a URL's fragment. Only its SHA-256 is stored: someone who
/// reads the store cannot manage bookings. A plain hash suffices (no salt, no slow hash),
/// because the token is random, not chosen by a person.
enum ManageToken {
    /// The booking document's field that holds the token's hash (the original application's
    /// bookings have none).
    static let hashField = "manage_token_sha256"

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for _ in 0..<3 { withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) } }
        return Base64URL.encode(bytes)
    }

    /// The stored form: SHA-256 in lower-case hex.
    static func hash(_ token: String) -> String {
        Hex.encode(Array(SHA256.hash(data: Array(token.utf8))))
    }

    /// Whether `token` hashes to `storedHash`, compared without an early exit.
    static func matches(_ token: String, storedHash: String) -> Bool {
        constantTimeEqual(Array(hash(token).utf8), Array(storedHash.utf8))
    }
}

/// Compares without an early exit, so the time taken does not reveal how much matched.
public func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
    for index in 0..<max(lhs.count, rhs.count) {
        difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
    }
    return difference == 0
}
