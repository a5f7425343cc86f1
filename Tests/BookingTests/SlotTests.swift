import DocumentStore
import Testing

@testable import Booking

@Suite struct SlotTests {
    @Test(arguments: [
        ("2026-12-01T09:30:00Z", "2026-12-01T09:30:00Z"),
        ("2026-12-01t09:30:00z", "2026-12-01T09:30:00Z"),
        ("2026-12-01 09:30:00Z", "2026-12-01T09:30:00Z"),
        ("2026-12-01T10:30:00+01:00", "2026-12-01T09:30:00Z"),
        ("2026-12-01T04:00:00-05:30", "2026-12-01T09:30:00Z"),
        ("2026-12-01T09:30:00.000Z", "2026-12-01T09:30:00Z"),
        ("2026-12-01T00:30:00+01:00", "2026-11-30T23:30:00Z"),
        ("2028-02-29T23:59:59-00:00", "2028-02-29T23:59:59Z"),
        ("2000-03-01T00:00:00+14:00", "2000-02-29T10:00:00Z"),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
    ])
    func normalisesToUTCWholeSeconds(_ input: String, _ canonical: String) throws {
        #expect(try Slot(parsing: input).description == canonical)
    }

    @Test func oneInstantWrittenTwoWaysIsOneSlot() throws {
        #expect(try Slot(parsing: "2026-12-01T10:30:00+01:00") == Slot(parsing: "2026-12-01T09:30:00Z"))
        #expect(Set([try Slot(parsing: "2026-12-01T10:30:00+01:00"), try Slot(parsing: "2026-12-01T09:30:00.0Z")]).count == 1)
    }

    @Test(arguments: [
        "", "2026-12-01", "2026-12-01T09:30Z", "2026-12-01T09:30:00", "2026-13-01T09:30:00Z", "2026-02-29T09:30:00Z",
        "2026-04-31T09:30:00Z", "2026-12-01T24:00:00Z", "2026-12-01T09:60:00Z", "2026-12-01T09:30:60Z",
        "2026-12-01T09:30:00+1:00", "2026-12-01T09:30:00+01", "2026-12-01T09:30:00.Z", "2026-12-01T09:30:00.5Z",
        "2026-12-01T09:30:00.0000000001Z", " 2026-12-01T09:30:00Z", "2026-12-01T09:30:00Z ", "1764581400",
        "２０２６-12-01T09:30:00Z", "2026-12-01T09:30:00+24:00",
    ])
    func rejectsWhatIsNotAnInstantOnAWholeSecond(_ input: String) {
        #expect(throws: BookingError.self) { try Slot(parsing: input) }
    }

    /// Four-digit years with an offset can name instants whose UTC year has five digits or none.
    @Test func refusesInstantsOutsideTheYears0001To9999InUTC() throws {
        for outside in ["9999-12-31T23:59:59-23:59", "9999-12-31T23:00:00-01:00", "0001-01-01T00:00:00+00:01", "0000-12-31T23:59:59Z"] {
            #expect(throws: BookingError.invalidSlot("\"\(outside)\" is outside the years 0001 to 9999 in UTC")) { try Slot(parsing: outside) }
        }
        #expect(try Slot(parsing: "9999-12-31T23:59:59Z").description == "9999-12-31T23:59:59Z")
        #expect(try Slot(parsing: "0001-01-01T00:00:00Z").description == "0001-01-01T00:00:00Z")
        #expect(try Slot(parsing: "9999-12-31T23:00:00+01:00").description == "9999-12-31T22:00:00Z")
    }

    @Test func ordersByTime() throws {
        let slots = try ["2026-12-01T10:00:00+02:00", "2026-12-01T09:00:00Z", "2026-12-01T07:30:00Z"].map(Slot.init(parsing:))
        #expect(slots.sorted().map(\.description) == ["2026-12-01T07:30:00Z", "2026-12-01T08:00:00Z", "2026-12-01T09:00:00Z"])
    }

    @Test func aServiceKeepsItsSlotsInTimeOrder() throws {
        let (early, late) = (try Slot(parsing: "2031-01-01T09:00:00Z"), try Slot(parsing: "2031-01-01T10:00:00Z"))
        #expect(Service(id: "x", name: "X", slots: [late, early]).slots == [early, late])
        #expect(Service(id: "x", name: "X", slots: [early, late]).slots == [early, late])
    }

    @Test func timestampsKeepTheirFractionInRFC3339() {
        #expect(Timestamp(seconds: 0, nanos: 500_000_000).rfc3339 == "1970-01-01T00:00:00.500Z")
        #expect(Timestamp(microseconds: 1_500_001).rfc3339 == "1970-01-01T00:00:01.500001Z")
        #expect(Timestamp(microseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(rfc3339: "2026-11-24T18:01:53.690261110Z")?.nanos == 690_261_110)
    }

