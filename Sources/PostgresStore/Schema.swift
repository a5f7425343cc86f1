import DocumentStore

/// The store's schema: one table of JSONB documents and the function that applies a commit.
///
/// Applying it is idempotent and serialised by an advisory lock, so every process may run
/// it at start-up. Fields are kept in Firestore's typed REST encoding, so the same bytes
/// serve both stores.
enum Schema {
    /// The migration, with an index for each field documents are looked up by.
    ///
    /// Each index holds only the documents whose id is not the field's value: documents this
    /// service writes carry their own id in the field (`bookings/{id}` has `booking_id: id`), so
    /// their inserts add no index entry, and only documents other applications added under
    /// generated ids are indexed. (Indexing every booking cost 15-30% more PostgreSQL time per
    /// booking commit.) `fieldQuery` finds the others by their primary key.
    static func migration(fieldIndexes: [FieldIndex]) throws(StoreError) -> String {
        var indexes = ""
        for index in fieldIndexes {
            let field = fieldText(index.field)
            indexes += "CREATE INDEX IF NOT EXISTS \(try indexName(index)) ON documents ((\(field)))"
                + " WHERE collection = '\(index.collection)' AND id <> \(field);\n"
        }
        // Inside the migration's transaction, under its lock: concurrent creations of one index collide.
        precondition(migration.hasSuffix("COMMIT;"))
        return migration.dropLast("COMMIT;".count) + indexes + "COMMIT;"
    }

    /// The statement that finds the documents of `collection` whose string `field` is `$1`: those
    /// whose id differs from it through the field's partial index, and the one whose id is `$1`
    /// through the primary key.
    static func fieldQuery(collection: String, field: String) throws(StoreError) -> (name: String, sql: String) {
        let name = try indexName(FieldIndex(collection: collection, field: field))
        let text = fieldText(field)
        return ("query_\(name)", """
            SELECT \(columns) FROM documents WHERE collection = '\(collection)' AND id <> \(text) AND \(text) = $1
            UNION ALL SELECT \(columns) FROM documents WHERE collection = '\(collection)' AND id = $1 AND \(text) = $1
            ORDER BY 1
            """)
    }

    /// SQL for a field's string value: the expression the field's index is built on.
    private static func fieldText(_ field: String) -> String { "(fields->'\(field)'->>'stringValue')" }

