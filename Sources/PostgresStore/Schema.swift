/// The store's schema: one table of JSONB documents and the function that applies a commit.
///
/// Applying it is idempotent and serialised by an advisory lock, so every process may run
/// it at start-up. Fields are kept in Firestore's typed REST encoding, so the same bytes
/// serve both stores.
enum Schema {
    static let migration = #"""
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

    -- Applies a list of writes atomically. Each write is
    -- {"op": "set"|"delete", "collection", "id", "fields"?, "exists"?: bool, "update_time"?: int8 µs}.
    -- A failed precondition raises DS409 (already exists), DS404 (not found) or DS412 (update
    -- time), with the document's path as DETAIL; the whole statement then changes nothing.
    CREATE OR REPLACE FUNCTION docstore_commit(writes jsonb) RETURNS int8
    LANGUAGE plpgsql AS $$
    DECLARE
        w record;
        now_time timestamptz := clock_timestamp();
        current_update timestamptz;
        found_row boolean;
        affected int;
    BEGIN
        FOR w IN SELECT * FROM jsonb_to_recordset(writes)
                 AS x(op text, collection text, id text, fields jsonb, "exists" boolean, update_time int8) LOOP
            IF w."exists" IS FALSE THEN
                IF w.op = 'set' THEN
                    INSERT INTO documents VALUES (w.collection, w.id, w.fields, now_time, now_time)
                    ON CONFLICT DO NOTHING;
                    GET DIAGNOSTICS affected = ROW_COUNT;
                ELSE
                    PERFORM 1 FROM documents WHERE collection = w.collection AND id = w.id;
                    affected := CASE WHEN FOUND THEN 0 ELSE 1 END;
                END IF;
                IF affected = 0 THEN
                    RAISE EXCEPTION 'document already exists: %/%', w.collection, w.id
                        USING ERRCODE = 'DS409', DETAIL = w.collection || '/' || w.id;
                END IF;
                CONTINUE;
            END IF;

            SELECT update_time INTO current_update FROM documents
             WHERE collection = w.collection AND id = w.id FOR UPDATE;
            found_row := FOUND;
            IF w."exists" IS TRUE AND NOT found_row THEN
                RAISE EXCEPTION 'no document: %/%', w.collection, w.id
                    USING ERRCODE = 'DS404', DETAIL = w.collection || '/' || w.id;
            END IF;
            IF w.update_time IS NOT NULL AND (NOT found_row OR \#(microseconds("current_update")) <> w.update_time) THEN
                RAISE EXCEPTION 'update time does not match: %/%', w.collection, w.id
                    USING ERRCODE = 'DS412', DETAIL = w.collection || '/' || w.id;
            END IF;

            IF w.op = 'set' THEN
                INSERT INTO documents VALUES (w.collection, w.id, w.fields, now_time, now_time)
                ON CONFLICT (collection, id) DO UPDATE SET fields = EXCLUDED.fields, update_time = EXCLUDED.update_time;
            ELSE
                DELETE FROM documents WHERE collection = w.collection AND id = w.id;
            END IF;
        END LOOP;
        RETURN \#(microseconds("now_time"));
    END $$;

    -- Applies independent commits in one transaction, in the given order, each in a
    -- subtransaction of its own: one that fails changes nothing and leaves the others applied.
    -- One row per commit: its time (µs), or the SQLSTATE, message and detail of its failure.
    CREATE OR REPLACE FUNCTION docstore_commit_batch(commits jsonb)
    RETURNS TABLE (commit_time int8, state text, message text, detail text)
    LANGUAGE plpgsql AS $$
    DECLARE
        c jsonb;
    BEGIN
        FOR c IN SELECT value FROM jsonb_array_elements(commits) WITH ORDINALITY ORDER BY ordinality LOOP
            BEGIN
                commit_time := docstore_commit(c);
                state := NULL; message := NULL; detail := NULL;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
                commit_time := NULL;
            END;
            RETURN NEXT;
        END LOOP;
    END $$;
    COMMIT;
    """#

    /// SQL for a timestamptz as whole microseconds since 1970, the precision both stores keep.
    /// Written out where it is used: as a SQL function it was parsed again on every call.
    static func microseconds(_ column: String) -> String {
        "floor(extract(epoch FROM \(column)) * 1000000)::int8"
    }

    private static let columns = "id, fields::text, \(microseconds("create_time")), \(microseconds("update_time"))"

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
