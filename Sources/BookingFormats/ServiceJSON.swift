import Booking
import DocumentStore
import JSON

/// Services as JSON: the API's bodies and `bookingctl services`.
public enum ServiceJSON {
    /// The catalog: `{"services": [...]}`, each service's object as `service(_:)` writes it.
    ///
    /// Bodies are written straight to bytes, as the serializer would write the same objects
    /// (keys sorted): a large catalog is rebuilt after bookings, and a tree of 100,000 strings
    /// cost more than the catalog itself.
    ///
    /// - Parameter fragment: gives a service's object, from the availability and a function that
    ///   writes it: a caller may keep objects and give them again for an equal availability.
    public static func services(
        _ services: [ServiceAvailability], fragment: (ServiceAvailability, () -> [UInt8]) -> [UInt8] = { $1() }
    ) -> [UInt8] {
        let objects = services.map { availability in fragment(availability) { service(availability) } }
        var output: [UInt8] = []
        output.reserveCapacity(objects.reduce(16) { $0 + $1.count + 1 })
        output.append(contentsOf: #"{"services":["#.utf8)
        for (index, object) in objects.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: object)
        }
        output.append(contentsOf: "]}".utf8)
        return output
    }

    /// One service's object: id, name, settings, and its free slots as `available_slots` and `slots`.
    public static func service(_ service: ServiceAvailability) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(estimatedBytes(service))
        var dates = RFC3339Dates()
        write(service, to: &output, dates: &dates)
        return output
    }

    /// About the size `write` makes: the fixed text, the id and name, the settings, 23 bytes per
    /// slot in `available_slots` and 70 in `slots`.
    private static func estimatedBytes(_ availability: ServiceAvailability) -> Int {
        let service = availability.service
        return 256 + service.id.utf8.count + service.name.utf8.count + (service.settings.description?.utf8.count ?? 0)
            + (service.settings.schedule == nil ? 0 : 600) + 93 * availability.availableSlots.count
    }

    /// A service's object: its id, name and settings, its free slots as `available_slots` (the
    /// original application's list of strings) and as `slots` (with their ends and seats),
    /// keys in order as the serializer writes them.
    private static func write(_ availability: ServiceAvailability, to output: inout [UInt8], dates: inout RFC3339Dates) {
        let service = availability.service
        let settings = settingsMembers(service.settings)
        output.append(UInt8(ascii: "{"))
        for (index, key) in (Array(settings.keys) + ["available_slots", "service_id", "service_name", "slots"]).sorted().enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            JSON.writeString(key, to: &output)
            output.append(UInt8(ascii: ":"))
            switch key {
            case "available_slots":
                JSON.writeArray(availability.availableSlots, to: &output) { slot, output in
                    // A slot's canonical spelling (2026-12-01T09:30:00Z) has nothing to escape.
                    output.append(UInt8(ascii: "\""))
                    slot.appendSpelling(to: &output, dates: &dates)
                    output.append(UInt8(ascii: "\""))
                }
            case "service_id": JSON.writeString(service.id, to: &output)
            case "service_name": JSON.writeString(service.name, to: &output)
            case "slots":
                let duration = service.settings.durationMinutes.map { Int64($0) * 60 }
                var index = 0
                JSON.writeArray(availability.availableSlots, to: &output) { slot, output in
                    output.append(UInt8(ascii: "{"))
                    if let duration {
                        output.append(contentsOf: #""end":""#.utf8)
                        Slot(Timestamp(seconds: slot.instant.seconds + duration)).appendSpelling(to: &output, dates: &dates)
                        output.append(contentsOf: #"","#.utf8)
                    }
                    output.append(contentsOf: #""seats_left":"#.utf8)
                    let left = availability.seatsLeft(at: index)  // most often 1: no string made for a digit
                    if left < 10 { output.append(UInt8(48 + left)) } else { output.append(contentsOf: String(left).utf8) }
                    output.append(contentsOf: #","start":""#.utf8)
                    slot.appendSpelling(to: &output, dates: &dates)
                    output.append(contentsOf: #""}"#.utf8)
                    index += 1
                }
            default: settings[key]?.write(to: &output)
            }
        }
        output.append(UInt8(ascii: "}"))
    }

    /// The settings' members of a service's object, as a request gives them: every setting,
    /// those not set shown as their defaults or left out when they have none.
    public static func settingsMembers(_ settings: ServiceSettings) -> [String: JSON] {
        var members: [String: JSON] = [
            "time_zone": .string(settings.timeZone), "hidden": .bool(settings.hidden), "seats": .integer(Int64(settings.seats)),
        ]
        if let duration = settings.durationMinutes { members["duration_minutes"] = .integer(Int64(duration)) }
        if let description = settings.description { members["description"] = .string(description) }
        if let notice = settings.minNoticeMinutes { members["min_notice_minutes"] = .integer(Int64(notice)) }
        if let advance = settings.maxAdvanceDays { members["max_advance_days"] = .integer(Int64(advance)) }
        if let schedule = settings.schedule {
            let weekly = schedule.spelledHours.mapValues { ranges in JSON.array(ranges.map { .array($0.map { .string($0) }) }) }
            members["schedule"] = .object([
                "weekly": .object(weekly), "slot_minutes": .integer(Int64(schedule.slotMinutes)),
                "horizon_days": .integer(Int64(schedule.horizonDays)), "closed_dates": .array(schedule.closedDates.map { .string($0.description) }),
            ])
        }
        return members
    }
    /// A service's definition as a request gives it: id, name, every explicit slot (begun or
    /// not) and the settings. What a merge patch applies to.
    public static func definition(of service: Service) -> [String: JSON] {
        settingsMembers(service.settings).merging([
            "service_id": .string(service.id), "service_name": .string(service.name),
            "available_slots": .array(service.slots.map { .string($0.description) }),
        ]) { _, new in new }
    }
}
