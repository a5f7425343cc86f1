import Crypto
import DocumentStore
import TextEncodings

/// A response kept for an idempotency key, to give again to a repeat of its request.
public struct KeptResponse: Equatable, Sendable {
    public let status: Int
    /// The response's `Location` header, when it had one.
    public let location: String?
    public let body: [UInt8]

    public init(status: Int, location: String?, body: [UInt8]) {
        self.status = status
        self.location = location
        self.body = body
    }
}

/// Why a request with an idempotency key cannot go ahead.
public enum IdempotencyError: Error, Equatable, Sendable {
    /// The key was used, within its lifetime, for another request (another body, path or caller).
    case reused
    /// The key's first request is still running after the wait.
    case inProgress
    case storeUnavailable
    case storeFailure(String)
}

/// Who holds the keys this process claims, and how to tell that another holder has ended, so
/// that a repeat of a request whose process died mid-request (a worker killed) takes its key
/// over at once instead of waiting out the lease.
public struct KeyHolders: Sendable {
    /// This process, as written into the keys it claims ("": not written).
    public let current: String
    /// Whether the holder a key names is known to have ended (false when it runs or cannot be
    /// told, as for a process on another host: then the lease decides).
    public let hasEnded: @Sendable (String) -> Bool

    public init(current: String, hasEnded: @escaping @Sendable (String) -> Bool) {
        self.current = current
        self.hasEnded = hasEnded
    }

    /// No holder is named or looked up: only leases end claims.
    public static let unnamed = KeyHolders(current: "", hasEnded: { _ in false })
}

/// Idempotency keys (`Idempotency-Key`), kept in the store so that a request repeated with its
/// key, on any worker of any host, is answered with the first response instead of running again.
///
/// One document per key, `idempotency_keys/{SHA-256 of the key, hex}`. A request creates it
/// first, as pending, under a must-not-exist precondition: of concurrent repeats exactly one
/// goes ahead, and the others wait for its response. The response is written with the change
/// it answers, in the same commit where the change has one (`completion(of:with:)`), so a
/// change and its kept response exist together or not at all; the pending document's update
/// time is that write's precondition, so a request that lost its claim (its lease ran out and a
/// repeat took over) writes nothing. A pending key names the process that holds it: a repeat
/// that sees that process gone takes the key over before the lease ends.
///
/// The kept body may hold a booking's manage token, which the store must not hold in the clear:
/// it is sealed with AES-GCM under a key derived from the idempotency key, which the store never
/// sees (only its hash). Keys are kept for `lifetime` (24 hours) from their first use; after
/// that the key is free again, and `bookingctl prune` deletes expired documents (their
/// `expires_at` also suits Firestore's TTL policies).
public final class IdempotencyKeys {
    public static let collection = "idempotency_keys"
    /// How long a key and its response are kept.
    public static let lifetime: Int64 = 24 * 3600
    /// How long a pending key holds before a repeat may take it over (its request presumed lost
    /// with its worker).
    public static let lease: Int64 = 30
    /// How long a repeat waits for the first request's response.
    public static let maximumWait = 10.0

    /// A key this request holds: it runs, then records its response under the key.
    public struct Claim {
        let path: DocumentPath
        let sealingKey: SymmetricKey
        let fingerprint: String
        let createdAt: Timestamp
        let updateTime: Timestamp
    }

    public enum Start {
        /// Run the request and record its response with `claim`.
        case execute(Claim)
        /// The key's first request answered this; give it again.
        case replay(KeptResponse)
    }

    private let store: any DocumentStore
    private let now: () -> Timestamp
    private let pause: (Double) -> Void
    private let holders: KeyHolders

    /// - Parameters:
    ///   - now: the clock of leases and expiry.
    ///   - pause: sleeps the calling thread that many seconds, while a repeat waits.
    ///   - holders: this process's name in the keys it claims, and how to tell a holder gone.
    public init(
        store: any DocumentStore, now: @escaping () -> Timestamp, pause: @escaping (Double) -> Void, holders: KeyHolders = .unnamed
    ) {
        self.store = store
        self.now = now
        self.pause = pause
        self.holders = holders
    }

