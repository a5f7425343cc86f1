import DocumentStore
import Synchronization
import TestSupport
import Testing
import TimeZones

@testable import Booking

/// Services' settings and weekly schedules: generation in the service's zone across the nights
/// clocks change, the booking window, hidden services, and the stored form read back.
@Suite struct ServiceScheduleTests {
    let clock: ManualClock
    let store: MemoryStore
    let desk: BookingDesk

    /// The desk at `wall` (default 2027-03-10T00:00:00Z, a Wednesday), with the system's zones.
    init(wall: Double = 1_804_636_800) {
        let clock = ManualClock(wall: wall)
        self.clock = clock
        store = MemoryDatabase(clock: { clock.now() }).makeStore()
        desk = BookingDesk(store: store, now: { clock.now() }, reader: DocumentReader(zones: ZoneDatabase()))
    }

    func create(
        _ id: String = "svc", zone: String = "UTC", weekly: [String: [[String]]], slotMinutes: Int64? = nil, horizonDays: Int64? = 7,
        closed: [String] = [], slots: [String] = [], configure: (inout ServiceSettingsInput) -> Void = { _ in }
    ) throws -> ServiceAvailability {
        var settings = ServiceSettingsInput()
        settings.timeZone = zone
        settings.schedule = ScheduleInput(weekly: weekly, slotMinutes: slotMinutes, horizonDays: horizonDays, closedDates: closed)
        configure(&settings)
        return try desk.createService(NewService(id: id, name: "Service", slots: slots, settings: settings))
    }

    func spelled(_ slots: [Slot]) -> [String] { slots.map(\.description) }

