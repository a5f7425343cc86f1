import DocumentStore

/// The documents the booking service keeps, with the field names of the original
/// Python/Firestore application so data is interchangeable with it.
///
/// - `services/{service_id}`: `service_id`, `service_name`, `available_slots` (the slots offered
///   explicitly), and beside them, when set, `time_zone`, `duration_minutes`, `description`,
///   `hidden`, `min_notice_minutes`, `max_advance_days` and `schedule` (`weekly`: weekday name
///   to `HH:MM-HH:MM` strings; `slot_minutes`, `horizon_days`, `closed_dates`).
/// - `bookings/{booking_id}`: `booking_id`, `service_id`, `slot`, `user_name`, `timestamp`, and
///   beside them `status` (`confirmed` or `cancelled`; none reads as confirmed), `cancelled_at`,
///   `email`, `phone`, `notes` (when given) and `manage_token_sha256`.
/// - `slot_claims/{service_id}@{slot}`: `service_id`, `slot`, `booking_id`. Created with the
///   booking in one commit under a must-not-exist precondition: the store's atomic create of
///   this one document is what makes a double booking impossible, across processes and hosts.
///   Deleted in the commit that cancels or moves the booking. A slot with more than one seat
///   has one such claim per seat taken: the first seat's as above, seat n's
///   `{service_id}@{slot}#{n}`, and the booking holding it records `seat: n`.
/// - `slot_releases/{claim id}`: `service_id`, `slot`, `released_at`. Written in the
///   commit that deletes a claim, so that caches that follow what was written (deletions leave
///   nothing to find) learn that the slot is free again. A later claim of the slot outranks it.
enum Collections {
    static let services = "services"
    static let bookings = "bookings"
    static let slotClaims = "slot_claims"
    static let slotReleases = "slot_releases"

    /// The claim of seat `seat` of a slot: `{service_id}@{slot}` for the first seat (the one
    /// claim of a slot of a service with one seat per slot), `{service_id}@{slot}#{seat}` for the others.
    static func claimPath(serviceID: String, slot: Slot, seat: Int = 1) -> DocumentPath {
        DocumentPath(slotClaims, claimID(serviceID: serviceID, slot: slot, seat: seat))
    }

    /// The release written when the claim at `claimPath(serviceID:slot:seat:)` is deleted.
    static func releasePath(serviceID: String, slot: Slot, seat: Int = 1) -> DocumentPath {
        DocumentPath(slotReleases, claimID(serviceID: serviceID, slot: slot, seat: seat))
    }

    private static func claimID(serviceID: String, slot: Slot, seat: Int) -> String {
        seat == 1 ? "\(serviceID)@\(slot)" : "\(serviceID)@\(slot)#\(seat)"
    }

    /// The ids of every claim of `serviceID`: those from `{serviceID}@` up to `{serviceID}A` (the
    /// byte after `@`). Claims of a service whose id starts with `{serviceID}@` lie there too;
    /// `claimedSeats` tells them apart.
    static func claimIDs(of serviceID: String) -> DocumentIDRange {
        DocumentIDRange(from: "\(serviceID)@", before: "\(serviceID)A")
    }

    /// The ids of the claims of every seat of one slot: `{serviceID}@{slot}`, then the ids it
    /// begins followed by a byte before `$` (the one after `#`), which `split` checks.
    static func seatClaimIDs(of serviceID: String, slot: Slot) -> DocumentIDRange {
        DocumentIDRange(from: "\(serviceID)@\(slot)", before: "\(serviceID)@\(slot)$")
    }

    /// The claimed seats of each service in time order, from claim ids (what `claimPath` made;
    /// other ids are skipped), keyed by service id byte for byte: two services may have
    /// canonically equivalent ids. A service id may hold `@`; a slot's spelling never does, so
    /// an id splits at its last `@`.
    ///
    /// A catalog rebuild reads every claim, so this works on each id's UTF-8 bytes, with no
    /// string made per claim (string slicing and parsing was half of a rebuild's CPU). The
    /// stores give ids in byte order, so a service's claims come one after another (and in
    /// time order: canonical spellings sort as their instants): each run is gathered with one
    /// comparison of its service id's bytes per claim and stored once. Any order gives the
    /// same result.
    static func claimedSeats(claimIDs: [String]) -> [ExactString: [SeatClaim]] {
        var claimed: [ExactString: [SeatClaim]] = [:]
        var runServiceID: [UInt8] = []
        var runClaims: [SeatClaim] = []
        func endRun() {
            guard !runClaims.isEmpty else { return }
            claimed[ExactString(String(decoding: runServiceID, as: UTF8.self)), default: []].append(contentsOf: runClaims)
            runClaims.removeAll(keepingCapacity: true)
        }
        for id in claimIDs {
            var id = id
            id.withUTF8 { bytes in
                guard let (serviceID, claim) = split(claimID: bytes) else { return }
                if runClaims.isEmpty || !runServiceID.withUnsafeBufferPointer({ sameBytes($0, serviceID) }) {
                    endRun()
                    runServiceID = Array(serviceID)
                }
                runClaims.append(claim)
            }
        }
        endRun()
        return claimed.mapValues { $0.sorted() }  // linear for claims already in order
    }

