import DocumentStore

/// Something in the store that the service cannot serve as it is, reported so that an operator
/// can mend it, never hidden and never a failure of the request that met it.
public enum DataProblem: Equatable, Hashable, Sendable {
    /// A document that is not a valid service or booking (a required field missing or of
    /// another type); it is skipped.
    case unreadableDocument(DocumentPath, reason: String)
    /// A slot spelling that names no instant (no date, no offset and no `LEGACY_SLOT_TIME_ZONE`,
    /// or no date-time at all); that slot is not served.
    case unparsedSlot(DocumentPath, value: String, reason: String)
    /// Two or more bookings of one slot of one service.
    case doubleBooking(serviceID: String, slot: Slot, bookingIDs: [String])
    /// A booking of a slot that has not begun, whose slot has no claim: the slot can be booked again.
    case bookingWithoutClaim(DocumentPath, serviceID: String, slot: Slot)
    /// Two documents that name the same service or booking by their id fields.
    case duplicateID(collection: String, id: String, documentIDs: [String])

    /// One line for logs and `bookingctl check`.
    public var description: String {
        switch self {
        case .unreadableDocument(let path, let reason): "unreadable document \(path): \(reason); it is skipped"
        case .unparsedSlot(let path, let value, let reason): "slot \"\(value)\" of \(path) is not served: \(reason)"
        case .doubleBooking(let serviceID, let slot, let ids):
            "double booking: service \(serviceID), slot \(slot), bookings \(ids.joined(separator: ", "))"
        case .bookingWithoutClaim(let path, let serviceID, let slot):
            "booking \(path) of service \(serviceID), slot \(slot), has no slot claim: the slot can be booked again"
        case .duplicateID(let collection, let id, let documentIDs):
            "\(documentIDs.count) documents of \(collection) have the id \(id): \(documentIDs.joined(separator: ", "))"
        }
    }

    /// The problem's document and value: what a report is made once per process for.
    public var subject: String {
        switch self {
        case .unreadableDocument(let path, _): "\(path)"
        case .unparsedSlot(let path, let value, _): "\(path) \(value)"
        case .doubleBooking(let serviceID, let slot, _): "\(serviceID)@\(slot)"
        case .bookingWithoutClaim(let path, _, _): "\(path)"
        case .duplicateID(let collection, let id, _): "\(collection)/\(id)"
        }
    }
}

/// Where problems found while reading the store go: a log, or `bookingctl check`'s list.
public protocol DataProblemReporter: Sendable {
    func report(_ problem: DataProblem)
}

/// Reads services and bookings from documents as any application may have written them: the
/// original Python application's spellings, fields of types the model does not use, ids that
/// live only in fields. What cannot be read is reported and skipped.
public struct DocumentReader: Sendable {
    /// The zone of slots stored without an offset; nil: such slots are reported, not served.
    public let legacyZone: (any LocalTimeZone)?
    public let problems: (any DataProblemReporter)?
    /// The zones services may name (`time_zone`).
    public let zones: any TimeZoneLookup

    public init(legacyZone: (any LocalTimeZone)? = nil, problems: (any DataProblemReporter)? = nil, zones: any TimeZoneLookup = UTCOnlyZones()) {
        self.legacyZone = legacyZone
        self.problems = problems
        self.zones = zones
    }

    /// The service a document holds: its `service_id` field (else its document id), its name,
    /// and every slot that names an instant, each with the spelling it is stored in; nil for a
    /// retired service (`retired_at`), which is no longer listed or booked.
    public func service(from document: Document) -> Service? {
        guard document[Service.retiredField] == nil else { return nil }  // retired: no service, and no problem
        guard let name = document["service_name"]?.stringValue else {
            report(.unreadableDocument(document.path, reason: "service_name is missing or not a string"))
            return nil
        }
        let id = serviceID(of: document)
        var slots: [Slot] = []
        var spellings: [Slot: String] = [:]
        switch document["available_slots"] {
        case nil, .null: break
        case .array(let values):
            for value in values {
                switch value {
                case .string(let text):
                    guard let slot = slot(text, in: document) else { continue }
                    if !Slot.isCanonical(text), spellings[slot] == nil { spellings[slot] = text }
                    slots.append(slot)
                case .timestamp(let instant): slots.append(Slot(instant))
                default: report(.unparsedSlot(document.path, value: "\(value)", reason: "a slot must be a string or a timestamp"))
                }
            }
        default:
            report(.unreadableDocument(document.path, reason: "available_slots is not an array"))
            return nil
        }
        let settings: ServiceSettings, zone: any LocalTimeZone
        do {
            (settings, zone) = try Validation.serviceSettings(try Self.settingsInput(from: document), zones: zones)
        } catch {
            report(.unreadableDocument(document.path, reason: error.message))
            return nil
        }
        return Service(id: id, name: name, slots: Array(Set(slots)), spellings: spellings, settings: settings, zone: zone)
    }

