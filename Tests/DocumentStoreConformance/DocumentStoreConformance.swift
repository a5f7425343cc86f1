import DocumentStore

#if canImport(Glibc)
    import Glibc
#endif

/// The behaviour every `DocumentStore` must show, as named checks that a store's own test
/// target runs (one parameterised test per check). Each check works in collections of its
/// own, so checks may run in parallel against one database without resetting it.
public enum DocumentStoreConformance {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public typealias Check = @Sendable (_ makeStore: @escaping DocumentStoreFactory) throws -> Void

    public static let checks: [String: Check] = [
        "a missing document reads as nil": missingDocumentIsNil,
        "a created document reads back with every value type": createdDocumentRoundTrips,
        "creating an existing document fails with alreadyExists and changes nothing": createOfExistingFails,
        "a commit is all or nothing": commitIsAtomic,
        "every document a commit writes gets the commit's time as its update time": commitTimeIsEveryUpdateTime,
        "set replaces the fields and advances the update time": setReplaces,
        "exists(true) on a missing document fails with notFound": mustExistOnMissingFails,
        "an update-time precondition holds only for the current time": updateTimePrecondition,
        "delete removes and honours preconditions": deleteHonoursPreconditions,
        "list pages through a collection in id order": listPages,
        "versions give every id in order with its current update time": versionsFollowUpdates,
        "written gives what was created or updated since a commit time, or nil": writtenSinceACommit,
        "ids, all or in a range from its lower bound to before its upper, in byte order": idsInAnIDRange,
        "the version of one document is its current update time, nil when there is none": versionOfOneDocument,
        "ids Firestore forbids are refused": forbiddenIDsAreRefused,
        "of concurrent creates of one document exactly one wins": concurrentCreatesOneWins,
        "ping answers": pingAnswers,
        "a query finds the documents whose string field holds a value, in id order, with only the selected fields": queryByField,
    ]

    // MARK: - Checks

    static func missingDocumentIsNil(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        try expect(try store.get(DocumentPath(uniqueCollection(), "absent")) == nil, "get of a missing document")
    }

    static func createdDocumentRoundTrips(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let path = DocumentPath(uniqueCollection(), "everything")
        let fields: [String: Value] = [
            "null": .null, "yes": .boolean(true), "count": .integer(-9_007_199_254_740_993),
            "ratio": .double(0.25), "when": .timestamp(Timestamp(seconds: 1_800_000_000, nanos: 123_456_000)),
            "name": .string("Zoë \"quoted\" \\ / \u{1F600}"), "list": .array([.string("a"), .integer(2), .array([])]),
            "nested": .map(["inner": .map(["deep": .string("x")]), "empty": .map([:])]),
            // Kinds the model never reads, carried as Firestore encodes them.
            "where": .uninterpreted(.object(["geoPointValue": .object(["latitude": .double(52.52), "longitude": .double(13.405)])])),
            "logo": .uninterpreted(.object(["bytesValue": .string("iVBORw==")])),
        ]
        let commitTime = try store.commit([.create(path, fields)])
        guard let document = try store.get(path) else { throw Failure(description: "created document not found") }
        try expect(document.fields == fields, "fields read back as written: \(document.fields)")
        try expect(document.path == path, "path")
        try expect(document.createTime == document.updateTime, "a new document's create and update times agree")
        try expect(document.updateTime == commitTime, "the update time is the commit time")
    }

    static func createOfExistingFails(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let path = DocumentPath(uniqueCollection(), "taken")
        try store.commit([.create(path, ["owner": .string("first")])])
        try expectError(.alreadyExists(path)) { () throws(StoreError) in try store.commit([.create(path, ["owner": .string("second")])]) }
        try expect(try store.get(path)?["owner"] == .string("first"), "the first write stays")
    }

    static func commitIsAtomic(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection()
        let existing = DocumentPath(collection, "existing")
        try store.commit([.create(existing, [:])])
        let fresh = DocumentPath(collection, "fresh")
        try expectError(.alreadyExists(existing)) { () throws(StoreError) in
            try store.commit([.create(fresh, ["a": .integer(1)]), .create(existing, ["b": .integer(2)])])
        }
        try expect(try store.get(fresh) == nil, "no write of a failed commit is applied")
        try expect(try store.get(existing)?.fields == [:], "the existing document is unchanged")
    }

    static func setReplaces(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let path = DocumentPath(uniqueCollection(), "doc")
        try store.commit([.set(path, ["a": .integer(1), "b": .integer(2)], .none)])
        let first = try store.get(path)!
        usleep(2000)
        try store.commit([.set(path, ["c": .integer(3)], .none)])
        let second = try store.get(path)!
        try expect(second.fields == ["c": .integer(3)], "set replaces all fields")
        try expect(second.createTime == first.createTime, "the create time stays")
        try expect(second.updateTime > first.updateTime, "the update time advances")
    }