    /// The slot a claim's id names; nil for other ids.
    static func slot(ofClaimID id: String) -> Slot? {
        var id = id
        return id.withUTF8 { split(claimID: $0)?.claim.slot }
    }

    /// A claim id's service id (its bytes) and seat, split at the id's last `@` and the `#`
    /// after it; nil for other ids.
    static func split(claimID bytes: UnsafeBufferPointer<UInt8>) -> (serviceID: UnsafeBufferPointer<UInt8>, claim: SeatClaim)? {
        guard let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { return nil }
        var slotEnd = bytes.endIndex
        var seat = 1
        if let hash = bytes[(at + 1)...].firstIndex(of: UInt8(ascii: "#")) {
            let digits = bytes[(hash + 1)...]
            // Seats 2 to 1,000, written without leading zeros: one spelling per claim.
            guard (1...4).contains(digits.count), digits.first != UInt8(ascii: "0"), digits.allSatisfy({ (48...57).contains($0) }) else {
                return nil
            }
            seat = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
            guard seat >= 2 else { return nil }
            slotEnd = hash
        }
        guard let slot = Slot(spelling: UnsafeBufferPointer(rebasing: bytes[(at + 1)..<slotEnd])) else { return nil }
        return (UnsafeBufferPointer(rebasing: bytes[..<at]), SeatClaim(slot: slot, seat: seat))
    }
}

/// One claimed seat of a slot: what a claim document's id names. Ordered by slot, then seat.
public struct SeatClaim: Hashable, Comparable, Sendable {
    public let slot: Slot
    public let seat: Int

    public init(slot: Slot, seat: Int = 1) {
        self.slot = slot
        self.seat = seat
    }

    public static func < (lhs: SeatClaim, rhs: SeatClaim) -> Bool { (lhs.slot, lhs.seat) < (rhs.slot, rhs.seat) }
}

extension Service {
    var fields: [String: Value] {
        [
            "service_id": .string(id),
            "service_name": .string(name),
            "available_slots": .array(slots.map { .string(spelling(of: $0)) }),
        ].merging(settings.fields) { first, _ in first }
    }
}

extension Service {
    /// The fields of a service's document that its definition writes (the settings' only when
    /// set): what an edit replaces, keeping any others.
    static let fieldNames = ["service_id", "service_name", "available_slots"] + ServiceSettings.fieldNames

    /// Set when the service was retired: such a document is no service to list or book.
    static let retiredField = "retired_at"
}

extension ServiceSettings {
    static let fieldNames = ["time_zone", "duration_minutes", "description", "hidden", "seats", "min_notice_minutes", "max_advance_days", "schedule"]

    /// The settings' fields, beside the original application's: only those set and not their
    /// default, so a service that uses none keeps that application's document shape. A day's
    /// opening hours are stored as `09:00-12:00` strings: Firestore arrays cannot hold arrays.
    var fields: [String: Value] {
        var fields: [String: Value] = [:]
        if timeZone != "UTC" { fields["time_zone"] = .string(timeZone) }
        if let durationMinutes { fields["duration_minutes"] = .integer(Int64(durationMinutes)) }
        if let description { fields["description"] = .string(description) }
        if hidden { fields["hidden"] = .boolean(true) }
        if seats != 1 { fields["seats"] = .integer(Int64(seats)) }
        if let minNoticeMinutes { fields["min_notice_minutes"] = .integer(Int64(minNoticeMinutes)) }
        if let maxAdvanceDays { fields["max_advance_days"] = .integer(Int64(maxAdvanceDays)) }
        if let schedule {
            let weekly = schedule.spelledHours.mapValues { ranges in Value.array(ranges.map { .string($0.joined(separator: "-")) }) }
            var map: [String: Value] = [
                "weekly": .map(weekly), "slot_minutes": .integer(Int64(schedule.slotMinutes)),
                "horizon_days": .integer(Int64(schedule.horizonDays)),
            ]
            if !schedule.closedDates.isEmpty { map["closed_dates"] = .array(schedule.closedDates.map { .string($0.description) }) }
            fields["schedule"] = .map(map)
        }
        return fields
    }
}

extension Booking {
    /// The booking's document, its slot spelled as `service` offers it, with the hash of its
    /// manage token (none for bookings other applications made).
    func fields(slotSpelling: String, manageTokenHash: String?) -> [String: Value] {
        var fields: [String: Value] = [
            "booking_id": .string(id),
            "service_id": .string(serviceID),
            "slot": .string(slotSpelling),
            "user_name": .string(userName),
            "timestamp": .timestamp(timestamp),
            "status": .string(status.rawValue),
        ]
        if let cancelledAt { fields["cancelled_at"] = .timestamp(cancelledAt) }
        if let email = contact.email { fields["email"] = .string(email) }
        if let phone = contact.phone { fields["phone"] = .string(phone) }
        if let notes = contact.notes { fields["notes"] = .string(notes) }
        if let manageTokenHash { fields[ManageToken.hashField] = .string(manageTokenHash) }
        if seat != 1 { fields["seat"] = .integer(Int64(seat)) }
        return fields
    }
}
