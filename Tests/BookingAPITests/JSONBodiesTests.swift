import BookingFormats
import DocumentStore
import JSON
import Testing

@testable import Booking
@testable import BookingAPI

/// The response bodies written straight to bytes are exactly what the serializer writes for
/// the same objects.
@Suite struct JSONBodiesTests {
    let availabilities = [
        ServiceAvailability(
            service: Service(id: "cut", name: "Zoë's \"cut\" \\ \u{1}", slots: []),
            availableSlots: [try! Slot(parsing: "2031-05-01T09:00:00Z"), try! Slot(parsing: "2031-05-01T10:30:00+01:00")]),
        ServiceAvailability(service: Service(id: "room/2", name: "Room", slots: []), availableSlots: []),
        ServiceAvailability(
            service: Service(id: "class", name: "Class", slots: [], settings: Self.everySetting),
            availableSlots: [try! Slot(parsing: "2031-05-01T09:00:00Z"), try! Slot(parsing: "2031-05-01T23:30:00Z")], seatsLeft: [12, 3]),
    ]

    static let everySetting: ServiceSettings = {
        var settings = ServiceSettings()
        settings.timeZone = "Europe/Berlin"
        settings.durationMinutes = 45
        settings.description = "Bring \"shoes\"\nand water"
        settings.hidden = true
        settings.seats = 12
        settings.minNoticeMinutes = 60
        settings.maxAdvanceDays = 30
        settings.schedule = WeeklySchedule(
            hours: [
                [OpeningHours(start: 540, end: 720), OpeningHours(start: 780, end: 1440)], [], [], [], [], [], [OpeningHours(start: 0, end: 30)],
            ],
            slotMinutes: 15, horizonDays: 14, closedDates: [CivilDate(parsing: "2031-12-25")!])
        return settings
    }()

    /// The object the serializer writes, written out by hand.
    func tree(_ availability: ServiceAvailability) -> JSON {
        let service = availability.service
        var members: [String: JSON] = [
            "service_id": .string(service.id),
            "service_name": .string(service.name),
            "available_slots": .array(availability.availableSlots.map { .string($0.description) }),
            "time_zone": .string(service.settings.timeZone),
            "hidden": .bool(service.settings.hidden),
            "seats": .integer(Int64(service.settings.seats)),
            "slots": .array(
                availability.availableSlots.indices.map { index in
                    let slot = availability.availableSlots[index]
                    let left = service.settings.seats == 12 ? [12, 3][index] : 1
                    var members: [String: JSON] = ["start": .string(slot.description), "seats_left": .integer(Int64(left))]
                    if service.settings.durationMinutes == 45 {
                        members["end"] = .string(Slot(Timestamp(seconds: slot.instant.seconds + 2700)).description)
                    }
                    return .object(members)
                }),
        ]
        if service.settings == Self.everySetting {
            members["duration_minutes"] = .integer(45)
            members["description"] = .string("Bring \"shoes\"\nand water")
            members["min_notice_minutes"] = .integer(60)
            members["max_advance_days"] = .integer(30)
            members["schedule"] = .object([
                "weekly": .object([
                    "mon": .array([.array([.string("09:00"), .string("12:00")]), .array([.string("13:00"), .string("24:00")])]),
                    "sun": .array([.array([.string("00:00"), .string("00:30")])]),
                ]),
                "slot_minutes": .integer(15), "horizon_days": .integer(14), "closed_dates": .array([.string("2031-12-25")]),
            ])
        }
        return .object(members)
    }

    @Test func theCatalogIsWhatTheSerializerWrites() {
        #expect(ServiceJSON.services(availabilities) == JSON.object(["services": .array(availabilities.map(tree))]).serialized())
        #expect(ServiceJSON.services([]) == Array(#"{"services":[]}"#.utf8))
    }

    @Test func oneServiceIsWhatTheSerializerWrites() {
        for availability in availabilities {
            #expect(ServiceJSON.service(availability) == tree(availability).serialized())
        }
    }

    @Test func aBookingIsWhatTheSerializerWrites() throws {
        let booking = Booking(
            id: "b1", serviceID: "cut/ä", slot: try Slot(parsing: "2031-05-01T09:00:00Z"), userName: "Zoë \"Z\" \\ \u{7}",
            timestamp: Timestamp(microseconds: 1_800_000_000_123_456))
        #expect(
            BookingJSON.booking(booking)
                == JSON.object([
                    "booking_id": .string(booking.id), "service_id": .string(booking.serviceID), "slot": .string(booking.slot.description),
                    "user_name": .string(booking.userName), "timestamp": .string(booking.timestamp.rfc3339), "status": .string("confirmed"),
                ]).serialized())
    }

    @Test func aBookingWithItsContactDetailsAndTokenIsWhatTheSerializerWrites() throws {
        let booking = Booking(
            id: "b1", serviceID: "cut", slot: try Slot(parsing: "2031-05-01T09:00:00Z"), userName: "Ann",
            timestamp: Timestamp(microseconds: 1_800_000_000_123_456), status: .cancelled,
            cancelledAt: Timestamp(microseconds: 1_800_000_100_000_000),
            contact: Contact(email: "ann@example.com", phone: "+49 (30) 123-45", notes: "Line 1\n\"two\""))
        let fields: [String: JSON] = [
            "booking_id": .string("b1"), "service_id": .string("cut"), "slot": .string("2031-05-01T09:00:00Z"), "user_name": .string("Ann"),
            "timestamp": .string(booking.timestamp.rfc3339), "status": .string("cancelled"), "cancelled_at": .string("2027-01-15T08:01:40Z"),
        ]
        let contact: [String: JSON] = [
            "email": .string("ann@example.com"), "phone": .string("+49 (30) 123-45"), "notes": .string("Line 1\n\"two\""),
        ]
        #expect(BookingJSON.booking(booking) == JSON.object(fields).serialized(), "no contact details unless asked")
        #expect(BookingJSON.booking(booking, contact: true) == JSON.object(fields.merging(contact) { $1 }).serialized())
        #expect(
            BookingJSON.booking(booking, contact: true, manageToken: "t")
                == JSON.object(fields.merging(contact) { $1 }.merging(["manage_token": .string("t")]) { $1 }).serialized())
    }
}
