/// The rules for a service's settings: the same for a request and for a stored document, so
/// what is stored is always what a request could have made.
extension Validation {
    static let maximumDescriptionLength = 2000
    static let seats: ClosedRange<Int64> = 1...1000
    static let durationMinutes: ClosedRange<Int64> = 1...1440
    static let minNoticeMinutes: ClosedRange<Int64> = 0...525_600
    static let maximumAdvanceDays: ClosedRange<Int64> = 1...3660
    static let slotMinutes: ClosedRange<Int64> = 5...1440
    static let horizonDays: ClosedRange<Int64> = 1...366
    static let maximumRangesPerDay = 24
    static let maximumClosedDates = 366
    /// Generated slots a schedule may offer over its horizon (explicit ones are counted apart).
    static let maximumGeneratedSlots = 20_000

    /// A service's explicit slots: at most 5,000, normalised and de-duplicated.
    static func slots(_ texts: [String]) throws(BookingError) -> [Slot] {
        guard texts.count <= maximumSlotsPerService else {
            throw .invalidField("available_slots", "must hold at most \(maximumSlotsPerService) slots")
        }
        var slots = Set<Slot>()
        for text in texts { slots.insert(try Slot(parsing: text)) }
        return Array(slots)
    }

    /// The settings with their defaults, and the zone they name.
    static func serviceSettings(_ input: ServiceSettingsInput, zones: any TimeZoneLookup) throws(BookingError) -> (
        ServiceSettings, any LocalTimeZone
    ) {
        var settings = ServiceSettings()
        let zoneName = input.timeZone ?? "UTC"
        guard let zone = zones.zone(named: zoneName) else {
            throw .invalidField("time_zone", "must be an IANA time zone name such as Europe/Berlin or UTC")
        }
        settings.timeZone = zoneName
        settings.durationMinutes = try input.durationMinutes.map { value throws(BookingError) in
            try number(value, in: durationMinutes, field: "duration_minutes")
        }
        settings.description = try input.description.map(trimmed).flatMap { $0.isEmpty ? nil : $0 }.map { text throws(BookingError) in
            try Self.text(text, field: "description", maximumLength: maximumDescriptionLength)
        }
        settings.hidden = input.hidden ?? false
        settings.seats = try number(input.seats ?? 1, in: seats, field: "seats")
        settings.minNoticeMinutes = try input.minNoticeMinutes.map { value throws(BookingError) in
            try number(value, in: minNoticeMinutes, field: "min_notice_minutes")
        }
        settings.maxAdvanceDays = try input.maxAdvanceDays.map { value throws(BookingError) in
            try number(value, in: maximumAdvanceDays, field: "max_advance_days")
        }
        settings.schedule = try input.schedule.map { schedule throws(BookingError) in try Self.schedule(schedule) }
        if let schedule = settings.schedule, schedule.maximumSlots(length: settings.slotLength) > maximumGeneratedSlots {
            throw .invalidField(
                "schedule", "would offer more than \(maximumGeneratedSlots) slots over its horizon: use fewer hours, longer slots or fewer days")
        }
        return (settings, zone)
    }

    static func schedule(_ input: ScheduleInput) throws(BookingError) -> WeeklySchedule {
        for day in input.weekly.keys where !WeeklySchedule.weekdayNames.contains(day) {
            throw .invalidField("schedule.weekly", "has \"\(day.prefix(16))\": weekdays are mon, tue, wed, thu, fri, sat and sun")
        }
        var hours: [[OpeningHours]] = []
        for day in WeeklySchedule.weekdayNames {
            let field = "schedule.weekly.\(day)"
            let ranges = input.weekly[day] ?? []
            guard ranges.count <= maximumRangesPerDay else { throw .invalidField(field, "must hold at most \(maximumRangesPerDay) ranges") }
            var parsed: [OpeningHours] = []
            for range in ranges {
                guard range.count == 2, let start = OpeningHours.minute(parsing: range[0]), let end = OpeningHours.minute(parsing: range[1]),
                    start < end
                else { throw .invalidField(field, "must hold ranges of two times such as [\"09:00\", \"12:00\"], the first earlier") }
                parsed.append(OpeningHours(start: start, end: end))
            }
            parsed.sort { $0.start < $1.start }
            for (earlier, later) in zip(parsed, parsed.dropFirst()) where later.start < earlier.end {
                throw .invalidField(field, "has overlapping ranges")
            }
            hours.append(parsed)
        }
        let slotMinutes = try number(input.slotMinutes ?? Int64(WeeklySchedule.defaultSlotMinutes), in: slotMinutes, field: "schedule.slot_minutes")
        let horizonDays = try number(input.horizonDays ?? Int64(WeeklySchedule.defaultHorizonDays), in: horizonDays, field: "schedule.horizon_days")
        guard input.closedDates.count <= maximumClosedDates else {
            throw .invalidField("schedule.closed_dates", "must hold at most \(maximumClosedDates) dates")
        }
        var closed = Set<CivilDate>()
        for text in input.closedDates {
            guard let date = CivilDate(parsing: text) else {
                throw .invalidField("schedule.closed_dates", "must hold dates such as 2031-12-25, not \"\(text.prefix(32))\"")
            }
            closed.insert(date)
        }
        return WeeklySchedule(hours: hours, slotMinutes: slotMinutes, horizonDays: horizonDays, closedDates: closed.sorted())
    }

    private static func number(_ value: Int64, in range: ClosedRange<Int64>, field: String) throws(BookingError) -> Int {
        guard range.contains(value) else { throw .invalidField(field, "must be from \(range.lowerBound) to \(range.upperBound)") }
        return Int(value)
    }
}
