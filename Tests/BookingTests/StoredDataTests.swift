import DocumentStore
import StoreConfiguration
import Testing
import TimeZones

@testable import Booking

/// Reading what other applications stored: slot spellings, local times, odd documents.
@Suite struct StoredDataTests {
    let berlin = ZoneDatabaseTimeZone(identifier: "Europe/Berlin")!
    let newYork = ZoneDatabaseTimeZone(identifier: "America/New_York")!

    func read(_ text: String, in zone: (any LocalTimeZone)?) -> String? {
        try? StoredSlot.read(text, zone: zone).get().description
    }

    @Test func localDateTimesAreReadInTheirForms() {
        #expect(LocalDateTime("2031-03-04T12:00:00") == LocalDateTime(year: 2031, month: 3, day: 4, hour: 12, minute: 0, second: 0))
        #expect(LocalDateTime("2031-03-04 09:05") == LocalDateTime(year: 2031, month: 3, day: 4, hour: 9, minute: 5, second: 0))
        #expect(LocalDateTime("2031-03-04T09:05:07.000000") == LocalDateTime(year: 2031, month: 3, day: 4, hour: 9, minute: 5, second: 7))
        for text in ["09:00 AM", "2031-03-04", "2031-02-30T09:00", "2031-03-04T24:00", "2031-03-04T09:00:00.5", "2031-03-04T09:00x", ""] {
            #expect(LocalDateTime(text) == nil, "\(text)")
        }
    }

    @Test func slotsWithAnOffsetNeedNoZoneAndOthersAreReadInIt() {
        #expect(read("2031-03-04T11:00:00+00:00", in: nil) == "2031-03-04T11:00:00Z")
        #expect(read("2031-03-04T12:00:00", in: nil) == nil)
        #expect(read("2031-03-04T12:00:00", in: berlin) == "2031-03-04T11:00:00Z")  // CET, UTC+1
        #expect(read("2031-07-04 12:00", in: berlin) == "2031-07-04T10:00:00Z")  // CEST, UTC+2
        #expect(read("2031-07-04T12:00", in: newYork) == "2031-07-04T16:00:00Z")  // EDT
        #expect(read("09:00 AM", in: berlin) == nil)
        #expect(ZoneDatabaseTimeZone(identifier: "Mars/Olympus") == nil)
        #expect(ZoneDatabaseTimeZone(identifier: "EST") == nil, "abbreviations are not zones")
    }

    @Test func aRepeatedLocalTimeIsItsFirstInstantAndASkippedOneMovesPastTheGap() {
        // Berlin: clocks went forward at 02:00 on 2031-03-30 and back at 03:00 on 2031-10-26.
        #expect(read("2031-03-30T02:30:00", in: berlin) == "2031-03-30T01:30:00Z")
        #expect(read("2031-10-26T02:30:00", in: berlin) == "2031-10-26T00:30:00Z")
        // New York: forward at 02:00 on 2031-03-09, back at 02:00 on 2031-11-02.
        #expect(read("2031-03-09T02:30:00", in: newYork) == "2031-03-09T07:30:00Z")
        #expect(read("2031-11-02T01:30:00", in: newYork) == "2031-11-02T05:30:00Z")
    }

    @Test func aServiceKeepsEachSlotsSpellingAndReportsWhatItCannotServe() {
        let problems = ProblemsReportedOnce { _ in }
        let reader = DocumentReader(legacyZone: nil, problems: problems)
        let time = Timestamp(seconds: 1_900_000_000)
        let document = Document(
            path: DocumentPath("services", "doc-id"),
            fields: [
                "service_id": .string("field-id"), "service_name": .string("Legacy"),
                "available_slots": .array([
                    .string("2031-03-04T11:00:00+00:00"), .string("2031-03-04T12:00:00Z"), .string("09:00 AM"),
                    .timestamp(Timestamp(seconds: 1_930_000_000)), .integer(3),
                ]),
                "where": .uninterpreted(.object(["geoPointValue": .object(["latitude": .double(1.5)])])),
            ], createTime: time, updateTime: time)
        let service = reader.service(from: document)
        #expect(service?.id == "field-id")
        #expect(service?.slots.map(\.description) == ["2031-02-27T23:06:40Z", "2031-03-04T11:00:00Z", "2031-03-04T12:00:00Z"])
        #expect(service.map { $0.spelling(of: $0.slots[1]) } == "2031-03-04T11:00:00+00:00")
        #expect(service.map { $0.spelling(of: $0.slots[2]) } == "2031-03-04T12:00:00Z")
        #expect(problems.all.count == 2)
        #expect(problems.all.first?.description.hasPrefix("slot \"09:00 AM\" of services/doc-id is not served") == true)

        let broken = Document(path: DocumentPath("services", "broken"), fields: ["service_name": .integer(42)], createTime: time, updateTime: time)
        #expect(reader.service(from: broken) == nil)
        #expect(problems.all.last == .unreadableDocument(DocumentPath("services", "broken"), reason: "service_name is missing or not a string"))
    }

    @Test func aBookingIsKnownByItsIDFieldAndItsSlotIsAnInstant() throws {
        let reader = DocumentReader(legacyZone: berlin)
        let time = Timestamp(seconds: 1_900_000_000)
        let document = Document(
            path: DocumentPath("bookings", "generated"),
            fields: [
                "booking_id": .string("b-1"), "service_id": .string("s"), "slot": .string("2031-03-04T12:00:00"),
                "user_name": .string("Ann"), "timestamp": .string("2026-01-02T03:04:05Z"),
            ], createTime: time, updateTime: time)
        let booking = try #require(reader.booking(from: document))
        #expect(booking.id == "b-1" && booking.slot.description == "2031-03-04T11:00:00Z")
        #expect(booking.timestamp == Timestamp(rfc3339: "2026-01-02T03:04:05Z"))
    }
}
