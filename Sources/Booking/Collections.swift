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
///   Deleted in the commit that cancels or moves the booking.
/// - `slot_releases/{service_id}@{slot}`: `service_id`, `slot`, `released_at`. Written in the
///   commit that deletes a claim, so that caches that follow what was written (deletions leave
///   nothing to find) learn that the slot is free again. A later claim of the slot outranks it.
enum Collections {
    static let services = "services"
    static let bookings = "bookings"
    static let slotClaims = "slot_claims"
    static let slotReleases = "slot_releases"

    static func claimPath(serviceID: String, slot: Slot) -> DocumentPath {
        DocumentPath(slotClaims, "\(serviceID)@\(slot)")
    }

    /// The release written when the claim at `claimPath(serviceID:slot:)` is deleted.
    static func releasePath(serviceID: String, slot: Slot) -> DocumentPath {
        DocumentPath(slotReleases, "\(serviceID)@\(slot)")
    }

    /// The ids of every claim of `serviceID`: those from `{serviceID}@` up to `{serviceID}A` (the
    /// byte after `@`). Claims of a service whose id starts with `{serviceID}@` lie there too;
    /// `claimedSlots` tells them apart.
    static func claimIDs(of serviceID: String) -> DocumentIDRange {
        DocumentIDRange(from: "\(serviceID)@", before: "\(serviceID)A")
    }

    /// The claimed slots of each service in time order, from claim ids (what `claimPath` made;
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
    static func claimedSlots(claimIDs: [String]) -> [ExactString: [Slot]] {
        var claimed: [ExactString: [Slot]] = [:]
        var runServiceID: [UInt8] = []
        var runSlots: [Slot] = []
        func endRun() {
            guard !runSlots.isEmpty else { return }
            claimed[ExactString(String(decoding: runServiceID, as: UTF8.self)), default: []].append(contentsOf: runSlots)
            runSlots.removeAll(keepingCapacity: true)
        }
        for id in claimIDs {
            var id = id
            id.withUTF8 { bytes in
                guard let (serviceID, slot) = split(claimID: bytes) else { return }
                if runSlots.isEmpty || !runServiceID.withUnsafeBufferPointer({ sameBytes($0, serviceID) }) {
                    endRun()
                    runServiceID = Array(serviceID)
                }
                runSlots.append(slot)
            }
        }
        endRun()
        return claimed.mapValues { $0.sorted() }  // linear for slots already in order
    }

    /// The slot a claim's id names; nil for other ids.
    static func slot(ofClaimID id: String) -> Slot? {
        var id = id
        return id.withUTF8 { split(claimID: $0)?.slot }
    }

    /// A claim id's service id (its bytes) and slot, split at the id's last `@`; nil for other ids.
    static func split(claimID bytes: UnsafeBufferPointer<UInt8>) -> (serviceID: UnsafeBufferPointer<UInt8>, slot: Slot)? {
        guard let at = bytes.lastIndex(of: UInt8(ascii: "@")),
            let slot = Slot(spelling: UnsafeBufferPointer(rebasing: bytes[(at + 1)...]))
        else { return nil }
        return (UnsafeBufferPointer(rebasing: bytes[..<at]), slot)
    }
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

extension ServiceSettings {
    /// The settings' fields, beside the original application's: only those set and not their
    /// default, so a service that uses none keeps that application's document shape. A day's
    /// opening hours are stored as `09:00-12:00` strings: Firestore arrays cannot hold arrays.
    var fields: [String: Value] {
        var fields: [String: Value] = [:]
        if timeZone != "UTC" { fields["time_zone"] = .string(timeZone) }
        if let durationMinutes { fields["duration_minutes"] = .integer(Int64(durationMinutes)) }
        if let description { fields["description"] = .string(description) }
        if hidden { fields["hidden"] = .boolean(true) }
        if let minNoticeMinutes { fields["min_notice_minutes"] = .integer(Int64(minNoticeMinutes)) }
        if let maxAdvanceDays { fields["max_advance_days"] = .integer(Int64(maxAdvanceDays)) }
        if let schedule {
            var weekly: [String: Value] = [:]
            for (day, ranges) in zip(WeeklySchedule.weekdayNames, schedule.hours) where !ranges.isEmpty {
                weekly[day] = .array(
                    ranges.map { .string("\(OpeningHours.spelling(ofMinute: $0.start))-\(OpeningHours.spelling(ofMinute: $0.end))") })
            }
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
        if let manageTokenHash { fields["manage_token_sha256"] = .string(manageTokenHash) }
        return fields
    }
}