    @Test func timestampsOfEveryYearFormatAndParseBack() {
        for text in ["0000-01-01T00:00:00Z", "0001-02-03T04:05:06Z", "0999-12-31T23:59:59.001Z", "9999-12-31T23:59:59.999999999Z"] {
            #expect(Timestamp(rfc3339: text)?.rfc3339 == text)
        }
        #expect(Timestamp(seconds: 253_402_300_800).rfc3339 == "10000-01-01T00:00:00Z")
        #expect(Timestamp(seconds: -62_167_219_200 - 86_400 + 3_661).rfc3339 == "-1-12-31T01:01:01Z")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {  // 0001-01-01 to 9999-12-31, with and without fractions
            let instant = Timestamp(
                seconds: Int64.random(in: -62_135_596_800...253_402_300_799, using: &generator),
                nanos: Bool.random(using: &generator) ? 0 : Int32.random(in: 0..<1_000_000_000, using: &generator))
            #expect(Timestamp(rfc3339: instant.rfc3339) == instant, "\(instant.seconds) \(instant.nanos)")
        }
    }

    @Test func spellingsSharingTheirDatesMatchTheirOwn() {
        // In time order a minute apart (most share the previous one's day), then in any order.
        let inOrder = (0..<3000).map { Timestamp(seconds: 1_924_992_000 - 1_500 * 60 + Int64($0) * 60) }
        let anyOrder = (0..<1000).map { _ in Timestamp(seconds: Int64.random(in: -62_135_596_800...253_402_300_799)) }
        var dates = RFC3339Dates()
        for instant in inOrder + anyOrder + [Timestamp(seconds: 253_402_300_800), inOrder[0]] {
            var shared: [UInt8] = []
            instant.appendRFC3339(to: &shared, dates: &dates)
            #expect(String(decoding: shared, as: UTF8.self) == instant.rfc3339)
        }
    }
}

@Suite struct ValidationTests {
    @Test(arguments: ["haircut", "room-101", "Zoë's chair", String(repeating: "x", count: 128), "a.b", "__x"])
    func acceptsReasonableIDs(_ id: String) throws {
        #expect(try Validation.id(id, field: "service_id") == id)
    }

    @Test(arguments: [
        "", "a/b", "tab\there", "new\nline", "\u{7F}", ".", "..", "__reserved__", String(repeating: "x", count: 129),
        "a" + String(repeating: "\u{301}", count: 740), String(repeating: "e\u{301}", count: 65),
    ])
    func rejectsBadIDs(_ id: String) {
        #expect(throws: BookingError.self) { try Validation.id(id, field: "service_id") }
    }

    @Test(arguments: ["\u{200B}", "\u{FEFF}\u{2060}", " ", "room\u{202E}101", "a\u{2066}b", "line\u{2028}two", "para\u{2029}", "\u{200F}x"])
    func rejectsIDsThatLookBlankOrReorderOrBreakTheText(_ id: String) {
        #expect(throws: BookingError.self) { try Validation.id(id, field: "service_id") }
    }

    /// The longest id allowed leaves room for its slot claims' ids in Firestore's 1,500 bytes.
    @Test func theLongestIDsStillMakeValidClaimIDs() throws {
        let longest = String(repeating: "\u{10FFFF}", count: Validation.maximumIDLength)  // 4 bytes each
        #expect(try Validation.id(longest, field: "service_id") == longest)
        let claim = Collections.claimPath(serviceID: longest, slot: try Slot(parsing: "9999-12-31T23:59:59Z"))
        #expect(DocumentPath.isValidID(claim.id))
    }

    @Test func trimsNames() throws {
        #expect(try Validation.name("  Ann Smith \n", field: "user_name") == "Ann Smith")
        #expect(try Validation.name(String(repeating: "é", count: 200), field: "user_name").count == 200)
    }

    @Test(arguments: ["", "   ", "\n\t", String(repeating: "a", count: 201), "Ann\u{0}", "A" + String(repeating: "\u{301}", count: 200)])
    func rejectsBadNames(_ name: String) {
        #expect(throws: BookingError.self) { try Validation.name(name, field: "user_name") }
    }

    @Test(arguments: ["\u{200B}", " \u{200B}\u{200C}\u{200D} ", "\u{FEFF}", "\u{00AD}", "\u{2060}\u{FE0F}", "\u{3000}\u{180E}"])
    func aNameOfInvisibleCharactersIsBlank(_ name: String) {
        #expect(throws: BookingError.invalidField("user_name", "must not be blank")) { try Validation.name(name, field: "user_name") }
    }

