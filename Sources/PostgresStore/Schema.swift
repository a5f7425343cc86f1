import DocumentStore

/// The store's schema: one table of JSONB documents and the function that applies a commit.
///
/// Applying it is idempotent and serialised by an advisory lock, so every process may run
/// it at start-up. Fields are kept in Firestore's typed REST encoding, so the same bytes
/// serve both stores.
enum Schema {
    /// The migration, then the aliases of the documents already stored for each field
    /// documents are looked up by (`document_aliases`, below): one scan per field and start, so
    /// that documents written before (or by an earlier version) are found too.
    static func migration(fieldIndexes: [FieldIndex]) throws(StoreError) -> String {
        var aliases = ""
        for index in fieldIndexes {
            try checkPlainName(index.collection)
            try checkPlainName(index.field)
            let value = "(fields->'\(index.field)'->>'stringValue')"
            aliases +=
                "INSERT INTO document_aliases SELECT collection, '\(index.field)', \(value), id FROM documents"
                + " WHERE collection = '\(index.collection)' AND \(value) <> id ON CONFLICT DO NOTHING;\n"
        }
        // Inside the migration's transaction, under its lock.
        precondition(migration.hasSuffix("COMMIT;"))
        return migration.dropLast("COMMIT;".count) + aliases + "COMMIT;"
    }