    /// A service document's settings as stored (see `ServiceSettings.fields`), for the same
    /// validation as a request's; a field of another type is an `invalidField`.
    static func settingsInput(from document: Document) throws(BookingError) -> ServiceSettingsInput {
        func string(_ value: Value?, _ field: String) throws(BookingError) -> String? {
            switch value {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw .invalidField(field, "must be a string")
            }
        }
        func integer(_ value: Value?, _ field: String) throws(BookingError) -> Int64? {
            switch value {
            case nil, .null?: return nil
            case .integer(let number)?: return number
            default: throw .invalidField(field, "must be an integer")
            }
        }
        func strings(_ value: Value?, _ field: String) throws(BookingError) -> [String] {
            switch value {
            case nil, .null?: return []
            case .array(let values)?:
                var texts: [String] = []
                for value in values {
                    guard let text = value.stringValue else { throw .invalidField(field, "must be an array of strings") }
                    texts.append(text)
                }
                return texts
            default: throw .invalidField(field, "must be an array of strings")
            }
        }
        var input = ServiceSettingsInput()
        input.timeZone = try string(document["time_zone"], "time_zone")
        input.durationMinutes = try integer(document["duration_minutes"], "duration_minutes")
        input.description = try string(document["description"], "description")
        switch document["hidden"] {
        case nil, .null?: break
        case .boolean(let hidden)?: input.hidden = hidden
        default: throw .invalidField("hidden", "must be a boolean")
        }
        input.seats = try integer(document["seats"], "seats")
        input.minNoticeMinutes = try integer(document["min_notice_minutes"], "min_notice_minutes")
        input.maxAdvanceDays = try integer(document["max_advance_days"], "max_advance_days")
        switch document["schedule"] {
        case nil, .null?: break
        case .map(let schedule)?:
            guard case .map(let weekly)? = schedule["weekly"] else { throw .invalidField("schedule.weekly", "must be a map") }
            var days: [String: [[String]]] = [:]
            for (day, value) in weekly {
                // "09:00-12:00" as the pair a request gives; a malformed one fails validation.
                days[day] = try strings(value, "schedule.weekly.\(day)").map {
                    $0.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
                }
            }
            input.schedule = ScheduleInput(
                weekly: days, slotMinutes: try integer(schedule["slot_minutes"], "schedule.slot_minutes"),
                horizonDays: try integer(schedule["horizon_days"], "schedule.horizon_days"),
                closedDates: try strings(schedule["closed_dates"], "schedule.closed_dates"))
        default: throw .invalidField("schedule", "must be a map")
        }
        return input
    }

    /// The booking a document holds, with its slot as an instant; nil (reported) when it has
    /// no service, slot or name, or its slot names no instant.
    public func booking(from document: Document) -> Booking? {
        guard let serviceID = document["service_id"]?.stringValue, let slotText = document["slot"]?.stringValue,
            let userName = document["user_name"]?.stringValue
        else {
            report(.unreadableDocument(document.path, reason: "service_id, slot or user_name is missing or not a string"))
            return nil
        }
        guard let slot = slot(slotText, in: document) else { return nil }
        let timestamp: Timestamp
        switch document["timestamp"] {
        case .timestamp(let value): timestamp = value
        case .string(let text): timestamp = Timestamp(rfc3339: text) ?? document.createTime
        default: timestamp = document.createTime
        }
        let cancelled = Self.isCancelled(document)
        var seat = 1
        if case .integer(let number)? = document["seat"], (2...Int64(Validation.seats.upperBound)).contains(number) { seat = Int(number) }
        var cancelledAt: Timestamp? = nil
        if cancelled, case .timestamp(let time)? = document["cancelled_at"] { cancelledAt = time }
        return Booking(
            id: bookingID(of: document), serviceID: serviceID, slot: slot, userName: userName, timestamp: timestamp,
            status: cancelled ? .cancelled : .confirmed, cancelledAt: cancelledAt,
            contact: Contact(email: document["email"]?.stringValue, phone: document["phone"]?.stringValue, notes: document["notes"]?.stringValue),
            seat: seat)
    }

