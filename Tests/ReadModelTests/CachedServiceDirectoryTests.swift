import Booking
import DocumentStore
import Logging
import ReadModel
import TestSupport
import Testing

/// The read model's directory of services reads every service again exactly when the store's
/// update times say that a service document was added, changed or removed; the booking path's
/// entries are confirmed by their update time once due, and read again only when it changed.
@Suite struct CachedServiceDirectoryTests {
    let clock = ManualClock()
    let model: ReadModel
    let store: CountingStore
    let source: CatalogSource
    let reader = DocumentReader()

    init() {
        let clock = clock
        model = ReadModel(settings: ReadModel.Settings(lifetime: 1), clock: clock.readClock, logger: Logger(label: "test"))
        store = CountingStore(MemoryDatabase(clock: { clock.now() }).makeStore())
        source = CatalogSource(store: store, reader: reader)
    }

    var directory: CachedServiceDirectory { model.serviceDirectory }

    /// Stores a service document with one slot (replacing the one there), a second later.
    func put(_ id: String, slot: String) throws {
        clock.advance(by: 1)
        try store.commit([
            .set(
                DocumentPath("services", id),
                [
                    "service_id": .string(id), "service_name": .string(id),
                    "available_slots": .array([.string(slot)]),
                ], .none)
        ])
    }

    func remove(_ id: String) throws {
        try store.commit([.delete(DocumentPath("services", id), .none)])
    }

    /// The catalog's services with their slots, and whether every document was listed for it.
    func catalog() throws -> (slots: [String: [String]], listed: Bool) {
        let lists = store.count("list")
        let services = try directory.allServices(from: source)
        return (Dictionary(uniqueKeysWithValues: services.map { ($0.id, $0.slots.map(\.description)) }), store.count("list") > lists)
    }

    @Test func definitionsAreReadAgainExactlyWhenAnUpdateTimeChanges() throws {
        try put("a", slot: "2031-01-01T09:00:00Z")
        try put("b", slot: "2031-01-01T10:00:00Z")
        #expect(try catalog() == (["a": ["2031-01-01T09:00:00Z"], "b": ["2031-01-01T10:00:00Z"]], true))
        #expect(try catalog() == (["a": ["2031-01-01T09:00:00Z"], "b": ["2031-01-01T10:00:00Z"]], false))
        try put("b", slot: "2031-01-01T11:00:00Z")
        #expect(try catalog() == (["a": ["2031-01-01T09:00:00Z"], "b": ["2031-01-01T11:00:00Z"]], true))
        try put("c", slot: "2031-01-01T12:00:00Z")
        #expect(try catalog().listed)
        try remove("b")
        #expect(try catalog() == (["a": ["2031-01-01T09:00:00Z"], "c": ["2031-01-01T12:00:00Z"]], false))
    }

    @Test func idsThatDifferOnlyInUnicodeNormalisationAreDifferentServices() throws {
        try put("caf\u{E9}", slot: "2031-01-01T09:00:00Z")
        try put("cafe\u{301}", slot: "2031-01-01T10:00:00Z")
        #expect("caf\u{E9}" == "cafe\u{301}")  // to Swift's String; not to a store
        #expect(ExactString("caf\u{E9}") != ExactString("cafe\u{301}"))
        for _ in 0..<2 {  // read, then from the cache
            #expect(try directory.service(id: "caf\u{E9}", from: source)?.slots.map(\.description) == ["2031-01-01T09:00:00Z"])
            #expect(try directory.service(id: "cafe\u{301}", from: source)?.slots.map(\.description) == ["2031-01-01T10:00:00Z"])
        }
        let services = try directory.allServices(from: source)
        #expect(services.map { Array($0.id.unicodeScalars) } == [Array("cafe\u{301}".unicodeScalars), Array("caf\u{E9}".unicodeScalars)])
        let lists = store.count("list")
        #expect(try directory.allServices(from: source).map(\.slots) == services.map(\.slots))
        #expect(store.count("list") == lists, "both definitions were cached apart, so nothing needs listing again")
    }

    @Test func anInvalidServiceDocumentIsLeftOutWithoutForcingRereads() throws {
        try put("a", slot: "2031-01-01T09:00:00Z")
        try store.commit([.create(DocumentPath("services", "broken"), ["service_name": .integer(3)])])
        #expect(try catalog() == (["a": ["2031-01-01T09:00:00Z"]], true))
        #expect(try catalog().listed == false)
    }

    @Test func aDueEntryIsConfirmedByItsUpdateTimeAndReadAgainOnlyWhenItChanged() throws {
        try put("a", slot: "2031-01-01T09:00:00Z")
        func slots() throws -> [String]? { try directory.service(id: "a", from: source)?.slots.map(\.description) }
        func calls() -> (reads: Int, confirmations: Int) { (store.count("get"), store.count("version")) }

        #expect(try slots() == ["2031-01-01T09:00:00Z"] && calls() == (1, 0))
        #expect(try slots() == ["2031-01-01T09:00:00Z"] && calls() == (1, 0), "fresh: neither")
        clock.advance(by: 1)
        #expect(try slots() == ["2031-01-01T09:00:00Z"] && calls() == (1, 1), "due: confirmed, not read")
        #expect(try slots() == ["2031-01-01T09:00:00Z"] && calls() == (1, 1), "fresh again")
        model.recordChange(.services)
        #expect(try slots() == ["2031-01-01T09:00:00Z"] && calls() == (1, 2), "a service changed on this host: confirmed")
        try put("a", slot: "2031-01-01T10:00:00Z")  // a second later: due
        #expect(try slots() == ["2031-01-01T10:00:00Z"] && calls() == (2, 3), "changed: read again")
        try remove("a")
        clock.advance(by: 1)
        #expect(try slots() == nil && calls().reads >= 3 && calls().confirmations == 4, "removed")
        let reads = calls().reads
        #expect(try slots() == nil && calls().reads > reads, "not cached as missing")
    }
}