    /// Collection and field names written into the migration's SQL: letters, digits and `_`.
    private static func checkPlainName(_ name: String) throws(StoreError) {
        guard !name.isEmpty, name.utf8.allSatisfy({ (97...122).contains($0) || (65...90).contains($0) || (48...57).contains($0) || $0 == 95 })
        else { throw .invalidArgument("indexed fields need names of letters, digits and _, not \(name)") }
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

        -- The documents whose id is not the value of a field they are looked up by (a booking another
        -- application added under a generated id, with its own id in booking_id): the commit function
        -- writes these rows from each write's "aliases", which the store computes only for the fields
        -- it was told of. The service's own documents carry their id in the field and have none, so
        -- its inserts pay nothing for the lookup (partial expression indexes on documents cost every
        -- booking 10-20% more PostgreSQL time: each insert opens and checks every index).
        CREATE TABLE IF NOT EXISTS document_aliases (
            collection text COLLATE "C" NOT NULL,
            field       text COLLATE "C" NOT NULL,
            value       text COLLATE "C" NOT NULL,
            id          text COLLATE "C" NOT NULL,
            PRIMARY KEY (collection, field, value, id)
        );
        CREATE INDEX IF NOT EXISTS document_aliases_id_idx ON document_aliases (collection, id);

        -- What was written since a time (`written`): a BRIN index keeps the range of update times of
        -- each 128 pages of the table, so a query for recent writes reads only the ranges written
        -- lately. Rows are appended in about the order they are written, and inserting costs next to
        -- nothing (ranges not yet summarized are always read; autosummarize closes them).
        CREATE INDEX IF NOT EXISTS documents_update_time_brin ON documents USING brin (update_time) WITH (autosummarize = on);

        -- One commit is a list of writes, applied atomically. Each write is
        -- {"op": "set"|"delete", "collection", "id", "fields"?, "exists"?: bool, "update_time"?: int8 µs,
        --  "aliased"?: true (its collection has looked-up fields), "aliases"?: [{"field", "value"}]}.
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
        --
        -- `deadline` (µs since 1970, or NULL) is when the caller stops waiting for the answer: past
        -- it, the batch fails with DS504 and nothing of it is applied, so that a batch that reaches
        -- a server only after a stall (or waits that long for a lock) is never applied after its
        -- caller reported failure. (It compares the caller's clock with the server's: hosts keep
        -- time by NTP, well within the half second callers wait past the deadline.)
        CREATE OR REPLACE FUNCTION docstore_commit_batch(commits jsonb, deadline int8)
        RETURNS TABLE (commit_time int8, state text, message text, detail text)
        LANGUAGE plpgsql AS $$
        DECLARE
            c jsonb;
            w jsonb;
            w_op text;
            w_collection text;
            w_id text;
            w_fields jsonb;
            w_exists boolean;
            w_update_time int8;
            w_aliased boolean;
            w_aliases jsonb;
            now_time timestamptz;
            at_path text;
            current_update timestamptz;
        BEGIN
            IF deadline < \#(microseconds("clock_timestamp()")) THEN
                RAISE EXCEPTION 'the commit reached PostgreSQL after its deadline; nothing was applied' USING ERRCODE = 'DS504';
            END IF;
            -- The commits and their writes are walked by index and their members read into variables:
            -- each step is then an expression, not a query (a FOR over jsonb_to_recordset starts an
            -- executor and opens a cursor for each commit: a fifth of the function's time).
            FOR i IN 0 .. jsonb_array_length(commits) - 1 LOOP
                c := commits -> i;
                BEGIN
                    now_time := clock_timestamp();
                    FOR j IN 0 .. jsonb_array_length(c) - 1 LOOP
                        w := c -> j;
                        w_op := w ->> 'op';
                        w_collection := w ->> 'collection';
                        w_id := w ->> 'id';
                        w_fields := w -> 'fields';
                        w_exists := (w ->> 'exists')::boolean;
                        w_update_time := (w ->> 'update_time')::int8;
                        w_aliased := (w ->> 'aliased')::boolean;
                        w_aliases := w -> 'aliases';
                        at_path := w_collection || '/' || w_id;
                        IF w_exists IS FALSE THEN
                            IF w_op = 'set' THEN
                                INSERT INTO documents VALUES (w_collection, w_id, w_fields, now_time, now_time);
                                IF w_aliases IS NOT NULL THEN
                                    INSERT INTO document_aliases SELECT w_collection, a->>'field', a->>'value', w_id
                                      FROM jsonb_array_elements(w_aliases) a ON CONFLICT DO NOTHING;
                                END IF;
                            ELSE
                                PERFORM 1 FROM documents WHERE collection = w_collection AND id = w_id;
                                IF FOUND THEN
                                    RAISE EXCEPTION 'document already exists: %', at_path USING ERRCODE = 'DS409', DETAIL = at_path;
                                END IF;
                            END IF;
                            CONTINUE;
                        END IF;

                        -- A write under an update-time precondition (cancelling or moving a booking) is
                        -- one UPDATE or DELETE of the row with that time: no row means the precondition
                        -- failed (a concurrent change is seen, as its new version no longer matches).
                        -- A locking read before it, as for the writes below, cost another index scan
                        -- and a row lock's WAL record per write.
                        IF w_update_time IS NOT NULL THEN
                            IF w_op = 'set' THEN
                                UPDATE documents SET fields = w_fields, update_time = now_time
                                 WHERE collection = w_collection AND id = w_id
                                   AND \#(microseconds("update_time")) = w_update_time;
                            ELSE
                                DELETE FROM documents
                                 WHERE collection = w_collection AND id = w_id
                                   AND \#(microseconds("update_time")) = w_update_time;
                            END IF;
                            IF NOT FOUND THEN
                                RAISE EXCEPTION 'update time does not match: %', at_path USING ERRCODE = 'DS412', DETAIL = at_path;
                            END IF;
                            IF w_aliased THEN
                                DELETE FROM document_aliases WHERE collection = w_collection AND id = w_id;
                                IF w_op = 'set' AND w_aliases IS NOT NULL THEN
                                    INSERT INTO document_aliases SELECT w_collection, a->>'field', a->>'value', w_id
                                      FROM jsonb_array_elements(w_aliases) a ON CONFLICT DO NOTHING;
                                END IF;
                            END IF;
                            CONTINUE;
                        END IF;

                        IF w_exists IS TRUE THEN
                            SELECT update_time INTO current_update FROM documents
                             WHERE collection = w_collection AND id = w_id FOR UPDATE;
                            IF NOT FOUND THEN
                                RAISE EXCEPTION 'no document: %', at_path USING ERRCODE = 'DS404', DETAIL = at_path;
                            END IF;
                        END IF;

                        IF w_aliased THEN
                            DELETE FROM document_aliases WHERE collection = w_collection AND id = w_id;
                        END IF;
                        IF w_op = 'set' THEN
                            INSERT INTO documents VALUES (w_collection, w_id, w_fields, now_time, now_time)
                            ON CONFLICT (collection, id) DO UPDATE SET fields = EXCLUDED.fields, update_time = EXCLUDED.update_time;
                            IF w_aliases IS NOT NULL THEN
                                INSERT INTO document_aliases SELECT w_collection, a->>'field', a->>'value', w_id
                                  FROM jsonb_array_elements(w_aliases) a ON CONFLICT DO NOTHING;
                            END IF;
                        ELSE
                            DELETE FROM documents WHERE collection = w_collection AND id = w_id;
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
            IF deadline < \#(microseconds("clock_timestamp()")) THEN
                RAISE EXCEPTION 'the commit ran past its deadline; nothing was applied' USING ERRCODE = 'DS504';
            END IF;
        END $$;
        -- Without a deadline, as hosts of an earlier version call it during an upgrade.
        CREATE OR REPLACE FUNCTION docstore_commit_batch(commits jsonb)
        RETURNS TABLE (commit_time int8, state text, message text, detail text)
        LANGUAGE sql AS $$ SELECT * FROM docstore_commit_batch(commits, NULL) $$;
        -- Before, each commit was a function of its own.
        DROP FUNCTION IF EXISTS docstore_commit(jsonb);
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
        // The statement's start time comes first, on every row and on a row of its own when none matched.
        (
            "written",
            """
            SELECT \(microseconds("statement_timestamp()")), w.id, w.updated FROM (VALUES (1)) AS one (x) LEFT JOIN (
                SELECT id, \(microseconds("update_time")) AS updated FROM documents
                WHERE collection = $1 AND update_time >= timestamptz 'epoch' + $2::int8 * interval '1 microsecond'
            ) AS w ON true ORDER BY w.id
            """
        ),
        ("ids", "SELECT id FROM documents WHERE collection = $1 ORDER BY id"),
        ("ids_in", "SELECT id FROM documents WHERE collection = $1 AND id >= $2 AND id < $3 ORDER BY id"),
        // $1 collection, $2 field, $3 value. For a field the store was told of: the documents its
        // aliases name, and the one whose id is the value, both by primary key (the field is checked
        // again, against an alias left by an earlier version). For any other: the collection's range.
        (
            "query_aliased",
            """
            SELECT \(columns) FROM documents WHERE collection = $1 AND fields->$2->>'stringValue' = $3
               AND id IN (SELECT id FROM document_aliases WHERE collection = $1 AND field = $2 AND value = $3)
            UNION ALL SELECT \(columns) FROM documents WHERE collection = $1 AND id = $3 AND fields->$2->>'stringValue' = $3
            ORDER BY 1
            """
        ),
        ("query_scan", "SELECT \(columns) FROM documents WHERE collection = $1 AND fields->$2->>'stringValue' = $3 ORDER BY id"),
        ("commit_batch", "SELECT commit_time, state, message, detail FROM docstore_commit_batch($1::jsonb, $2::int8)"),
        ("ping", "SELECT 1"),
    ]
}
