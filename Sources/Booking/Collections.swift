import DocumentStore

/// The documents the booking service keeps, with the field names of the original
/// Python/Firestore application so data is interchangeable with it.
///
/// - `services/{service_id}`: `service_id`, `service_name`, `available_slots` (every offered slot).
/// - `bookings/{booking_id}`: `booking_id`, `service_id`, `slot`, `user_name`, `timestamp`.
/// - `slot_claims/{service_id}@{slot}`: `service_id`, `slot`, `booking_id`. Created with the
///   booking in one commit under a must-not-exist precondition: the store's atomic create of
///   this one document is what makes a double booking impossible, across processes and hosts.
enum Collections {
    static let services = "services"
    static let bookings = "bookings"
    static let slotClaims = "slot_claims"

    static func claimPath(serviceID: String, slot: Slot) -> DocumentPath {
        DocumentPath(slotClaims, "\(serviceID)@\(slot)")
    }

    /// The ids of every claim of `serviceID`: those from `{serviceID}@` up to `{serviceID}A` (the
    /// byte after `@`). Claims of a service whose id starts with `{serviceID}@` lie there too;
    /// `claim(id:)` tells them apart.
    static func claimIDs(of serviceID: String) -> DocumentIDRange {
        DocumentIDRange(from: "\(serviceID)@", before: "\(serviceID)A")
    }

    /// The service and slot a claim's id names (what `claimPath` made); nil for other ids. A
    /// service id may hold `@`; a slot's spelling never does. Works on the id's bytes: a rebuild
    /// of the catalog reads every claim.
    static func claim(id: String) -> (serviceID: Substring, slot: Slot)? {
        // Searched from the end, where `@` and the slot's spelling are.
        guard let at = id.utf8.lastIndex(of: UInt8(ascii: "@")),
              let slot = try? Slot(parsing: id[id.utf8.index(after: at)...])
        else { return nil }
        return (id[..<at], slot)
    }

    /// The claimed slots of each service in time order, from claim ids (other ids are skipped),
    /// keyed by service id byte for byte: two services may have canonically equivalent ids.
    ///
    /// The stores give ids in byte order, so a service's claims come one after another (and in
    /// time order: canonical spellings sort as their instants): each run is gathered with one
    /// comparison of its service id per claim, where a lookup per claim hashed the id, and
    /// stored once. Any order gives the same result.
    static func claimedSlots(claimIDs: [String]) -> [ExactString: [Slot]] {
        var claimed: [ExactString: [Slot]] = [:]
        var run: (serviceID: Substring, slots: [Slot])?
        func store(_ run: (serviceID: Substring, slots: [Slot])) {
            claimed[ExactString(String(run.serviceID)), default: []].append(contentsOf: run.slots)
        }
        for id in claimIDs {
            guard let (serviceID, slot) = claim(id: id) else { continue }
            if let current = run?.serviceID, sameBytes(current, serviceID) {
                run?.slots.append(slot)
            } else {
                if let run { store(run) }
                run = (serviceID, [slot])
            }
        }
        if let run { store(run) }
        return claimed.mapValues { $0.sorted() }  // linear for slots already in order
    }
}

extension Service {
    var fields: [String: Value] {
        [
            "service_id": .string(id),
            "service_name": .string(name),
            "available_slots": .array(slots.map { .string($0.description) }),
        ]
    }

    /// Reads a service document, tolerating slots that are not in canonical spelling.
    init?(document: Document) {
        guard let name = document["service_name"]?.stringValue else { return nil }
        let slots = (document["available_slots"]?.arrayValue ?? []).compactMap { value -> Slot? in
            switch value {
            case .string(let text): return try? Slot(parsing: text)
            case .timestamp(let instant): return Slot(instant)
            default: return nil
            }
        }
        self.init(id: document["service_id"]?.stringValue ?? document.path.id, name: name, slots: Array(Set(slots)))
    }
}

extension Booking {
    var fields: [String: Value] {
        [
            "booking_id": .string(id),
            "service_id": .string(serviceID),
            "slot": .string(slot.description),
            "user_name": .string(userName),
            "timestamp": .timestamp(timestamp),
        ]
    }

    init?(document: Document) {
        guard let serviceID = document["service_id"]?.stringValue,
              let slotText = document["slot"]?.stringValue, let slot = try? Slot(parsing: slotText),
              let userName = document["user_name"]?.stringValue
        else { return nil }
        let timestamp: Timestamp
        switch document["timestamp"] {
        case .timestamp(let value): timestamp = value
        case .string(let text): timestamp = Timestamp(rfc3339: text) ?? document.createTime
        default: timestamp = document.createTime
        }
        self.init(id: document["booking_id"]?.stringValue ?? document.path.id, serviceID: serviceID,
                  slot: slot, userName: userName, timestamp: timestamp)
    }
}