    @Test(arguments: ["Ann\u{202E}nimda", "\u{202D}Bob", "Cy\u{2067}x\u{2069}", "Dee\u{200E}", "Eve\u{061C}", "one\u{2028}two", "p\u{2029}q"])
    func namesRefuseBidiControlsAndLineSeparators(_ name: String) {
        #expect(throws: BookingError.invalidField("user_name", "must not contain control characters, bidirectional controls or line separators")) {
            try Validation.name(name, field: "user_name")
        }
    }

    /// Joiners and variation selectors inside a name are part of its characters (emoji, scripts).
    @Test(arguments: ["👩\u{200D}🔬 Lab", "می\u{200C}خواهم", "❤\u{FE0F} Café", "שרה כהן", "Анна"])
    func keepsNamesWhoseInvisibleCharactersArePartOfThem(_ name: String) throws {
        #expect(try Validation.name(name, field: "user_name") == name)
    }
}

/// A claim's id names its service and slot, so catalogs read claims by id alone.
@Suite struct ClaimIDTests {
    @Test func aClaimIDGivesBackItsServiceAndSlot() throws {
        let slot = try Slot(parsing: "2031-05-01T10:30:00+01:00")
        for serviceID in ["cut", "room@2", "a@b@c", "Zoë", ""] {
            let id = Collections.claimPath(serviceID: serviceID, slot: slot).id
            #expect(Collections.claimedSeats(claimIDs: [id]) == [ExactString(serviceID): [SeatClaim(slot: slot)]])
            let seat = Collections.claimPath(serviceID: serviceID, slot: slot, seat: 12).id
            #expect(seat == "\(serviceID)@2031-05-01T09:30:00Z#12")
            #expect(Collections.claimedSeats(claimIDs: [seat]) == [ExactString(serviceID): [SeatClaim(slot: slot, seat: 12)]])
        }
        #expect(
            Collections.claimedSeats(claimIDs: [
                "no-at-sign", "cut@not-a-time", "cut@2031-05-01T09:30:00.5Z", "cut@", "cut@2031-05-01T09:30:00Z#",
                "cut@2031-05-01T09:30:00Z#1", "cut@2031-05-01T09:30:00Z#02", "cut@2031-05-01T09:30:00Z#x", "cut@2031-05-01T09:30:00Z#12345",
            ]).isEmpty)
        #expect(
            Collections.claimedSeats(claimIDs: ["cut@2031-05-01T10:30:00+01:00"]) == [ExactString("cut"): [SeatClaim(slot: slot)]],
            "a spelling that is not canonical still names its slot")
    }

    @Test func theClaimsOfEverySeatOfASlotLieInItsRangeAndNoOthers() throws {
        let slot = try Slot(parsing: "2031-05-01T09:30:00Z")
        let range = Collections.seatClaimIDs(of: "cut", slot: slot)
        let inside = [1, 2, 9, 10, 1000].map { Collections.claimPath(serviceID: "cut", slot: slot, seat: $0).id }
        let outside = ["cut@2031-05-01T09:30:01Z", "cut@2031-05-01T09:00:00Z#2", "cut@2031-05-01T09:30:00Z@x@2031-05-01T09:30:00Z", "cut"]
        func holds(_ id: String) -> Bool {
            !Array(id.utf8).lexicographicallyPrecedes(Array(range.lowerBound.utf8))
                && Array(id.utf8).lexicographicallyPrecedes(Array(range.upperBound.utf8))
        }
        for id in inside { #expect(holds(id), "\(id)") }
        for id in outside { #expect(!holds(id), "\(id)") }
    }

    @Test func claimedSlotsAreGatheredPerServiceInTimeOrderWhateverTheOrderOfTheIDs() throws {
        let slots = try (0..<6).map { try Slot(parsing: "2031-05-0\($0 + 1)T09:00:00Z") }
        let claims = [("cut", 3), ("cut", 0), ("cut@1", 1), ("room", 5), ("cut", 4), ("cut@1", 2), ("caf\u{e9}", 1), ("cafe\u{301}", 2), ("cut", 0)]
        let ids = claims.map { Collections.claimPath(serviceID: $0.0, slot: slots[$0.1]).id } + ["not-a-claim", "x@tomorrow"]
        let expected: [ExactString: [Slot]] = [
            ExactString("cut"): [slots[0], slots[0], slots[3], slots[4]], ExactString("cut@1"): [slots[1], slots[2]],
            ExactString("room"): [slots[5]], ExactString("caf\u{e9}"): [slots[1]], ExactString("cafe\u{301}"): [slots[2]],
        ]
        for order in [ids, ids.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }, ids.reversed()] {
            #expect(Collections.claimedSeats(claimIDs: order) == expected.mapValues { $0.map { SeatClaim(slot: $0) } })
        }
    }
}