    /// Whether `key` is a valid idempotency key: 1–255 visible ASCII characters.
    public static func isValid(_ key: String) -> Bool {
        (1...255).contains(key.utf8.count) && key.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// Claims `key` for a request whose method, path, caller and body `request` identifies, or
    /// gives the response its first request recorded. A repeat that finds the key pending waits
    /// (up to `maximumWait`) for the response; a pending key whose lease ran out, or an expired
    /// key, is taken over.
    ///
    /// Keys are the caller's own (`caller`: the request's credentials, empty for none): another
    /// caller's use of the same key is another key, so a request with wrong or no credentials
    /// learns nothing of it and gets its 401 or 403 as without a key.
    public func start(key: String, caller: String, request: [UInt8]) throws(IdempotencyError) -> Start {
        let scoped = caller.isEmpty ? "id\u{0}\(key)" : "id\u{0}\(key)\u{0}\(caller)"
        let path = DocumentPath(Self.collection, Hex.encode(Array(SHA256.hash(data: Array(scoped.utf8)))))
        let sealingKey = SymmetricKey(data: SHA256.hash(data: Array("seal\u{0}\(key)".utf8)))
        let fingerprint = Hex.encode(Array(SHA256.hash(data: request)))
        var waited = 0.0
        var interval = 0.002
        while true {
            let time = now()
            let claim = { (updateTime: Timestamp) in
                Claim(path: path, sealingKey: sealingKey, fingerprint: fingerprint, createdAt: time, updateTime: updateTime)
            }
            let pending = Self.pendingFields(fingerprint: fingerprint, at: time, holder: holders.current)
            do {
                return .execute(claim(try store.commit([.create(path, pending)])))
            } catch .alreadyExists {
            } catch {
                throw Self.translate(error)
            }
            let found: Document?
            do { found = try store.get(path) } catch { throw Self.translate(error) }
            guard let document = found else { continue }  // abandoned meanwhile: claim it again
            let expired = Self.time(document["expires_at"]).map { $0 <= time } ?? true
            let done = document["state"]?.stringValue == "done"
            if !expired {
                guard document["request_sha256"]?.stringValue == fingerprint else { throw .reused }
                if done { return .replay(try Self.open(document, with: sealingKey)) }
            }
            let leaseOver = Self.time(document["lease_expires_at"]).map { $0 <= time } ?? true
            let holderEnded = !done && (document["holder"]?.stringValue).map { !$0.isEmpty && holders.hasEnded($0) } ?? false
            if expired || leaseOver || holderEnded {
                do {
                    return .execute(claim(try store.commit([.set(path, pending, .updateTime(document.updateTime))])))
                } catch .failedPrecondition, .notFound {
                    continue  // another repeat took it over, or it completed
                } catch {
                    throw Self.translate(error)
                }
            }
            guard waited < Self.maximumWait else { throw .inProgress }
            pause(interval)
            waited += interval
            interval = min(interval * 2, 0.05)
        }
    }

    /// The write that records `response` for `claim`: put in the commit of the change it answers.
    public func completion(of claim: Claim, with response: KeptResponse) -> Write {
        var fields: [String: Value] = [
            "state": .string("done"),
            "request_sha256": .string(claim.fingerprint),
            "created_at": .timestamp(claim.createdAt),
            "expires_at": .timestamp(Timestamp(seconds: claim.createdAt.seconds + Self.lifetime, nanos: claim.createdAt.nanos)),
            "status": .integer(Int64(response.status)),
            "body_sealed": .string(Self.seal(response.body, with: claim.sealingKey)),
        ]
        if let location = response.location { fields["location"] = .string(location) }
        return .set(claim.path, fields, .updateTime(claim.updateTime))
    }

    /// Records `response` for `claim` on its own: for answers that changed nothing. A claim
    /// taken over meanwhile keeps the other request's record.
    public func complete(_ claim: Claim, with response: KeptResponse) throws(IdempotencyError) {
        do {
            try store.commit([completion(of: claim, with: response)])
        } catch .failedPrecondition, .notFound {
        } catch {
            throw Self.translate(error)
        }
    }

    /// Gives the key up (the request failed in a way a repeat should retry), unless it was
    /// taken over meanwhile. Best effort: a key not given up is taken over when its lease ends.
    ///
    /// - Returns: false when the key was taken over (a repeat runs the request now, and this
    ///   request's writes were refused by their precondition); true otherwise.
    @discardableResult
    public func abandon(_ claim: Claim) -> Bool {
        do {
            try store.commit([.delete(claim.path, .updateTime(claim.updateTime))])
        } catch .failedPrecondition, .notFound {
            return false
        } catch {
        }
        return true
    }

    /// Deletes the keys that expired before `time` and returns how many.
    public func pruneExpired(before time: Timestamp) throws(IdempotencyError) -> Int {
        do {
            let expired = try store.listAll(collection: Self.collection).filter { document in
                Self.time(document["expires_at"]).map { $0 < time } ?? false
            }
            try store.commit(inChunks: expired.map { .delete($0.path, .updateTime($0.updateTime)) })
            return expired.count
        } catch {
            throw Self.translate(error)
        }
    }

    // MARK: - Helpers

    private static func pendingFields(fingerprint: String, at time: Timestamp, holder: String) -> [String: Value] {
        [
            "state": .string("pending"),
            "holder": .string(holder),
            "request_sha256": .string(fingerprint),
            "created_at": .timestamp(time),
            "expires_at": .timestamp(Timestamp(seconds: time.seconds + lifetime, nanos: time.nanos)),
            "lease_expires_at": .timestamp(Timestamp(seconds: time.seconds + lease, nanos: time.nanos)),
        ]
    }

    private static func time(_ value: Value?) -> Timestamp? {
        if case .timestamp(let time)? = value { return time }
        return nil
    }

    private static func seal(_ body: [UInt8], with key: SymmetricKey) -> String {
        // Sealing with a fresh random nonce cannot fail; a failure would be a broken library.
        guard let sealed = try? AES.GCM.seal(body, using: key).combined else { preconditionFailure("AES-GCM sealing failed") }
        return Base64URL.encode(Array(sealed))
    }

    private static func open(_ document: Document, with key: SymmetricKey) throws(IdempotencyError) -> KeptResponse {
        guard case .integer(let status)? = document["status"], let sealed = document["body_sealed"]?.stringValue.flatMap(Base64URL.decode),
            let box = try? AES.GCM.SealedBox(combined: sealed), let body = try? AES.GCM.open(box, using: key)
        else { throw .storeFailure("the response kept for an idempotency key cannot be read: \(document.path)") }
        return KeptResponse(status: Int(status), location: document["location"]?.stringValue, body: Array(body))
    }

    private static func translate(_ error: StoreError) -> IdempotencyError {
        if case .unavailable = error { return .storeUnavailable }
        return .storeFailure("\(error)")
    }
}