    @Test func datesAndDaysSinceTheEpochConvertBothWays() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            let date = CivilDate(daysSinceEpoch: days)
            #expect(date.daysSinceEpoch == days)
            #expect(CivilDate(parsing: date.description) == date || date.year < 0 || date.year > 9999)
        }
        #expect(CivilDate(parsing: "1970-01-01")?.daysSinceEpoch == 0)
        #expect(CivilDate(parsing: "2028-02-29") != nil)
        #expect(CivilDate(parsing: "2027-02-29") == nil)
        #expect(CivilDate(parsing: "2100-02-29") == nil)
        #expect(CivilDate(parsing: "2027-13-01") == nil)
        #expect(CivilDate(parsing: "2027-1-01") == nil)
        // 2026-12-02 was a Wednesday (Monday is 0).
        #expect(CivilDate.weekdayIndex(ofDay: CivilDate(parsing: "2026-12-02")!.daysSinceEpoch) == 2)
        #expect(CivilDate.weekdayIndex(ofDay: CivilDate(parsing: "1969-12-29")!.daysSinceEpoch) == 0)
    }

    @Test func slotsRunFromOpeningWhileTheirLengthEndsByClosing() throws {
        // Wednesday 2027-03-10 to Tuesday 2027-03-16: one Monday.
        let service = try create(weekly: ["mon": [["09:00", "12:00"]]], slotMinutes: 30) { $0.durationMinutes = 45 }
        #expect(
            spelled(service.availableSlots) == [
                "2027-03-15T09:00:00Z", "2027-03-15T09:30:00Z", "2027-03-15T10:00:00Z", "2027-03-15T10:30:00Z", "2027-03-15T11:00:00Z",
            ])
        let untilMidnight = try create("late", weekly: ["wed": [["22:00", "24:00"]]], slotMinutes: 60)
        #expect(spelled(untilMidnight.availableSlots) == ["2027-03-10T22:00:00Z", "2027-03-10T23:00:00Z"])
    }

    @Test func closedDatesAndExplicitSlotsAreApplied() throws {
        let service = try create(
            weekly: ["mon": [["09:00", "10:00"]], "tue": [["09:00", "10:00"]]], slotMinutes: 60, closed: ["2027-03-15"],
            slots: ["2027-03-15T15:00:00Z", "2027-03-16T09:00:00Z", "2027-06-01T09:00:00+02:00"])
        #expect(spelled(service.availableSlots) == ["2027-03-15T15:00:00Z", "2027-03-16T09:00:00Z", "2027-06-01T07:00:00Z"])
        // Only the explicit slots are stored: the schedule's are generated.
        let document = try #require(try store.get(DocumentPath("services", "svc")))
        #expect(document["available_slots"]?.arrayValue?.count == 3)
    }

    @Test func springForwardSkipsTheMissingHourInNewYork() throws {
        // 2027-03-14, a Sunday: clocks go from 02:00 EST to 03:00 EDT.
        let service = try create(zone: "America/New_York", weekly: ["sun": [["00:00", "04:00"]]], slotMinutes: 30)
        #expect(
            spelled(service.availableSlots) == [
                "2027-03-14T05:00:00Z", "2027-03-14T05:30:00Z", "2027-03-14T06:00:00Z", "2027-03-14T06:30:00Z",
                "2027-03-14T07:00:00Z", "2027-03-14T07:30:00Z",
            ])
    }

    @Test func fallBackOffersTheRepeatedHourOnceAtItsFirstOccurrenceInNewYork() throws {
        // 2027-11-07, a Sunday: clocks go from 02:00 EDT back to 01:00 EST.
        let here = ServiceScheduleTests(wall: 1_825_459_200)  // 2027-11-06T00:00:00Z
        let service = try here.create(zone: "America/New_York", weekly: ["sun": [["00:00", "04:00"]]], slotMinutes: 30)
        #expect(
            here.spelled(service.availableSlots) == [
                "2027-11-07T04:00:00Z", "2027-11-07T04:30:00Z", "2027-11-07T05:00:00Z", "2027-11-07T05:30:00Z",
                "2027-11-07T07:00:00Z", "2027-11-07T07:30:00Z", "2027-11-07T08:00:00Z", "2027-11-07T08:30:00Z",
            ])
    }

    @Test func bothChangesInBerlin() throws {
        // 2027-03-28: 02:00 CET becomes 03:00 CEST; 2027-10-31: 03:00 CEST becomes 02:00 CET.
        let spring = ServiceScheduleTests(wall: 1_805_932_800)  // 2027-03-25T00:00:00Z
        let springService = try spring.create(zone: "Europe/Berlin", weekly: ["sun": [["01:00", "04:00"]]], slotMinutes: 60)
        #expect(spring.spelled(springService.availableSlots) == ["2027-03-28T00:00:00Z", "2027-03-28T01:00:00Z"])
        let autumn = ServiceScheduleTests(wall: 1_824_768_000)  // 2027-10-29T00:00:00Z
        let autumnService = try autumn.create(zone: "Europe/Berlin", weekly: ["sun": [["01:00", "04:00"]]], slotMinutes: 60)
        #expect(
            autumn.spelled(autumnService.availableSlots) == ["2027-10-30T23:00:00Z", "2027-10-31T00:00:00Z", "2027-10-31T02:00:00Z"])
    }

    @Test func theHorizonCountsFromTodayInTheServicesZoneAndMovesWithIt() throws {
        // 2027-03-10T00:00Z is still Tuesday the 9th in New York: a horizon of one day is that Tuesday.
        let service = try create(
            zone: "America/New_York", weekly: ["tue": [["20:00", "21:00"]], "wed": [["20:00", "21:00"]]], slotMinutes: 60, horizonDays: 1)
        #expect(spelled(service.availableSlots) == ["2027-03-10T01:00:00Z"])
        clock.advance(by: 6 * 3600)  // 01:00 on Wednesday in New York
        #expect(spelled(try desk.service(id: "svc").availableSlots) == ["2027-03-11T01:00:00Z"])
    }

    @Test func theBookingWindowLimitsWhatIsListedAndBooked() throws {
        // Every hour of every day; now is 2027-03-10T00:00Z.
        let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].reduce(into: [String: [[String]]]()) { $0[$1] = [["00:00", "24:00"]] }
        let service = try create(weekly: all, slotMinutes: 60, horizonDays: 30) {
            $0.minNoticeMinutes = 120
            $0.maxAdvanceDays = 2
        }
        // Two hours' notice: 02:00 may be booked at 00:00, 01:00 not.
        #expect(service.availableSlots.first?.description == "2027-03-10T02:00:00Z")
        #expect(service.availableSlots.last?.description == "2027-03-12T00:00:00Z")
        #expect(throws: BookingError.slotTooSoon) { try desk.book(BookingRequest(serviceID: "svc", slot: "2027-03-10T01:00:00Z", userName: "A")) }
        #expect(throws: BookingError.slotTooFarAhead) {
            try desk.book(BookingRequest(serviceID: "svc", slot: "2027-03-12T01:00:00Z", userName: "A"))
        }
        #expect(throws: BookingError.slotNotOffered) {
            try desk.book(BookingRequest(serviceID: "svc", slot: "2027-03-11T01:30:00Z", userName: "A"))
        }
        let booked = try desk.book(BookingRequest(serviceID: "svc", slot: "2027-03-11T05:00:00Z", userName: "A")).booking
        #expect(!(try desk.service(id: "svc").availableSlots.contains(booked.slot)))
        #expect(throws: BookingError.slotTaken) { try desk.book(BookingRequest(serviceID: "svc", slot: "2027-03-11T05:00:00Z", userName: "B")) }
    }

    @Test func aHiddenServiceIsNotListedButIsShownAndBookableByID() throws {
        _ = try create("hidden", weekly: ["thu": [["09:00", "10:00"]]], slotMinutes: 60) { $0.hidden = true }
        _ = try create("shown", weekly: ["thu": [["09:00", "10:00"]]], slotMinutes: 60)
        #expect(try desk.services().map(\.service.id) == ["shown"])
        #expect(try desk.service(id: "hidden").availableSlots.map(\.description) == ["2027-03-11T09:00:00Z"])
        _ = try desk.book(BookingRequest(serviceID: "hidden", slot: "2027-03-11T09:00:00Z", userName: "A"))
    }

    @Test func theStoredSettingsReadBackAsCreated() throws {
        let created = try create(
            zone: "Europe/Berlin", weekly: ["mon": [["13:00", "17:00"], ["09:00", "12:00"]], "sat": [["10:00", "24:00"]]], slotMinutes: 20,
            horizonDays: 14, closed: ["2027-03-22", "2027-03-20"]
        ) {
            $0.durationMinutes = 50
            $0.description = "  Cut and wash\n  "
            $0.minNoticeMinutes = 0
            $0.maxAdvanceDays = 10
        }
        let document = try #require(try store.get(DocumentPath("services", "svc")))
        let read = try #require(DocumentReader(zones: ZoneDatabase()).service(from: document))
        #expect(read == created.service)
        #expect(read.settings.description == "Cut and wash")
        #expect(read.settings.schedule?.hours[0] == [OpeningHours(start: 540, end: 720), OpeningHours(start: 780, end: 1020)])
        guard case .map(let schedule)? = document["schedule"], case .map(let weekly)? = schedule["weekly"] else {
            Issue.record("no schedule map in \(document.fields)")
            return
        }
        #expect(weekly["mon"] == .array([.string("09:00-12:00"), .string("13:00-17:00")]))
        // A plain service keeps the original application's document shape.
        _ = try desk.createService(NewService(id: "plain", name: "Plain", slots: ["2031-01-01T09:00:00Z"]))
        #expect(try store.get(DocumentPath("services", "plain"))?.fields.keys.sorted() == ["available_slots", "service_id", "service_name"])
    }

    @Test func aStoredServiceWithSettingsItCannotHaveIsReportedAndSkipped() throws {
        let problems = CollectedProblems()
        let reader = DocumentReader(problems: problems, zones: ZoneDatabase())
        let document = Document(
            path: DocumentPath("services", "odd"),
            fields: ["service_id": .string("odd"), "service_name": .string("Odd"), "time_zone": .string("Mars/Olympus")],
            createTime: Timestamp(seconds: 0), updateTime: Timestamp(seconds: 0))
        #expect(reader.service(from: document) == nil)
        #expect(problems.all.count == 1)
    }

    /// Each setting out of bounds, with the field its refusal names.
    static let outOfBounds: [(String, ServiceSettingsInput)] = {
        func settings(_ change: (inout ServiceSettingsInput) -> Void) -> ServiceSettingsInput {
            var settings = ServiceSettingsInput()
            change(&settings)
            return settings
        }
        func schedule(_ schedule: ScheduleInput) -> ServiceSettingsInput { settings { $0.schedule = schedule } }
        let allDay = [["00:00", "24:00"]]
        return [
            ("time_zone", settings { $0.timeZone = "EST" }),
            ("time_zone", settings { $0.timeZone = "Mars/Olympus" }),
            ("duration_minutes", settings { $0.durationMinutes = 0 }),
            ("duration_minutes", settings { $0.durationMinutes = 1441 }),
            ("min_notice_minutes", settings { $0.minNoticeMinutes = -1 }),
            ("max_advance_days", settings { $0.maxAdvanceDays = 0 }),
            ("description", settings { $0.description = String(repeating: "x", count: 2001) }),
            ("description", settings { $0.description = "bell \u{7}" }),
            ("schedule.weekly", schedule(ScheduleInput(weekly: ["monday": []]))),
            ("schedule.weekly.mon", schedule(ScheduleInput(weekly: ["mon": [["10:00", "09:00"]]]))),
            ("schedule.weekly.mon", schedule(ScheduleInput(weekly: ["mon": [["9:00", "10:00"]]]))),
            ("schedule.weekly.mon", schedule(ScheduleInput(weekly: ["mon": [["09:00", "24:30"]]]))),
            ("schedule.weekly.mon", schedule(ScheduleInput(weekly: ["mon": [["09:00"]]]))),
            ("schedule.weekly.tue", schedule(ScheduleInput(weekly: ["tue": [["09:00", "11:00"], ["10:00", "12:00"]]]))),
            ("schedule.slot_minutes", schedule(ScheduleInput(weekly: [:], slotMinutes: 4))),
            ("schedule.horizon_days", schedule(ScheduleInput(weekly: [:], horizonDays: 367))),
            ("schedule.closed_dates", schedule(ScheduleInput(weekly: [:], closedDates: ["2027-02-30"]))),
            // 576 slots a week for 53 weeks.
            ("schedule", schedule(ScheduleInput(weekly: ["mon": allDay, "tue": allDay], slotMinutes: 5, horizonDays: 366))),
        ]
    }()

    @Test(arguments: outOfBounds)
    func settingsOutOfBoundsAreRefusedNamingTheField(field: String, settings: ServiceSettingsInput) throws {
        #expect {
            _ = try desk.createService(NewService(id: "bad", name: "Bad", slots: [], settings: settings))
        } throws: { error in
            guard case .invalidField(let named, _) = error as? BookingError else { return false }
            return named == field
        }
        #expect(try store.get(DocumentPath("services", "bad")) == nil)
    }
}

/// Problems reported while reading, kept for the test to look at.
final class CollectedProblems: DataProblemReporter {
    private let problems = Mutex<[DataProblem]>([])

    func report(_ problem: DataProblem) { problems.withLock { $0.append(problem) } }

    var all: [DataProblem] { problems.withLock { $0 } }
}
