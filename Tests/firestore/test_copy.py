"""bookingctl copy moves all services, bookings and slot claims between PostgreSQL and Firestore,
both ways, and running it again changes nothing."""

import json
import os
import subprocess

from server_control import bookingctl, list_all, run_bookingctl
from stack import cluster_sql, database_role, sql

COLLECTIONS = ["services", "bookings", "slot_claims"]


def in_postgres(database_url):
    rows = subprocess.run(["psql", database_url, "-tAc",
                           "SELECT collection, id, fields FROM documents WHERE collection IN ('services','bookings','slot_claims')"],
                          check=True, capture_output=True, text=True).stdout.splitlines()
    return {(c, i): json.loads(f) for c, i, f in (row.split("|", 2) for row in rows)}


def in_firestore(project):
    documents = {}
    for collection in COLLECTIONS:
        for doc in list_all(project, collection):
            documents[(collection, doc["name"].rsplit("/", 1)[1])] = doc.get("fields", {})
    return documents


def test_postgres_to_firestore_and_back_keeps_every_document():
    source_url = os.environ["DATABASE_URL"]
    original = in_postgres(source_url)
    assert len([key for key in original if key[0] == "bookings"]) > 100  # written by the end-to-end run on PostgreSQL

    result = run_bookingctl("copy", "--from", "postgres", "--to", "firestore", "--json", GOOGLE_CLOUD_PROJECT="copy-test")
    assert result.returncode == 0, result.stderr
    copied = {row["what"]: int(row["documents"]) for row in json.loads(result.stdout)}
    assert copied["bookings"] == len([k for k in original if k[0] == "bookings"]), copied
    assert f"copying bookings: {copied['bookings']}, done" in result.stderr, "the progress of the run"
    # The copy then claims the slots of confirmed bookings that hold none (another application's,
    # or one of a slot booked twice whose claimant was cancelled since), as a server would at
    # its start: those claims are the only difference.
    copy = in_firestore("copy-test")
    claimed = {key: fields for key, fields in copy.items() if key not in original}
    assert len(claimed) == copied["slot_claims_created"], claimed
    for (collection, _), claim in claimed.items():
        holder = claim["booking_id"]["stringValue"]
        booking = next(fields for (kind, _), fields in original.items() if kind == "bookings" and fields["booking_id"]["stringValue"] == holder)
        assert collection == "slot_claims" and booking.get("status", {}).get("stringValue", "confirmed") == "confirmed", (claim, booking)
    original = {**original, **claimed}
    assert copy == original
    bookingctl("copy", "--from", "postgres", "--to", "firestore", GOOGLE_CLOUD_PROJECT="copy-test")
    assert in_firestore("copy-test") == original, "copying again changes nothing"

    cluster_sql("DROP DATABASE IF EXISTS copy_back")
    cluster_sql(f"CREATE DATABASE copy_back OWNER {database_role()}")
    back_url = source_url.replace("/booking?", "/copy_back?")
    bookingctl("copy", "--from", "firestore", "--to", "postgres", GOOGLE_CLOUD_PROJECT="copy-test", DATABASE_URL=back_url)
    assert in_postgres(back_url) == original
    bookingctl("copy", "--from", "firestore", "--to", "postgres", GOOGLE_CLOUD_PROJECT="copy-test", DATABASE_URL=back_url)
    assert in_postgres(back_url) == original


def test_copying_a_store_onto_itself_is_refused():
    result = run_bookingctl("copy", "--from", "postgres", "--to", "postgres")
    assert result.returncode != 0 and "must differ" in result.stderr