    /// The index's name, which also proves that the collection and field are plain names that
    /// can be written into SQL as they are.
    private static func indexName(_ index: FieldIndex) throws(StoreError) -> String {
        // PostgreSQL's names hold 63 bytes: "documents_", 32, "_", 16 and "_idx".
        let plain = { (name: String, length: Int) in
            !name.isEmpty && name.utf8.count <= length && name.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }
        }
        guard plain(index.collection, 32), plain(index.field, 16) else {
            throw .invalidArgument("queried fields need names of a-z, 0-9 and _ (a collection of at most 32, a field of at most 16): "
                + "not \(index.collection).\(index.field)")
        }
        return "documents_\(index.collection)_\(index.field)_key"
    }

    private static let migration = #"""
    BEGIN;
    SELECT pg_advisory_xact_lock(7262031001);
    CREATE TABLE IF NOT EXISTS documents (
        collection  text COLLATE "C" NOT NULL,
        id          text COLLATE "C" NOT NULL,
        fields      jsonb NOT NULL,
        create_time timestamptz NOT NULL,
        update_time timestamptz NOT NULL,
        PRIMARY KEY (collection, id)
    );
    -- Documents are found by collection and id only. Earlier versions kept a GIN index on the
    -- fields for equality queries; it cost about a tenth of PostgreSQL's CPU per booking.
    DROP INDEX IF EXISTS documents_fields_idx;

    -- One commit is a list of writes, applied atomically. Each write is
    -- {"op": "set"|"delete", "collection", "id", "fields"?, "exists"?: bool, "update_time"?: int8 µs}.
    -- A failed precondition fails the commit with DS409 (already exists), DS404 (not found) or
    -- DS412 (update time), with the document's path as detail.
    --
    -- Applies independent commits in one transaction, in the given order, each in a
    -- subtransaction of its own: one that fails changes nothing and leaves the others applied.
    -- One row per commit: its time (µs), or the SQLSTATE, message and detail of its failure.
    --
    -- A create is a plain INSERT whose unique violation fails the commit (the path is still in
    -- at_path there: local variables keep their values in an exception handler). Against
    -- INSERT ... ON CONFLICT DO NOTHING in a function called per commit, as before, pgbench
    -- measured 0.101-0.112 instead of 0.116-0.143 ms of PostgreSQL CPU per two-document commit.
    CREATE OR REPLACE FUNCTION docstore_commit_batch(commits jsonb)
    RETURNS TABLE (commit_time int8, state text, message text, detail text)
    LANGUAGE plpgsql AS $$
    DECLARE
        c jsonb;
        w record;
        now_time timestamptz;
        at_path text;
        current_update timestamptz;
        found_row boolean;
    BEGIN
        FOR c IN SELECT value FROM jsonb_array_elements(commits) WITH ORDINALITY ORDER BY ordinality LOOP
            BEGIN
                now_time := clock_timestamp();
                FOR w IN SELECT * FROM jsonb_to_recordset(c)
                         AS x(op text, collection text, id text, fields jsonb, "exists" boolean, update_time int8) LOOP
                    at_path := w.collection || '/' || w.id;
                    IF w."exists" IS FALSE THEN
                        IF w.op = 'set' THEN
                            INSERT INTO documents VALUES (w.collection, w.id, w.fields, now_time, now_time);
                        ELSE
                            PERFORM 1 FROM documents WHERE collection = w.collection AND id = w.id;
                            IF FOUND THEN
                                RAISE EXCEPTION 'document already exists: %', at_path USING ERRCODE = 'DS409', DETAIL = at_path;
                            END IF;
                        END IF;
                        CONTINUE;
                    END IF;

                    SELECT update_time INTO current_update FROM documents
                     WHERE collection = w.collection AND id = w.id FOR UPDATE;
                    found_row := FOUND;
                    IF w."exists" IS TRUE AND NOT found_row THEN
                        RAISE EXCEPTION 'no document: %', at_path USING ERRCODE = 'DS404', DETAIL = at_path;
                    END IF;
                    IF w.update_time IS NOT NULL AND (NOT found_row OR \#(microseconds("current_update")) <> w.update_time) THEN
                        RAISE EXCEPTION 'update time does not match: %', at_path USING ERRCODE = 'DS412', DETAIL = at_path;
                    END IF;

                    IF w.op = 'set' THEN
                        INSERT INTO documents VALUES (w.collection, w.id, w.fields, now_time, now_time)
                        ON CONFLICT (collection, id) DO UPDATE SET fields = EXCLUDED.fields, update_time = EXCLUDED.update_time;
                    ELSE
                        DELETE FROM documents WHERE collection = w.collection AND id = w.id;
                    END IF;
                END LOOP;
                commit_time := \#(microseconds("now_time"));
                state := NULL; message := NULL; detail := NULL;
            EXCEPTION
                WHEN unique_violation THEN
                    commit_time := NULL;
                    state := 'DS409'; message := 'document already exists: ' || at_path; detail := at_path;
                WHEN OTHERS THEN
                    commit_time := NULL;
                    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
            END;
            RETURN NEXT;
        END LOOP;
    END $$;
    -- Before, each commit was a function of its own.
    DROP FUNCTION IF EXISTS docstore_commit(jsonb);
    COMMIT;
    """#

    /// SQL for a timestamptz as whole microseconds since 1970, the precision both stores keep.
    /// Written out where it is used: as a SQL function it was parsed again on every call.
    static func microseconds(_ column: String) -> String {
        "floor(extract(epoch FROM \(column)) * 1000000)::int8"
    }

    static let columns = "id, fields::text, \(microseconds("create_time")), \(microseconds("update_time"))"

    /// Named statements each connection prepares once.
    static let statements: [(name: String, sql: String)] = [
        ("get", "SELECT \(columns) FROM documents WHERE collection = $1 AND id = $2"),
        ("list", "SELECT \(columns) FROM documents WHERE collection = $1 AND id > $2 ORDER BY id LIMIT $3"),
        ("version", "SELECT id, \(microseconds("update_time")) FROM documents WHERE collection = $1 AND id = $2"),
        ("versions", "SELECT id, \(microseconds("update_time")) FROM documents WHERE collection = $1 ORDER BY id"),
        ("ids", "SELECT id FROM documents WHERE collection = $1 ORDER BY id"),
        ("ids_in", "SELECT id FROM documents WHERE collection = $1 AND id >= $2 AND id < $3 ORDER BY id"),
        ("commit_batch", "SELECT commit_time, state, message, detail FROM docstore_commit_batch($1::jsonb)"),
        ("ping", "SELECT 1"),
    ]
}

