@testable import Booking
import DocumentStore
import HostCounters
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The catalog cache reads every service again exactly when the store's update times say that
/// a service document was added, changed or removed; the booking path's entries are confirmed by
/// their update time once due, and read again only when it changed.
@Suite struct ServiceDefinitionsTests {
    let counters = MappedChangeCounters()
    let definitions: ServiceDefinitions
    static let lifetime = 0.3

    init() {
        definitions = ServiceDefinitions(counters: counters, lifetime: Self.lifetime)
    }

    let parse = DocumentReader().service(from:)

    func document(_ id: String, slot: String, at second: Int64) throws -> Document {
        let service = Service(id: id, name: id, slots: [try Slot(parsing: slot)])
        let time = Timestamp(seconds: 1_900_000_000 + second, nanos: 0)
        return Document(path: DocumentPath(Collections.services, id), fields: service.fields, createTime: time, updateTime: time)
    }

    /// The services `all` returns for the store holding `documents`, and whether it listed them.
    func catalog(_ documents: [Document]) throws -> (slots: [String: [String]], listed: Bool) {
        var listed = false
        let versions = documents.map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) }
        let services = try definitions.all(matching: versions, list: {
            listed = true
            return documents
        }, parse: parse)
        return (Dictionary(uniqueKeysWithValues: services.map { ($0.id, $0.slots.map(\.description)) }), listed)
    }

    @Test func definitionsAreReadAgainExactlyWhenAnUpdateTimeChanges() throws {
        let a = try document("a", slot: "2031-01-01T09:00:00Z", at: 1)
        let b = try document("b", slot: "2031-01-01T10:00:00Z", at: 2)
        #expect(try catalog([a, b]) == (["a": ["2031-01-01T09:00:00Z"], "b": ["2031-01-01T10:00:00Z"]], true))
        #expect(try catalog([a, b]) == (["a": ["2031-01-01T09:00:00Z"], "b": ["2031-01-01T10:00:00Z"]], false))
        let changed = try document("b", slot: "2031-01-01T11:00:00Z", at: 3)
        #expect(try catalog([a, changed]) == (["a": ["2031-01-01T09:00:00Z"], "b": ["2031-01-01T11:00:00Z"]], true))
        let added = try document("c", slot: "2031-01-01T12:00:00Z", at: 4)
        #expect(try catalog([a, changed, added]).listed)
        #expect(try catalog([a, added]) == (["a": ["2031-01-01T09:00:00Z"], "c": ["2031-01-01T12:00:00Z"]], false))
    }

    @Test func idsThatDifferOnlyInUnicodeNormalisationAreDifferentServices() throws {
        let composed = try document("caf\u{E9}", slot: "2031-01-01T09:00:00Z", at: 1)
        let decomposed = try document("cafe\u{301}", slot: "2031-01-01T10:00:00Z", at: 1)
        #expect("caf\u{E9}" == "cafe\u{301}")  // to Swift's String; not to a store
        #expect(ExactString("caf\u{E9}") != ExactString("cafe\u{301}"))
        #expect(Set([ExactString("caf\u{E9}"), ExactString("cafe\u{301}"), ExactString("caf\u{E9}")]).count == 2)
        for _ in 0..<2 {  // read, then from the cache
            for document in [composed, decomposed] {
                let service = try definitions.service(id: document.path.id, read: { document }, version: { nil }, parse: parse)
                #expect(service?.id.utf8.elementsEqual(document.path.id.utf8) == true)
                #expect(service?.slots == parse(document)?.slots)
            }
        }
        let services = try definitions.all(matching: [decomposed, composed].map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) },
                                           list: { [decomposed, composed] }, parse: parse)
        #expect(services.map { Array($0.id.unicodeScalars) } == [Array("cafe\u{301}".unicodeScalars), Array("caf\u{E9}".unicodeScalars)])
        let again = try definitions.all(matching: [decomposed, composed].map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) }, list: {
            Issue.record("both definitions were cached apart, so nothing needs listing again")
            return []
        }, parse: parse)
        #expect(again.map(\.slots) == services.map(\.slots))
    }

    @Test func anInvalidServiceDocumentIsLeftOutWithoutForcingRereads() throws {
        let valid = try document("a", slot: "2031-01-01T09:00:00Z", at: 1)
        let time = Timestamp(seconds: 1_900_000_000, nanos: 0)
        let invalid = Document(path: DocumentPath(Collections.services, "broken"), fields: ["service_name": .integer(3)], createTime: time, updateTime: time)
        #expect(try catalog([valid, invalid]) == (["a": ["2031-01-01T09:00:00Z"]], true))
        #expect(try catalog([valid, invalid]).listed == false)
    }

    @Test func aDueEntryIsConfirmedByItsUpdateTimeAndReadAgainOnlyWhenItChanged() throws {
        var stored: Document? = try document("a", slot: "2031-01-01T09:00:00Z", at: 1)
        var reads = 0, confirmations = 0
        func slots() throws -> [String]? {
            try definitions.service(id: "a", read: {
                reads += 1
                return stored
            }, version: {
                confirmations += 1
                return stored.map { DocumentVersion(id: "a", updateTime: $0.updateTime) }
            }, parse: parse)?.slots.map(\.description)
        }
        func pastTheLifetime() { usleep(UInt32((Self.lifetime + 0.05) * 1_000_000)) }

        #expect(try slots() == ["2031-01-01T09:00:00Z"] && (reads, confirmations) == (1, 0))
        #expect(try slots() == ["2031-01-01T09:00:00Z"] && (reads, confirmations) == (1, 0), "fresh: neither")
        pastTheLifetime()
        #expect(try slots() == ["2031-01-01T09:00:00Z"] && (reads, confirmations) == (1, 1), "due: confirmed, not read")
        #expect(try slots() == ["2031-01-01T09:00:00Z"] && (reads, confirmations) == (1, 1), "fresh again")
        counters.servicesChanged()
        #expect(try slots() == ["2031-01-01T09:00:00Z"] && (reads, confirmations) == (1, 2), "a service created on this host: confirmed")
        stored = try document("a", slot: "2031-01-01T10:00:00Z", at: 2)
        pastTheLifetime()
        #expect(try slots() == ["2031-01-01T10:00:00Z"] && (reads, confirmations) == (2, 3), "changed: read again")
        stored = nil
        pastTheLifetime()
        #expect(try slots() == nil && (reads, confirmations) == (3, 4), "removed")
        #expect(try slots() == nil && (reads, confirmations) == (4, 4), "not cached as missing")
    }
}