    /// The fields `bookedSlot(from:)` reads: what to select when only booked slots are wanted.
    static let bookedSlotFields = ["service_id", "slot", "status"]

    /// The service and slot a confirmed booking document holds, for the documents of which only
    /// `bookedSlotFields` were read; nil for a cancelled booking, and nil (reported) when either
    /// field is missing or the slot names no instant.
    func bookedSlot(from document: Document) -> (serviceID: String, slot: Slot)? {
        guard !Self.isCancelled(document) else { return nil }
        guard let serviceID = document["service_id"]?.stringValue, let text = document["slot"]?.stringValue else {
            report(.unreadableDocument(document.path, reason: "service_id or slot is missing or not a string"))
            return nil
        }
        return slot(text, in: document).map { (serviceID, $0) }
    }

    /// Whether a booking document says it was cancelled; any other status, or none (the
    /// original application's documents), holds its slot.
    static func isCancelled(_ document: Document) -> Bool {
        document["status"]?.stringValue == BookingStatus.cancelled.rawValue
    }

    /// The id a service is known by: its `service_id` field when it has one.
    func serviceID(of document: Document) -> String { document["service_id"]?.stringValue ?? document.path.id }

    /// The id a booking is known by: its `booking_id` field when it has one.
    func bookingID(of document: Document) -> String { document["booking_id"]?.stringValue ?? document.path.id }

    /// A stored slot spelling as an instant: RFC 3339 with any offset, or a local date and time
    /// (`2031-03-04T12:00`, `2031-03-04 12:00:00`) in the legacy zone. Anything else is reported.
    func slot(_ text: String, in document: Document) -> Slot? {
        switch StoredSlot.read(text, zone: legacyZone) {
        case .success(let slot): return slot
        case .failure(let problem):
            report(.unparsedSlot(document.path, value: text, reason: problem.reason))
            return nil
        }
    }

    private func report(_ problem: DataProblem) { problems?.report(problem) }
}

/// Reads the slot spellings other applications stored.
enum StoredSlot {
    struct Unreadable: Error {
        let reason: String
    }

    static func read(_ text: String, zone: (any LocalTimeZone)?) -> Result<Slot, Unreadable> {
        if let slot = try? Slot(parsing: text) { return .success(slot) }
        guard let local = LocalDateTime(text) else {
            return .failure(Unreadable(reason: "not a date and time such as 2031-03-04T09:30:00Z"))
        }
        guard let zone else {
            return .failure(Unreadable(reason: "it has no offset from UTC; set LEGACY_SLOT_TIME_ZONE to the zone such slots are in"))
        }
        guard
            let instant = zone.instant(
                year: local.year, month: local.month, day: local.day,
                hour: local.hour, minute: local.minute, second: local.second)
        else { return .failure(Unreadable(reason: "not a time in \(zone.identifier)")) }
        return .success(Slot(instant))
    }
}

/// A date and time of day without an offset: `YYYY-MM-DD`, `T` or a space, `HH:MM`, optional
/// `:SS` and a fraction of zeros (what Python's `isoformat()` of a naive datetime writes).
struct LocalDateTime: Equatable {
    let year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (year, month, day, hour, minute, second)
    }

    init?(_ text: String) {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + width] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("Tt "), let hour = number(2), expect(":"), let minute = number(2)
        else { return nil }
        var second = 0
        if index < bytes.count {
            guard expect(":"), let seconds = number(2) else { return nil }
            second = seconds
            if index < bytes.count {
                guard expect("."), index < bytes.count, bytes[index...].allSatisfy({ $0 == 48 }) else { return nil }
                index = bytes.count
            }
        }
        // The date must exist: a Timestamp parse of the same fields in UTC checks it.
        let probe = "\(text.prefix(10))T\(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute):00Z"
        guard hour < 24, minute < 60, second < 60, Timestamp(rfc3339: probe) != nil else { return nil }
        self.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }
}