    static func mustExistOnMissingFails(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let path = DocumentPath(uniqueCollection(), "missing")
        try expectError(.notFound(path)) { () throws(StoreError) in try store.commit([.set(path, ["a": .null], .exists(true))]) }
        try expect(try store.get(path) == nil, "nothing was created")
        try store.commit([.set(path, ["a": .null], .none)])
        try store.commit([.set(path, ["a": .boolean(false)], .exists(true))])
        try expect(try store.get(path)?["a"] == .boolean(false), "exists(true) on an existing document writes")
    }

    static func updateTimePrecondition(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let path = DocumentPath(uniqueCollection(), "versioned")
        try store.commit([.create(path, ["v": .integer(1)])])
        let original = try store.get(path)!
        usleep(2000)
        try store.commit([.set(path, ["v": .integer(2)], .updateTime(original.updateTime))])
        try expectError(.failedPrecondition(path)) { () throws(StoreError) in
            try store.commit([.set(path, ["v": .integer(3)], .updateTime(original.updateTime))])
        }
        try expect(try store.get(path)?["v"] == .integer(2), "a stale write changes nothing")
    }

    static func deleteHonoursPreconditions(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let path = DocumentPath(uniqueCollection(), "doomed")
        try store.commit([.delete(path, .none)])  // deleting nothing is not an error
        try expectError(.notFound(path)) { () throws(StoreError) in try store.commit([.delete(path, .exists(true))]) }
        try store.commit([.create(path, [:])])
        try store.commit([.delete(path, .exists(true))])
        try expect(try store.get(path) == nil, "deleted")
    }

    static func queryByField(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection()
        try store.commit([
            .create(DocumentPath(collection, "c"), ["owner": .string("ann"), "n": .integer(3)]),
            .create(DocumentPath(collection, "a"), ["owner": .string("ann"), "n": .integer(1)]),
            .create(DocumentPath(collection, "b"), ["owner": .string("bob"), "n": .integer(2)]),
            .create(DocumentPath(collection, "d"), ["owner": .integer(7)]),
            .create(DocumentPath(collection, "e"), ["n": .integer(5)]),
        ])
        let found = try store.query(collection: collection, where: FieldFilter("owner", equals: "ann"), select: nil)
        try expect(found.map(\.path.id) == ["a", "c"], "ann's documents in id order: \(found.map(\.path.id))")
        try expect(found.first?.fields == ["owner": .string("ann"), "n": .integer(1)], "whole documents without a selection")
        try expect(try store.query(collection: collection, where: FieldFilter("owner", equals: "nobody"), select: nil).isEmpty, "no match")
        let selected = try store.query(collection: collection, where: nil, select: ["n"])
        try expect(selected.map(\.path.id) == ["a", "b", "c", "d", "e"], "every document without a filter")
        try expect(
            selected.map(\.fields) == [["n": .integer(1)], ["n": .integer(2)], ["n": .integer(3)], [:], ["n": .integer(5)]],
            "only the selected field: \(selected.map(\.fields))")
    }

    static func listPages(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection()
        let ids = ["b", "a", "e", "c", "g", "d", "f"]
        try store.commit(ids.map { .create(DocumentPath(collection, $0), ["id": .string($0)]) })
        try store.commit([.create(DocumentPath(uniqueCollection(), "other"), [:])])
        var seen: [String] = []
        var token: String? = nil
        var pages = 0
        repeat {
            let page = try store.list(collection: collection, pageSize: 3, pageToken: token)
            try expect(page.documents.count <= 3, "a page holds at most pageSize documents")
            seen += page.documents.map(\.path.id)
            token = page.nextPageToken
            pages += 1
        } while token != nil && pages < 10
        try expect(seen == ids.sorted(), "every document once, in id order: \(seen)")
        try expect(pages == 3, "7 documents in pages of 3 make 3 pages, not \(pages)")
        try expect(try store.listAll(collection: uniqueCollection()).isEmpty, "an empty collection lists nothing")
    }

    static func versionsFollowUpdates(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection()
        try store.commit(["b", "c", "a"].map { .create(DocumentPath(collection, $0), ["id": .string($0)]) })
        try store.commit([.create(DocumentPath(uniqueCollection(), "other"), [:])])
        func current() throws -> [DocumentVersion] {
            try store.listAll(collection: collection).map { DocumentVersion(id: $0.path.id, updateTime: $0.updateTime) }
        }
        let before = try store.versions(collection: collection)
        try expect(before.map(\.id) == ["a", "b", "c"], "every id once, in id order: \(before.map(\.id))")
        try expect(try before == current(), "the update times the documents carry")
        try store.commit([.set(DocumentPath(collection, "b"), ["id": .string("b2")], .none)])
        let after = try store.versions(collection: collection)
        try expect(
            after[1].updateTime > before[1].updateTime && after[0] == before[0] && after[2] == before[2],
            "a set advances that document's update time only")
        try expect(try after == current(), "the update times the documents carry after the set")
        try store.commit([.delete(DocumentPath(collection, "a"), .none)])
        try expect(try store.versions(collection: collection).map(\.id) == ["b", "c"], "a deleted document is gone")
        try expect(try store.versions(collection: uniqueCollection()).isEmpty, "an empty collection has no versions")
    }

    /// Cancelling a booking deletes its slot claim under the booking's update time as the
    /// claim's precondition, without reading the claim: it relies on this.
    static func commitTimeIsEveryUpdateTime(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection(), other = uniqueCollection()
        let time = try store.commit([
            .create(DocumentPath(collection, "a"), [:]), .set(DocumentPath(other, "b"), ["n": .integer(1)], .none),
        ])
        try expect(try store.get(DocumentPath(collection, "a"))?.updateTime == time, "the created document")
        try expect(try store.get(DocumentPath(other, "b"))?.updateTime == time, "the set document, in another collection")
        let later = try store.commit([
            .set(DocumentPath(collection, "a"), ["n": .integer(2)], .updateTime(time)), .delete(DocumentPath(other, "b"), .updateTime(time)),
        ])
        try expect(try store.get(DocumentPath(collection, "a"))?.updateTime == later, "an update under a precondition")
        try expect(try store.get(DocumentPath(other, "b")) == nil, "a delete under the shared time as its precondition")
    }

    static func writtenSinceACommit(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection()
        let first = try store.commit(["b", "a"].map { .create(DocumentPath(collection, $0), [:]) })
        guard let all = try store.written(collection: collection, since: first) else { return }  // the store cannot tell
        try expect(all.documents.map(\.id) == ["a", "b"], "documents written at the time given, in id order: \(all.documents.map(\.id))")
        try expect(all.documents == (try store.versions(collection: collection)), "with their update times")
        try expect(all.asOf >= first, "looked at or after the commit")
        var later = try store.commit([.create(DocumentPath(collection, "c"), [:])])
        while later == first { later = try store.commit([.set(DocumentPath(collection, "c"), [:], .none)]) }  // a coarse clock
        try store.commit([.set(DocumentPath(collection, "a"), ["n": .integer(2)], .none), .create(DocumentPath(uniqueCollection(), "x"), [:])])
        let since = try store.written(collection: collection, since: later)
        try expect(since?.documents.map(\.id) == ["a", "c"], "what was written at or after the later commit: \(since?.documents.map(\.id) ?? [])")
        try store.commit([.delete(DocumentPath(collection, "c"), .none)])
        try expect(try store.written(collection: collection, since: later)?.documents.map(\.id) == ["a"], "a deleted document is not reported")
        let empty = try store.written(collection: uniqueCollection(), since: first)
        try expect(empty?.documents.isEmpty == true && (empty?.asOf ?? first) >= later, "an empty collection, with the time it was looked at")
    }

    static func versionOfOneDocument(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection()
        let path = DocumentPath(collection, "a@1")
        try store.commit([.create(path, ["n": .integer(1)]), .create(DocumentPath(collection, "a@10"), [:])])
        let created = try store.version(of: path)
        try expect(
            created == DocumentVersion(id: "a@1", updateTime: try store.get(path)!.updateTime),
            "the update time get reads: \(String(describing: created))")
        try store.commit([.set(path, ["n": .integer(2)], .none)])
        let changed = try store.version(of: path)
        try expect(changed.map { $0.updateTime > created!.updateTime } == true, "a set advances it")
        try expect(changed?.updateTime == (try store.get(path))?.updateTime, "to the update time get reads")
        try expect(try store.version(of: DocumentPath(collection, "a@")) == nil, "nil for a missing document")
        try expect(try store.version(of: DocumentPath(uniqueCollection(), "a@1")) == nil, "nil in another collection")
    }

    static func idsInAnIDRange(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection()
        let ids = ["a", "a?", "a@", "a@1", "a@b@2", "a@\u{E9}", "aA", "a\u{E9}", "b@1"]  // in UTF-8 byte order
        try store.commit(ids.reversed().map { .create(DocumentPath(collection, $0), ["id": .string($0)]) })
        try store.commit([.create(DocumentPath(uniqueCollection(), "a@2"), [:])])
        try expect(
            try store.ids(collection: collection, in: nil) == ids, "every id once, in byte order: \(try store.ids(collection: collection, in: nil))")
        try expect(try store.ids(collection: collection, in: nil) == store.versions(collection: collection).map(\.id), "the ids versions gives")
        let claims = try store.ids(collection: collection, in: DocumentIDRange(from: "a@", before: "aA"))
        try expect(claims == ["a@", "a@1", "a@b@2", "a@\u{E9}"], "the ids starting with a@: \(claims)")
        // UTF-8 byte order: é (C3 A9) sorts after every ASCII character.
        let high = try store.ids(collection: collection, in: DocumentIDRange(from: "a\u{7F}", before: "b"))
        try expect(high == ["a\u{E9}"], "byte order: \(high)")
        try expect(try store.ids(collection: collection, in: DocumentIDRange(from: "c", before: "d")).isEmpty, "an empty range")
        try expect(try store.ids(collection: collection, in: DocumentIDRange(from: "b", before: "a")).isEmpty, "a reversed range")
        try expect(try store.ids(collection: uniqueCollection(), in: nil).isEmpty, "an empty collection has no ids")
        try store.commit([.delete(DocumentPath(collection, "a@1"), .none)])
        try expect(try !store.ids(collection: collection, in: nil).contains("a@1"), "a deleted document is gone")
        for range in [DocumentIDRange(from: "a/", before: "b"), DocumentIDRange(from: "a", before: "")] {
            do {
                _ = try store.ids(collection: collection, in: range)
                throw Failure(description: "the range \(range) was accepted")
            } catch let error as StoreError {
                guard case .invalidArgument = error else { throw Failure(description: "range \(range): \(error)") }
            }
        }
    }

    static func forbiddenIDsAreRefused(_ makeStore: @escaping DocumentStoreFactory) throws {
        let store = makeStore()
        let collection = uniqueCollection()
        for id in ["a/b", ".", "..", "__reserved__", "", String(repeating: "x", count: 1501)] {
            do {
                try store.commit([.create(DocumentPath(collection, id), [:])])
                throw Failure(description: "id \"\(id.prefix(20))\" was accepted")
            } catch let error as StoreError {
                guard case .invalidArgument = error else { throw Failure(description: "id \"\(id.prefix(20))\": \(error)") }
            }
        }
        try expect(try store.listAll(collection: collection).isEmpty, "nothing was written")
    }

    static func concurrentCreatesOneWins(_ makeStore: @escaping DocumentStoreFactory) throws {
        let path = DocumentPath(uniqueCollection(), "contended")
        let contenders = 16
        let counts = race(contenders) { contender in
            do throws(StoreError) {
                try makeStore().commit([.create(path, ["winner": .integer(Int64(contender))])])
                return "won"
            } catch .alreadyExists {
                return "lost"
            } catch {
                return "\(error)"
            }
        }
        try expect(counts == ["won": 1, "lost": contenders - 1], "exactly one create wins: \(counts)")
    }

    static func pingAnswers(_ makeStore: @escaping DocumentStoreFactory) throws {
        try makeStore().ping()
    }

    // MARK: - Helpers

    static func expect(_ condition: @autoclosure () throws -> Bool, _ what: String) throws {
        guard try condition() else { throw Failure(description: "expected: \(what)") }
    }

    static func expectError(_ expected: StoreError, _ body: () throws(StoreError) -> some Any) throws {
        do {
            _ = try body()
        } catch {
            guard error == expected else { throw Failure(description: "expected \(expected), got \(error)") }
            return
        }
        throw Failure(description: "expected \(expected), but it succeeded")
    }

    /// A collection name no other check or run uses.
    static func uniqueCollection() -> String {
        "conformance_\(UInt64.random(in: 0...UInt64.max))"
    }
}

/// Runs `body` on `count` threads at once (each started before any is joined) and counts the
/// outcomes it returns. For tests that race clients against one store.
public func race(_ count: Int, _ body: @escaping @Sendable (Int) -> String) -> [String: Int] {
    final class Context: @unchecked Sendable {
        let body: @Sendable (Int) -> String
        let index: Int
        var outcome = ""
        init(_ body: @escaping @Sendable (Int) -> String, _ index: Int) {
            self.body = body
            self.index = index
        }
    }
    let contexts = (0..<count).map { Context(body, $0) }
    let threads = contexts.map { context -> pthread_t in
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                let context = Unmanaged<Context>.fromOpaque(raw!).takeUnretainedValue()
                context.outcome = context.body(context.index)
                return nil
            }, Unmanaged.passUnretained(context).toOpaque())
        precondition(result == 0, "pthread_create failed")
        return thread
    }
    threads.forEach { pthread_join($0, nil) }
    return contexts.reduce(into: [:]) { $0[$1.outcome, default: 0] += 1 }
}
